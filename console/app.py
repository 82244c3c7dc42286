"""The console's entry point, ``frontdesk-console`` (:func:`main`).

``frontdesk console`` (the server's CLI) is a thin launcher that starts this
program as a process; nothing of the server is imported here (the console
depends on ``frontdesk.server.protocol`` only). ``--bench-cache DIR`` and
``--bench-first-paint DIR`` are how ``frontdesk bench console`` measures the
cold start, in a process of its own: the first times the cache alone, the
second the whole start as the agent sees it (exec to the first paint of the
inbox, offscreen).

One asyncio loop runs everything through qasync. The flow:

1. resume the last session with the stored token, or show the login dialog;
2. open the main window on the cached inbox at once (even offline), then
   start the core's connection loop in the background;
3. on Sign out, or when the server ends the session, go back to 1; when the
   window closes, stop the core and return.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from frontdesk.console.core import AgentRow, TokenStore
    from frontdesk.console.ui.login import LoginDialog
    from frontdesk.console.ui.mainwindow import MainWindow
    from PySide6.QtWidgets import QApplication

__all__ = ["main"]

log = logging.getLogger("frontdesk.console")


def version() -> str:
    """The installed package's version (the bundle ships its metadata too)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("frontdesk")
    except PackageNotFoundError:  # pragma: no cover - a source tree without an install
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="frontdesk-console", description="The Frontdesk agent console.")
    parser.add_argument(
        "--server", metavar="URL", help="server URL (default: the last one used, or http://127.0.0.1:8080)"
    )
    parser.add_argument("--data-dir", metavar="DIR", type=Path, help="keep the cache and preferences here")
    parser.add_argument(
        "--smoke", action="store_true", help="start offscreen, build the main window on an empty cache, and quit"
    )
    parser.add_argument(
        "--bench-cache",
        metavar="DIR",
        type=Path,
        help="benchmark the cache's cold start in DIR (no window), print one JSON object, and quit",
    )
    parser.add_argument(
        "--bench-conversations", metavar="N", type=int, default=10_000, help="with --bench-cache (default 10000)"
    )
    parser.add_argument(
        "--bench-messages", metavar="N", type=int, default=100_000, help="with --bench-cache (default 100000)"
    )
    parser.add_argument(
        "--bench-first-paint",
        metavar="DIR",
        type=Path,
        help="start offscreen on the cache --bench-cache filled in DIR, print the monotonic time (ns) of the "
        "main window's first paint with inbox rows as JSON, and quit",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--version", action=_VersionAction)
    return parser


class _VersionAction(argparse.Action):
    """``--version``, reading the package metadata only when asked (importlib.metadata is slow to import,
    and every start pays for what the parser builds)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="print the version and quit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        print(f"frontdesk console {version()}")
        parser.exit()


def main(argv: list[str] | None = None) -> int:
    """Run the console; returns the process exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if log.isEnabledFor(logging.DEBUG):  # version() imports importlib.metadata: not on a normal start
        log.debug("frontdesk-console %s on Python %s, %s", version(), sys.version.split()[0], sys.platform)
    if args.bench_cache is not None:
        return _bench(args)
    if args.smoke or args.bench_first_paint is not None:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"

    from frontdesk.console import _xcb

    missing = _xcb.problem()
    if missing is not None:
        # Before the QApplication: Qt would abort without naming the library.
        print(f"error: {missing}", file=sys.stderr)
        return 1

    try:
        import qasync
        from frontdesk.console.ui._refcount import guard
        from frontdesk.console.ui.theme import apply_theme
        from PySide6.QtCore import qVersion
        from PySide6.QtWidgets import QApplication
    except ImportError as exc:
        print(f"error: the console's Qt parts are missing ({exc}); pip install 'frontdesk[console]'", file=sys.stderr)
        return 1

    guard()  # PySide6 6.12.0 loses references on signals (see _refcount)
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "frontdesk"])
    assert isinstance(app, QApplication)
    identify(app)
    from .ui.translation import install_translators

    app.setProperty("translators", install_translators(app))  # console/ui/translation.py; English needs none
    app.setQuitOnLastWindowClosed(False)
    apply_theme(app)
    log.debug("Qt %s, platform %s", qVersion(), app.platformName())
    if args.bench_first_paint is not None:
        coro = _bench_first_paint(app, args)
    else:
        coro = _smoke(app, args) if args.smoke else _run(app, args)
    try:
        result: int = qasync.run(coro)
    except KeyboardInterrupt:
        return 130
    return result


