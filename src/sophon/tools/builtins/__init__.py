"""The Gateway's built-in tools."""

from __future__ import annotations

from sophon.settings import Settings
from sophon.tools.builtins.clock import clock_tools
from sophon.tools.builtins.documents import document_tools
from sophon.tools.builtins.host import host_tools
from sophon.tools.builtins.memory import memory_tools
from sophon.tools.builtins.sandboxed import sandboxed_tools
from sophon.tools.builtins.web import web_tools
from sophon.tools.registry import Tool


def builtin_tools(settings: Settings) -> list[Tool]:
    """Every built-in tool this Gateway offers under these settings (`os.execute` only when
    `allow_host_exec` is on)."""
    tools = [*clock_tools(), *web_tools(), *sandboxed_tools(), *memory_tools(), *document_tools()]
    if settings.allow_host_exec:
        tools += host_tools()
    return tools
