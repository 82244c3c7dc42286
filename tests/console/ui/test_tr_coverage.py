"""Every user-visible string of console/ui goes through Qt's translation (issue 19 item 5).

An AST scan: a string literal, an f-string or a concatenation with words in it, passed where the console
shows text (Qt's setters and constructors, and our own label helpers), must be wrapped in
``QCoreApplication.translate`` / ``tr`` (``"…{name}…".format`` after translating is fine: the template is
translated). A runtime check of the same rule is in test_translation.py (a pseudo-translation of the main
window and the settings dialog)."""

from __future__ import annotations

import ast
from pathlib import Path

import frontdesk.console.ui as ui_package

UI = Path(ui_package.__file__).resolve().parent

#: Qt calls that show their string arguments. ``None``: every argument; a tuple: only those positions.
QT_SINKS: dict[str, tuple[int, ...] | None] = {
    **dict.fromkeys(
        [
            "setText",
            "setToolTip",
            "setPlaceholderText",
            "setWindowTitle",
            "setStatusTip",
            "setWhatsThis",
            "setTitle",
            "setAccessibleName",
            "setAccessibleDescription",
            "setSpecialValueText",
            "setSuffix",
            "setPrefix",
            "setLabelText",
            "setInformativeText",
            "setDetailedText",
            "setTabText",
            "setTabToolTip",
            "showMessage",
            "addMenu",
            "addRow",
            "insertRow",
            "addButton",
            "addTab",
            "insertTab",
            "setHeaderLabels",
            "setHorizontalHeaderLabels",
            "setVerticalHeaderLabels",
            "addItems",
            "QLabel",
            "QPushButton",
            "QCheckBox",
            "QRadioButton",
            "QGroupBox",
            "QAction",
            "QMenu",
            "QToolButton",
            "QListWidgetItem",
            "QTableWidgetItem",
            "QTreeWidgetItem",
            "QStandardItem",
            "QCommandLinkButton",
            "drawText",
            "getText",
            "getItem",
            "getInt",
            "getOpenFileName",
            "getSaveFileName",
            "getExistingDirectory",
        ],
        None,
    ),
    # (text, userData): the data is not shown.
    "addItem": (0,),
    "insertItem": (1,),
    "addAction": None,
}
#: QMessageBox's static helpers (parent, title, text, …) — only on QMessageBox (not on loggers).
MESSAGE_BOX = {"information", "warning", "critical", "question", "about"}
#: Our own helpers that put their argument on screen: name → the positions shown.
HELPERS: dict[str, tuple[int, ...]] = {
    "_plain": (0,),  # (text, objectName)
    "plain_label": (0,),
    "_plain_label": (0,),
    "_label": (1,),  # visitor.py: (objectName, text)
    "_with_error": (2,),  # (widget, error, hint)
    "_assignment_spin": (3, 4),  # (layout, tab, key, text, suffix)
    "_action": (0,),  # mainwindow: QAction(text, …)
    "A": (0,),
    "_run": (0,),  # "Could not {what}"
    "_do": (0,),
    "_say": (0,),
    "_fail": (0,),
    "show_error": (0,),
    "_show_error": (0,),
    "_show_agent_error": (0,),
    "_show_secret": (1,),
    "set_collision": (0,),
    "set_typing": (0,),
    "set_user": (0,),
    "show_notification": (1, 2),
    "FittingLabel": (0,),
}
#: Functions whose returned text the console shows (validation messages): file → name prefixes.
SHOWN_RETURNS: dict[str, tuple[str, ...]] = {
    "validation.py": ("validate_", "parse_ranges"),
    "login.py": ("validate_server_url",),
}
TRANSLATE = {"translate", "tr", "QT_TRANSLATE_NOOP", "QT_TR_NOOP"}

#: Files the scan leaves out, and why.
SKIP = {
    "screenshots.py": "a developer tool that stages documentation screenshots with demo data",
    # In flight on other branches (the export helper owns them); the lead runs this scan after the merge.
}


def _words(text: str) -> bool:
    return any(c.isalpha() for c in text)


