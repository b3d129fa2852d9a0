"""Structured JSON-line logs to `<data>/logs/`, rotated daily, and to stderr: JSON there too,
or readable lines when stderr is a terminal (unless chosen explicitly).

Records are handed to a background thread so writing a log line never blocks the event loop; every
line carries the request id and, once known, user and tenant."""

from __future__ import annotations

import collections
import copy
import json
import logging
import logging.handlers
import sys
import threading
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sophon.platform.clock import iso
from sophon.platform.request_context import request_id_var, tenant_id_var, user_id_var

_BATCH_SECONDS = 0.02
"""How long the writer lets records gather once one arrives: under load it then wakes once per
batch rather than once per record."""
_RESERVED = set(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "_json_line",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.requestId = request_id_var.get()
        record.userId = user_id_var.get()
        record.tenantId = tenant_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; a record is encoded once however many handlers write it."""

    def format(self, record: logging.LogRecord) -> str:
        cached: str | None = getattr(record, "_json_line", None)
        if cached is not None:
            return cached
        line: dict[str, Any] = {
            "timestamp": iso(datetime.fromtimestamp(record.created, UTC)),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and value is not None:
                line[key] = value
        if record.exc_info:
            line["exception"] = "".join(traceback.format_exception(*record.exc_info))
        elif record.exc_text:
            line["exception"] = record.exc_text
        encoded = json.dumps(line, default=str)
        record._json_line = encoded
        return encoded


class HumanFormatter(logging.Formatter):
    """`10:01:03 INFO  sophon.app: gateway ready (database=sqlite)` for a person at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        extra = [
            f"{k}={v}" for k, v in vars(record).items() if k not in _RESERVED and v is not None
        ]
        line = f"{when} {record.levelname:<5} {record.name}: {record.getMessage()}"
        if extra:
            line += f" ({', '.join(extra)})"
        if record.exc_text:
            line += "\n" + record.exc_text.rstrip()
        return line


class _Handoff(logging.handlers.QueueHandler):
    """Freezes the record for the writer thread without folding the stack into the message."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        frozen = copy.copy(record)
        frozen.msg = frozen.message = record.getMessage()
        frozen.args = None
        if record.exc_info:
            frozen.exc_text = "".join(traceback.format_exception(*record.exc_info))
            frozen.exc_info = None
        return frozen


class _Writer:
    """The thread writing handed-off records to the handlers, in order of arrival."""

    def __init__(self, *handlers: logging.Handler) -> None:
        self.handlers = handlers
        self._records: collections.deque[logging.LogRecord] = collections.deque()
        self._arrived = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="sophon-log-writer", daemon=True)
        self._thread.start()

    def put_nowait(self, record: logging.LogRecord) -> None:  # the queue of a QueueHandler
        self._records.append(record)
        if not self._arrived.is_set():
            self._arrived.set()

    def _run(self) -> None:
        while not self._stopping:
            self._arrived.wait()
            time.sleep(_BATCH_SECONDS)
            self._arrived.clear()  # before draining: a record arriving later wakes it again
            self._write()
        self._write()

    def _write(self) -> None:
        records = self._records
        while records:
            record = records.popleft()
            for handler in self.handlers:
                handler.handle(record)

    def stop(self) -> None:
        """Writes what is pending, then ends the thread."""
        self._stopping = True
        self._arrived.set()
        self._thread.join()
        for handler in self.handlers:
            handler.close()


_writer: _Writer | None = None


def configure_logging(data_dir: Path, level: str = "INFO", json_lines: bool | None = None) -> None:
    """Installs the handlers once per process; calling again replaces them. `json_lines` None:
    JSON on stderr unless it is a terminal."""
    global _writer
    shutdown_logging()
    as_json = JsonFormatter()
    if json_lines is None:
        json_lines = not sys.stderr.isatty()
    formatter = as_json if json_lines else HumanFormatter()
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    to_file = logging.handlers.TimedRotatingFileHandler(
        log_dir / "gateway.log", when="midnight", utc=True, backupCount=14, encoding="utf-8"
    )
    to_file.setFormatter(as_json)
    to_stderr = logging.StreamHandler(sys.stderr)
    to_stderr.setFormatter(formatter)

    _writer = _Writer(to_stderr, to_file)
    handler = _Handoff(_writer)  # type: ignore[arg-type]  # a queue as far as QueueHandler goes
    handler.addFilter(_ContextFilter())

    # no line shows the thread or process a record came from: don't look them up for each one
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # our access line carries more


def shutdown_logging() -> None:
    global _writer
    if _writer is not None:
        _writer.stop()
        _writer = None
