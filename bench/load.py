"""HTTP load generators on loopback: `wrk` when on PATH, else a small asyncio keep-alive client.

Both run as a separate process (pinned to the CPUs left over from the server when pinning is on),
stop at a deadline and at a request cap, and report completed requests and failures.
`python -m bench.load URL --duration S` runs the built-in client and prints one JSON line."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from bench.processes import child_setup

MAX_REQUESTS = 5_000_000
_WRK_CAP = Path(__file__).with_name("wrk_cap.lua")


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    failures: int  # non-2xx answers, socket errors and timeouts

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


class LoadGenerator(Protocol):
    name: str

    def run(
        self, url: str, duration: float, connections: int, headers: Sequence[str] = ()
    ) -> LoadResult: ...


def run_bounded(argv: list[str], timeout: float, cpus: frozenset[int] | None) -> str:
    """Runs a command in its own session and returns its stdout; killed on timeout or Ctrl+C."""
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=child_setup(cpus),  # safe: the benchmark runs no threads
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({proc.returncode}): {err.decode(errors='replace')}")
    return out.decode(errors="replace")


class WrkGenerator:
    """`wrk` with one thread; a Lua hook stops each connection after its share of MAX_REQUESTS."""

    def __init__(self, executable: str, cpus: frozenset[int] | None) -> None:
        self.executable = executable
        self.cpus = cpus
        self.name = "wrk"

    def run(
        self, url: str, duration: float, connections: int, headers: Sequence[str] = ()
    ) -> LoadResult:
        seconds = max(1, round(duration))
        argv = [self.executable, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s"]
        for header in headers:
            argv += ["-H", header]
        argv += ["-s", str(_WRK_CAP), url, str(MAX_REQUESTS)]
        return parse_wrk(run_bounded(argv, seconds + 30, self.cpus))


def parse_wrk(output: str) -> LoadResult:
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b", output)
    if total is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[total.group(3)]
    failures = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        failures += int(non_2xx.group(1))
    socket_errors = re.search(r"Socket errors: (.*)", output)
    if socket_errors:
        failures += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return LoadResult(int(total.group(1)), float(total.group(2)) * scale, failures)


class PythonGenerator:
    """The built-in asyncio client, run as `python -m bench.load` in its own process."""

    def __init__(self, cpus: frozenset[int] | None) -> None:
        self.cpus = cpus
        self.name = "python-asyncio"

    def run(
        self, url: str, duration: float, connections: int, headers: Sequence[str] = ()
    ) -> LoadResult:
        argv = [sys.executable, "-m", "bench.load", url, "--duration", str(duration)]
        argv += ["--connections", str(connections)]
        for header in headers:
            argv += ["--header", header]
        data = json.loads(run_bounded(argv, duration + 30, self.cpus).strip().splitlines()[-1])
        return LoadResult(int(data["requests"]), float(data["seconds"]), int(data["failures"]))


def pick_generator(prefer: str, cpus: frozenset[int] | None) -> LoadGenerator:
    """`prefer` is "auto" (wrk if on PATH), "wrk" or "python"."""
    wrk = shutil.which("wrk")
    if prefer == "wrk" and wrk is None:
        raise RuntimeError("wrk is not on PATH (Debian: apt-get install -y wrk)")
    if prefer != "python" and wrk is not None:
        return WrkGenerator(wrk, cpus)
    return PythonGenerator(cpus)


class _Tally:
    def __init__(self) -> None:
        self.requests = 0
        self.failures = 0


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Reads one response (Content-Length or chunked body); returns its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lowered = head.lower()
    marker = lowered.find(b"\r\ncontent-length:")
    if marker >= 0:
        end = lowered.index(b"\r\n", marker + 2)
        await reader.readexactly(int(lowered[marker + 17 : end]))
    elif b"transfer-encoding: chunked" in lowered:
        while size := int((await reader.readline()).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readline()
    return status


async def _connection(
    host: str, port: int, request: bytes, deadline: float, cap: int, tally: _Tally
) -> None:
    while time.perf_counter() < deadline and tally.requests < cap:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            tally.failures += 1
            await asyncio.sleep(0.05)
            continue
        try:
            while time.perf_counter() < deadline and tally.requests < cap:
                writer.write(request)
                status = await asyncio.wait_for(_read_response(reader), 5)
                tally.requests += 1
                if not 200 <= status < 400:
                    tally.failures += 1
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            tally.failures += 1
        finally:
            writer.close()


async def generate(
    url: str, duration: float, connections: int, cap: int, headers: Sequence[str] = ()
) -> LoadResult:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path or "/"
    extra = "".join(f"{header}\r\n" for header in headers)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}\r\n".encode()
    tally = _Tally()
    started = time.perf_counter()
    deadline = started + duration
    workers = [_connection(host, port, request, deadline, cap, tally) for _ in range(connections)]
    await asyncio.gather(*workers)
    return LoadResult(tally.requests, time.perf_counter() - started, tally.failures)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--max-requests", type=int, default=MAX_REQUESTS)
    parser.add_argument("--header", action="append", default=[], help="'Name: value'")
    args = parser.parse_args()
    coro = generate(args.url, args.duration, args.connections, args.max_requests, args.header)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(coro)
    else:
        result = uvloop.run(coro)
    line = {"requests": result.requests, "seconds": result.seconds, "failures": result.failures}
    print(json.dumps(line))


if __name__ == "__main__":
    main()
