"""The console's Qt UI, layered on the Qt-free core (``frontdesk.console.core``).

Structure (STYLE.md, "manager -> model -> view"):

- :mod:`.bridge` turns the core's listener callbacks into Qt signals;
- :mod:`.models` holds the Qt item models (inbox, thread, agents, a
  visitor's conversations): they page rows in from the core's cache and then
  apply the change-sets the core announces, as row changes;
- the widgets (:mod:`.inbox`, :mod:`.thread`, :mod:`.visitor`, ...) only
  display models and forward user actions to the core.

Views never touch the network, SQLite or the keyring.
"""

from frontdesk.console.core import words as _words
from PySide6.QtCore import QCoreApplication as _QCoreApplication

# The core's words (snooze, collision, activity trail) through Qt's translation too (console/core/words.py).
_words.set_translator(_QCoreApplication.translate)
