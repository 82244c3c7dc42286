"""Canned responses' text: variables and prompts, declared once (PROTOCOL.md, "Canned responses").

Pure functions, shared by the server (a body with an unknown variable is refused on save) and the console (the
composer fills the variables and asks for the prompts before inserting).

- ``{{visitor.first_name|there}}``: a variable, with a default used when the value is missing or blank;
- ``{{agent.name}}``: a variable without a default (blank when missing);
- ``{{?order number}}``: a prompt, which the agent fills in before the text is inserted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

__all__ = ["VARIABLES", "TemplateError", "check", "fill", "prompts"]

#: Every variable a canned response may use, with what it stands for.
VARIABLES: Final[Mapping[str, str]] = {
    "visitor.name": "the visitor's display name",
    "visitor.first_name": "the first word of the visitor's name",
    "visitor.email": "the visitor's email",
    "agent.name": "your name",
    "agent.first_name": "the first word of your name",
    "conversation.id": "the conversation's number",
}

#: ``{{`` optional ``?``, a name, optional ``|default``, ``}}``.
_PLACEHOLDER: Final = re.compile(r"\{\{(\?)?\s*([^{}|]*?)\s*(?:\|([^{}]*))?\}\}")


class TemplateError(ValueError):
    """A body the server refuses: an unknown variable or an empty prompt."""


def check(body: str) -> None:
    """Raise :class:`TemplateError` naming the first unknown variable (or empty prompt) of ``body``."""
    for m in _PLACEHOLDER.finditer(body):
        prompt, name = m.group(1), m.group(2)
        if prompt:
            if not name:
                raise TemplateError("a prompt needs a question: {{?order number}}")
        elif name not in VARIABLES:
            known = ", ".join(VARIABLES)
            raise TemplateError(f"unknown variable {{{{{name}}}}}; known variables: {known}")


def prompts(body: str) -> list[str]:
    """The prompts of ``body`` (``{{?order number}}`` → ``order number``), each once, in order."""
    seen: list[str] = []
    for m in _PLACEHOLDER.finditer(body):
        if m.group(1) and m.group(2) and m.group(2) not in seen:
            seen.append(m.group(2))
    return seen


def fill(body: str, values: Mapping[str, str | None], answers: Mapping[str, str] | None = None) -> str:
    """``body`` with its variables replaced by ``values`` (or their default when missing or blank) and its
    prompts by ``answers`` (blank when unanswered). Unknown placeholders are left as they are."""
    answers = answers or {}

    def one(m: re.Match[str]) -> str:
        prompt, name, default = m.group(1), m.group(2), m.group(3)
        if prompt:
            return answers.get(name, "")
        if name not in VARIABLES:
            return m.group(0)
        value = values.get(name)
        if value is None or not str(value).strip():
            return (default or "").strip()
        return str(value)

    return _PLACEHOLDER.sub(one, body)
