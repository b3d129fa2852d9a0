"""What every embedding engine (the remote API, the local model) offers and how it fails."""

from __future__ import annotations

from typing import Protocol


class EmbeddingFailed(Exception):
    pass


class Engine(Protocol):
    """Turns texts into vectors, one per text, in order."""

    @property
    def model(self) -> str: ...

    async def embed(self, texts: list[str]) -> list[list[float]]: ...
