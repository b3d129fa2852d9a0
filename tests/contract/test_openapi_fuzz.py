"""API contract fuzzing: every operation of the OpenAPI document, called by schemathesis with
generated (valid and invalid) input as a signed-in Admin of a live Gateway, must answer without a
server error (a declared 502/503 blaming an upstream model provider aside), with a declared status
code and content type, and with a body (error envelope included) and headers matching what the
document declares for that status.

Operations are collected from the document the app builds, so pytest-xdist can spread them over
workers; `test_served_document_is_the_fuzzed_one` pins that to what the live Gateway serves.

Destructive operations stay in the run without spoiling it: each operation gets its own fresh
objects for the ids in its path (an earlier DELETE cannot starve it), the Admin signs in again if
an operation ended its session (logout, revoked session), and processing is resumed after each
operation (pause, drain). Nothing is excluded."""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from sophon.app import create_app
from sophon.platform.docs import OPENAPI_URL
from sophon.settings import Settings
from tests.contract.live import LiveGateway

# Hypothesis examples per operation in the fuzzing phase; the coverage phase adds its own
# boundary and negative cases (most of the ~3,000 requests). SOPHON_FUZZ_EXAMPLES raises it for a
# deeper local run.
MAX_EXAMPLES = int(os.environ.get("SOPHON_FUZZ_EXAMPLES", "5"))


def _document() -> dict[str, Any]:
    # building the app only assembles routes; nothing starts and nothing is written
    app = create_app(
        Settings(data="/nonexistent-contract-docs", database_url="sqlite+aiosqlite:///:memory:")
    )
    return app.openapi()


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT)

UPSTREAM_CODES = {"upstream_unavailable", "service_unavailable"}


def not_a_server_error(ctx: Any, response: Any, case: schemathesis.Case) -> bool | None:
    """Any 5xx fails, except a 502/503 the operation declares whose error envelope blames an
    upstream (a model provider that could not answer): the contract working, not a bug."""
    declared = case.operation.definition.raw.get("responses", {})
    if response.status_code in (502, 503) and str(response.status_code) in declared:
        try:
            code = json.loads(response.content)["error"]["code"]
        except (ValueError, KeyError, TypeError):
            code = None
        if code in UPSTREAM_CODES:
            return None
    return schemathesis.checks.not_a_server_error(ctx, response, case)


CHECKS = [
    not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
]


def test_served_document_is_the_fuzzed_one(live_gateway: LiveGateway) -> None:
    served = httpx.get(f"{live_gateway.url}{OPENAPI_URL}")
    assert served.status_code == 200
    assert served.json() == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_operation_honours_its_contract(case: schemathesis.Case, gateway: LiveGateway) -> None:
    # Generated ids name nothing, so valid cases would only ever reach "404": those get real
    # objects instead (made once per operation, anew for each DELETE); invalid cases keep their
    # odd path values.
    names = case.path_parameters or {}
    if names and case.meta is not None and case.meta.generation.mode is GenerationMode.POSITIVE:
        if case.method == "DELETE" or not gateway.seeded:
            gateway.seeded = gateway.seed(names)
        case.path_parameters = {**names, **gateway.seeded}
    case.call_and_validate(
        base_url=gateway.url, session=gateway.session, headers=gateway.headers, checks=CHECKS
    )
