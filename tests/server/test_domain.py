"""Pure domain rules: visibility, status transitions, configuration, origins, identity."""

from __future__ import annotations

import datetime as dt

import pytest
from frontdesk.server import domain
from frontdesk.server.domain import ConversationStatus as S
from frontdesk.server.domain import EventRecord, StatusAction, Viewer, _exact_local_day, _local_day


def event(tenant: int = 1, visitor: int | None = 7, public: bool = True) -> EventRecord:
    return EventRecord(1, tenant, "message.created", 3, visitor, {"x": 1}, {"x": 1} if public else None, 0)


def test_agents_see_everything_in_their_tenant_only() -> None:
    """An agent sees all of their own tenant's events and none of another's."""
    agent = Viewer(tenant_id=1, agent_id=2)
    assert domain.may_see(agent, event(public=False))
    assert not domain.may_see(agent, event(tenant=2))


def test_visitors_see_only_their_own_public_events() -> None:
    """A visitor sees their own public events and tenant-wide ones, never notes or other visitors'."""
    me = Viewer(tenant_id=1, visitor_id=7)
    assert domain.may_see(me, event())
    assert domain.may_see(me, event(visitor=None))
    assert not domain.may_see(me, event(visitor=8))
    assert not domain.may_see(me, event(public=False))
    assert not domain.may_see(me, event(tenant=2))


@pytest.mark.parametrize(
    ("current", "action", "expected"),
    [
        (S.OPEN, StatusAction.RESOLVE, S.RESOLVED),
        (S.PENDING, StatusAction.RESOLVE, S.RESOLVED),
        (S.RESOLVED, StatusAction.REOPEN, S.OPEN),
        (S.PENDING, StatusAction.REOPEN, S.OPEN),
        (S.OPEN, StatusAction.PEND, S.PENDING),
    ],
)
def test_allowed_transitions(current: S, action: StatusAction, expected: S) -> None:
    """Each allowed status change lands on its documented status."""
    assert domain.next_status(current, action) is expected


def test_repeated_transition_says_already() -> None:
    """Resolving a resolved conversation explains that it already is."""
    with pytest.raises(domain.TransitionError, match="already resolved"):
        domain.next_status(S.RESOLVED, StatusAction.RESOLVE)
    with pytest.raises(domain.TransitionError, match="cannot pend"):
        domain.next_status(S.RESOLVED, StatusAction.PEND)


def test_config_patch_is_validated_and_normalized() -> None:
    """Valid keys are normalized; hosts are lower-cased, deduplicated and sorted."""
    patch = domain.validate_config_patch(
        {"color": "#AABBCC", "allowed_origins": ["Example.com", "https://shop.example.com:8443", "example.com"]}
    )
    assert patch == {"color": "#aabbcc", "allowed_origins": ["example.com", "shop.example.com:8443"]}


@pytest.mark.parametrize(
    ("patch", "key"),
    [
        ({"color": "blue"}, "color"),
        ({"position": "top"}, "position"),
        ({"allowed_origins": ["not a host!"]}, "allowed_origins"),
        ({"allowed_origins": ["ftp://example.com"]}, "allowed_origins"),
        ({"business_hours": {"timezone": "Mars/Olympus"}}, "business_hours.timezone"),
        ({"business_hours": {"days": {"mon": [["17:00", "09:00"]]}}}, "business_hours.days.mon"),
        ({"prechat": {"fields": [{"name": "phone"}]}}, "prechat.fields"),
        ({"launcher_label": ""}, "launcher_label"),
        ({"colour": "#000000"}, "colour"),
    ],
)
def test_bad_config_names_the_key(patch: dict[str, object], key: str) -> None:
    """An invalid value is refused with the offending key named."""
    with pytest.raises(domain.ConfigError) as err:
        domain.validate_config_patch(patch)
    assert err.value.key == key


def test_public_config_hides_private_keys() -> None:
    """Visitors never receive allowed_origins or require_identity."""
    public = domain.public_config(domain.DEFAULT_CONFIG)
    assert "allowed_origins" not in public and "require_identity" not in public and "color" in public


