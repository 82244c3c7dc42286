"""Render packaging/icons/frontdesk.svg to the PNG sizes desktops need.

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/icons/make_icons.py [OUTDIR]

writes OUTDIR/hicolor/NxN/apps/APP_ID.png for each size and
OUTDIR/hicolor/scalable/apps/APP_ID.svg (OUTDIR defaults to this folder), the
freedesktop icon-theme layout that the bundle copies to share/icons/.
Uses Qt's SVG renderer (PySide6, in the dev extra). The PNGs are committed:
run this again after changing the SVG.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "frontdesk.svg"
APP_ID = "org.frontdesk.Console"
SIZES = (16, 32, 48, 64, 128, 256, 512)


def render(out_dir: Path) -> list[Path]:
    """Write every size (and the SVG) under ``out_dir/hicolor``; returns the PNG paths."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(SOURCE))
    if not renderer.isValid():
        raise SystemExit(f"{SOURCE}: not a valid SVG")
    written = []
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter, QRectF(0, 0, size, size))
        painter.end()
        path = out_dir / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(path), "PNG"):
            raise SystemExit(f"could not write {path}")
        written.append(path)
    scalable = out_dir / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    if scalable.resolve() != SOURCE:
        shutil.copyfile(SOURCE, scalable)
    del app
    return written


if __name__ == "__main__":
    for written in render(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print(written)
