"""Built-in agent-tool plugins, registered through the `deskpilot` entry-point group."""
