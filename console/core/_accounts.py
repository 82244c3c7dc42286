"""Which agent last used each server: ``accounts.json`` in the data dir.

It prefills the login form and lets :meth:`ConsoleCore.resume` find the
token in the keyring. It never holds a token or a password.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["Accounts"]


class Accounts:
    """The server URL -> email map, written atomically with mode 0600."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "accounts.json"

    def read(self) -> dict[str, str]:
        """Every remembered (server URL, email); {} when the file is missing or bad."""
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):  # own data: the accounts file
            return {}
        return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}  # own data: ditto

    def remember(self, server_url: str, email: str | None) -> None:
        """Remember ``email`` for ``server_url`` (None forgets it)."""
        accounts = self.read()
        if email is None:
            accounts.pop(server_url, None)
        else:
            accounts[server_url] = email
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(accounts, f)
        os.replace(tmp, self.path)

    def email_for(self, server_url: str) -> str | None:
        """The email last used on ``server_url``."""
        return self.read().get(server_url)
