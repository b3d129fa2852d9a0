"""`sophon config path|get|set|unset`: the CLI's own settings file."""

from __future__ import annotations

from typing import Annotated

import typer

from sophon.cli.config import KEYS, config_path, masked, parse_value
from sophon.cli.core import new_app
from sophon.cli.errors import EXIT_USAGE, fail
from sophon.cli.output import cell
from sophon.cli.runtime import runtime

app = new_app("The CLI's settings (cli.json in the data dir).")

_KEY_HELP = "One of: " + ", ".join(KEYS) + "."


@app.command("path")
def path() -> None:
    """Print where the settings file is."""
    runtime().out.text(str(config_path()))


@app.command("get")
def get(
    key: Annotated[str | None, typer.Argument(help=_KEY_HELP + " Omitted: all of them.")] = None,
    reveal: Annotated[bool, typer.Option(help="Show the auth token unmasked.")] = False,
) -> None:
    """Print one setting, or all of them (defaults included; the token masked)."""
    rt = runtime()
    if key is not None:
        if key not in KEYS:
            fail(f"unknown config key {key!r}; known: {', '.join(KEYS)}", EXIT_USAGE)
        value = rt.config.get(key)
        shown = value if reveal else masked(key, value)
        if rt.format == "json":
            rt.out.raw_json(shown)
        else:
            rt.out.text(cell(shown))
        return
    values = {k: v if reveal else masked(k, v) for k, v in rt.config.effective().items()}
    if rt.format == "json":
        rt.out.raw_json(values)
        return
    rows = [{"key": k, "value": v, "source": "file" if k in rt.config.stored else "default"}
            for k, v in values.items()]  # fmt: skip
    rt.out.items(rows, [("key", "key"), ("value", "value"), ("source", "source")])


@app.command("set")
def set_(
    key: Annotated[str, typer.Argument(help=_KEY_HELP)],
    value: Annotated[str, typer.Argument()],
) -> None:
    """Store a setting (validated; the file is written with mode 0600)."""
    rt = runtime()
    parsed = parse_value(key, value)
    rt.config.set(key, parsed)
    rt.config.save()
    rt.out.done(f"{key} = {cell(masked(key, parsed))}", {key: masked(key, parsed)})


@app.command("unset")
def unset(key: Annotated[str, typer.Argument(help=_KEY_HELP)]) -> None:
    """Remove a stored setting, so its default applies again."""
    rt = runtime()
    if key not in KEYS:
        fail(f"unknown config key {key!r}; known: {', '.join(KEYS)}", EXIT_USAGE)
    rt.config.unset(key)
    rt.config.save()
    rt.out.done(f"{key} reset to its default", {key: masked(key, rt.config.get(key))})
