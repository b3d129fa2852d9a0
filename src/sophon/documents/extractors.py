"""Text out of each format, page by page. Runs in the extraction child process only (see
`child` and `isolation`): it imports the parsing libraries and nothing of the Gateway, and
reports failures as `Failure(code, message)` with the pipeline's failure codes."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

OCR_SECONDS = 60
OCR_SCALE = 2.0  # 144 dpi: small print stays readable for tesseract
MAX_ZIP_ENTRIES = 10_000
MAX_ZIP_RATIO = 200


class Failure(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Limits:
    max_pages: int
    max_chars: int
    max_unzipped_bytes: int


@dataclass
class Extracted:
    pages: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ocr_pages: int = 0
    chars: int = 0

    def add(self, text: str, limits: Limits) -> None:
        self.chars += len(text)
        if self.chars > limits.max_chars:
            raise Failure(
                "too_large", f"The text exceeds the limit of {limits.max_chars} characters."
            )
        if len(self.pages) >= limits.max_pages:
            raise Failure(
                "too_large", f"The document exceeds the limit of {limits.max_pages} pages."
            )
        self.pages.append(text)


def ocr_available() -> bool:
    return shutil.which("tesseract") is not None


def ocr(image: bytes) -> str:
    """Text of an image through the `tesseract` binary (image on stdin, text on stdout)."""
    binary = shutil.which("tesseract")
    if binary is None:
        return ""
    done = subprocess.run(  # noqa: S603 - fixed argv, the image goes through stdin
        [binary, "stdin", "stdout", "--psm", "3"],
        input=image,
        capture_output=True,
        timeout=OCR_SECONDS,
        check=False,
        env={"OMP_THREAD_LIMIT": "1", "PATH": "/usr/bin:/bin"},
    )
    return done.stdout.decode("utf-8", errors="replace").strip() if done.returncode == 0 else ""


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def pdf(stream: IO[bytes], limits: Limits) -> Extracted:
    import pypdf
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    try:
        reader = pypdf.PdfReader(stream)
        if reader.is_encrypted and not reader.decrypt(""):
            raise Failure("encrypted", "The PDF is encrypted with a password.")
        root: Any = reader.trailer["/Root"]
        declared = root["/Pages"].get("/Count", 0)
        if int(declared) > limits.max_pages:
            raise Failure(
                "too_large",
                f"The PDF has {int(declared)} pages; the limit is {limits.max_pages}.",
            )
        count = len(reader.pages)
        if count > limits.max_pages:
            raise Failure(
                "too_large", f"The PDF has {count} pages; the limit is {limits.max_pages}."
            )
        out = Extracted()
        rendered: Any = None
        can_ocr = ocr_available()
        missing_layer = 0
        for number in range(count):
            text = _tidy(reader.pages[number].extract_text() or "")
            if not text:
                if can_ocr:
                    if rendered is None:
                        import pypdfium2

                        stream.seek(0)
                        rendered = pypdfium2.PdfDocument(stream)
                    text = _tidy(ocr(_render(rendered, number)))
                    out.ocr_pages += 1
                else:
                    missing_layer += 1
            out.add(text, limits)
        if missing_layer:
            out.notes.append(
                f"{missing_layer} page(s) have no text layer and OCR (tesseract) is not installed."
            )
        return out
    except FileNotDecryptedError as error:
        raise Failure("encrypted", f"The PDF is encrypted: {error}") from None
    except PdfReadError as error:
        raise Failure("unsupported_type", f"Not a readable PDF: {error}") from None


def _render(document: Any, number: int) -> bytes:
    page = document[number]
    bitmap = page.render(scale=OCR_SCALE)
    image = bitmap.to_pil()
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def check_zip(stream: IO[bytes], limits: Limits) -> None:
    """Refuses a zip bomb before any parser inflates it: too many entries, too much declared
    content, or a ratio no real Office file has. (The child's memory limit catches liars.)"""
    try:
        with zipfile.ZipFile(stream) as archive:
            entries = archive.infolist()
    except zipfile.BadZipFile as error:
        raise Failure("unsupported_type", f"Not a readable Office file: {error}") from None
    if len(entries) > MAX_ZIP_ENTRIES:
        raise Failure("too_large", f"The archive holds {len(entries)} entries.")
    total = sum(e.file_size for e in entries)
    if total > limits.max_unzipped_bytes:
        raise Failure(
            "too_large",
            f"The file inflates to {total} bytes; the limit is {limits.max_unzipped_bytes} "
            "(a zip bomb?).",
        )
    for entry in entries:
        if entry.file_size > 10_000_000 and entry.file_size > entry.compress_size * MAX_ZIP_RATIO:
            raise Failure(
                "too_large", f"{entry.filename} inflates {entry.file_size} bytes (a zip bomb?)."
            )
    stream.seek(0)


def _docx_blocks(document: Any) -> Iterator[str]:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for block in document.element.body.iterchildren():
        tag = block.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = Paragraph(block, document)
            text = paragraph.text.strip()
            if not text:
                continue
            style = (paragraph.style.name if paragraph.style is not None else "") or ""
            if style.startswith("Heading"):
                level = style.removeprefix("Heading").strip()
                yield "#" * (int(level) if level.isdigit() else 1) + " " + text
            elif style == "Title":
                yield "# " + text
            elif "List" in style:
                yield "- " + text
            else:
                yield text
        elif tag == "tbl":
            table = Table(block, document)
            yield "\n".join(" | ".join(c.text.strip() for c in row.cells) for row in table.rows)


def docx(stream: IO[bytes], limits: Limits) -> Extracted:
    import docx as python_docx

    check_zip(stream, limits)
    out = Extracted()
    out.add(_tidy("\n\n".join(_docx_blocks(python_docx.Document(stream)))), limits)
    return out


def pptx(stream: IO[bytes], limits: Limits) -> Extracted:
    from pptx import Presentation

    check_zip(stream, limits)
    out = Extracted()
    for slide in Presentation(stream).slides:
        parts = []
        for shape in slide.shapes:
            if getattr(shape, "has_text_frame", False) and shape.text_frame.text.strip():
                parts.append(shape.text_frame.text.strip())
            if getattr(shape, "has_table", False):
                rows = shape.table.rows
                parts.append("\n".join(" | ".join(c.text.strip() for c in r.cells) for r in rows))
        out.add(_tidy("\n\n".join(parts)), limits)
    return out


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def xlsx(stream: IO[bytes], limits: Limits) -> Extracted:
    import openpyxl

    check_zip(stream, limits)
    book = openpyxl.load_workbook(stream, read_only=True, data_only=True)  # formulas: values
    out = Extracted()
    for sheet in book.worksheets:
        lines = [f"## {sheet.title}"]
        size = 0
        for row in sheet.iter_rows(values_only=True):
            cells = [_cell(v) for v in row]
            while cells and not cells[-1]:
                cells.pop()
            if cells:
                line = " | ".join(cells)
                size += len(line)
                if size > limits.max_chars:
                    raise Failure(
                        "too_large", f"Sheet {sheet.title} exceeds {limits.max_chars} characters."
                    )
                lines.append(line)
        out.add("\n".join(lines), limits)
    book.close()
    return out


def _decode(stream: IO[bytes], limits: Limits) -> str:
    raw = stream.read(limits.max_chars * 4 + 1)
    if len(raw) > limits.max_chars * 4:
        raise Failure("too_large", f"The text exceeds the limit of {limits.max_chars} characters.")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    return raw.decode("utf-8", errors="replace")


def csv_table(stream: IO[bytes], limits: Limits) -> Extracted:
    text = _decode(stream, limits)
    try:
        dialect: type[csv.Dialect] = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = csv.reader(io.StringIO(text), dialect)
    out = Extracted()
    out.add("\n".join(" | ".join(c.strip() for c in row) for row in rows if any(row)), limits)
    return out


BOILERPLATE = (
    "script",
    "style",
    "noscript",
    "template",
    "nav",
    "footer",
    "header",
    "aside",
    "form",
    "iframe",
    "svg",
)


def html(stream: IO[bytes], limits: Limits) -> Extracted:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_decode(stream, limits), "html.parser")
    for tag in soup(list(BOILERPLATE)):
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    for level in range(1, 7):
        for heading in root.find_all(f"h{level}"):
            heading.insert(0, "#" * level + " ")
    out = Extracted()
    text = root.get_text("\n")
    out.add(_tidy("\n".join(line.strip() for line in text.split("\n"))), limits)
    return out


