"""The agent's local preferences, declared once in a schema.

Each setting is declared in :data:`SCHEMA` with its name, type, default and
description (qutebrowser's ``configdata.yml`` idea). Values are read typed
through :meth:`Preferences.get` (or the typed helpers), written with
:meth:`Preferences.set`, and every change is announced by the one
:attr:`Preferences.changed` signal carrying the setting's name.

Storage is a small JSON file in the user's config dir (``platformdirs``), so
tests can point it at a temporary folder.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from .translation import QT_TRANSLATE_NOOP

__all__ = ["SCHEMA", "Preferences", "Setting", "default_path"]

log = logging.getLogger("frontdesk.console.ui.preferences")


@dataclasses.dataclass(frozen=True, slots=True)
class Setting:
    """One preference: its key, Python type, default and a line for humans."""

    name: str
    type: type
    default: Any
    description: str


SCHEMA: tuple[Setting, ...] = (
    Setting(
        "server_url", str, "http://127.0.0.1:8080", QT_TRANSLATE_NOOP("Preferences", "Server the console connects to.")
    ),
    Setting(
        "last_email",
        str,
        "",
        QT_TRANSLATE_NOOP("Preferences", "Email used at the last login, prefilled in the login dialog."),
    ),
    Setting("sound", bool, True, QT_TRANSLATE_NOOP("Preferences", "Play a sound with notifications.")),
    # Which events notify (console/core/notifier.py, CATEGORY_SETTING); a message in the conversation on
    # screen, with the window active, never does.
    Setting(
        "notify_new_conversation",
        bool,
        True,
        QT_TRANSLATE_NOOP("Preferences", "Notify when a visitor starts a new conversation."),
    ),
    Setting(
        "notify_message_mine",
        bool,
        True,
        QT_TRANSLATE_NOOP("Preferences", "Notify on a visitor message in a conversation assigned to me."),
    ),
    Setting(
        "notify_message_unassigned",
        bool,
        True,
        QT_TRANSLATE_NOOP("Preferences", "Notify on a visitor message in an unassigned conversation."),
    ),
    Setting(
        "notify_message_others",
        bool,
        False,
        QT_TRANSLATE_NOOP("Preferences", "Notify on a visitor message in a colleague's conversation."),
    ),
    Setting(
        "notify_assignment",
        bool,
        True,
        QT_TRANSLATE_NOOP("Preferences", "Notify when a conversation is assigned or transferred to me."),
    ),
    # Quiet hours: no pop-up and no sound between these local times (the unread count still shows).
    Setting(
        "quiet_hours",
        bool,
        False,
        QT_TRANSLATE_NOOP("Preferences", "Quiet hours: no notifications between the times below."),
    ),
    Setting("quiet_from", str, "22:00", QT_TRANSLATE_NOOP("Preferences", "Quiet hours start (HH:MM, local time).")),
    Setting("quiet_until", str, "08:00", QT_TRANSLATE_NOOP("Preferences", "Quiet hours end (HH:MM, local time).")),
    Setting(
        "away_after_minutes",
        int,
        10,
        QT_TRANSLATE_NOOP("Preferences", "Go Away after this many idle minutes, and back on activity (0: never)."),
    ),
)

_BY_NAME = {s.name: s for s in SCHEMA}


def default_path() -> Path:
    """Where preferences live: ``<user config dir>/frontdesk/console.json``."""
    from platformdirs import user_config_dir

    return Path(user_config_dir("frontdesk")) / "console.json"


class Preferences(QObject):
    """Typed access to the settings in :data:`SCHEMA`, persisted as JSON."""

    #: A setting changed; carries its name.
    changed = Signal(str)

    def __init__(self, path: Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._path = path if path is not None else default_path()
        self._values: dict[str, Any] = {}
        self._load()

    @property
    def path(self) -> Path:
        """The JSON file backing these preferences."""
        return self._path

    def _load(self) -> None:
        try:
            raw = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable preferences file %s: %s", self._path, exc)
            return
        if not isinstance(raw, dict):
            return
        for name, value in raw.items():
            setting = _BY_NAME.get(name)
            # A value of the wrong type (hand-edited file) falls back to the default.
            if setting is not None and type(value) is setting.type:
                self._values[name] = value

    def _save(self) -> None:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self._values, indent=2, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self._path)
        except OSError as exc:
            log.warning("could not save preferences to %s: %s", self._path, exc)

    def get(self, name: str) -> Any:
        """The value of setting ``name`` (its default when never set)."""
        setting = _BY_NAME[name]
        return self._values.get(name, setting.default)

    def get_bool(self, name: str) -> bool:
        """A boolean setting, typed."""
        value = self.get(name)
        assert isinstance(value, bool)
        return value

    def get_str(self, name: str) -> str:
        """A string setting, typed."""
        value = self.get(name)
        assert isinstance(value, str)
        return value

    def set(self, name: str, value: Any) -> None:
        """Store ``value`` for ``name``; emits :attr:`changed` when it differs.

        Raises :class:`KeyError` for an unknown name and :class:`TypeError` for
        a value of the wrong type.
        """
        setting = _BY_NAME[name]
        if type(value) is not setting.type:
            raise TypeError(f"{name} takes {setting.type.__name__}, not {type(value).__name__}")
        if self.get(name) == value and name in self._values:
            return
        self._values[name] = value
        self._save()
        self.changed.emit(name)
