"""Model-provider adapters: OpenAI-compatible Chat Completions, Anthropic Messages and the offline
echo model, behind one provider-neutral interface."""

from sophon.runtime.providers.anthropic import AnthropicProvider
from sophon.runtime.providers.base import (
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
from sophon.runtime.providers.echo import EchoProvider
from sophon.runtime.providers.errors import (
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderProtocolError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from sophon.runtime.providers.factory import PROVIDER_TYPES, UnknownProviderType, build_provider
from sophon.runtime.providers.openai import OpenAIProvider
from sophon.runtime.providers.probe import ProbeResult, probe_provider
from sophon.runtime.providers.transport import DEFAULT_TIMEOUT, RetryPolicy

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
