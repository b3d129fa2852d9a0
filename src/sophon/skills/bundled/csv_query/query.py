"""csv.query: describe, filter and aggregate inline CSV with the standard library only."""

import csv
import io
import json
import sys
from collections.abc import Callable
from typing import Any

OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


class Bad(Exception):
    pass


def number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def matches(row: dict[str, str], cond: dict[str, Any]) -> bool:
    column, op, want = cond["column"], cond["op"], cond["value"]
    if column not in row:
        raise Bad(f"no column {column!r}")
    have = row[column]
    if op == "contains":
        return str(want).lower() in have.lower()
    a: Any = number(have)
    b: Any = number(want)
    if a is None or b is None:
        a, b = have, str(want)
    return OPS[op](a, b)


def table(header: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def describe(header: list[str], rows: list[dict[str, str]]) -> str:
    columns = []
    for name in header:
        values = [r[name] for r in rows if r[name] != ""]
        nums = [n for n in map(number, values) if n is not None]
        info: dict[str, Any] = {"name": name, "nonEmpty": len(values)}
        if values and len(nums) == len(values):
            info.update(type="number", min=min(nums), max=max(nums), mean=sum(nums) / len(nums))
        else:
            info.update(type="text", distinct=len(set(values)))
        columns.append(info)
    return json.dumps({"rows": len(rows), "columns": columns}, indent=1)


def aggregate(
    header: list[str],
    rows: list[dict[str, str]],
    group_by: list[str],
    aggregates: list[dict[str, Any]],
) -> str:
    for name in group_by:
        if name not in header:
            raise Bad(f"no column {name!r}")
    groups: dict[tuple[str, ...], list[dict[str, str]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[g] for g in group_by), []).append(row)
    out_header = list(group_by) + [f"{a['fn']}({a.get('column', '*')})" for a in aggregates]
    out = []
    for key, members in groups.items():
        values: list[Any] = list(key)
        for agg in aggregates:
            fn, column = agg["fn"], agg.get("column")
            if fn == "count":
                values.append(len(members) if not column else sum(1 for m in members if m[column]))
                continue
            if column not in header:
                raise Bad(f"{fn} needs a column that exists, not {column!r}")
            nums = [n for n in (number(m[column]) for m in members) if n is not None]
            if not nums:
                values.append("")
            elif fn == "sum":
                values.append(sum(nums))
            elif fn == "avg":
                values.append(round(sum(nums) / len(nums), 6))
            else:
                values.append(min(nums) if fn == "min" else max(nums))
        out.append([int(v) if isinstance(v, float) and v.is_integer() else v for v in values])
    return table(out_header, out)


def main() -> str:
    call: dict[str, Any] = json.load(sys.stdin)
    args: dict[str, Any] = call.get("arguments", {})
    reader = csv.DictReader(io.StringIO(args.get("csv", "")))
    header = list(reader.fieldnames or [])
    rows = list(reader)
    where = args.get("where") or []
    rows = [r for r in rows if all(matches(r, c) for c in where)]
    operation = args.get("operation")
    if operation == "describe":
        return describe(header, rows)
    if operation == "aggregate":
        aggregates = args.get("aggregates") or [{"fn": "count"}]
        return aggregate(header, rows, args.get("groupBy") or [], aggregates)
    columns = args.get("columns") or header
    missing = [c for c in columns if c not in header]
    if missing:
        raise Bad(f"no column {missing[0]!r}")
    limit = args.get("limit") or 1000
    return table(columns, [[r[c] for c in columns] for r in rows[:limit]])


if __name__ == "__main__":
    reply: dict[str, Any]
    try:
        reply = {"content": main()}
    except Bad as exc:
        reply = {"content": f"csv.query: {exc}", "isError": True}
    print(json.dumps(reply))
