"""The connection state machine: OFFLINE -> CONNECTING -> ONLINE.

The UI observes it (``CoreListener.on_state_changed``) to show Online,
Connecting or Offline in the status bar. Transitions are guarded so a bug in
the connection loop shows up as :class:`InvalidTransition` rather than as a
status bar that lies.
"""

from __future__ import annotations

import enum
from typing import Final

from .exceptions import InvalidTransition

__all__ = ["ConnectionState", "check_transition"]


class ConnectionState(enum.Enum):
    """Where the console's link to the server stands."""

    OFFLINE = "offline"  #: no socket; actions queue in the outbox
    CONNECTING = "connecting"  #: opening the socket, authenticating and catching up
    ONLINE = "online"  #: authenticated, subscribed and caught up; live events flow


_ALLOWED: Final[dict[ConnectionState, frozenset[ConnectionState]]] = {
    ConnectionState.OFFLINE: frozenset({ConnectionState.CONNECTING}),
    ConnectionState.CONNECTING: frozenset({ConnectionState.ONLINE, ConnectionState.OFFLINE}),
    ConnectionState.ONLINE: frozenset({ConnectionState.OFFLINE}),
}


def check_transition(old: ConnectionState, new: ConnectionState) -> None:
    """Raise :class:`InvalidTransition` unless ``old -> new`` is allowed.

    ONLINE is reached only through CONNECTING; any state may drop to OFFLINE
    except OFFLINE itself (a no-op is not a transition).
    """
    if new not in _ALLOWED[old]:
        raise InvalidTransition(f"connection state cannot go from {old.name} to {new.name}")