def untranslated(node: ast.expr) -> list[ast.expr]:
    """The parts of ``node`` that would show untranslated words."""
    if isinstance(node, ast.Constant):
        return [node] if isinstance(node.value, str) and _words(node.value) else []
    if isinstance(node, ast.JoinedStr):
        return [node] if any(isinstance(v, ast.Constant) and _words(str(v.value)) for v in node.values) else []
    if isinstance(node, ast.BinOp):
        return untranslated(node.left) + untranslated(node.right)
    if isinstance(node, ast.IfExp):
        return untranslated(node.body) + untranslated(node.orelse)
    if isinstance(node, ast.BoolOp):
        return [bad for value in node.values for bad in untranslated(value)]
    if isinstance(node, ast.List | ast.Tuple):
        return [bad for value in node.elts for bad in untranslated(value)]
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in TRANSLATE:
            return []
        if isinstance(func, ast.Attribute) and name in ("format", "join"):
            # "…".format(x) / " · ".join(parts): the template and the parts show.
            return untranslated(func.value) + [bad for a in node.args for bad in untranslated(a)]
    return []


def _shown_args(call: ast.Call) -> list[ast.expr]:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    positions: tuple[int, ...] | None
    if name in MESSAGE_BOX:
        if not (
            isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "QMessageBox"
        ):
            return []
        positions = None
    elif name in QT_SINKS:
        positions = QT_SINKS[name]
    elif name in HELPERS:
        positions = HELPERS[name]
    else:
        return []
    args = [a for n, a in enumerate(call.args) if positions is None or n in positions]
    if positions is None:
        args += [k.value for k in call.keywords]
    return args


def scan(path: Path) -> list[str]:
    """``file:line: code`` for each untranslated string shown in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    prefixes = SHOWN_RETURNS.get(path.name, ())
    for node in ast.walk(tree):
        shown: list[ast.expr] = []
        if isinstance(node, ast.Call):
            shown = _shown_args(node)
        elif isinstance(node, ast.FunctionDef) and node.name.startswith(prefixes or ("\0",)):
            shown = [r.value for r in ast.walk(node) if isinstance(r, ast.Return) and r.value is not None]
        if shown:
            for arg in shown:
                for bad in untranslated(arg):
                    where = path.relative_to(UI.parent) if path.is_relative_to(UI.parent) else path.name
                    found.append(f"{where}:{bad.lineno}: {ast.unparse(bad)[:90]}")
    return found


def ui_files() -> list[Path]:
    return sorted(p for p in UI.rglob("*.py") if p.name not in SKIP)


def test_every_shown_string_of_console_ui_is_translated() -> None:
    """No string literal or f-string with words reaches a Qt text setter or a label helper untranslated."""
    found = [line for path in ui_files() for line in scan(path)]
    assert not found, "wrap these in QCoreApplication.translate(...):\n" + "\n".join(found)


def test_the_scan_catches_each_kind(tmp_path: Path) -> None:
    """The scan flags a literal, an f-string, a concatenation and a tuple, and passes translated text."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "label.setText('Hello')\n"
        "button = QPushButton(f'Send to {name}')\n"
        "box.setToolTip('Away ' + name)\n"
        "view.setHeaderLabels(['When', 'What'])\n"
        "bar.showMessage(QCoreApplication.translate('X', 'Saved {n}').format(n=n))\n"
        "combo.addItem(QCoreApplication.translate('X', 'Agent'), 'agent')\n"
        "log.warning('not shown %s', x)\n"
        "_plain('', 'hint')\n"
        "QMessageBox.warning(self, 'Oops', QCoreApplication.translate('X', 'Bad'))\n",
        encoding="utf-8",
    )
    lines = [line.split(": ", 1)[1] for line in scan(sample)]
    assert lines == ["'Hello'", "f'Send to {name}'", "'Away '", "'When'", "'What'", "'Oops'"]


def test_the_scan_reads_what_validators_return(tmp_path: Path) -> None:
    """In validation.py, a validator's returned message must be translated too; other returns are not shown."""
    sample = tmp_path / "validation.py"
    sample.write_text(
        "def validate_x(t):\n"
        "    if t:\n"
        "        return 'Too long.'\n"
        "    return QCoreApplication.translate('Validation', 'Empty.')\n"
        "def parse_ranges(t):\n"
        "    return [], f'Bad {t}.'\n"
        "def timezones():\n"
        "    return 'Europe/London'\n",
        encoding="utf-8",
    )
    assert [line.split(": ", 1)[1] for line in scan(sample)] == ["'Too long.'", "f'Bad {t}.'"]
