"""Frontdesk agent console."""
