"""Model-provider adapters: OpenAI-compatible Chat Completions, Anthropic Messages and the offline
echo model, behind one provider-neutral interface."""

from sophon.llm.anthropic import AnthropicProvider
from sophon.llm.base import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    Completed,
    ModelInfo,
    Provider,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolSpec,
    Usage,
)
from sophon.llm.echo import EchoProvider
from sophon.llm.errors import (
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderProtocolError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from sophon.llm.factory import PROVIDER_TYPES, UnknownProviderType, build_provider
from sophon.llm.openai import OpenAIProvider
from sophon.llm.probe import ProbeResult, probe_provider
from sophon.llm.transport import DEFAULT_TIMEOUT, RetryPolicy

__all__ = [
    "DEFAULT_TIMEOUT",
    "PROVIDER_TYPES",
    "AnthropicProvider",
    "ChatMessage",
    "ChatRequest",
    "ChatResponse",
    "Completed",
    "EchoProvider",
    "ModelInfo",
    "OpenAIProvider",
    "ProbeResult",
    "Provider",
    "ProviderAuthError",
    "ProviderBadRequest",
    "ProviderError",
    "ProviderProtocolError",
    "ProviderRateLimited",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RetryPolicy",
    "StreamEvent",
    "TextDelta",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallReady",
    "ToolCallStarted",
    "ToolSpec",
    "UnknownProviderType",
    "Usage",
    "build_provider",
    "probe_provider",
]
