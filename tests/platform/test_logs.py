"""Log lines reach the log file whole and in order, every one of them by the time logging is shut
down, however fast they come."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from sophon.platform.logs import configure_logging, shutdown_logging
from sophon.platform.request_context import request_id_var


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[Path]:
    root, uvicorn_access = logging.getLogger(), logging.getLogger("uvicorn.access")
    handlers, level, disabled = root.handlers, root.level, uvicorn_access.disabled
    configure_logging(tmp_path, "INFO", json_lines=True)
    yield tmp_path / "logs" / "gateway.log"
    shutdown_logging()
    root.handlers, root.level, uvicorn_access.disabled = handlers, level, disabled


def test_every_line_is_written_in_order_by_shutdown(logs: Path) -> None:
    access = logging.getLogger("sophon.access")
    token = request_id_var.set("req_1")
    try:
        for n in range(500):
            access.info("GET /api/things %s", n, extra={"status": 200})
    finally:
        request_id_var.reset(token)
    shutdown_logging()
    lines = [json.loads(line) for line in logs.read_text().splitlines()]
    mine = [line for line in lines if line["logger"] == "sophon.access"]
    assert [line["message"] for line in mine] == [f"GET /api/things {n}" for n in range(500)]
    assert all(line["requestId"] == "req_1" and line["status"] == 200 for line in mine)
