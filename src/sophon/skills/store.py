"""Skill files under the data dir: `<data>/skills/<name>/<version>/…`, written once per version
(to a temporary folder, then renamed into place) and read back for the sandbox and `skill.read`."""

from __future__ import annotations

import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

from sophon.platform.errors import NotFound


def root(data: Path) -> Path:
    return data / "skills"


def version_dir(data: Path, name: str, version: str) -> Path:
    return root(data) / name / version


def write(data: Path, name: str, version: str, files: dict[str, bytes]) -> None:
    """Stores a version's files; replaces an earlier copy of the same version (blocking)."""
    target = version_dir(data, name, version)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
    try:
        for path, content in files.items():
            dest = staging / path
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(content)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _read_all.cache_clear()


def remove(data: Path, name: str) -> None:
    shutil.rmtree(root(data) / name, ignore_errors=True)
    _read_all.cache_clear()


def read_all(data: Path, name: str, version: str) -> dict[str, bytes]:
    """Every file of a stored version (cached: versions never change once written)."""
    return dict(_read_all(version_dir(data, name, version)))


@lru_cache(maxsize=32)
def _read_all(folder: Path) -> tuple[tuple[str, bytes], ...]:
    if not folder.is_dir():
        raise NotFound(f"The files of {folder.parent.name} {folder.name} are missing.")
    return tuple(
        (path.relative_to(folder).as_posix(), path.read_bytes())
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.is_symlink()
    )


def read_file(data: Path, name: str, version: str, path: str) -> bytes | None:
    return dict(_read_all(version_dir(data, name, version))).get(path)
