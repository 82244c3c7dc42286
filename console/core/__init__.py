"""The console's Qt-free core: login and token, the local cache, the
connection loop, the outbox and the cursor. Tested without Qt.

The UI (``frontdesk.console.ui``) adapts it: models listen to a
:class:`ConsoleCore` through :class:`CoreListener` and read the :class:`Cache`.
"""

from .cache import Cache, cache_path
from .core import Backoff, ConsoleCore, WebSocketLike
from .credentials import KeyringTokenStore, MemoryTokenStore, TokenStore
from .exceptions import CoreError, InvalidTransition, LoginError, OfflineError, ServerError
from .listener import CoreListener, CoreListenerBase
from .models import (
    FILTERS,
    AgentRow,
    ConversationRow,
    Notification,
    OutboxItem,
    ThreadItem,
    VisitorRow,
)
from .state import ConnectionState

__all__ = [
    "FILTERS",
    "AgentRow",
    "Backoff",
    "Cache",
    "ConnectionState",
    "ConsoleCore",
    "ConversationRow",
    "CoreError",
    "CoreListener",
    "CoreListenerBase",
    "InvalidTransition",
    "KeyringTokenStore",
    "LoginError",
    "MemoryTokenStore",
    "Notification",
    "OfflineError",
    "OutboxItem",
    "ServerError",
    "ThreadItem",
    "TokenStore",
    "VisitorRow",
    "WebSocketLike",
    "cache_path",
]
