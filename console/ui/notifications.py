"""Desktop notifications: the tray where one exists, an in-app banner otherwise.

:class:`Notifier` decides *whether* to notify (the agent's preferences, and
whether the conversation is already on screen) and *how*: a
``QSystemTrayIcon.showMessage`` where the platform has a tray, otherwise the
:class:`Banner` at the top of the main window. The tray icon (when there is
one) and the window title show the unread count.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from frontdesk.console.ui.preferences import Preferences
from PySide6.QtCore import QPoint, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QPainter
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QSystemTrayIcon,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

__all__ = ["Banner", "Notifier", "Sound", "badge_icon"]

log = logging.getLogger("frontdesk.console.ui.notifications")

ASSETS = Path(__file__).resolve().parent.parent / "assets"

#: Notification kind -> the preference that switches it on or off.
KIND_SETTING = {
    "new_conversation": "notify_new_conversation",
    "new_message": "notify_new_message",
}


class Banner(QWidget):
    """An in-app notification strip: title, body, Open and dismiss buttons.

    Used when the system has no tray. It hides itself after a while; a newer
    notification replaces the one shown.
    """

    #: The agent clicked Open; carries the conversation id.
    open_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None, timeout_ms: int = 8000) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._conversation_id = 0
        self._title = QLabel()
        self._title.setObjectName("bannerTitle")
        self._body = QLabel()
        self._body.setObjectName("bannerBody")
        for label in (self._title, self._body):
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self._body.setWordWrap(False)
        texts = QVBoxLayout()
        texts.setSpacing(2)
        texts.addWidget(self._title)
        texts.addWidget(self._body)
        self.open_button = QToolButton()
        self.open_button.setObjectName("bannerOpen")
        self.open_button.setText("Open")
        self.open_button.clicked.connect(self._on_open_button_clicked)
        self.close_button = QToolButton()
        self.close_button.setObjectName("bannerClose")
        self.close_button.setText("✕")
        self.close_button.setToolTip("Dismiss (Esc)")
        self.close_button.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(16, 10, 10, 10)
        layout.setSpacing(12)
        dot = QLabel("●")
        dot.setObjectName("bannerDot")
        dot.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(dot, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(texts, 1)
        layout.addWidget(self.open_button)
        layout.addWidget(self.close_button)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(timeout_ms)
        self._timer.timeout.connect(self.hide)
        self.hide()

    @property
    def title(self) -> str:
        """The shown notification's title."""
        return self._title.text()

    @property
    def body(self) -> str:
        """The shown notification's body."""
        return self._body.text()

    @property
    def conversation_id(self) -> int:
        """The conversation the shown notification is about."""
        return self._conversation_id

    def show_notification(self, conversation_id: int, title: str, body: str) -> None:
        """Show (or replace) the banner's content and restart its timer."""
        self._conversation_id = conversation_id
        self._title.setText(title)
        self._body.setText(" ".join(body.split())[:200])
        self.show()
        if self.parentWidget() is not None:
            self.raise_()
        self._timer.start()

    def _on_open_button_clicked(self) -> None:
        self.hide()
        self.open_requested.emit(self._conversation_id)


def badge_icon(base: QIcon, count: int, size: int = 64) -> QIcon:
    """``base`` with a red badge carrying ``count`` (no badge when 0)."""
    pixmap = base.pixmap(size, size)
    if count <= 0:
        return QIcon(pixmap)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    radius = size * 0.26
    centre = QPoint(int(size - radius), int(radius))
    painter.setBrush(QColor("#f04438"))
    painter.setPen(QColor("#ffffff"))
    painter.drawEllipse(centre, int(radius), int(radius))
    font = QFont()
    font.setBold(True)
    font.setPixelSize(int(radius * 1.2))
    painter.setFont(font)
    text = str(count) if count < 100 else "99+"
    box = QRect(int(centre.x() - radius), int(centre.y() - radius), int(2 * radius), int(2 * radius))
    painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
    return QIcon(pixmap)


class Sound:
    """Plays the notification sound: QtMultimedia when installed, else a beep.

    PySide6-Essentials ships without QtMultimedia, so the beep is the usual
    path there. Tests replace :meth:`play`.
    """

    def __init__(self) -> None:
        self._effect: object | None = None
        try:
            from PySide6.QtCore import QUrl
            from PySide6.QtMultimedia import QSoundEffect  # type: ignore[import-not-found,unused-ignore]

            effect = QSoundEffect()
            effect.setSource(QUrl.fromLocalFile(str(ASSETS / "notify.wav")))
            effect.setVolume(0.6)
            self._effect = effect
        except ImportError:
            self._effect = None

    def play(self) -> None:
        """Play the sound once."""
        if self._effect is not None:
            self._effect.play()  # type: ignore[attr-defined]
        else:
            QApplication.beep()


class Notifier:
    """Routes notifications to the tray or the banner, honouring preferences.

    ``is_on_screen(conversation_id)`` tells whether the agent is looking at
    that conversation right now (window active and the conversation open);
    a new message there is not worth a notification.
    """

    def __init__(
        self,
        preferences: Preferences,
        banner: Banner,
        is_on_screen: Callable[[int], bool],
        *,
        app_icon: QIcon,
        sound: Sound | None = None,
        use_tray: bool | None = None,
    ) -> None:
        self._preferences = preferences
        self._banner = banner
        self._is_on_screen = is_on_screen
        self._app_icon = app_icon
        self.sound = sound if sound is not None else Sound()
        if use_tray is None:
            use_tray = QSystemTrayIcon.isSystemTrayAvailable()
        self.tray: QSystemTrayIcon | None = None
        self._last_conversation = 0
        self.on_open: Callable[[int], None] | None = None
        if use_tray:
            self.tray = QSystemTrayIcon(app_icon)
            self.tray.setToolTip("Frontdesk")
            self.tray.messageClicked.connect(self._on_tray_message_clicked)
            self.tray.show()
        self.unread = 0
        #: Notifications shown, newest last: (kind, conversation_id, title, body).
        self.shown: list[tuple[str, int, str, str]] = []

    @property
    def uses_tray(self) -> bool:
        """True when notifications go to the system tray, False for the banner."""
        return self.tray is not None

    def notify(self, kind: str, conversation_id: int, title: str, body: str) -> bool:
        """Show a notification unless switched off or already on screen.

        Returns True when one was shown.
        """
        setting = KIND_SETTING.get(kind)
        if setting is not None and not self._preferences.get_bool(setting):
            return False
        if kind == "new_message" and self._is_on_screen(conversation_id):
            return False
        log.debug("notification %s for conversation %d", kind, conversation_id)
        self.shown.append((kind, conversation_id, title, body))
        self._last_conversation = conversation_id
        if self.tray is not None:
            self.tray.showMessage(title, " ".join(body.split())[:200], self._app_icon, 8000)
        else:
            self._banner.show_notification(conversation_id, title, body)
        if self._preferences.get_bool("sound"):
            self.sound.play()
        return True

    def _on_tray_message_clicked(self) -> None:
        if self.on_open is not None and self._last_conversation:
            self.on_open(self._last_conversation)

    def set_unread(self, count: int) -> None:
        """Show the unread count on the tray icon."""
        self.unread = count
        if self.tray is not None:
            self.tray.setIcon(badge_icon(self._app_icon, count))
            self.tray.setToolTip(f"Frontdesk — {count} unread" if count else "Frontdesk")

    def close(self) -> None:
        """Remove the tray icon."""
        if self.tray is not None:
            self.tray.hide()
            self.tray = None
