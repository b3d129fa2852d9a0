"""`sophon serve`: the Gateway's server command. Run as `sophon serve`, it parses its two options
with argparse and loads neither Typer nor the client commands (Typer and its pydantic adapters
were about a tenth of the cold start); the whole CLI registers the same function for its help."""

from __future__ import annotations

import argparse
import errno
import gc
import socket
import sys
from typing import TYPE_CHECKING, NoReturn

from sophon.cli.errors import EXIT_USAGE, CliError, fail, one_line

if TYPE_CHECKING:
    from sophon.settings import Settings

HOST_HELP = "Bind address (env SOPHON_HOST)."
PORT_HELP = "Port (env SOPHON_PORT)."
SERVE_HELP = "Start the Gateway."


def settings_or_fail(**overrides: object) -> Settings:
    """This machine's Gateway settings; a bad setting fails as a usage error."""
    from sophon.settings import SettingsError, load_settings

    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        fail(str(exc), EXIT_USAGE)


class _ServeParser(argparse.ArgumentParser):
    """Usage errors as one line and exit code 2, as the CLI's others."""

    def error(self, message: str) -> NoReturn:
        fail(f"{message} (see `sophon serve --help`)", EXIT_USAGE)


def serve_only(args: list[str]) -> int:
    """Runs `sophon serve` with `args` (what follows `serve`); returns the exit code."""
    parser = _ServeParser(prog="sophon serve", description=SERVE_HELP)
    parser.add_argument("--host", help=HOST_HELP)
    parser.add_argument("--port", type=int, help=PORT_HELP)
    try:
        options = parser.parse_args(args)
        serve(options.host, options.port)
    except CliError as exc:
        print(f"sophon: {one_line(exc.message)}", file=sys.stderr)
        return exc.exit_code
    return 0


def serve(host: str | None = None, port: int | None = None) -> None:
    """Starts the Gateway; returns once it has stopped."""
    # Start-up builds some 300k objects that live as long as the process: the collector is off
    # until the server has started (GracefulServer.startup collects once, freezes them and turns
    # it back on); collecting them as they arrive cost about a tenth of the start-up's CPU.
    gc.disable()
    try:
        _serve(host, port)
    finally:
        gc.enable()


def _serve(host: str | None, port: int | None) -> None:
    from sophon.app import create_app
    from sophon.platform import server
    from sophon.platform.logs import configure_logging, shutdown_logging

    settings = settings_or_fail(host=host, port=port)
    try:
        sock = server.listen(settings.host, settings.port)
    except OSError as exc:
        fail(_cannot_listen(settings.host, settings.port, exc))
    configure_logging(settings.data, settings.log_level, settings.log_json)
    application = create_app(settings)  # its start-up applies pending migrations
    try:
        server.run(
            application,
            settings.host,
            settings.port,
            sock,
            settings.trusted_proxies,
            keep_alive_seconds=settings.keep_alive_seconds,
        )
    finally:
        sock.close()
        shutdown_logging()


def _cannot_listen(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is already in use — stop the other process or pass --port"
    if exc.errno == errno.EACCES:
        return f"not allowed to listen on port {port} on {host} — pass a port above 1023"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine — pass --host 127.0.0.1"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host {host!r} — pass --host 127.0.0.1"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
