"""The settings dialog's attachment limits (PROTOCOL.md, "Attachments"): the tenant's largest upload and the kinds
of file it accepts, the ``max_upload_mb`` and ``upload_kinds`` keys of the widget configuration. A view only: the
dialog loads and saves them with the other keys."""

from __future__ import annotations

from typing import Any

from frontdesk.server.protocol import CONFIG_FIELD, UPLOAD_KINDS
from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from .translation import QT_TRANSLATE_NOOP

__all__ = ["KIND_LABELS", "UploadLimitsEditor"]

#: What each kind is called in the dialog.
KIND_LABELS = {
    "images": QT_TRANSLATE_NOOP("UploadSettings", "Images"),
    "pdf": QT_TRANSLATE_NOOP("UploadSettings", "PDF"),
    "text": QT_TRANSLATE_NOOP("UploadSettings", "Text"),
    "office": QT_TRANSLATE_NOOP("UploadSettings", "Office documents"),
    "archives": QT_TRANSLATE_NOOP("UploadSettings", "Archives"),
}


class UploadLimitsEditor(QWidget):
    """A spin box for the size limit and a check box per kind."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        size_row = QHBoxLayout()
        size_row.addWidget(
            QLabel(QCoreApplication.translate("UploadSettings", "Largest file visitors and agents may send"))
        )
        self.max_upload_spin = QSpinBox()
        self.max_upload_spin.setRange(0, CONFIG_FIELD["max_upload_mb"].maximum or 0)
        self.max_upload_spin.setSuffix(QCoreApplication.translate("UploadSettings", " MB"))
        self.max_upload_spin.setSpecialValueText(QCoreApplication.translate("UploadSettings", "no files"))
        size_row.addWidget(self.max_upload_spin)
        size_row.addStretch(1)
        layout.addLayout(size_row)
        kinds_row = QHBoxLayout()
        kinds_row.addWidget(QLabel(QCoreApplication.translate("UploadSettings", "Accept:")))
        self.kind_checks: dict[str, QCheckBox] = {}
        for kind in UPLOAD_KINDS:
            check = QCheckBox(QCoreApplication.translate("UploadSettings", KIND_LABELS[kind]))
            self.kind_checks[kind] = check
            kinds_row.addWidget(check)
        kinds_row.addStretch(1)
        layout.addLayout(kinds_row)

    def load(self, config: dict[str, Any]) -> None:
        size = config.get("max_upload_mb", CONFIG_FIELD["max_upload_mb"].default)
        self.max_upload_spin.setValue(size if isinstance(size, int) else 0)
        kinds = config.get("upload_kinds", CONFIG_FIELD["upload_kinds"].default)
        for kind, check in self.kind_checks.items():
            check.setChecked(isinstance(kinds, list) and kind in kinds)

    def values(self) -> dict[str, Any]:
        return {
            "max_upload_mb": self.max_upload_spin.value(),
            "upload_kinds": [kind for kind, check in self.kind_checks.items() if check.isChecked()],
        }
