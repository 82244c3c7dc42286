"""Canned responses: short replies an agent inserts from a menu or with "/"."""

from __future__ import annotations

import dataclasses

__all__ = ["CANNED", "Canned", "matching"]


@dataclasses.dataclass(frozen=True, slots=True)
class Canned:
    """One canned response: its ``/shortcut``, a menu title and the text."""

    shortcut: str
    title: str
    text: str


CANNED: tuple[Canned, ...] = (
    Canned("/hi", "Greeting", "Hi! Thanks for reaching out. How can I help?"),
    Canned("/moment", "One moment", "Give me a moment while I look into this for you."),
    Canned(
        "/email", "Ask for email", "Could you share your email address, so we can follow up if we get disconnected?"
    ),
    Canned("/thanks", "Thanks for waiting", "Thanks for your patience!"),
    Canned("/bye", "Wrap up", "Is there anything else I can help you with? Have a great day!"),
)


def matching(prefix: str) -> list[Canned]:
    """Canned responses whose shortcut starts with ``prefix`` (e.g. ``/th``)."""
    prefix = prefix.strip().lower()
    return [c for c in CANNED if c.shortcut.startswith(prefix)]
