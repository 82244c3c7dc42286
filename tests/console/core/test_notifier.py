"""The desktop notifier against a real D-Bus session bus, the sound player, and the policy."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from frontdesk.console.core import Notification
from frontdesk.console.core.notifier import (
    Alert,
    NotificationPolicy,
    NullNotifier,
    SoundPlayer,
    SystemNotifier,
    in_quiet_hours,
    notification_category,
)

from tests.console.dbus_session import NotificationService, session_bus

from .conftest import arun, wait_until

__all__ = ["session_bus"]  # the fixture, imported for this module's tests


class _Player(SoundPlayer):
    """Records plays instead of starting a process."""

    def __init__(self) -> None:
        super().__init__(which=lambda name: f"/usr/bin/{name}", platform="linux", spawn=self._record)
        self.played: list[list[str]] = []

    def _record(self, argv: list[str]) -> None:
        self.played.append(argv)


def test_sends_a_native_notification_with_the_sound_hint_and_a_reply_field(session_bus: str) -> None:
    """Over D-Bus: title, body, the icon, the sound-file hint, a reply field where advertised; no local sound."""

    async def main() -> None:
        service = await NotificationService().start()
        player = _Player()
        notifier = SystemNotifier(sound=player)
        assert await notifier.can_reply()
        shown = await notifier.send(
            Alert(7, "New conversation", "Maya: hi", sound=True, reply=True), lambda: None, lambda _t: None
        )
        assert shown
        [sent] = service.sent
        assert (sent.app_name, sent.summary, sent.body) == ("Frontdesk", "New conversation", "Maya: hi")
        assert sent.icon.startswith("file://") and sent.icon.endswith("icon.svg")
        assert sent.hints["sound-file"] == (Path(player.path)).as_uri()
        assert "default" in sent.actions and "inline-reply" in sent.actions
        assert player.played == []  # the desktop plays it (it advertises "sound")
        await notifier.close()
        await service.stop()

    arun(main())


def test_click_and_reply_come_back_to_the_callbacks(session_bus: str) -> None:
    """The user's click and inline reply on the desktop reach on_clicked and on_replied."""

    async def main() -> None:
        service = await NotificationService().start()
        notifier = SystemNotifier(sound=_Player())
        clicked: list[int] = []
        replies: list[str] = []
        for cid in (1, 2):
            await notifier.send(
                Alert(cid, "Maya", "hello", reply=True),
                lambda cid=cid: clicked.append(cid),
                replies.append,
            )
        service.click(1)
        service.reply(2, "On my way")
        await wait_until(lambda: clicked == [1] and replies == ["On my way"], what="click and reply")
        await notifier.close()
        await service.stop()

    arun(main())


def test_a_desktop_without_sound_or_reply_gets_the_hint_and_the_sound_plays_here(session_bus: str) -> None:
    """dunst-like server (no "sound", no "inline-reply"): no reply field; the system player plays notify.wav."""

    async def main() -> None:
        service = await NotificationService(capabilities=("actions", "body")).start()
        player = _Player()
        notifier = SystemNotifier(sound=player)
        assert not await notifier.can_reply()
        assert await notifier.send(Alert(3, "Maya", "hi", sound=True, reply=True), lambda: None, lambda _t: None)
        [sent] = service.sent
        assert "inline-reply" not in sent.actions
        assert "sound-file" in sent.hints
        assert player.played == [["/usr/bin/pw-play", str(player.path)]]
        assert await notifier.send(Alert(3, "Maya", "again", sound=False), lambda: None, lambda _t: None)
        assert "sound-file" not in service.sent[-1].hints and len(player.played) == 1
        await notifier.close()
        await service.stop()

    arun(main())


