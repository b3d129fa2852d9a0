"""No build step: the Dashboard's third-party modules are committed under `static/vendor/` (and
axe-core, for tests only, under `tests/web/vendor/`), each file byte for byte what `npm ci`
installs from `src/sophon/web/package-lock.json`. Skipped without npm, except under CI."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sophon.web.assets import IMPORTS, STATIC

WEB = STATIC.parent
TEST_VENDOR = Path(__file__).parent / "vendor"
NPM = shutil.which("npm")


def _vendored() -> list[tuple[Path, str]]:
    found = []
    for root in (STATIC / "vendor", TEST_VENDOR):
        for path in sorted(root.rglob("*")):
            if path.is_file():
                found.append((path, path.relative_to(root).as_posix()))
    return found


def test_every_import_map_entry_is_vendored() -> None:
    for name, target in IMPORTS.items():
        assert (STATIC / target).is_file(), name


@pytest.mark.skipif(
    os.environ.get("CI", "").lower() != "true" and NPM is None,
    reason="needs npm to install the lockfile (under CI it must run)",
)
def test_vendored_files_equal_a_fresh_npm_ci(tmp_path: Path) -> None:
    assert NPM is not None, "npm is required under CI"
    for name in ("package.json", "package-lock.json"):
        shutil.copy(WEB / name, tmp_path / name)
    subprocess.run(
        # the lockfile's integrity hashes pin the bytes: a cached tarball needs no registry trip
        [NPM, "ci", "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund",
         "--loglevel=error"],
        cwd=tmp_path, check=True, timeout=300, capture_output=True,
    )  # fmt: skip
    modules = tmp_path / "node_modules"
    differing = [
        name for path, name in _vendored() if path.read_bytes() != (modules / name).read_bytes()
    ]
    assert differing == [], f"vendored files differ from the lockfile's: {differing}"
