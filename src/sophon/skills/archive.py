"""Reading a skill package (a .zip or .tar.gz) into memory, safely: no paths that leave the
package (`../`, absolute, drive letters), no links or device files, and limits on the archive's
size, its file count and what it unpacks to — measured while decompressing, never believed from
headers, so a zip bomb stops at the limit."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO

from sophon.platform.errors import PayloadTooLarge, ValidationFailed

MIB = 1024 * 1024
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Limits:
    archive_bytes: int = 10 * MIB
    unpacked_bytes: int = 16 * MIB
    files: int = 500


class UnsafeArchive(ValidationFailed):
    code = "unsafe_archive"
    default_message = "The skill archive is unsafe and was refused."


def unpack(data: bytes, limits: Limits) -> dict[str, bytes]:
    """The package's files by relative POSIX path (a single top folder is stripped)."""
    if len(data) > limits.archive_bytes:
        raise PayloadTooLarge(
            f"The archive is larger than {limits.archive_bytes} bytes.",
            {"limit": limits.archive_bytes},
        )
    if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
        entries = _zip_entries(data, limits)
    elif data[:2] == b"\x1f\x8b":
        entries = _tar_entries(data, limits)
    else:
        raise ValidationFailed("A skill archive must be a .zip or a .tar.gz file.")
    files: dict[str, bytes] = {}
    total = 0
    for raw_path, reader in entries:
        path = safe_path(raw_path)
        if path is None:
            continue  # a directory entry
        if len(files) >= limits.files:
            raise UnsafeArchive(
                f"The archive holds more than {limits.files} files.", {"limit": limits.files}
            )
        content = _read_capped(reader, limits.unpacked_bytes - total)
        total += len(content)
        if path in files:
            raise UnsafeArchive(f"The archive holds {path} twice.", {"path": path})
        files[path] = content
    return strip_top_folder(files)


def safe_path(raw: str) -> str | None:
    """The member's relative path, or None for a directory; refuses escaping paths."""
    if "\0" in raw or "\\" in raw:
        raise UnsafeArchive(f"Refused the path {raw!r}: invalid characters.", {"path": raw})
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise UnsafeArchive(f"Refused the absolute path {raw!r}.", {"path": raw})
    parts = [p for p in PurePosixPath(raw).parts if p != "."]
    if ".." in parts:
        raise UnsafeArchive(f"Refused the path {raw!r}: it leaves the package.", {"path": raw})
    if raw.endswith("/") or not parts:
        return None
    return "/".join(parts)


def strip_top_folder(files: dict[str, bytes]) -> dict[str, bytes]:
    if not files or "SKILL.md" in files:
        return files
    tops = {path.split("/", 1)[0] for path in files}
    if len(tops) == 1 and all("/" in path for path in files):
        top = tops.pop()
        return {path[len(top) + 1 :]: content for path, content in files.items()}
    return files


def _read_capped(reader: IO[bytes], room: int) -> bytes:
    out = io.BytesIO()
    while chunk := reader.read(_CHUNK):
        if out.tell() + len(chunk) > room:
            raise PayloadTooLarge(
                "The archive unpacks to more than the allowed size (a zip bomb?).",
                {"reason": "unpacked_size"},
            )
        out.write(chunk)
    return out.getvalue()


def _zip_entries(data: bytes, limits: Limits) -> Iterator[tuple[str, IO[bytes]]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ValidationFailed(f"The zip archive is damaged: {exc}") from None
    if len(infos) > limits.files * 2:
        raise UnsafeArchive(
            f"The archive holds more than {limits.files} files.", {"limit": limits.files}
        )
    for info in infos:
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise UnsafeArchive(
                f"Refused the link {info.filename!r}: archives may not contain links.",
                {"path": info.filename},
            )
        if info.flag_bits & 0x1:
            raise ValidationFailed(f"{info.filename} is encrypted.")
        try:
            with archive.open(info) as reader:
                yield info.filename, reader
        except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError) as exc:
            raise ValidationFailed(f"The zip archive is damaged: {exc}") from None


def _tar_entries(data: bytes, limits: Limits) -> Iterator[tuple[str, IO[bytes]]]:
    count = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|gz") as archive:
            for member in archive:
                count += 1
                if count > limits.files * 2:
                    raise UnsafeArchive(
                        f"The archive holds more than {limits.files} files.",
                        {"limit": limits.files},
                    )
                if member.issym() or member.islnk():
                    raise UnsafeArchive(
                        f"Refused the link {member.name!r} -> {member.linkname!r}: "
                        "archives may not contain links.",
                        {"path": member.name},
                    )
                if member.isdir():
                    safe_path(member.name)
                    continue
                if not member.isfile():
                    raise UnsafeArchive(
                        f"Refused {member.name!r}: only regular files are allowed.",
                        {"path": member.name},
                    )
                if member.size > limits.unpacked_bytes:
                    raise PayloadTooLarge(
                        "The archive unpacks to more than the allowed size.",
                        {"reason": "unpacked_size"},
                    )
                reader = archive.extractfile(member)
                if reader is not None:
                    yield member.name, reader
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ValidationFailed(f"The tar.gz archive is damaged: {exc}") from None


def pack_zip(files: dict[str, bytes]) -> bytes:
    """A zip of these files (bundled and authored skills are stored the same way)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(files):
            archive.writestr(path, files[path])
    return buffer.getvalue()
