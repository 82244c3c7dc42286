"""The visitor widget (widget.js) and the demo landing page, shipped as package data."""
