"""Every table of every domain, gathered so Alembic and the tests see one metadata."""

from sophon.platform import kv
from sophon.platform.db import Base

metadata = Base.metadata

__all__ = ["kv", "metadata"]
