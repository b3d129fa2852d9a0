"""Gateways with a tier, a licence authority and a rate-limiter clock of the test's choosing."""

from __future__ import annotations

from typing import Any

import pytest

from sophon.settings import Settings, Tier
from tests.identity.ratelimit_helpers import LimiterClock, install_limiter_clock
from tests.license_keys import ALL_FEATURES, Authority


@pytest.fixture
def authority() -> Authority:
    """A fresh licence signing key; modules put its public half into the settings."""
    return Authority.new()


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    """Settings a module (or a test, by parametrizing this name) changes; none by default."""
    return {}


@pytest.fixture
def settings(settings: Settings, gateway_overrides: dict[str, Any]) -> Settings:
    return settings.model_copy(update=gateway_overrides) if gateway_overrides else settings


@pytest.fixture
def enterprise(request: pytest.FixtureRequest, authority: Authority) -> dict[str, Any]:
    """Overrides for an Enterprise Gateway whose configured licence has every feature, or only
    the features a test passes (indirect parametrization with a list)."""
    features = getattr(request, "param", ALL_FEATURES)
    return {
        "tier": Tier.ENTERPRISE,
        "license_public_key": authority.public_b64,
        "license_key": authority.licence(features=features),
    }


@pytest.fixture
def limiter_clock(monkeypatch: pytest.MonkeyPatch) -> LimiterClock:
    """The rate limiter's clock of the Gateways built after it (name it before `client`)."""
    clock = LimiterClock()
    install_limiter_clock(monkeypatch, clock)
    return clock
