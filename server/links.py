"""Short-lived signed links to files: ``/v1/files/{id}?exp=…&sig=…`` (issue 14, "Serving").

A link names one file and an expiry (Unix seconds) and carries an HMAC-SHA256 of both with a key from the server's
secret store, so a link cannot be made for another file, extended, or guessed, and it stops working within minutes.
Clients that need a file later ask for a fresh link. Pure functions: the key and the time are passed in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

__all__ = ["LINK_KEY_BYTES", "MAX_LINK_TTL_S", "LinkCheck", "new_link_key", "sign_link", "verify_link"]

#: The longest a link may be valid; a link claiming a later expiry is refused even with a good signature.
MAX_LINK_TTL_S: Final = 15 * 60
#: Bytes of a link-signing key.
LINK_KEY_BYTES: Final = 32


class LinkCheck:
    """Why :func:`verify_link` refused a link (its ``reason``), or ``ok``."""

    OK: Final = "ok"
    EXPIRED: Final = "expired"
    TOO_LONG: Final = "expiry too far ahead"
    BAD_SIGNATURE: Final = "bad signature"


def new_link_key() -> str:
    """A new random signing key, as hex text (what the secret store keeps)."""
    return secrets.token_hex(LINK_KEY_BYTES)


def _mac(key: str, file_id: str, expires: int) -> str:
    return hmac.new(bytes.fromhex(key), f"{file_id}.{expires}".encode(), hashlib.sha256).hexdigest()


def sign_link(key: str, file_id: str, expires: int) -> str:
    """The ``sig`` of a link to ``file_id`` valid until ``expires`` (Unix seconds)."""
    return _mac(key, file_id, expires)


def verify_link(keys: list[str], file_id: str, expires: int, signature: str, now: float) -> str:
    """:data:`LinkCheck.OK` if ``signature`` signs (``file_id``, ``expires``) with one of ``keys`` (the current
    key first; during a rotation the previous one too) and the link is still valid at ``now``; else the reason.

    The comparison is constant-time, and every key is tried, so timing says nothing about which one matched.
    """
    if expires < now:
        return LinkCheck.EXPIRED
    if expires > now + MAX_LINK_TTL_S + 60:  # a minute of clock skew between nodes
        return LinkCheck.TOO_LONG
    if not (signature.isascii() and len(signature) == 64):
        return LinkCheck.BAD_SIGNATURE
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(_mac(key, file_id, expires), signature)
    return LinkCheck.OK if matched else LinkCheck.BAD_SIGNATURE
