"""Shapes benchmark rows as a text table or as JSON."""

from __future__ import annotations

import json
import math
from typing import Any

from bench.harness import Row

_DECIMALS = {"req/s": 0, "s": 3, "MB": 1}
_COLUMNS = ("benchmark", "metric", "project", "baseline", "ratio", "target", "result")


def _number(value: float, unit: str) -> str:
    return f"{value:,.{_DECIMALS.get(unit, 2)}f} {unit}"


def _result(row: Row) -> str:
    verdict = "ok" if row.met else f"MISS ({row.target.shortfall(row.project, row.baseline)})"
    return f"{verdict}; see warnings" if row.warnings else verdict


def table(rows: list[Row], meta: dict[str, Any], errors: dict[str, str]) -> str:
    cells = [
        (
            row.benchmark,
            row.metric,
            _number(row.project, row.unit),
            _number(row.baseline, row.unit),
            f"{row.ratio:.2f}" if math.isfinite(row.ratio) else "n/a",
            row.target.describe(row.unit),
            _result(row),
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [_COLUMNS, *cells]) for i in range(len(_COLUMNS))]
    right = {2, 3, 4}

    def line(values: tuple[str, ...]) -> str:
        parts = [
            v.rjust(w) if i in right else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    out = [_heading(meta), "", line(_COLUMNS), line(tuple("-" * w for w in widths))]
    out += [line(c) for c in cells]
    out += ["", "ratio = project / baseline (both measured in this run; medians)."]
    out += [f"{row.benchmark} {row.metric}: {text}" for row in rows for text in row.details]
    out += [f"WARNING {row.metric}: {text}" for row in rows for text in row.warnings]
    out += [f"ERROR {name}: {message}" for name, message in errors.items()]
    return "\n".join(out)


def _heading(meta: dict[str, Any]) -> str:
    pinning = "no CPU pinning"
    if meta["server_cpus"] is not None:
        servers, loads = (",".join(map(str, meta[k])) for k in ("server_cpus", "load_cpus"))
        pinning = f"servers pinned to CPU {servers}, load generator to CPU {loads}"
    return (
        f"Sophon Gateway benchmarks, {meta['date']} - {meta['cpus']} CPUs, python "
        f"{meta['python']}, load generator {meta['generator']} ({meta['connections']} connections,"
        f" {meta['duration']:g} s per measurement, {meta['rounds']} rounds), {pinning}"
    )


def as_json(rows: list[Row], meta: dict[str, Any], errors: dict[str, str]) -> str:
    results = [
        {
            "benchmark": row.benchmark,
            "metric": row.metric,
            "unit": row.unit,
            "project": row.project,
            "baseline": row.baseline,
            "ratio": row.ratio if math.isfinite(row.ratio) else None,
            "target": {
                "kind": row.target.kind,
                "limit": row.target.limit,
                "text": row.target.describe(row.unit),
            },
            "met": row.met,
            "samples": {"project": row.project_samples, "baseline": row.baseline_samples},
            "details": list(row.details),
            "warnings": list(row.warnings),
        }
        for row in rows
    ]
    return json.dumps({"meta": meta, "results": results, "errors": errors}, indent=2)
