"""Notifications as the agent meets them: desktop, attention, sound, badge.

:class:`NotificationCenter` decides *whether* to notify (the agent's
preferences and quiet hours through the core's
:class:`~frontdesk.console.core.notifier.NotificationPolicy`, and whether the
conversation is already on screen) and *how*:

1. a native desktop notification through the injected core
   :class:`~frontdesk.console.core.notifier.Notifier` (D-Bus on Linux), whether
   or not a tray exists; clicking it opens the conversation, and its inline
   reply (where the desktop offers one) goes through the outbox like any reply;
2. when the desktop has no notification service: the tray's message where a
   tray exists, otherwise the in-window :class:`Banner`.

Either way the window asks for attention (``QApplication.alert``: the
taskbar entry flashes, the dock icon bounces) and the sound plays. The unread
count goes on the taskbar/dock entry (``QGuiApplication.setBadgeNumber``:
the macOS dock and Windows taskbar; on Linux Qt sends the Unity
``LauncherEntry`` D-Bus signal that KDE Plasma's task manager and the Ubuntu
and Dash-to-Dock docks read) and on the tray icon.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from frontdesk.console.core import Notification
from frontdesk.console.core.notifier import Alert, NotificationPolicy, Notifier, SoundPlayer
from frontdesk.console.ui.preferences import Preferences
from frontdesk.console.ui.tasks import spawn
from PySide6.QtCore import QCoreApplication, QEvent, QObject, QPoint, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QGuiApplication, QIcon, QPainter
from PySide6.QtWidgets import (
    QApplication,
    QGraphicsDropShadowEffect,
    QHBoxLayout,
    QLabel,
    QSystemTrayIcon,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .translation import QT_TRANSLATE_NOOP

__all__ = ["Banner", "NotificationCenter", "Sound", "badge_icon"]

log = logging.getLogger("frontdesk.console.ui.notifications")

#: A notification's title per kind (its body is the visitor's words).
TITLES = {
    "new_conversation": QT_TRANSLATE_NOOP("Notifications", "New conversation"),
    "new_message": "{name}",
    "assigned": QT_TRANSLATE_NOOP("Notifications", "Assigned to you"),
}


class Banner(QWidget):
    """An in-app notification card: title, body, Open and dismiss buttons.

    Used when the desktop has no notification service and there is no tray.
    It floats over the top of its parent (an overlay, never in a layout), so
    showing it moves nothing under the agent's pointer (issue 13, item 6). It
    hides itself after a while; a newer notification replaces the one shown.
    """

    #: Its widest, and its distance from the parent's top edge.
    MAX_WIDTH = 560
    TOP = 10

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
        self.open_button.setText(QCoreApplication.translate("Notifications", "Open"))
        self.open_button.clicked.connect(self._on_open_button_clicked)
        self.close_button = QToolButton()
        self.close_button.setObjectName("bannerClose")
        self.close_button.setText("✕")
        self.close_button.setToolTip(QCoreApplication.translate("Notifications", "Dismiss (Esc)"))
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
        shadow = QGraphicsDropShadowEffect(self)
        shadow.setBlurRadius(24)
        shadow.setOffset(0, 4)
        shadow.setColor(QColor(16, 24, 40, 70))
        self.setGraphicsEffect(shadow)
        if parent is not None:
            parent.installEventFilter(self)
        self.hide()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parentWidget() and event.type() == QEvent.Type.Resize and self.isVisible():
            self.place()
        return super().eventFilter(watched, event)

    def place(self) -> None:
        """Centre the card at the top of its parent, over what is there."""
        parent = self.parentWidget()
        if parent is None:
            return
        width = max(200, min(self.MAX_WIDTH, parent.width() - 32))
        height = self.heightForWidth(width) if self.hasHeightForWidth() else self.sizeHint().height()
        self.setGeometry((parent.width() - width) // 2, self.TOP, width, height)

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
        self.place()
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


def _set_badge(count: int) -> None:
    app = QGuiApplication.instance()
    if isinstance(app, QGuiApplication):
        app.setBadgeNumber(max(0, count))


class Sound:
    """The fallback sound (no desktop notification to carry it): the system's
    player through :class:`SoundPlayer`, else the X bell. Tests replace it."""

    def __init__(self, player: SoundPlayer | None = None) -> None:
        self._player = player if player is not None else SoundPlayer()

    def play(self) -> None:
        """Play the sound once."""
        if not self._player.play():
            QApplication.beep()


class NotificationCenter:
    """Routes the core's notifications (see the module docstring).

    ``is_on_screen(conversation_id)``: the agent is looking at it (window
    active, conversation open); a message there is not worth a notification.
    ``window``: what :func:`QApplication.alert` flashes. ``on_open`` and
    ``on_reply`` are set by the window: open a conversation, queue a reply.
    ``desktop`` None: no desktop notifications (tests, ``--smoke``).
    """

    def __init__(
        self,
        preferences: Preferences,
        banner: Banner,
        is_on_screen: Callable[[int], bool],
        *,
        app_icon: QIcon,
        window: QWidget | None = None,
        desktop: Notifier | None = None,
        policy: NotificationPolicy | None = None,
        me: Callable[[], int | None] = lambda: None,
        sound: Sound | None = None,
        use_tray: bool | None = None,
    ) -> None:
        self._preferences = preferences
        self._banner = banner
        self._is_on_screen = is_on_screen
        self._app_icon = app_icon
        self._window = window
        self.desktop = desktop
        self.policy = policy if policy is not None else NotificationPolicy(preferences.get)
        self._me = me
        self.sound = sound if sound is not None else Sound()
        if use_tray is None:
            use_tray = QSystemTrayIcon.isSystemTrayAvailable()
        self.tray: QSystemTrayIcon | None = None
        self._last_conversation = 0
        self.on_open: Callable[[int], None] | None = None
        self.on_reply: Callable[[int, str], None] | None = None
        if use_tray:
            self.tray = QSystemTrayIcon(app_icon)
            self.tray.setToolTip(QCoreApplication.translate("Notifications", "Frontdesk"))
            self.tray.messageClicked.connect(self._on_tray_message_clicked)
            self.tray.show()
        self.unread = 0
        #: Notifications decided on, newest last: (kind, conversation_id, title, body).
        self.shown: list[tuple[str, int, str, str]] = []
        #: How each was delivered, newest last: "desktop", "tray" or "banner".
        self.delivered: list[str] = []

    @property
    def uses_tray(self) -> bool:
        """True when the fallback is the system tray, False for the banner."""
        return self.tray is not None

    def notify(self, kind: str, conversation_id: int, title: str, body: str) -> bool:
        """Notify of ``kind`` (a core notification kind) without an assignee; see :meth:`notify_core`."""
        return self.notify_core(Notification(kind, conversation_id, title, body))  # type: ignore[arg-type]

    def notify_core(self, notification: Notification) -> bool:
        """Notify unless switched off, in quiet hours, or already on screen.

        Returns True when a notification goes out (desktop or fallback).
        """
        cid = notification.conversation_id
        if not self.policy.wants(notification, self._me()):
            return False
        if notification.kind == "new_message" and self._is_on_screen(cid):
            return False
        if self.policy.quiet():
            log.debug("quiet hours: no notification for conversation %d", cid)
            return False
        title = QCoreApplication.translate("Notifications", TITLES[notification.kind]).format(name=notification.title)
        body = " ".join(notification.body.split())[:200]
        if notification.kind != "new_message":
            body = f"{notification.title}: {body}" if body else notification.title
        log.debug("notification %s for conversation %d", notification.kind, cid)
        self.shown.append((notification.kind, cid, title, body))
        self._last_conversation = cid
        if self._window is not None:
            QApplication.alert(self._window)  # the taskbar entry flashes until the window is activated
        sound = self.policy.sound()
        if self.desktop is None:
            self._fallback(cid, title, body, sound)
        else:
            spawn(self._deliver(Alert(cid, title, body, sound=sound, reply=True)), name=f"notify-{cid}")
        return True

    async def _deliver(self, alert: Alert) -> None:
        assert self.desktop is not None
        cid = alert.conversation_id
        try:
            shown = await self.desktop.send(
                alert, on_clicked=lambda: self._open(cid), on_replied=lambda text: self._reply(cid, text)
            )
        except Exception:  # pragma: no cover - the Notifier contract says it never raises
            log.exception("desktop notification failed")
            shown = False
        if shown:
            self.delivered.append("desktop")
        else:
            self._fallback(cid, alert.title, alert.body, alert.sound)

    def _fallback(self, cid: int, title: str, body: str, sound: bool) -> None:
        if self.tray is not None:
            self.tray.showMessage(title, body, self._app_icon, 8000)
            self.delivered.append("tray")
        else:
            self._banner.show_notification(cid, title, body)
            self.delivered.append("banner")
        if sound:
            self.sound.play()

    def _open(self, conversation_id: int) -> None:
        if self.on_open is not None:
            self.on_open(conversation_id)

    def _reply(self, conversation_id: int, text: str) -> None:
        text = text.strip()
        if text and self.on_reply is not None:
            self.on_reply(conversation_id, text)

    def _on_tray_message_clicked(self) -> None:
        if self._last_conversation:
            self._open(self._last_conversation)

    def set_unread(self, count: int) -> None:
        """Show the unread count on the taskbar/dock entry and the tray icon."""
        self.unread = count
        _set_badge(count)
        if self.tray is not None:
            self.tray.setIcon(badge_icon(self._app_icon, count))
            self.tray.setToolTip(
                QCoreApplication.translate("Notifications", "Frontdesk — {count} unread").format(count=count)
                if count
                else QCoreApplication.translate("Notifications", "Frontdesk")
            )

    def close(self) -> None:
        """Remove the tray icon and the badge; close the desktop notifier."""
        _set_badge(0)
        if self.tray is not None:
            self.tray.hide()
            self.tray = None
        if self.desktop is not None:
            desktop, self.desktop = self.desktop, None
            spawn(desktop.close(), name="notifier-close")
