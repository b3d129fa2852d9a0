"""The CLI's exit codes and its one-line failure, free of Typer so that `sophon serve` can start
without loading it.

Exit codes: 0 success · 1 the Gateway refused or failed (any other 4xx/5xx), or a local check
failed · 2 usage (unknown command, bad option or value) · 3 the Gateway is unreachable ·
4 authentication or permission (401/403)."""

from __future__ import annotations

from typing import Any, NoReturn

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_AUTH = 4
EXIT_TOOL_REFUSED = 5  # `chat -m` answered, but a tool call of the turn did not run or failed

_CODES = {EXIT_USAGE: "usage_error", EXIT_UNREACHABLE: "unreachable", EXIT_AUTH: "not_authorized"}


class CliError(Exception):
    """A failure reported as `sophon: <message>` on stderr with its exit code (and, in JSON mode,
    as the API's error envelope on stdout)."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code

    def envelope(self) -> dict[str, Any]:
        code = _CODES.get(self.exit_code, "failed")
        return {"error": {"code": code, "message": self.message, "details": {}, "requestId": None}}


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    raise CliError(message, code)


def one_line(text: str) -> str:
    return " ".join(text.split())
