"""Tables of the providers domain."""

from __future__ import annotations
