"""What every command shares: the global flags (accepted before the command and after it) and the
root group that turns any failure (sophon.cli.errors) into one line on stderr."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import typer

# Typer vendors its own Click; its exceptions and context live here.
from typer._click.core import Context
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from sophon.cli.errors import EXIT_OK, EXIT_USAGE, CliError, fail, one_line

Format = Literal["table", "json", "csv"]
FORMATS: tuple[Format, ...] = ("table", "json", "csv")


@dataclass
class Globals:
    """The global flags as given (None: not given); resolved against env and config later."""

    gateway_url: str | None = None
    format: str | None = None
    no_color: bool = False
    format_in_use: str | None = None  # as the command resolved it (flag, env, config)


def globals_of(ctx: Context) -> Globals:
    root = ctx.find_root()
    if not isinstance(root.obj, Globals):
        root.obj = Globals()
    return root.obj


_GLOBAL_FLAGS = {"--json", "--no-color"}
_GLOBAL_VALUED = {"--format", "--gateway-url"}


def hoist_globals(args: list[str]) -> list[str]:
    """Moves the global flags to the front, so `sophon agents list --json` works like
    `sophon --json agents list`. Nothing after `--` moves."""
    front: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest.extend(args[index:])
            break
        if arg in _GLOBAL_FLAGS or ("=" in arg and arg.split("=", 1)[0] in _GLOBAL_VALUED):
            front.append(arg)
        elif arg in _GLOBAL_VALUED and index + 1 < len(args):
            front.extend(args[index : index + 2])
            index += 1
        else:
            rest.append(arg)
        index += 1
    return front + rest


def root_options(
    ctx: typer.Context,
    gateway_url: Annotated[
        str | None,
        typer.Option(
            "--gateway-url",
            metavar="URL",
            help="Gateway to talk to (env SOPHON_GATEWAY; config gatewayUrl).",
        ),
    ] = None,
    format_: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="table|json|csv",
            help="Output format (env SOPHON_FORMAT; config defaultFormat; default table).",
        ),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="No colours (env NO_COLOR).")
    ] = False,
) -> None:
    """The root callback: records the global flags for the command that runs."""
    if format_ is not None and format_ not in FORMATS:
        fail(f"--format must be table, json or csv, not {format_!r}", EXIT_USAGE)
    flags = globals_of(ctx)
    flags.gateway_url = gateway_url or None
    flags.format = "json" if json_ else format_
    flags.no_color = no_color


class SophonGroup(TyperGroup):
    """The root group: global flags anywhere, and every failure as one line on stderr."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        given = list(args) if args is not None else sys.argv[1:]
        code = self._run(hoist_globals(given), prog_name, extra)
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(self, args: list[str], prog_name: str | None, extra: dict[str, Any]) -> int:
        flags = Globals()
        try:
            result = super().main(
                args=args,
                prog_name=prog_name or "sophon",
                standalone_mode=False,
                obj=flags,
                **extra,
            )
        except CliError as exc:
            failure = exc
        except NoArgsIsHelpError as exc:
            if message := exc.format_message().strip():
                print(message)
            return EXIT_OK
        except UsageError as exc:
            hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
            failure = CliError(one_line(exc.format_message()) + hint, EXIT_USAGE)
        except ClickException as exc:
            failure = CliError(one_line(exc.format_message()), exc.exit_code)
        except typer.Abort:
            failure = CliError("aborted", 130)
        else:
            return result if isinstance(result, int) else EXIT_OK
        print(f"sophon: {one_line(failure.message)}", file=sys.stderr)
        if _wants_json(flags, args):
            print(json.dumps(failure.envelope(), indent=2, ensure_ascii=False))
        return failure.exit_code


def _wants_json(flags: Globals, args: list[str]) -> bool:
    """JSON output as the command resolved it; for a failure before that, as far as the flags
    given and the environment tell."""
    if flags.format_in_use is not None:
        return flags.format_in_use == "json"
    asked = flags.format or os.environ.get("SOPHON_FORMAT", "")
    for index, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--json" or arg == "--format=json":
            return True
        if arg == "--format" and args[index + 1 : index + 2] == ["json"]:
            return True
    return asked.strip().lower() == "json"


def root_app() -> typer.Typer:
    """The `sophon` root group, with the global flags and no command yet."""
    root = typer.Typer(
        name="sophon",
        cls=SophonGroup,
        help="Sophon: a self-hosted AI agent platform. Global flags (--gateway-url, --json, "
        "--format, --no-color) go before or after the command.",
        epilog="Exit codes: 0 ok, 1 refused or failed, 2 usage, 3 Gateway unreachable, "
        "4 authentication or permission.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        rich_markup_mode=None,
    )
    root.callback()(root_options)
    return root


def new_app(help_text: str, **kwargs: Any) -> typer.Typer:
    """A sub-command group with the project's defaults."""
    return typer.Typer(help=help_text, no_args_is_help=True, **kwargs)
