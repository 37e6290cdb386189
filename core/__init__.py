"""Deskpilot's platform core: config, plugins, store, app, CLI."""