def plain(stream: IO[bytes], limits: Limits) -> Extracted:
    out = Extracted()
    out.add(_tidy(_decode(stream, limits)), limits)
    return out


def json_text(stream: IO[bytes], limits: Limits) -> Extracted:
    raw = _decode(stream, limits)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise Failure("unsupported_type", f"Not valid JSON: {error}") from None
    out = Extracted()
    out.add(json.dumps(value, indent=2, ensure_ascii=False), limits)
    return out


def image(stream: IO[bytes], limits: Limits) -> Extracted:
    out = Extracted()
    if not ocr_available():
        out.notes.append("This image has no text layer and OCR (tesseract) is not installed.")
        out.add("", limits)
        return out
    out.add(_tidy(ocr(stream.read())), limits)
    out.ocr_pages = 1
    return out


EXTRACTORS = {
    "pdf": pdf,
    "docx": docx,
    "pptx": pptx,
    "xlsx": xlsx,
    "csv": csv_table,
    "html": html,
    "markdown": plain,
    "text": plain,
    "json": json_text,
    "image": image,
}

_STOPWORDS = {
    "en": {"the", "and", "of", "to", "is", "in", "that", "it", "for", "with"},
    "de": {"der", "die", "und", "das", "ist", "nicht", "mit", "ein", "den", "zu"},
    "fr": {"le", "la", "les", "et", "est", "des", "une", "pour", "dans", "que"},
    "es": {"el", "la", "los", "y", "es", "que", "una", "para", "por", "con"},
    "it": {"il", "che", "di", "una", "per", "sono", "con", "non", "gli", "della"},
    "nl": {"de", "het", "een", "en", "van", "niet", "dat", "zijn", "met", "voor"},
}


