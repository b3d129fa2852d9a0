"""Original files under the data dir, by tenant and content hash (a file name never becomes a
path): `<data>/documents/<tenant id>/<sha[:2]>/<sha>`. Uploads are copied there in chunks while
hashed and counted; nothing holds a whole file in memory."""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sophon.documents.formats import SNIFF_BYTES

COPY_CHUNK = 1024 * 1024
_SHA = re.compile(r"^[0-9a-f]{64}$")
_TENANT = re.compile(r"^[a-z]{2,8}_[0-9A-Z]{26}$|^[A-Za-z0-9_-]{1,40}$")


@dataclass(frozen=True)
class Staged:
    path: Path
    sha256: str
    size: int
    head: bytes


class Storage:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "documents"

    def path(self, tenant_id: str, sha256: str) -> Path:
        if not _SHA.match(sha256) or not _TENANT.match(tenant_id):
            raise ValueError("not a content hash or tenant id")
        return self.root / tenant_id / sha256[:2] / sha256

    def stage(self, source: IO[bytes]) -> Staged:
        """Copies `source` to a temporary file beside the store, hashing and counting (blocking:
        run in a thread)."""
        incoming = self.root / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        target = incoming / uuid.uuid4().hex
        digest = hashlib.sha256()
        size = 0
        head = b""
        with target.open("wb") as out:
            while block := source.read(COPY_CHUNK):
                if len(head) < SNIFF_BYTES:
                    head += block[: SNIFF_BYTES - len(head)]
                digest.update(block)
                size += len(block)
                out.write(block)
        return Staged(target, digest.hexdigest(), size, head)

    def keep(self, staged: Staged, tenant_id: str) -> Path:
        final = self.path(tenant_id, staged.sha256)
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            staged.path.unlink(missing_ok=True)
        else:
            os.replace(staged.path, final)
        return final

    def discard(self, staged: Staged) -> None:
        staged.path.unlink(missing_ok=True)

    def erase(self, tenant_id: str, sha256: str) -> None:
        self.path(tenant_id, sha256).unlink(missing_ok=True)
