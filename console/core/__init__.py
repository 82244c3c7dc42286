"""The console's Qt-free core: login and token, the local cache, the
connection loop, the outbox and the cursor. Tested without Qt.

The UI (``frontdesk.console.ui``) adapts it: models listen to a
:class:`ConsoleCore` through :class:`CoreListener`, apply the change-sets it
announces, and read the :class:`Cache` for what they page in. Frames are
decoded by the server's protocol layer (``frontdesk.server.protocol``), in
:mod:`._link`: the core and the cache consume its typed objects.
"""

from ._base import conversation_changes, thread_changes
from ._connection import Backoff, WebSocketLike
from ._tasks import TaskSet
from .cache import Cache, cache_path
from .core import ConsoleCore
from .credentials import KeyringTokenStore, MemoryTokenStore, TokenStore
from .downloads import DownloadError, Downloads
from .exceptions import CoreError, InvalidTransition, LoginError, OfflineError, ServerError
from .listener import CoreListener, CoreListenerBase
from .rows import (
    FILTERS,
    AgentRow,
    Attachment,
    ConversationChanges,
    ConversationRow,
    LocalFile,
    Notification,
    OutboxItem,
    ThreadChanges,
    ThreadItem,
    VisitorRow,
)
from .state import ConnectionState

__all__ = [
    "FILTERS",
    "AgentRow",
    "Attachment",
    "Backoff",
    "Cache",
    "ConnectionState",
    "ConsoleCore",
    "ConversationChanges",
    "ConversationRow",
    "CoreError",
    "CoreListener",
    "CoreListenerBase",
    "DownloadError",
    "Downloads",
    "InvalidTransition",
    "KeyringTokenStore",
    "LocalFile",
    "LoginError",
    "MemoryTokenStore",
    "Notification",
    "OfflineError",
    "OutboxItem",
    "ServerError",
    "TaskSet",
    "ThreadChanges",
    "ThreadItem",
    "TokenStore",
    "VisitorRow",
    "WebSocketLike",
    "cache_path",
    "conversation_changes",
    "thread_changes",
]
