"""The core's own words (the snooze menu, the collision line, the activity trail) go through a
translation the UI installs, so the core stays Qt-free.

Each is written ``translate("Context", "English {name}")`` with a literal, which is what
``pyside6-lupdate`` extracts; ``.format`` fills the template after translating. Until the UI installs
Qt's (``console/ui/__init__.py``: ``QCoreApplication.translate``), English comes back, ``%n`` replaced
by ``n`` as Qt does.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Translator", "set_translator", "translate"]

#: ``QCoreApplication.translate``'s shape: (context, source, disambiguation, n) -> text.
Translator = Callable[[str, str, str | None, int], str]

_translator: Translator | None = None


def set_translator(translator: Translator | None) -> None:
    """Route the core's words through ``translator`` (None: English)."""
    global _translator
    _translator = translator


def translate(context: str, source: str, disambiguation: str | None = None, n: int = -1) -> str:
    """``source`` (English) in the installed translation; ``%n`` is ``n`` (plurals)."""
    if _translator is not None:
        return _translator(context, source, disambiguation, n)
    return source.replace("%n", str(n)) if n >= 0 else source
