"""Two real Gateway processes on one PostgreSQL database fire each of 50 jobs due in the same
second exactly once: one history record per job, one webhook call per job."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PgDatabasePool, _pg_url
from tests.e2e.server import GatewayProcess
from tests.identity_helpers import PASSWORD

pytestmark = pytest.mark.slow

JOBS = 50
ENV = {
    "SOPHON_QUEUE_POLL_SECONDS": "0.2",
    "SOPHON_WORKER_CONCURRENCY": "16",
    "SOPHON_HEARTBEAT_ENABLED": "false",
    "SOPHON_RATE_LIMITS_ENABLED": "false",
    "SOPHON_OUTBOUND_ALLOW": "127.0.0.1",
    "SOPHON_CRON_MAX_SLEEP_SECONDS": "1",  # no shared bus here: look for others' changes often
    "SOPHON_ARGON2_MEMORY_KIB": "64",
    "SOPHON_ARGON2_TIME_COST": "1",
    "SOPHON_ARGON2_PARALLELISM": "1",
}


class Receiver:
    """A loopback HTTP endpoint counting the requests per path."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        lock = threading.Lock()
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                with lock:
                    hits[self.path] += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def pg_url(pg_pool: PgDatabasePool) -> Iterator[str]:
    name = pg_pool.take()
    yield _pg_url(name)
    pg_pool.give_back(name)


def _call(url: str, headers: dict[str, str], method: str, path: str, **kw: Any) -> Any:
    response = httpx.request(method, f"{url}{path}", headers=headers, timeout=30, **kw)
    assert response.status_code < 300, response.text
    return response.json()


def test_two_replicas_fire_each_of_50_jobs_due_in_the_same_second_once(
    tmp_path: Path, pg_url: str
) -> None:
    data = tmp_path / "data"
    first = GatewayProcess(data, pg_url, **ENV)
    second = GatewayProcess(data, pg_url, **ENV)
    with Receiver() as receiver, first, second:
        token = (data / "setup-token").read_text().strip()
        signed_in = httpx.post(
            f"{first.url}/api/auth/setup",
            json={
                "setupToken": token,
                "email": "admin@example.com",
                "password": PASSWORD,
                "displayName": "The Admin",
            },
        )
        assert signed_in.status_code == 201, signed_in.text
        headers = {"Authorization": f"Bearer {signed_in.json()['accessToken']}"}
        later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        ids = []
        creating = time.monotonic()
        for n in range(JOBS):
            # alternate replicas, so each has made changes the other did not hear about
            url = (first if n % 2 else second).url
            job = _call(
                url,
                headers,
                "POST",
                "/api/cron",
                json={
                    "name": f"job {n}",
                    "scheduleType": "one-shot",
                    "expression": later,
                    "action": {"type": "webhook", "url": f"{receiver.url}/hook/{n}"},
                },
            )
            _call(url, headers, "POST", f"/api/approvals/{job['approvalId']}/approve")
            ids.append(job["id"])
        # moving them takes half the requests creating them took: twice that, with room to spare
        lead = timedelta(seconds=3 + (time.monotonic() - creating))
        due = (datetime.now(UTC) + lead).replace(microsecond=0) + timedelta(seconds=1)
        for n, job_id in enumerate(ids):  # now all of them due in the same second
            url = (first if n % 2 else second).url
            moved = _call(
                url,
                headers,
                "PATCH",
                f"/api/cron/{job_id}",
                json={"expression": due.isoformat().replace("+00:00", "Z")},
            )
            assert moved["status"] == "Active", moved
        assert datetime.now(UTC) < due, "moving the jobs took too long for this test"
        deadline = time.monotonic() + 60 + (due - datetime.now(UTC)).total_seconds()
        while time.monotonic() < deadline and sum(receiver.hits.values()) < JOBS:
            time.sleep(0.2)
        time.sleep(2)  # a double fire would show up by now
        assert receiver.hits == Counter({f"/hook/{n}": 1 for n in range(JOBS)})
        for job_id in ids:
            runs = _call(first.url, headers, "GET", f"/api/cron/{job_id}/history")["items"]
            assert [(r["status"], r["scheduledFor"]) for r in runs] == [
                ("Succeeded", due.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
            ], runs
            lag = datetime.fromisoformat(runs[0]["firedAt"].replace("Z", "+00:00")) - due
            assert lag < timedelta(seconds=5), lag
        crons = [
            _call(g.url, headers, "GET", "/api/ops/health")["scheduler"]["cron"]
            for g in (first, second)
        ]
        assert [c["state"] for c in crons] == ["running", "running"]
        assert sum(c["fires"] for c in crons) == JOBS  # between them, each job fired once