def identify(app: QApplication) -> None:
    """Name the application: its windows, its notifications' app name and its
    taskbar badge (the Unity LauncherEntry signal names the desktop entry) all
    point at packaging/linux's ``org.frontdesk.Console.desktop``."""
    app.setApplicationName("Frontdesk")
    app.setOrganizationName("Frontdesk")
    app.setDesktopFileName("org.frontdesk.Console")


def _bench(args: argparse.Namespace) -> int:
    """``--bench-cache``: the Qt-free cold-start measurement, as JSON on stdout."""
    import json

    from frontdesk.console.core.bench import measure_cold_start

    if args.bench_conversations < 1 or args.bench_messages < 1:
        print("error: --bench-conversations and --bench-messages must be at least 1", file=sys.stderr)
        return 2
    args.bench_cache.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(
        measure_cold_start(args.bench_cache, conversations=args.bench_conversations, messages=args.bench_messages)
    )
    print(json.dumps(result))
    return 0


async def _bench_first_paint(app: QApplication, args: argparse.Namespace) -> int:
    """``--bench-first-paint``: the normal start (resume, main window, core)
    on a bench data dir, with a probe that prints when the inbox list first
    paints with rows, then quits."""
    import json
    import time

    from frontdesk.console.core import MemoryTokenStore
    from frontdesk.console.core.bench import BENCH_EMAIL, BENCH_TOKEN, BENCH_URL
    from PySide6.QtCore import QEvent, QObject, QTimer

    args.server, args.data_dir = BENCH_URL, args.bench_first_paint
    tokens = MemoryTokenStore()
    tokens.set(BENCH_URL, BENCH_EMAIL, BENCH_TOKEN)

    class Probe(QObject):
        def __init__(self, window: MainWindow) -> None:
            super().__init__(window)
            self.window = window
            self.done = False

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and not self.done and self.window.inbox_model.rowCount() > 0:
                self.done = True
                QTimer.singleShot(0, self.report)  # after this paint has run
            return False

        def report(self) -> None:
            at, cpu = time.monotonic_ns(), time.process_time()
            rows = self.window.inbox_model.rowCount()
            print(json.dumps({"first_paint_ns": at, "cpu_s": round(cpu, 3), "rows": rows}))
            sys.stdout.flush()
            self.window.close()  # the normal way out: the core stops, the run returns

    def probe(window: MainWindow) -> None:
        window.inbox.view.viewport().installEventFilter(Probe(window))

    return await _run(app, args, tokens=tokens, on_window=probe)


async def _smoke(app: QApplication, args: argparse.Namespace) -> int:
    """Build the main window against an empty cache, process events, quit."""
    import tempfile

    from frontdesk.console.core import ConsoleCore, MemoryTokenStore
    from frontdesk.console.ui.mainwindow import MainWindow
    from frontdesk.console.ui.preferences import Preferences

    with tempfile.TemporaryDirectory(prefix="frontdesk-smoke-") as tmp:
        data_dir = args.data_dir or Path(tmp)
        prefs = Preferences(data_dir / "console.json")
        core = ConsoleCore(args.server or "http://127.0.0.1:9", data_dir, MemoryTokenStore())
        window = MainWindow(core, prefs, use_tray=False)
        window.attach()
        window.show()
        await asyncio.sleep(0.2)  # the Qt loop lays out and paints meanwhile
        ok = window.isVisible() and window.inbox.isVisible()
        log.debug("smoke: main window %s", "shown" if ok else "NOT shown")
        # The Reports window's charts load lazily: draw one, so a bundle without pyqtgraph or numpy fails here.
        from frontdesk.console.ui.reports_charts import LineChart

        chart = LineChart("smoke")
        chart.set_data(["1 Nov", "2 Nov"], [("conversations", [3, None])])
        chart.deleteLater()
        window.detach()
        window.close()
        await asyncio.sleep(0)
    return 0 if ok else 1


