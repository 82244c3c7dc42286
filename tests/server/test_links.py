"""Signed, short-lived file links: server/links.py."""

from __future__ import annotations

from frontdesk.server.links import MAX_LINK_TTL_S, LinkCheck, new_link_key, sign_link, verify_link

NOW = 1_800_000_000


def test_a_signed_link_verifies_until_it_expires() -> None:
    """A link verifies with its key before its expiry and not after."""
    key = new_link_key()
    sig = sign_link(key, 42, NOW + 300)
    assert verify_link([key], 42, NOW + 300, sig, NOW) == LinkCheck.OK
    assert verify_link([key], 42, NOW + 300, sig, NOW + 301) == LinkCheck.EXPIRED


def test_a_link_cannot_be_moved_to_another_file_extended_or_forged() -> None:
    """Another file id, a later expiry, another key, or a malformed signature: refused."""
    key, other = new_link_key(), new_link_key()
    sig = sign_link(key, 42, NOW + 300)
    assert verify_link([key], 43, NOW + 300, sig, NOW) == LinkCheck.BAD_SIGNATURE
    assert verify_link([key], 42, NOW + 600, sig, NOW) == LinkCheck.BAD_SIGNATURE
    assert verify_link([other], 42, NOW + 300, sig, NOW) == LinkCheck.BAD_SIGNATURE
    for bad in ("", "zz", "é" * 64, sig[:-1]):
        assert verify_link([key], 42, NOW + 300, bad, NOW) == LinkCheck.BAD_SIGNATURE


def test_a_link_valid_for_too_long_is_refused_even_if_signed() -> None:
    """A leaked key cannot mint day-long links: expiries past the maximum are refused."""
    key = new_link_key()
    far = NOW + MAX_LINK_TTL_S + 3600
    assert verify_link([key], 1, far, sign_link(key, 1, far), NOW) == LinkCheck.TOO_LONG


def test_during_a_rotation_the_previous_key_still_verifies() -> None:
    """Links signed with the previous key verify while both keys are listed."""
    old, new = new_link_key(), new_link_key()
    sig = sign_link(old, 7, NOW + 60)
    assert verify_link([new, old], 7, NOW + 60, sig, NOW) == LinkCheck.OK
    assert verify_link([new], 7, NOW + 60, sig, NOW) == LinkCheck.BAD_SIGNATURE
