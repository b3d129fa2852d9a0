"""The tier and licence fixtures (`tests/tier_fixtures.py`) for the tests of this folder."""

from tests.tier_fixtures import authority, enterprise, gateway_overrides, limiter_clock, settings

__all__ = ["authority", "enterprise", "gateway_overrides", "limiter_clock", "settings"]
