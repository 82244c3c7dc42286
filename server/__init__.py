"""Frontdesk server: protocol, stores, handlers and CLI."""

__version__ = "0.1.0"
