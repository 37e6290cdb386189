"""The self-hosted chat widget (widget.js) and its demo page, served by core.routes.widget."""
