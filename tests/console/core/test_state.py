"""The connection state machine and the reconnect backoff."""

from __future__ import annotations

import random

import pytest
from frontdesk.console.core import Backoff, ConnectionState, InvalidTransition
from frontdesk.console.core._connection import agent_endpoint
from frontdesk.console.core.state import check_transition

OFF, CONN, ON = ConnectionState.OFFLINE, ConnectionState.CONNECTING, ConnectionState.ONLINE


@pytest.mark.parametrize(("old", "new"), [(OFF, CONN), (CONN, ON), (CONN, OFF), (ON, OFF)])
def test_allowed_transitions(old: ConnectionState, new: ConnectionState) -> None:
    """Offline -> Connecting -> Online, and any state can drop to Offline."""
    check_transition(old, new)


@pytest.mark.parametrize(("old", "new"), [(OFF, ON), (ON, CONN), (OFF, OFF), (ON, ON)])
def test_guarded_transitions(old: ConnectionState, new: ConnectionState) -> None:
    """Online is only reached through Connecting; self-transitions are bugs."""
    with pytest.raises(InvalidTransition):
        check_transition(old, new)


def test_backoff_grows_with_jitter_and_resets() -> None:
    """Delays grow exponentially up to the cap, are jittered, and reset after success."""
    backoff = Backoff(initial=1.0, maximum=8.0, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(8)]
    caps = [1, 2, 4, 8, 8, 8, 8, 8]
    assert all(0.5 <= d <= cap for d, cap in zip(delays, caps, strict=True))
    assert len(set(delays)) == len(delays)  # jittered, not lockstep
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_agent_endpoint_from_base_url() -> None:
    """The agent socket URL is derived from the server URL the user typed."""
    assert agent_endpoint("http://127.0.0.1:8000") == "ws://127.0.0.1:8000/v1/agent"
    assert agent_endpoint("https://chat.example.com/") == "wss://chat.example.com/v1/agent"
    assert agent_endpoint("ws://h:1/v1/agent") == "ws://h:1/v1/agent"
    assert agent_endpoint("h:1") == "ws://h:1/v1/agent"
