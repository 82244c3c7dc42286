"""ConsoleCore.identity_secret against a real server: what the settings
dialog's Identity tab calls."""

from __future__ import annotations

from pathlib import Path

import pytest
from frontdesk.console.core import OfflineError, ServerError

from tests.support import RunningServer

from .conftest import arun, make_core, online


def test_identity_secret_get_rotate_and_end_rotation(server: RunningServer, data_dir: Path) -> None:
    """An admin's core reads the secret, rotates it (the old one kept as previous) and ends the rotation;
    offline it raises OfflineError, and a plain agent gets ServerError('forbidden')."""

    async def main() -> None:
        core, _ = make_core(server, data_dir)
        await core.login(server.admin_email, server.admin_password, remember=False)
        with pytest.raises(OfflineError):
            await core.identity_secret()
        await core.start()
        await online(core)
        assert (await core.identity_secret())["secret"] == server.identity_secret
        rotated = await core.identity_secret("rotate")
        assert rotated["previous"] == server.identity_secret and rotated["secret"] != server.identity_secret
        ended = await core.identity_secret("end_rotation")
        assert ended["previous"] is None and ended["secret"] == rotated["secret"]
        with pytest.raises(ValueError):
            await core.identity_secret("delete")
        await core.stop()

        password = server.add_agent("plain@example.com", "Plain")
        plain, _ = make_core(server, data_dir / "plain")
        await plain.login("plain@example.com", password, remember=False)
        await plain.start()
        await online(plain)
        with pytest.raises(ServerError) as refused:
            await plain.identity_secret()
        assert refused.value.code == "forbidden"
        await plain.stop()

    arun(main())
