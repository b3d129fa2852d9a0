"""The `sophon` entry point. `sophon serve` loads only the server's command; any other command
loads the whole CLI (sophon.cli.commands).

Exit codes: 0 success · 1 refused or failed · 2 usage · 3 Gateway unreachable · 4 auth (401/403)."""

from __future__ import annotations

import sys


def run() -> None:
    # the client commands (some hundred, their modules, Typer building their tree) were about a
    # twelfth of the server's start
    if sys.argv[1:2] == ["serve"]:
        from sophon.cli.serve import serve_only

        sys.exit(serve_only(sys.argv[2:]))
    else:
        from sophon.cli.commands import app

        app()
