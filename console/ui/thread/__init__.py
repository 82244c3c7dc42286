"""The centre pane: a conversation's header, thread and composer.

The thread is a ``QListView`` over :class:`~.models.ThreadModel` painted by
:class:`ThreadDelegate`: visitor, agent, system and private-note messages
each have their own look, with day separators, and this agent's messages
show their delivery state (sending, sent, failed with a Retry link). Text is
painted with ``QPainter.drawText``, which never interprets markup, so user
text is always plain.

One module per widget: :mod:`._delegate` (painting), :mod:`._view` (the list
view), :mod:`._composer`, :mod:`._header` and :mod:`._pane`, which puts them
together.
"""

from ._composer import Composer, ComposerEdit
from ._delegate import ThreadDelegate
from ._header import ConversationHeader
from ._pane import ThreadPane
from ._view import ThreadView

__all__ = ["Composer", "ComposerEdit", "ConversationHeader", "ThreadDelegate", "ThreadPane", "ThreadView"]
