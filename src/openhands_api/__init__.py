"""openhands-api: start and follow OpenHands agent conversations from code.

The public face of the package. Everything listed in ``__all__`` is public; every other
module is an implementation detail. Exports are loaded on first use so that importing the
package (and running ``openhands-api --help``) stays cheap: httpx and pydantic load only
when a client or model is touched.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .aio import AsyncEventStream, AsyncOpenHandsAPI
    from .client import EventStream, OpenHandsAPI
    from .errors import (
        AmbiguousIdError,
        APIConnectionError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ConcurrencyLimitError,
        ConfigurationError,
        ConflictError,
        ConversationStartError,
        GoneError,
        InvalidInputError,
        MissingAPIKeyError,
        NotFoundError,
        NotSupportedError,
        OpenHandsError,
        PermissionDeniedError,
        ProtocolError,
        RateLimitError,
        ServerError,
        TransportError,
        UnprocessableEntityError,
        WaitTimeoutError,
    )
    from .models import (
        AgentState,
        Conversation,
        ConversationInfo,
        ConversationResult,
        ConversationStatus,
        Event,
        Outcome,
        SentMessage,
        V0Event,
    )

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AgentState",
    "AmbiguousIdError",
    "AsyncEventStream",
    "AsyncOpenHandsAPI",
    "AuthenticationError",
    "BadRequestError",
    "ConcurrencyLimitError",
    "ConfigurationError",
    "ConflictError",
    "Conversation",
    "ConversationInfo",
    "ConversationResult",
    "ConversationStartError",
    "ConversationStatus",
    "Event",
    "EventStream",
    "GoneError",
    "InvalidInputError",
    "MissingAPIKeyError",
    "NotFoundError",
    "NotSupportedError",
    "OpenHandsAPI",
    "OpenHandsError",
    "Outcome",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitError",
    "SentMessage",
    "ServerError",
    "TransportError",
    "UnprocessableEntityError",
    "V0Event",
    "WaitTimeoutError",
    "__version__",
]

# Searched in this order on first access; each module lists its public names in __all__.
_SOURCE_MODULES = ("errors", "models", "client", "aio")


def __getattr__(name: str) -> Any:
    if name in __all__:
        for module_name in _SOURCE_MODULES:
            module = importlib.import_module(f".{module_name}", __name__)
            if name in getattr(module, "__all__", ()):
                value = getattr(module, name)
                globals()[name] = value
                return value
    raise AttributeError(f"module 'openhands_api' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
