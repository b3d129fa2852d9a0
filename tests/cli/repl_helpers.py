"""Driving `sophon chat` on a pseudo-terminal (so it is interactive), without tmux."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

from tests.cli.conftest import Cli


class Terminal:
    """The parent side of a pseudo-terminal; what was read past a marker is kept for the next."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pending = b""

    def type(self, line: bytes) -> None:
        os.write(self.fd, line + b"\n")

    def read_until(self, marker: bytes, timeout: float = 30.0) -> bytes:
        seen = self.pending
        deadline = time.monotonic() + timeout
        while marker not in seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{marker!r} not seen; got {seen!r}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"{marker!r} not seen before EOF; got {seen!r}")
                seen += chunk
        end = seen.index(marker) + len(marker)
        self.pending = seen[end:]
        return seen[:end]

    def read_to_end(self, timeout: float = 30.0) -> bytes:
        """Everything until the other side closes the terminal."""
        seen = self.pending
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"the terminal stayed open; got {seen!r}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:  # EIO: the last process holding the other side is gone
                    chunk = b""
                if not chunk:
                    self.pending = b""
                    return seen
                seen += chunk


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run_on_a_terminal(cli: Cli, *args: str, columns: int = 100, styled: bool = False) -> list[str]:
    """`sophon ARGS` on a pseudo-terminal COLUMNS wide: its output lines, without the escape
    sequences of colours and styles unless `styled`."""
    parent, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = cli.env()
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sophon", *args],
        env=env,
        stdin=child,
        stdout=child,
        stderr=child,
        close_fds=True,
    )
    os.close(child)
    try:
        seen = Terminal(parent).read_to_end()
        assert proc.wait(timeout=30) == 0, seen
    finally:
        proc.kill()
        proc.wait()
        os.close(parent)
    text = seen.decode()
    return (text if styled else _ANSI.sub("", text)).splitlines()


@contextlib.contextmanager
def chat_on_a_terminal(
    cli: Cli, agent: str | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], Terminal]]:
    """`sophon chat [-a AGENT]` on a pseudo-terminal (so it is interactive), killed at the end."""
    parent, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sophon", "chat", *(["-a", agent] if agent else [])],
        env=cli.env(),
        stdin=child,
        stdout=child,
        stderr=child,
        close_fds=True,
    )
    os.close(child)
    try:
        yield proc, Terminal(parent)
    finally:
        proc.kill()
        proc.wait()
        os.close(parent)


_TERMINAL_READS = {("0", 0), ("23", 1), ("270", 1)}  # read(0, ...); [p]select(1, ...) on fd 0


def interrupt_when_reading(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """SIGINT once the process's main thread is blocked reading its terminal. A signal that
    lands just before that read starts is only acted on when the read returns (CPython checks
    for signals when a read is interrupted), so a press sent as the prompt appears can be lost."""
    syscall = Path(f"/proc/{proc.pid}/task/{proc.pid}/syscall")
    deadline = time.monotonic() + timeout
    while True:
        fields = syscall.read_text().split()
        if len(fields) > 1 and (fields[0], int(fields[1], 16)) in _TERMINAL_READS:
            break
        assert time.monotonic() < deadline, f"never blocked reading the terminal: {fields}"
        time.sleep(0.002)  # the state is only visible by looking again
    proc.send_signal(signal.SIGINT)
