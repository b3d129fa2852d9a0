"""`/api/admin/license`: the licence in force, installing one, verifying a key."""

from __future__ import annotations

from sophon.deps import DbDep, GatewayDep
from sophon.identity.guard import PrincipalDep, requires
from sophon.license.schemas import LicenseKeyIn, LicenseOut, LicenseVerifyIn
from sophon.license.service import License
from sophon.platform.access import api_router
from sophon.platform.permissions import Permission as P

router = api_router("/admin/license", tags=["Admin: licence"])


def license_out(found: License | None) -> LicenseOut:
    if found is None:
        return LicenseOut(installed=False)
    return LicenseOut(
        installed=True,
        status=found.status.value,
        source=found.source,
        tier=found.tier,
        max_users=found.max_users,
        features=list(found.features),
        expires_at=found.expires_at,
        issued_to=found.issued_to,
        license_id=found.license_id,
        problem=found.problem,
    )


@router.get("", operation_id="getLicense")
@requires(P.MANAGE_LICENSE)
async def get_license(db: DbDep, gateway: GatewayDep) -> LicenseOut:
    """The licence in force and its status."""
    return license_out(await gateway.license.current(db))


@router.post("", operation_id="installLicense")
@requires(P.MANAGE_LICENSE)
async def install(
    body: LicenseKeyIn, db: DbDep, gateway: GatewayDep, principal: PrincipalDep
) -> LicenseOut:
    """Installs an `sl_` key; takes effect at once, on every replica."""
    return license_out(await gateway.license.install(db, principal, body.key))


@router.post("/verify", operation_id="verifyLicense")
@requires(P.MANAGE_LICENSE)
async def verify(body: LicenseVerifyIn, db: DbDep, gateway: GatewayDep) -> LicenseOut:
    """Checks a key (or the licence in force) without installing it."""
    if body.key is None:
        return license_out(await gateway.license.current(db))
    return license_out(gateway.license.verify(body.key))