def language(text: str) -> str | None:
    """A guess from the commonest function words (enough for a filter), or None."""
    words = re.findall(r"[^\W\d_]+", text[:20_000].lower())
    if len(words) < 5:
        return None
    scores = {lang: sum(w in stop for w in words) for lang, stop in _STOPWORDS.items()}
    best = max(scores, key=lambda k: scores[k])
    return best if scores[best] >= max(2, len(words) // 50) else None


def extract(fmt: str, stream: IO[bytes], limits: Limits) -> dict[str, Any]:
    """The wire answer of the child: pages and notes, or a failure code and message."""
    try:
        found = EXTRACTORS[fmt](stream, limits)
    except Failure as failure:
        return {"ok": False, "code": failure.code, "message": failure.message}
    except RecursionError:
        return {"ok": False, "code": "too_large", "message": "The structure is nested too deeply."}
    except MemoryError:
        return {
            "ok": False,
            "code": "too_large",
            "message": "Extraction needs more memory than allowed.",
        }
    except Exception as error:  # noqa: BLE001 - a parser's failure on a hostile file, reported as data
        message = str(error)[:300]
        code = (
            "too_large"
            if re.search(r"depth|huge|too (big|large|deep)", message, re.I)
            else "unsupported_type"
        )
        return {
            "ok": False,
            "code": code,
            "message": f"The {fmt} file could not be read: {message}",
        }
    text = "\n".join(found.pages)
    if not text.strip():
        note = " ".join(found.notes) or "The document contains no text."
        return {"ok": False, "code": "empty_text", "message": note}
    return {
        "ok": True,
        "pages": found.pages,
        "notes": found.notes,
        "ocrPages": found.ocr_pages,
        "language": language(text),
    }
