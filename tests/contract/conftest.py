"""A real `sophon serve` process per test worker, and an Admin signed in to it, for the contract
fuzzing. A served process (rather than ASGI in memory) costs about the same start-up, and puts the
real middleware stack, server and wire encoding under test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.contract.live import FUZZ_ENV, LiveGateway
from tests.e2e.server import GatewayProcess
from tests.license_keys import enterprise_payload, make_keypair, mint


@pytest.fixture(scope="session")
def live_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    data_dir = tmp_path_factory.mktemp("contract") / "data"
    # Enterprise tier and a licence with every feature: gated routes (roles, tenants) run
    private, public = make_keypair()
    licence = mint(private, **enterprise_payload(max_users=None))
    env = FUZZ_ENV | {
        "SOPHON_TIER": "Enterprise",
        "SOPHON_LICENSE_PUBLIC_KEY": public,
        "SOPHON_LICENSE_KEY": licence,
    }
    with GatewayProcess(data_dir, **env) as process:
        yield LiveGateway(process, data_dir)


@pytest.fixture
def gateway(live_gateway: LiveGateway) -> Iterator[LiveGateway]:
    live_gateway.ensure_signed_in()
    live_gateway.seeded = {}
    yield live_gateway
    live_gateway.ensure_signed_in()
    live_gateway.reset_processing()