def test_no_notification_service_means_false_then_recovers(session_bus: str) -> None:
    """With nobody owning org.freedesktop.Notifications send() says False (the UI falls back); later it works."""

    async def main() -> None:
        notifier = SystemNotifier(sound=_Player())
        assert not await notifier.send(Alert(1, "t", "b"), lambda: None, lambda _t: None)
        service = await NotificationService().start()
        assert await notifier.send(Alert(1, "t", "b"), lambda: None, lambda _t: None)
        assert len(service.sent) == 1
        await notifier.close()
        await service.stop()

    arun(main())


def test_no_session_bus_at_all_means_false(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A bus address that leads nowhere: False, no exception (the UI falls back)."""
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'none'}")

    async def main() -> None:
        notifier = SystemNotifier(sound=_Player())
        assert not await notifier.can_reply()
        assert not await notifier.send(Alert(1, "t", "b"), lambda: None, lambda _t: None)
        assert not await NullNotifier().send(Alert(1, "t", "b"), lambda: None, lambda _t: None)

    arun(main())


def test_sound_player_picks_the_system_player() -> None:
    """PipeWire's, then PulseAudio's, then ALSA's player on Linux; afplay on macOS; none: False."""
    path = Path("/x/notify.wav")
    have = {"paplay", "aplay"}
    played: list[list[str]] = []

    def which(name: str) -> str | None:
        return f"/bin/{name}" if name in have else None

    linux = SoundPlayer(path, platform="linux", which=which, spawn=played.append)
    assert linux.play() and played[-1] == ["/bin/paplay", "/x/notify.wav"]
    have = {"aplay"}
    assert linux.command() == ["/bin/aplay", "-q", "/x/notify.wav"]
    have = {"afplay"}
    assert SoundPlayer(path, platform="darwin", which=which).command() == ["/bin/afplay", "/x/notify.wav"]
    have = set()
    assert not SoundPlayer(path, platform="linux", which=which, spawn=played.append).play()


def test_quiet_hours_cross_midnight() -> None:
    """22:00-07:00 is quiet at 23:30 and 06:59, not at 07:00 or noon; equal or bad bounds: never quiet."""
    t = datetime.time
    assert in_quiet_hours(t(23, 30), "22:00", "07:00")
    assert in_quiet_hours(t(6, 59), "22:00", "07:00")
    assert not in_quiet_hours(t(7, 0), "22:00", "07:00")
    assert not in_quiet_hours(t(12, 0), "22:00", "07:00")
    assert in_quiet_hours(t(13, 0), "12:30", "14:00")
    assert not in_quiet_hours(t(13, 0), "12:00", "12:00")
    assert not in_quiet_hours(t(13, 0), "noon", "14:00")


def test_policy_follows_each_preference() -> None:
    """Each category of event has its own switch; quiet hours read the injected clock."""
    prefs: dict[str, Any] = {
        "notify_new_conversation": True,
        "notify_message_mine": True,
        "notify_message_unassigned": False,
        "notify_message_others": False,
        "notify_assignment": True,
        "quiet_hours": True,
        "quiet_from": "22:00",
        "quiet_until": "07:00",
        "sound": True,
    }
    now = datetime.datetime(2026, 12, 7, 23, 0)
    policy = NotificationPolicy(prefs.__getitem__, lambda: now)
    mine = Notification("new_message", 1, "Maya", "hi", assignee_id=5)
    unassigned = Notification("new_message", 1, "Maya", "hi")
    others = Notification("new_message", 1, "Maya", "hi", assignee_id=6)
    assigned = Notification("assigned", 1, "Maya", "hi", assignee_id=5, actor_id=6)
    assert [notification_category(n, 5) for n in (mine, unassigned, others, assigned)] == [
        "message_mine",
        "message_unassigned",
        "message_others",
        "assigned",
    ]
    assert [policy.wants(n, 5) for n in (mine, unassigned, others, assigned)] == [True, False, False, True]
    assert policy.quiet()
    now = datetime.datetime(2026, 12, 7, 9, 0)
    assert not policy.quiet()
    prefs["notify_assignment"] = False
    assert not policy.wants(assigned, 5)
