"""``frontdesk bench``: a load tool that ships with the product.

It starts a Frontdesk server on a fresh temporary SQLite database (or drives
one at ``--url``) and runs workloads through the public protocol with real
WebSocket clients; ``--baseline`` runs the same load against a bare relay on
the same ``websockets`` library. See docs/PERFORMANCE.md.
"""

from ._cli import main

__all__ = ["main"]