def test_business_hours_in_the_tenant_time_zone() -> None:
    """Opening hours are checked in the configured zone, per weekday."""
    config = {"business_hours": {"enabled": True, "timezone": "Europe/Paris", "days": {"mon": [["09:00", "17:00"]]}}}
    monday_10_paris = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)  # 10:00 in Paris
    monday_18_paris = dt.datetime(2026, 11, 23, 17, 0, tzinfo=dt.UTC)
    tuesday = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
    assert domain.within_business_hours(config, monday_10_paris)
    assert not domain.within_business_hours(config, monday_18_paris)
    assert not domain.within_business_hours(config, tuesday)
    assert domain.within_business_hours({}, tuesday)


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://example.com", True),
        ("http://example.com", True),
        ("https://EXAMPLE.com", True),
        ("https://evil-example.com", False),
        ("https://example.com.evil.io", False),
        ("https://sub.example.com", False),
        ("http://localhost:8080", True),
        ("http://localhost:9090", False),
        (None, False),
        ("null", False),
        ("file://", False),
        ("http://[::1", False),
    ],
)
def test_origin_matching_is_exact(origin: str | None, allowed: bool) -> None:
    """Origins match allowed hosts exactly (and ports when given); look-alikes do not."""
    assert domain.origin_allowed(origin, ["example.com", "localhost:8080"], "chat.example.net") is allowed


def test_same_origin_pages_are_allowed() -> None:
    """A page served by this server itself is same-origin, not cross-site."""
    assert domain.origin_allowed("http://127.0.0.1:9999", [], "127.0.0.1:9999")
    assert not domain.origin_allowed("http://127.0.0.1:9998", [], "127.0.0.1:9999")


def test_user_agent_parsing() -> None:
    """Common user agents become readable browser and OS names."""
    chrome = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
    )
    safari = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605 (KHTML, like Gecko)"
        " Version/17.1 Mobile/15E148 Safari/604.1"
    )
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
    assert domain.parse_user_agent(chrome) == ("Chrome 131", "Windows 10")
    assert domain.parse_user_agent(safari) == ("Safari 17", "iOS 17")
    assert domain.parse_user_agent(firefox) == ("Firefox 133", "Linux")
    assert domain.parse_user_agent(None) == (None, None)


def test_identity_hash_verification() -> None:
    """A fresh, correct HMAC verifies; a wrong or stale one does not."""
    now = 1_800_000_000
    good = domain.identity_hash("s3cret", "user-1", now)
    assert domain.verify_identity("s3cret", "user-1", now, good, now + 60)
    assert not domain.verify_identity("s3cret", "user-2", now, good, now + 60)
    assert not domain.verify_identity("other", "user-1", now, good, now + 60)
    assert not domain.verify_identity("s3cret", "user-1", now, good, now + domain.IDENTITY_MAX_AGE_S + 1)
    assert not domain.verify_identity("s3cret", "user-1", now, None, now)


def test_the_local_day_of_an_instant_is_exact_in_zones_with_odd_offsets_and_dst() -> None:
    """The cached local day (by quarter hour) equals the one computed per instant, around local midnights and
    daylight-saving changes, in zones whose offsets are half or three-quarter hours."""
    zones = ("Europe/Paris", "Asia/Kathmandu", "Asia/Kolkata", "America/St_Johns", "Australia/Lord_Howe", "UTC")
    starts = [
        dt.datetime(2026, 3, 28, tzinfo=dt.UTC),
        dt.datetime(2026, 10, 24, tzinfo=dt.UTC),
        dt.datetime(2026, 4, 4, tzinfo=dt.UTC),
    ]  # Europe's and Lord Howe's changes
    step = 7 * 60_000 + 13_000  # never lands on the same phase of a quarter hour twice in a row
    for zone in zones:
        for start in starts:
            first = int(start.timestamp() * 1000)
            for at in range(first, first + 3 * 86_400_000, step):
                assert _local_day(at, zone) == _exact_local_day(at, zone), (zone, at)
