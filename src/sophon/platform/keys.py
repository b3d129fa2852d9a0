"""Secret keys kept in the data dir (`security/<name>.key`, mode 0600), made on first use."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def load_or_create_key(data_dir: Path, name: str, size: int = 32) -> bytes:
    path = data_dir / "security" / f"{name}.key"
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    key = secrets.token_bytes(size)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_bytes()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key
