"""The console's strings go through Qt's translation (``QCoreApplication.translate``,
what ``tr()`` calls): English is written in the code and shipped; a translation is a
``frontdesk_LANG.qm`` file (made with ``pyside6-lupdate`` / Qt Linguist / ``pyside6-lrelease``
from the console's sources) in ``console/assets/i18n/``, loaded for the system's language."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QLibraryInfo, QLocale, QTranslator
from PySide6.QtWidgets import QApplication

__all__ = ["QT_TRANSLATE_NOOP", "TRANSLATIONS_DIR", "install_translators"]

#: Where frontdesk_LANG.qm files go (none is shipped: the console speaks English).
TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "assets" / "i18n"


def QT_TRANSLATE_NOOP(context: str, source: str) -> str:
    """Mark ``source`` for the translation tools and return it unchanged: for English kept in a table
    (translated where it is shown, ``QCoreApplication.translate(context, source)``). PySide6's own
    returns ``object`` to the type checker."""
    return source


def install_translators(app: QApplication, locale: QLocale | None = None) -> list[QTranslator]:
    """Install Qt's own translation (its dialogs' buttons) and the console's, for ``locale``
    (the system's by default), where a file exists; the translators installed (keep them alive)."""
    locale = locale or QLocale.system()
    installed = []
    for name, folder in (
        ("qtbase", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)),
        ("frontdesk", str(TRANSLATIONS_DIR)),
    ):
        translator = QTranslator(app)
        if translator.load(locale, name, "_", folder) and app.installTranslator(translator):
            installed.append(translator)
    return installed
