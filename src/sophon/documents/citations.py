"""Citations that hold: every quote is an exact substring of the chunk it names. A model's
quote that is not (paraphrased, re-spaced, invented) is replaced by the chunk's sentence that
shares the most words with it; a citation naming no chunk that was shown is dropped."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sophon.documents.models import Document, DocumentChunk

_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
_WORD = re.compile(r"\w+")
MAX_QUOTE = 400


@dataclass(frozen=True)
class Shown:
    label: str
    chunk: DocumentChunk
    document: Document


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


def exact_quote(content: str, proposed: str) -> tuple[int, int]:
    """[start, end) in `content` for the proposed quote: itself when it is there (also with
    its whitespace collapsed), else the best-matching sentence."""
    proposed = proposed.strip().strip('"“”')
    if proposed and proposed in content:
        start = content.index(proposed)
        return start, start + len(proposed)
    if proposed:
        pattern = r"\s+".join(re.escape(p) for p in proposed.split())
        found = re.search(pattern, content)
        if found:
            return found.start(), found.end()
    wanted = _words(proposed)
    best, best_score = None, -1.0
    for match in _SENTENCE.finditer(content):
        sentence = match.group()
        if not sentence.strip():
            continue
        score = len(wanted & _words(sentence)) / (1 + len(_words(sentence)) ** 0.5)
        if score > best_score:
            best, best_score = match, score
    if best is None:
        return 0, min(len(content), MAX_QUOTE)
    start = best.start() + (len(best.group()) - len(best.group().lstrip()))
    end = best.end() - (len(best.group()) - len(best.group().rstrip()))
    return start, min(end, start + MAX_QUOTE)


def resolve(raw: Any, shown: list[Shown]) -> list[dict[str, Any]]:
    """The model's `[{chunk, quote}]` as wire citations."""
    by_label = {s.label.lower(): s for s in shown}
    by_id = {s.chunk.id: s for s in shown}
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, int]] = set()
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        label = str(item.get("chunk") or item.get("chunkId") or "").strip().strip("[]")
        target = by_label.get(label.lower()) or by_id.get(label)
        if target is None:
            continue
        content = target.chunk.content
        start, end = exact_quote(content, str(item.get("quote") or ""))
        if (target.chunk.id, start) in seen:
            continue
        seen.add((target.chunk.id, start))
        out.append(
            {
                "chunk_id": target.chunk.id,
                "document_id": target.document.id,
                "document_name": target.document.name,
                "page": target.chunk.page,
                "start": target.chunk.start + start,
                "end": target.chunk.start + end,
                "quote": content[start:end],
            }
        )
    return out


def extract_summary(text: str, sentences: int, focus: str | None) -> str:
    """An extract for when no model is configured: the document's first sentences, or with a
    focus the sentences sharing most words with it (in document order)."""
    found = [m.group().strip() for m in _SENTENCE.finditer(text) if len(m.group().split()) >= 3]
    if focus:
        wanted = _words(focus)
        ranked = sorted(range(len(found)), key=lambda i: -len(wanted & _words(found[i])))
        chosen = sorted(ranked[:sentences])
        return " ".join(found[i] for i in chosen)
    return " ".join(found[:sentences]) or text[:MAX_QUOTE]
