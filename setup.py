"""Package discovery for the component layout.

The repository's top-level folders are the components (``server/``,
``console/``, ``widget/``); installed, they are the ``frontdesk.*`` packages.
pyproject.toml maps the folders; this file lists every subpackage under them,
so a new subpackage ships without anyone remembering to list it.
"""

from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).parent
COMPONENTS = {"server": "frontdesk.server", "console": "frontdesk.console", "widget": "frontdesk.widget"}


def _packages() -> list[str]:
    found = []
    for folder, package in COMPONENTS.items():
        for init in sorted((ROOT / folder).rglob("__init__.py")):
            relative = init.parent.relative_to(ROOT / folder)
            found.append(".".join([package, *relative.parts]))
    return found


setup(packages=_packages())
