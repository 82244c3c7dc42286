"""The settings dialog's "Language & privacy" tab: the widget's default language, per-language
overrides of any widget string (and of the greeting, away message and launcher label), and
whether visitors' IP addresses are kept (PROTOCOL.md, "Widget language" and "Location")."""

from __future__ import annotations

from typing import Any

from frontdesk.server.protocol import CONFIG_FIELD, WIDGET_LANGUAGES, WIDGET_STRINGS, WIDGET_TENANT_TEXTS
from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .translation import QT_TRANSLATE_NOOP

__all__ = ["LANGUAGE_NAMES", "LanguageTab"]

#: Each shipped widget language in its own words.
LANGUAGE_NAMES: dict[str, str] = {
    "en": "English",
    "de": "Deutsch",
    "fr": "Français",
    "es": "Español",
    "pt": "Português",
}
#: How the tenant's own texts are named in the table's first column.
_TENANT_TEXT_TITLES = {
    "greeting": QT_TRANSLATE_NOOP("LanguageSettings", "Greeting (first message shown)"),
    "away_message": QT_TRANSLATE_NOOP("LanguageSettings", "Away message"),
    "launcher_label": QT_TRANSLATE_NOOP("LanguageSettings", "Launcher label (screen readers)"),
}
#: The table's rows: the tenant's texts first, then every widget string.
ROW_KEYS: tuple[str, ...] = (*WIDGET_TENANT_TEXTS, *WIDGET_STRINGS)


def _error_label() -> QLabel:
    label = QLabel()
    label.setObjectName("fieldError")
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.hide()
    return label


class LanguageTab(QWidget):
    """Edits ``language``, ``translations`` and ``store_ip``; :meth:`values` reads them back."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        #: One error label per configuration key this tab edits.
        self.errors: dict[str, QLabel] = {key: _error_label() for key in ("language", "translations", "store_ip")}
        self._translations: dict[str, dict[str, str]] = {}
        self._filling = False

        self.language_combo = QComboBox()
        for code in WIDGET_LANGUAGES:
            self.language_combo.addItem(LANGUAGE_NAMES.get(code, code), code)
        self.store_ip_check = QCheckBox(QCoreApplication.translate("LanguageSettings", "Keep visitors' IP addresses"))
        self.store_ip_check.setToolTip(
            QCoreApplication.translate(
                "LanguageSettings",
                "Off: the country (and city) is still looked up and shown; the address itself is never stored.",
            )
        )
        self.edit_language_combo = QComboBox()
        for code in WIDGET_LANGUAGES:
            self.edit_language_combo.addItem(LANGUAGE_NAMES.get(code, code), code)
        self.edit_language_combo.currentIndexChanged.connect(self._on_edit_language_combo_current_index_changed)
        self.table = QTableWidget(len(ROW_KEYS), 2)
        self.table.setObjectName("translationsTable")
        self.table.setHorizontalHeaderLabels(
            [
                QCoreApplication.translate("LanguageSettings", "Text (English)"),
                QCoreApplication.translate("LanguageSettings", "In this language"),
            ]
        )
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(True)
        for row, key in enumerate(ROW_KEYS):
            source = QTableWidgetItem(
                QCoreApplication.translate("LanguageSettings", _TENANT_TEXT_TITLES[key])
                if key in _TENANT_TEXT_TITLES
                else key
            )
            source.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            source.setData(Qt.ItemDataRole.UserRole, key)
            self.table.setItem(row, 0, source)
            self.table.setItem(row, 1, QTableWidgetItem(""))
        self.table.itemChanged.connect(self._on_table_item_changed)

        form = QFormLayout()
        form.addRow(QCoreApplication.translate("LanguageSettings", "Default language"), self.language_combo)
        form.addRow("", self.errors["language"])
        hint = QLabel(
            QCoreApplication.translate(
                "LanguageSettings",
                "Visitors get the first of their browser's languages the widget speaks, else this one.",
            )
        )
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        form.addRow("", hint)
        form.addRow(QCoreApplication.translate("LanguageSettings", "Privacy"), self.store_ip_check)
        form.addRow("", self.errors["store_ip"])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 18, 18, 18)
        layout.setSpacing(12)
        layout.addLayout(form)
        title = QLabel(
            QCoreApplication.translate("LanguageSettings", "Your own words, per language (empty: the widget's own)")
        )
        title.setObjectName("sectionTitle")
        layout.addWidget(title)
        layout.addWidget(self.edit_language_combo)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.errors["translations"])

    def set_config(self, config: dict[str, Any]) -> None:
        """Fill the tab from a full configuration."""
        index = self.language_combo.findData(config.get("language", CONFIG_FIELD["language"].default))
        self.language_combo.setCurrentIndex(max(index, 0))
        self.store_ip_check.setChecked(bool(config.get("store_ip", CONFIG_FIELD["store_ip"].default)))
        translations = config.get("translations") or {}
        self._translations = {
            str(lang): {str(k): str(v) for k, v in strings.items()}
            for lang, strings in translations.items()
            if isinstance(strings, dict)
        }
        self._fill()

    def values(self) -> dict[str, Any]:
        """The tab's configuration values (overrides left empty are dropped)."""
        translations = {
            lang: {k: v.strip() for k, v in strings.items() if v.strip()}
            for lang, strings in self._translations.items()
        }
        return {
            "language": self.language_combo.currentData(),
            "store_ip": self.store_ip_check.isChecked(),
            "translations": {lang: strings for lang, strings in translations.items() if strings},
        }

    def set_override(self, lang: str, key: str, text: str) -> None:
        """Type ``text`` as the override of ``key`` in ``lang`` (as an admin would)."""
        self.edit_language_combo.setCurrentIndex(self.edit_language_combo.findData(lang))
        self._cell(ROW_KEYS.index(key)).setText(text)

    def _cell(self, row: int) -> QTableWidgetItem:
        item = self.table.item(row, 1)
        assert item is not None
        return item

    def _fill(self) -> None:
        lang = self.edit_language_combo.currentData()
        strings = self._translations.get(lang, {})
        self._filling = True
        try:
            for row, key in enumerate(ROW_KEYS):
                self._cell(row).setText(strings.get(key, ""))
        finally:
            self._filling = False

    def _on_edit_language_combo_current_index_changed(self, _index: int) -> None:
        self._fill()

    def _on_table_item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() != 1:
            return
        key = ROW_KEYS[item.row()]
        lang = str(self.edit_language_combo.currentData())
        self._translations.setdefault(lang, {})[key] = item.text()
