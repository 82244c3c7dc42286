"""The console's desktop integration: icon PNGs, the .desktop file and the AppStream metainfo."""

from __future__ import annotations

import configparser
import os
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.packaging.conftest import ROOT

PACKAGING = ROOT / "packaging"
APP_ID = "org.frontdesk.Console"
SIZES = (16, 32, 48, 64, 128, 256, 512)
DESKTOP = PACKAGING / "linux" / f"{APP_ID}.desktop"
METAINFO = PACKAGING / "linux" / f"{APP_ID}.metainfo.xml"


def _png(size: int) -> Path:
    return PACKAGING / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"


def _desktop_entry() -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    parser.read(DESKTOP)
    return dict(parser["Desktop Entry"])


def test_icon_pngs_have_every_size_with_transparency() -> None:
    """Each size desktops ask for is a PNG of exactly that size with an alpha channel (8-bit RGBA)."""
    for size in SIZES:
        data = _png(size).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{size}: not a PNG"
        width, height, depth, color_type = struct.unpack(">IIBB", data[16:26])
        assert (width, height) == (size, size)
        assert depth == 8 and color_type == 6, f"{size}: not 8-bit RGBA"
    svg = PACKAGING / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"
    assert svg.read_bytes() == (PACKAGING / "icons" / "frontdesk.svg").read_bytes()


def test_icon_pngs_are_rendered_from_the_current_svg(tmp_path: Path) -> None:
    """make_icons.py renders the same pixels as the committed PNGs: they were regenerated after the last SVG change."""
    pytest.importorskip("PySide6.QtSvg", reason="PySide6 renders the icons")
    from PySide6.QtGui import QImage

    proc = subprocess.run(
        [sys.executable, str(PACKAGING / "icons" / "make_icons.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    for size in SIZES:
        fresh = QImage(str(tmp_path / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"))
        committed = QImage(str(_png(size)))
        assert fresh.size() == committed.size()
        worst = 0
        for y in range(size):
            for x in range(size):
                a, b = fresh.pixelColor(x, y), committed.pixelColor(x, y)
                worst = max(worst, abs(a.red() - b.red()), abs(a.blue() - b.blue()), abs(a.alpha() - b.alpha()))
        assert worst <= 8, f"{size}px differs by {worst}: run packaging/icons/make_icons.py and commit the PNGs"
        # The corners are see-through and the middle is Frontdesk blue or the white typing dots.
        assert committed.pixelColor(0, 0).alpha() == 0
        assert committed.pixelColor(size - 1, 0).alpha() == 0
        middle = committed.pixelColor(size // 2, size // 5)
        assert (middle.red(), middle.green(), middle.blue(), middle.alpha()) == (0x25, 0x63, 0xEB, 255)


def test_desktop_file_launches_the_bundle_with_the_icon() -> None:
    """The .desktop entry runs frontdesk-console, names the icon by the app id, and sits in Network;Chat."""
    entry = _desktop_entry()
    assert entry["Type"] == "Application" and entry["Name"] == "Frontdesk"
    assert entry["Exec"].split()[0] == "frontdesk-console"
    assert entry["Icon"] == APP_ID
    assert entry["Terminal"] == "false"
    assert {"Network", "Chat"} <= set(entry["Categories"].strip(";").split(";"))


def test_metainfo_matches_the_desktop_file_and_version() -> None:
    """The AppStream component has the app id, launches the .desktop file and lists this version as a release."""
    from frontdesk.server import __version__

    root = ET.parse(METAINFO).getroot()  # noqa: S314 - our own file
    assert root.get("type") == "desktop-application"
    assert root.findtext("id") == APP_ID
    launchable = root.find("launchable")
    assert launchable is not None and launchable.text == DESKTOP.name
    assert root.findtext("provides/binary") == "frontdesk-console"
    versions = [r.get("version") for r in root.iter("release")]
    assert versions and versions[0] == __version__, f"newest release {versions[:1]} is not {__version__}"
    assert root.findtext("metadata_license") == "CC0-1.0"


def test_desktop_file_passes_desktop_file_validate() -> None:
    """desktop-file-validate accepts the .desktop file."""
    if shutil.which("desktop-file-validate") is None:
        pytest.skip("desktop-file-validate is not installed (apt-get install desktop-file-utils)")
    proc = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


def test_metainfo_passes_appstreamcli_validate() -> None:
    """appstreamcli validate (offline) accepts the metainfo file with no error or warning."""
    if shutil.which("appstreamcli") is None:
        pytest.skip("appstreamcli is not installed (apt-get install appstream)")
    proc = subprocess.run(
        ["appstreamcli", "validate", "--no-net", str(METAINFO)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not [line for line in proc.stdout.splitlines() if line.startswith(("E:", "W:"))], proc.stdout
