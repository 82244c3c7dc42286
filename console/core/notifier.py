"""Desktop notifications behind one small, Qt-free interface.

The UI is handed a :class:`Notifier` and never talks to the platform itself:

- :class:`SystemNotifier` is the real one. It sends native notifications
  through ``desktop-notifier``: the freedesktop ``org.freedesktop.Notifications``
  service over the D-Bus session bus on Linux (pure asyncio through
  ``dbus-fast``, so it runs on the console's one qasync loop), Notification
  Center on macOS (inside the app bundle), WinRT toasts on Windows. Only the
  Linux path is tested (against a real ``dbus-daemon``); macOS and Windows go
  through the same library calls and are documented, not tested here.
- :class:`NullNotifier` shows nothing; the UI then uses its own fallback
  (the tray, or the in-window banner).

What every notifier promises (the contract the UI relies on):

- :meth:`Notifier.send` returns True only when the platform took the
  notification; on False the UI shows its fallback. It never raises.
- ``on_clicked`` runs when the agent clicks the notification; ``on_replied``
  with the text the agent typed in its inline reply field. A reply field is
  offered only where the platform can (the D-Bus server advertises
  ``inline-reply``; macOS and Windows always can).
- The sound: the notification asks the desktop to play ``notify.wav`` (the
  ``sound-file`` hint). A desktop that says it cannot play sounds (no
  ``sound`` capability, e.g. dunst) gets the hint all the same, and the
  :class:`SoundPlayer` plays the file with the system's own player.

:class:`NotificationPolicy` decides *whether* an event is worth notifying:
the agent's choice per kind of event, and quiet hours. It reads the
preferences through a getter and the time through an injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import logging
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from .rows import Notification

__all__ = [
    "ASSETS",
    "Alert",
    "NotificationPolicy",
    "Notifier",
    "NullNotifier",
    "SoundPlayer",
    "SystemNotifier",
    "in_quiet_hours",
    "notification_category",
]

log = logging.getLogger("frontdesk.console.notifier")

#: The console's assets (the icon and ``notify.wav``).
ASSETS = Path(__file__).resolve().parent.parent / "assets"

OnClicked = Callable[[], None]
OnReplied = Callable[[str], None]


@dataclasses.dataclass(frozen=True, slots=True)
class Alert:
    """One desktop notification about one conversation."""

    conversation_id: int
    title: str
    body: str
    sound: bool = True  #: ask for the notification sound
    reply: bool = False  #: offer an inline reply field (where the platform has one)


class Notifier(Protocol):
    """Shows desktop notifications (see the module's contract)."""

    async def send(self, alert: Alert, on_clicked: OnClicked, on_replied: OnReplied) -> bool:
        """Show ``alert``; True when the platform took it (never raises)."""
        ...

    async def can_reply(self) -> bool:
        """Whether a notification can carry an inline reply field."""
        ...

    async def close(self) -> None:
        """Release the connection to the platform's service."""
        ...


class NullNotifier:
    """No desktop notifications: every :meth:`send` asks for the UI's fallback."""

    async def send(self, alert: Alert, on_clicked: OnClicked, on_replied: OnReplied) -> bool:
        """Show nothing; False."""
        del alert, on_clicked, on_replied
        return False

    async def can_reply(self) -> bool:
        """False: there is no notification to reply in."""
        return False

    async def close(self) -> None:
        """Nothing to release."""


# ----------------------------------------------------------------------------- sound


#: Command-line players tried in order, per platform; each is part of the
#: system's sound stack (PipeWire, PulseAudio, ALSA; macOS's afplay), so
#: playing a short WAV costs no Python dependency at all.
_PLAYERS: dict[str, tuple[tuple[str, ...], ...]] = {
    "linux": (("pw-play",), ("paplay",), ("aplay", "-q")),
    "darwin": (("afplay",),),
}


class SoundPlayer:
    """Plays ``notify.wav`` without Qt Multimedia (a 100 MB wheel for one beep).

    Linux and macOS: the first system player found on ``PATH`` runs as a
    child process (nothing waits for it). Windows: the standard library's
    ``winsound``. Nothing found: :meth:`play` returns False and the caller
    beeps. ``spawn`` and ``which`` are injectable for tests.
    """

    def __init__(
        self,
        path: Path = ASSETS / "notify.wav",
        *,
        platform: str = sys.platform,
        which: Callable[[str], str | None] = shutil.which,
        spawn: Callable[[list[str]], Any] | None = None,
    ) -> None:
        self.path = path
        self._platform = platform
        self._which = which
        self._spawn = spawn if spawn is not None else self._popen
        self._children: list[subprocess.Popen[bytes]] = []

    def command(self) -> list[str] | None:
        """The command that plays the sound here, or None."""
        for player in _PLAYERS.get("linux" if self._platform.startswith("linux") else self._platform, ()):
            found = self._which(player[0])
            if found is not None:
                return [found, *player[1:], str(self.path)]
        return None

    def _popen(self, argv: list[str]) -> None:
        # Reap the players that have finished, so no zombie is left behind.
        self._children = [c for c in self._children if c.poll() is None]
        self._children.append(
            subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )

    def play(self) -> bool:
        """Start playing once; False when there is no way to play here."""
        if self._platform == "win32":  # pragma: no cover - Windows only
            import winsound

            winsound.PlaySound(str(self.path), winsound.SND_FILENAME | winsound.SND_ASYNC)  # type: ignore[attr-defined,unused-ignore]
            return True
        argv = self.command()
        if argv is None:
            return False
        try:
            self._spawn(argv)
        except OSError as exc:
            log.debug("could not play the notification sound: %s", exc)
            return False
        return True


# ----------------------------------------------------------------------------- the system's notifications


class SystemNotifier:
    """Native notifications through ``desktop-notifier`` (see the module's contract).

    The connection to the platform's service is made at the first
    :meth:`send`; when it cannot be made (no session bus, no notification
    service) :meth:`send` returns False, and tries again next time (the
    service may start later in the session).
    """

    def __init__(
        self,
        app_name: str = "Frontdesk",
        *,
        icon: Path = ASSETS / "icon.svg",
        sound: SoundPlayer | None = None,
    ) -> None:
        self._app_name = app_name
        self._icon = icon
        self.sound = sound if sound is not None else SoundPlayer()
        self._impl: Any = None
        self._capabilities: frozenset[Any] | None = None

    def _notifier(self) -> Any:
        if self._impl is None:
            from desktop_notifier import DesktopNotifier, Icon

            self._impl = DesktopNotifier(app_name=self._app_name, app_icon=Icon(path=self._icon))
        return self._impl

    async def _get_capabilities(self) -> frozenset[Any] | None:
        if self._capabilities is not None:
            return self._capabilities
        try:
            self._capabilities = await self._notifier().get_capabilities()
        except Exception as exc:
            log.debug("no desktop notification service: %s", exc)
            await self._disconnect()
            return None
        log.debug("desktop notification capabilities: %s", sorted(c.name for c in self._capabilities))
        return self._capabilities

    async def available(self) -> bool:
        """Whether the platform's notification service answers now."""
        return await self._get_capabilities() is not None

    async def can_reply(self) -> bool:
        """Whether the notification service offers an inline reply field."""
        from desktop_notifier import Capability

        capabilities = await self._get_capabilities()
        return capabilities is not None and Capability.REPLY_FIELD in capabilities

    async def send(self, alert: Alert, on_clicked: OnClicked, on_replied: OnReplied) -> bool:
        """Send ``alert``; False (the UI falls back) when the platform did not take it."""
        from desktop_notifier import Capability, ReplyField, Sound

        capabilities = await self._get_capabilities()
        if capabilities is None:
            return False
        dispatched = asyncio.Event()
        reply = None
        if alert.reply and Capability.REPLY_FIELD in capabilities:
            reply = ReplyField(title="Reply", button_title="Send", on_replied=on_replied)
        try:
            await self._notifier().send(
                title=alert.title,
                message=alert.body,
                on_clicked=on_clicked,
                on_dispatched=dispatched.set,
                reply_field=reply,
                sound=Sound(path=self.sound.path) if alert.sound else None,
                thread=f"conversation-{alert.conversation_id}",
            )
        except Exception as exc:
            log.debug("desktop notification failed: %s", exc)
        if not dispatched.is_set():
            # desktop-notifier logs and swallows a failed send; the service may be gone.
            self._capabilities = None
            await self._disconnect()
            return False
        if alert.sound and Capability.SOUND not in capabilities:
            self.sound.play()  # the desktop shows but does not play: play it here
        return True

    async def _disconnect(self) -> None:
        impl, self._impl = self._impl, None
        bus = getattr(getattr(impl, "_backend", None), "bus", None)
        if bus is not None:
            with contextlib.suppress(Exception):
                bus.disconnect()
                await bus.wait_for_disconnect()

    async def close(self) -> None:
        """Disconnect from the session bus."""
        await self._disconnect()


# ----------------------------------------------------------------------------- whether to notify


#: Category of event -> the preference that switches its notifications on.
CATEGORY_SETTING: dict[str, str] = {
    "new_conversation": "notify_new_conversation",
    "message_mine": "notify_message_mine",
    "message_unassigned": "notify_message_unassigned",
    "message_others": "notify_message_others",
    "assigned": "notify_assignment",
}


def notification_category(notification: Notification, me: int | None) -> str:
    """The preference category of ``notification`` for agent ``me``: a new
    conversation, a message in a conversation that is mine, unassigned or
    someone else's, or an assignment to me."""
    if notification.kind != "new_message":
        return notification.kind
    if notification.assignee_id is None:
        return "message_unassigned"
    return "message_mine" if notification.assignee_id == me else "message_others"


def _clock_time(text: str) -> datetime.time | None:
    try:
        return datetime.time.fromisoformat(text)
    except ValueError:
        return None


def in_quiet_hours(now: datetime.time, start: str, end: str) -> bool:
    """Whether ``now`` falls in quiet hours from ``start`` to ``end`` ("HH:MM",
    local time; the span may cross midnight, e.g. 22:00 to 07:00). Equal or
    unreadable bounds mean no quiet hours."""
    begin, until = _clock_time(start), _clock_time(end)
    if begin is None or until is None or begin == until:
        return False
    if begin < until:
        return begin <= now < until
    return now >= begin or now < until


class NotificationPolicy:
    """Whether a core :class:`Notification` becomes a desktop notification.

    ``get(name)`` reads a preference (the console's ``Preferences.get``);
    ``now()`` is the local time (injected; tests pass a fixed one).
    """

    def __init__(self, get: Callable[[str], Any], now: Callable[[], datetime.datetime] = datetime.datetime.now) -> None:
        self._get = get
        self._now = now

    def quiet(self) -> bool:
        """Whether quiet hours are on now (no pop-up, no sound)."""
        if not self._get("quiet_hours"):
            return False
        return in_quiet_hours(self._now().time(), str(self._get("quiet_from")), str(self._get("quiet_until")))

    def wants(self, notification: Notification, me: int | None) -> bool:
        """The agent's choice for this kind of event (quiet hours aside)."""
        return bool(self._get(CATEGORY_SETTING[notification_category(notification, me)]))

    def sound(self) -> bool:
        """Whether notifications make a sound."""
        return bool(self._get("sound"))