def _settle(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


class _Session:
    """State of one run of the console: preferences, token store, the core."""

    def __init__(
        self,
        app: QApplication,
        args: argparse.Namespace,
        tokens: TokenStore | None = None,
        on_window: Callable[[MainWindow], None] | None = None,
    ) -> None:
        from frontdesk.console.core import ConsoleCore, KeyringTokenStore
        from frontdesk.console.ui.preferences import Preferences

        self.app = app
        self.data_dir: Path | None = args.data_dir
        self.prefs = Preferences(args.data_dir / "console.json" if args.data_dir else None)
        self.url: str = args.server or self.prefs.get_str("server_url")
        self.tokens: TokenStore = tokens if tokens is not None else KeyringTokenStore()
        self.window: MainWindow | None = None
        self.on_window = on_window
        self.dialog: LoginDialog | None = None
        self.core = ConsoleCore(self.url, self.data_dir, self.tokens)
        log.debug("server %s, preferences %s, data dir %s", self.url, self.prefs.path, self.data_dir or "(default)")
        self.quitting: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        app.aboutToQuit.connect(lambda: _settle(self.quitting, "quit"))

    def new_core(self, url: str) -> None:
        """Start over with a fresh core for ``url``."""
        from frontdesk.console.core import ConsoleCore

        self.core, self.url = ConsoleCore(url, self.data_dir, self.tokens), url

    async def attempt(self, url: str, email: str, password: str, remember: bool) -> AgentRow:
        """The login dialog's action: log in (on a new core if the URL changed)."""
        if url != self.url:
            self.new_core(url)
        agent = await self.core.login(email, password, remember=remember)
        self.prefs.set("server_url", url)
        self.prefs.set("last_email", email)
        return agent

    async def login(self, message: str) -> bool:
        """Show the login dialog until it succeeds (True) or is closed (False)."""
        from frontdesk.console.ui.login import LoginDialog

        dialog = LoginDialog(
            self.attempt,
            server_url=self.url,
            email=self.prefs.get_str("last_email") or self.core.last_email() or "",
            keyring_available=self.core.keyring_available,
            message=message,
        )
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        dialog.finished.connect(lambda result: _settle(done, result))
        self.dialog = dialog
        dialog.open()
        waiters: set[asyncio.Future[Any]] = {done, self.quitting}
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        accepted = done.done() and done.result() == LoginDialog.DialogCode.Accepted
        dialog.close()
        dialog.deleteLater()
        self.dialog = None
        return accepted and not self.quitting.done()

    async def work(self) -> tuple[str, str]:
        """Show the main window until sign-out, session end or quit."""
        from frontdesk.console.core.notifier import SystemNotifier
        from frontdesk.console.ui.mainwindow import MainWindow

        window = MainWindow(self.core, self.prefs, notifier=SystemNotifier())
        self.window = window
        if self.on_window is not None:
            self.on_window(window)
        outcome: asyncio.Future[tuple[str, str]] = asyncio.get_running_loop().create_future()
        window.sign_out_requested.connect(lambda: _settle(outcome, ("sign_out", "")))
        window.session_ended.connect(lambda reason: _settle(outcome, ("ended", reason)))
        window.closed.connect(lambda: _settle(outcome, ("quit", "")))
        window.attach()
        window.show()
        # The inbox paints from the cache first; then the network starts (its
        # imports and connect would otherwise delay the first paint).
        await _first_paint(window)
        if not outcome.done():
            await self.core.start()
            window.update_role()
        waiters: set[asyncio.Future[Any]] = {outcome, self.quitting}
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        result = outcome.result() if outcome.done() else ("quit", "")
        await window.settle()  # an Away or a reply being written to the cache finishes before it closes
        window.detach()
        if result[0] == "sign_out":
            await self.core.logout()
        else:
            await self.core.stop()
        window.hide()
        window.deleteLater()
        self.window = None
        return result


#: Longest the network waits for the window's first paint (a window that is
#: never exposed, e.g. on another workspace, must not keep the console offline).
FIRST_PAINT_WAIT = 1.0


async def _first_paint(window: MainWindow) -> None:
    """Return once the inbox list has painted (or after :data:`FIRST_PAINT_WAIT` seconds)."""
    from PySide6.QtCore import QEvent, QObject

    painted: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    class Watch(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                asyncio.get_running_loop().call_soon(_settle, painted, None)  # after this paint has run
            return False

    viewport = window.inbox.view.viewport()
    watch = Watch(viewport)
    viewport.installEventFilter(watch)
    try:
        await asyncio.wait_for(asyncio.shield(painted), FIRST_PAINT_WAIT)
    except TimeoutError:
        log.info("the window did not paint within %.1f s; starting the network anyway", FIRST_PAINT_WAIT)
    finally:
        viewport.removeEventFilter(watch)
        watch.deleteLater()


async def _run(
    app: QApplication,
    args: argparse.Namespace,
    *,
    tokens: TokenStore | None = None,
    on_window: Callable[[MainWindow], None] | None = None,
) -> int:
    session = _Session(app, args, tokens, on_window)
    resumed = await session.core.resume()
    log.debug("stored session %s", "resumed" if resumed else "absent: showing the login dialog")
    message = ""
    while True:
        if not resumed and not await session.login(message):
            return 0
        kind, reason = await session.work()
        if kind == "quit":
            return 0
        message = f"Your session ended ({reason}). Please sign in again." if kind == "ended" else ""
        session.new_core(session.url)
        resumed = False


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
