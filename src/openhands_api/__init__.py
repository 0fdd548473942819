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
    from .aio import AsyncOpenHandsAPI
    from .client import OpenHandsAPI
    from .errors import (
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
    "GoneError",
    "InvalidInputError",
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

# Where each export lives; loaded on first access (see the module docstring).
_MODULE_OF = {"OpenHandsAPI": "client", "AsyncOpenHandsAPI": "aio"}
_MODULE_OF.update(
    dict.fromkeys(
        (
            "APIConnectionError",
            "APIStatusError",
            "APITimeoutError",
            "AuthenticationError",
            "BadRequestError",
            "ConcurrencyLimitError",
            "ConfigurationError",
            "ConflictError",
            "ConversationStartError",
            "GoneError",
            "InvalidInputError",
            "NotFoundError",
            "NotSupportedError",
            "OpenHandsError",
            "PermissionDeniedError",
            "ProtocolError",
            "RateLimitError",
            "ServerError",
            "TransportError",
            "UnprocessableEntityError",
            "WaitTimeoutError",
        ),
        "errors",
    )
)
_MODULE_OF.update(
    dict.fromkeys(
        (
            "AgentState",
            "Conversation",
            "ConversationInfo",
            "ConversationResult",
            "ConversationStatus",
            "Event",
            "Outcome",
            "SentMessage",
            "V0Event",
        ),
        "models",
    )
)


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'openhands_api' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
