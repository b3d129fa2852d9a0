"""`python -m bench`: runs the Gateway benchmarks and prints project vs baseline figures.

Progress goes to stderr; the table (or `--json`) to stdout. Exit status 1 when a benchmark failed
to run (a missed target is reported, not an error), 130 on Ctrl+C."""

from __future__ import annotations

import argparse
import os
import platform
import signal
import sys
from datetime import date
from types import FrameType
from typing import Any

from bench import report
from bench.harness import Row, RunContext, cpu_plan
from bench.load import pick_generator
from bench.registry import BENCHMARKS, by_name


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--only",
        action="append",
        choices=[b.name for b in BENCHMARKS],
        metavar="NAME",
        help="run only this benchmark (repeatable): " + ", ".join(b.name for b in BENCHMARKS),
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--duration",
        type=float,
        default=3.0,
        help="seconds per load measurement (1-60, default 3)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections")
    parser.add_argument(
        "--generator",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="load generator: wrk if on PATH (auto), or the built-in asyncio client",
    )
    parser.add_argument(
        "--no-pin", action="store_true", help="do not pin server and load generator to CPUs"
    )
    parser.add_argument(
        "--gateway-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for every Gateway started, e.g. SOPHON_LOG_LEVEL=WARNING",
    )
    parser.add_argument(
        "--sessions",
        default="1,16,200",
        help="chat: the concurrent session counts to measure, comma-separated (default 1,16,200)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= 60:
        parser.error("--duration must be between 1 and 60 seconds")
    if not 1 <= args.rounds <= 15:
        parser.error("--rounds must be between 1 and 15")
    if not 1 <= args.connections <= 256:
        parser.error("--connections must be between 1 and 256")
    try:
        args.sessions = tuple(sorted({int(n) for n in args.sessions.split(",")}))
    except ValueError:
        parser.error("--sessions takes comma-separated numbers, e.g. 1,16")
    if not all(1 <= n <= 500 for n in args.sessions):
        parser.error("--sessions must be between 1 and 500 each")
    if any("=" not in item for item in args.gateway_env):
        parser.error("--gateway-env takes KEY=VALUE")
    return args


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _release(ctx: RunContext) -> None:
    """Stops processes and removes temp dirs; a second Ctrl+C must not cut the cleanup short."""
    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in handled}
    try:
        ctx.release()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    # SIGTERM and SIGHUP unwind like Ctrl+C, so the cleanup below always runs.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    server_cpus, load_cpus = cpu_plan(pin=not args.no_pin)
    try:
        generator = pick_generator(args.generator, load_cpus)
    except RuntimeError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    ctx = RunContext(
        duration=args.duration,
        rounds=args.rounds,
        connections=args.connections,
        generator=generator,
        server_cpus=server_cpus,
        gateway_env=dict(item.split("=", 1) for item in args.gateway_env),
        verbose=not args.quiet,
        sessions=args.sessions,
    )
    meta: dict[str, Any] = {
        "date": date.today().isoformat(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "generator": generator.name,
        "connections": args.connections,
        "duration": args.duration,
        "rounds": args.rounds,
        "server_cpus": sorted(server_cpus) if server_cpus else None,
        "load_cpus": sorted(load_cpus) if load_cpus else None,
        "gateway_env": args.gateway_env,
    }
    selected = [by_name(name) for name in args.only] if args.only else BENCHMARKS
    rows: list[Row] = []
    errors: dict[str, str] = {}
    try:
        for benchmark in selected:
            if not args.quiet:
                print(f"{benchmark.name}: {benchmark.summary}", file=sys.stderr, flush=True)
            try:
                rows += benchmark.run(ctx)
            except Exception as exc:  # noqa: BLE001 - one failing never discards the others
                errors[benchmark.name] = f"{type(exc).__name__}: {exc}"
                print(f"  failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            finally:
                _release(ctx)
    except KeyboardInterrupt:
        _release(ctx)
        print("interrupted; all benchmark processes stopped", file=sys.stderr)
        return 130
    print(report.as_json(rows, meta, errors) if args.json else report.table(rows, meta, errors))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
