"""Skills benchmarks, in process: (1) a skill tool call (csv.query through the skill runner: the
JSON protocol, the bootstrap, the package's files in the sandbox) against the bare sandbox running
the same script with the same stdin — what the skill layer adds to a fresh bwrap sandbox per call;
(2) the install checks of a signed package (signature, safe unpacking, manifest schema, static
scan) against plain `zipfile` reading the same archive.

    .venv/bin/python -m bench.skills [--duration 3]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import statistics
import sys
import time
import zipfile
from collections.abc import Awaitable, Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.harness import Benchmark, Row, RunContext, Target
from sophon.runtime.sandbox import SandboxSpec, run_sandboxed, sandbox_available
from sophon.settings import Settings
from sophon.skills import archive, installer, runner, scan, trust
from sophon.skills.bootstrap import bundled_packages
from sophon.skills.manifest import parse

CALL_TARGET = Target("min_ratio", 0.80)  # calls/s through the skill layer vs the bare sandbox
CHECK_TARGET = Target("max_value", 50.0)  # ms to verify and check one package
ARGUMENTS = {
    "csv": "city,sales\n" + "".join(f"c{i % 7},{i}\n" for i in range(500)),
    "operation": "aggregate",
    "groupBy": ["city"],
    "aggregates": [{"fn": "sum", "column": "sales"}],
}


def _csv_package() -> dict[str, bytes]:
    return next(p for p in bundled_packages() if b"name: csv.query" in p["SKILL.md"])


async def _rate(call: Callable[[], Awaitable[Any]], seconds: float) -> tuple[float, list[float]]:
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(samples) < 3:
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return len(samples) / sum(samples), samples


async def _calls(duration: float, rounds: int) -> Row:
    files = _csv_package()
    manifest = parse(files)
    invocation = runner.Invocation(manifest, files, "csv.query", ARGUMENTS)
    stdin = json.dumps({"tool": "csv.query", "arguments": ARGUMENTS, "credentials": {}}).encode()
    bare = SandboxSpec(script=files["query.py"].decode(), language="python", stdin=stdin)

    async def through_skill() -> None:
        result = await runner.invoke(invocation)
        assert not result.is_error, result.content

    async def bare_sandbox() -> None:
        result = await run_sandboxed(bare)
        assert result.exit_code == 0, result.stderr_text

    project: list[float] = []
    baseline: list[float] = []
    per_round = max(duration / max(rounds, 1), 0.5)
    for n in range(rounds):
        order = [(through_skill, project), (bare_sandbox, baseline)]
        for call, into in order if n % 2 == 0 else reversed(order):
            rate, _ = await _rate(call, per_round)
            into.append(rate)
    return Row(
        benchmark="skills",
        metric="skill tool call (csv.query), calls/s",
        unit="calls/s",
        project=statistics.median(project),
        baseline=statistics.median(baseline),
        target=CALL_TARGET,
        project_samples=tuple(project),
        baseline_samples=tuple(baseline),
        details=("baseline: the same script in a bare bwrap sandbox, same stdin",),
    )


def _checks(duration: float) -> Row:
    files = _csv_package()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as packed:
        for path, content in files.items():
            packed.writestr(path, content)
    data = buffer.getvalue()
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes_raw()
    settings = Settings(skills_trusted_keys=f"bench={base64.b64encode(public).decode()}")
    signature = trust.sign(data, key)
    trusted = trust.trusted_keys(settings.skills_trusted_keys)

    def checked() -> None:
        assert trust.verify(data, signature, trusted).status == "signed"
        files = archive.unpack(data, installer.limits(settings))
        parse(files)
        scan.scan(files)

    def plain() -> None:
        with zipfile.ZipFile(io.BytesIO(data)) as opened:
            {info.filename: opened.read(info) for info in opened.infolist()}

    project: list[float] = []
    baseline: list[float] = []
    deadline = time.perf_counter() + max(duration, 0.5)
    while time.perf_counter() < deadline or len(project) < 20:
        for fn, into in ((checked, project), (plain, baseline)):
            started = time.perf_counter()
            fn()
            into.append((time.perf_counter() - started) * 1000)
    return Row(
        benchmark="skills",
        metric="install checks of a signed package, ms",
        unit="ms",
        project=statistics.median(project),
        baseline=statistics.median(baseline),
        target=CHECK_TARGET,
        project_samples=tuple(project),
        baseline_samples=tuple(baseline),
        details=("baseline: zipfile reading the archive; project: verify, unpack, schema, scan",),
    )


def run_all(duration: float, rounds: int, say: Callable[[str], None]) -> list[Row]:
    rows = [_checks(duration)]
    if sandbox_available():
        say("skills: timing sandboxed calls")
        rows.insert(0, asyncio.run(_calls(duration, rounds)))
    else:
        say("skills: no bwrap sandbox here; call timing skipped")
    return rows


def run(ctx: RunContext) -> list[Row]:
    return run_all(ctx.duration, ctx.rounds, ctx.say)


BENCHMARK = Benchmark(
    name="skills",
    summary="skill tool calls vs the bare sandbox; install checks vs plain unzip",
    run=run,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.skills", description=__doc__)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    for row in run_all(args.duration, args.rounds, lambda m: print(m, file=sys.stderr)):
        ratio = row.project / row.baseline if row.baseline else float("nan")
        print(f"{row.metric}: {row.project:.2f} vs {row.baseline:.2f} (ratio {ratio:.2f})")


if __name__ == "__main__":
    main()
