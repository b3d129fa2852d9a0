"""Printing results as a table (rich), JSON or CSV. Data goes to stdout; notes and progress go to
stderr, so `--json` and `--format csv` output stays machine-readable."""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from sophon.cli.core import Format

Column = tuple[str, str]  # (header, dotted key into the item: "user.email")
_ID = re.compile(r"[a-z]+_[0-9A-Za-z]{10,}")
_TIME = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(:\d\d(\.\d+)?)?Z")
_SHORT_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\dZ")


def pick(item: Any, key: str) -> Any:
    value = item
    for part in key.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def cell(value: Any) -> str:
    if isinstance(value, Text):
        return value.plain
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _csv_cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return cell(value)


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


class Output:
    def __init__(self, fmt: Format, color: bool) -> None:
        self.format = fmt
        self.color = color
        self._out: Console | None = None
        self._err: Console | None = None

    @property
    def console(self) -> Console:
        if self._out is None:
            self._out = _console(self.color, stderr=False)
        return self._out

    @property
    def err(self) -> Console:
        if self._err is None:
            self._err = _console(self.color, stderr=True)
        return self._err

    def items(self, rows: Sequence[Any], columns: Sequence[Column], title: str = "") -> None:
        """A list: a table, a JSON array of the whole items, or CSV of the columns."""
        if self.format == "json":
            self.raw_json(list(rows))
        elif self.format == "csv":
            self._csv([h for h, _ in columns], ([pick(r, k) for _, k in columns] for r in rows))
        else:
            self.console.print(_table(rows, columns, title))

    def record(self, item: Any, fields: Sequence[Column] | None = None) -> None:
        """One object: field/value lines, the JSON object, or a one-row CSV."""
        if self.format == "json":
            self.raw_json(item)
            return
        chosen = (
            list(fields) if fields else [(k, k) for k in item] if isinstance(item, dict) else []
        )
        if self.format == "csv":
            self._csv([h for h, _ in chosen], [[pick(item, k) for _, k in chosen]])
            return
        table = Table(show_header=False, show_edge=False, box=None, pad_edge=False)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for header, key in chosen:
            table.add_row(header, cell(pick(item, key)))
        self.console.print(table)

    def done(self, text: str, payload: Any) -> None:
        """The outcome of an action: a sentence, or its JSON payload."""
        if self.format == "json":
            self.raw_json(payload)
        else:
            self.text(text)

    def text(self, text: str) -> None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()

    def raw_json(self, value: Any) -> None:
        self.text(dumps(value))

    def note(self, text: str) -> None:
        self.err.print(text, style="dim", markup=False, highlight=False)

    def _csv(self, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(headers)
        for row in rows:
            writer.writerow([_csv_cell(v) for v in row])
        sys.stdout.flush()


def _table(rows: Sequence[Any], columns: Sequence[Column], title: str) -> Table:
    """Ids and times never wrap (ids stay copyable; times are shortened to the minute); the
    other columns wrap to fit the terminal."""
    cells = [[_table_cell(pick(row, key)) for _, key in columns] for row in rows]
    table = Table(title=title or None, show_edge=False, header_style="bold")
    for index, (header, _) in enumerate(columns):
        values = [str(row[index]) for row in cells if str(row[index])]
        if values and all(_ID.fullmatch(v) or _SHORT_TIME.fullmatch(v) for v in values):
            table.add_column(header, no_wrap=True, min_width=max(map(len, values)))
        else:
            table.add_column(header, overflow="fold")
    for row in cells:
        table.add_row(*row)
    return table


def _table_cell(value: Any) -> str | Text:
    if isinstance(value, Text):
        return value
    text = cell(value)
    when = _TIME.fullmatch(text)
    return f"{when[1]} {when[2]}Z" if when else text


def _console(color: bool, *, stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    terminal = stream.isatty()
    return Console(
        file=stream,
        no_color=not color,
        highlight=False,
        width=None if terminal else 200,
        soft_wrap=False,
    )
