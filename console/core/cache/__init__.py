"""The console's local cache: SQLite (the standard library's sqlite3).

One file per server and agent, in ``platformdirs.user_data_dir("frontdesk")``
unless a directory is given, created with mode 0600. It holds what the agent
may see (conversations, visitors, messages, notes, agents, config), the
durable outbox, and the resume cursor (``epoch``, ``last_event_id``). It never
holds the session token.

One module per job:

- :mod:`._schema`: the file, its path, and the numbered migrations;
- :mod:`._writer`: the writer thread (one connection, one transaction per job);
- :mod:`._apply`: the rules that turn server objects and events into rows;
- :mod:`._outbox`: the durable outbox and its optimistic effects;
- :mod:`._queries`: the reads the UI makes;
- :mod:`._csat`: satisfaction surveys (stored from events, read for the header and the visitor pane);
- :mod:`._cache`: :class:`Cache`, which puts them together.
"""

from ._apply import Applied, config_values
from ._cache import Cache
from ._csat import rating_text
from ._outbox import outbox_files
from ._queries import fts_query
from ._schema import MIGRATIONS, cache_path

__all__ = [
    "MIGRATIONS",
    "Applied",
    "Cache",
    "cache_path",
    "config_values",
    "fts_query",
    "outbox_files",
    "rating_text",
]
