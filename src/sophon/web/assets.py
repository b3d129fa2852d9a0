"""The Dashboard's files, read once per process: each with its type, a gzip copy and an ETag, and
a build id (a digest of every file) that names the asset URLs, so they can be cached for a year
and a new build is fetched at once."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import posixpath
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

STATIC = Path(__file__).parent / "static"
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}
COMPRESSIBLE = {".js", ".mjs", ".css", ".svg", ".json", ".txt"}
# bare module names the app imports, and the vendored file each one is (see vendor/)
IMPORTS = {
    "preact": "vendor/preact/dist/preact.mjs",
    "preact/hooks": "vendor/preact/hooks/dist/hooks.mjs",
    "htm": "vendor/htm/dist/htm.mjs",
    "dompurify": "vendor/dompurify/dist/purify.es.mjs",
    "markdown-it": "vendor/markdown-it/dist/browser/markdown-it.esm.min.mjs",
    "cytoscape": "vendor/cytoscape/dist/cytoscape.esm.min.mjs",
}
ENTRY = "app/main.js"
# `import … from "x"` / `import "x"` at the top of a module (not the lazy `import("x")`)
_STATIC_IMPORT = re.compile(
    r'^\s*(?:import|export)\s[^;(]*?from\s*"([^"]+)"|^\s*import\s*"([^"]+)"', re.M
)


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    media_type: str
    etag: str


@dataclass(frozen=True)
class Bundle:
    build: str
    files: dict[str, Asset]
    import_map: str
    import_map_hash: str
    preload: tuple[str, ...]
    """Every module the entry imports statically, entry first: the shell preloads them all, so
    the browser fetches them in parallel instead of one import level at a time."""

    def url(self, path: str) -> str:
        return f"/assets/{self.build}/{path}"


def _asset(path: Path) -> Asset:
    body = path.read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:16]
    zipped = None
    if path.suffix in COMPRESSIBLE and len(body) > 512:
        zipped = gzip.compress(body, compresslevel=9, mtime=0)
    return Asset(body, zipped, TYPES.get(path.suffix, "application/octet-stream"), f'"{digest}"')


@cache
def bundle() -> Bundle:
    """Every served file (licences and source maps stay out), read once per process."""
    files: dict[str, Asset] = {}
    whole = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if not path.is_file() or path.suffix not in TYPES:
            continue
        name = path.relative_to(STATIC).as_posix()
        files[name] = _asset(path)
        whole.update(name.encode() + b"\0" + files[name].etag.encode())
    build = whole.hexdigest()[:12]
    preload = _static_graph(files, ENTRY)
    imports = {name: f"/assets/{build}/{target}" for name, target in IMPORTS.items()}
    import_map = json.dumps({"imports": imports}, separators=(",", ":"))
    digest = base64.b64encode(hashlib.sha256(import_map.encode()).digest()).decode()
    return Bundle(build, files, import_map, f"sha256-{digest}", preload)


def _static_graph(files: dict[str, Asset], entry: str) -> tuple[str, ...]:
    """The modules `entry` pulls in through static imports (relative paths and import-map
    names), in discovery order."""
    seen = [entry]
    for module in seen:
        found = files.get(module)
        if found is None or not module.startswith("app/"):
            continue  # vendored files are leaves here (their own imports are import-map names)
        for match in _STATIC_IMPORT.finditer(found.body.decode()):
            spec = match[1] or match[2]
            target = IMPORTS.get(spec) or posixpath.normpath(
                posixpath.join(posixpath.dirname(module), spec)
            )
            if target in files and target not in seen:
                seen.append(target)
    return tuple(seen)
