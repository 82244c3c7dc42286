"""A real D-Bus session bus and a small notification service, for tests.

:func:`session_bus` starts ``dbus-daemon --session`` (apt package ``dbus``)
and points ``DBUS_SESSION_BUS_ADDRESS`` at it for the test. A test then
starts :class:`NotificationService` on that bus: it implements
``org.freedesktop.Notifications`` (the freedesktop notification spec),
advertises the capabilities it is given (``inline-reply`` by default, which
only some servers offer), records every ``Notify`` it receives, and lets the
test play the user: :meth:`NotificationService.click` (``ActionInvoked`` with
``default``) and :meth:`NotificationService.reply` (KDE's
``NotificationReplied``, which desktop-notifier listens to).

The method annotations are D-Bus signatures, as dbus-fast reads them.
"""
# ruff: noqa: F722, F821, UP037

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from dbus_fast import Variant
from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface, method, signal

__all__ = ["NotificationService", "Sent", "session_bus"]

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"


@pytest.fixture
def session_bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private ``dbus-daemon --session`` for this test; yields its address."""
    if shutil.which("dbus-daemon") is None:
        pytest.fail("dbus-daemon is missing: apt-get install dbus (the Makefile's test step installs it)")
    proc = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1"],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        address = proc.stdout.readline().strip()
        assert address.startswith("unix:"), address
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        yield address
    finally:
        proc.terminate()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


@dataclasses.dataclass(frozen=True)
class Sent:
    """One ``Notify`` call as the service received it."""

    id: int
    app_name: str
    icon: str
    summary: str
    body: str
    actions: list[str]
    hints: dict[str, Any]  #: the hints' values, unwrapped from their Variants
    timeout: int


class _Interface(ServiceInterface):
    def __init__(self, capabilities: list[str]) -> None:
        super().__init__(NAME)
        self.capabilities = capabilities
        self.sent: list[Sent] = []

    @method()
    def GetCapabilities(self) -> "as":
        return self.capabilities

    @method()
    def GetServerInformation(self) -> "ssss":
        return ["frontdesk-test-notifications", "frontdesk", "1.0", "1.2"]

    @method()
    def Notify(
        self,
        app_name: "s",
        replaces_id: "u",
        app_icon: "s",
        summary: "s",
        body: "s",
        actions: "as",
        hints: "a{sv}",
        expire_timeout: "i",
    ) -> "u":
        del replaces_id
        nid = len(self.sent) + 1
        values = {k: v.value if isinstance(v, Variant) else v for k, v in hints.items()}
        self.sent.append(Sent(nid, app_name, app_icon, summary, body, list(actions), values, expire_timeout))
        return nid

    @method()
    def CloseNotification(self, id: "u"):  # type: ignore[no-untyped-def]
        self.NotificationClosed(id, 3)

    @signal()
    def ActionInvoked(self, id: int, key: str) -> "us":
        return [id, key]

    @signal()
    def NotificationClosed(self, id: int, reason: int) -> "uu":
        return [id, reason]

    @signal()
    def NotificationReplied(self, id: int, text: str) -> "us":
        return [id, text]


class NotificationService:
    """The test's notification server on the session bus (see the module docstring)."""

    def __init__(self, capabilities: tuple[str, ...] = ("actions", "body", "inline-reply", "sound")) -> None:
        self._interface = _Interface(list(capabilities))
        self._bus: MessageBus | None = None

    @property
    def sent(self) -> list[Sent]:
        """Every notification received, oldest first."""
        return self._interface.sent

    async def start(self) -> NotificationService:
        """Connect to the session bus and own ``org.freedesktop.Notifications``."""
        self._bus = await MessageBus(bus_address=os.environ["DBUS_SESSION_BUS_ADDRESS"]).connect()
        self._bus.export(PATH, self._interface)
        await self._bus.request_name(NAME)
        return self

    def click(self, nid: int) -> None:
        """The user clicks notification ``nid`` (its default action)."""
        self._interface.ActionInvoked(nid, "default")

    def reply(self, nid: int, text: str) -> None:
        """The user sends ``text`` from notification ``nid``'s inline reply field."""
        self._interface.NotificationReplied(nid, text)

    async def stop(self) -> None:
        """Leave the bus."""
        if self._bus is not None:
            self._bus.disconnect()
            await self._bus.wait_for_disconnect()
            self._bus = None
