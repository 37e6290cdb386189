"""Built-in helpdesk connectors, registered through the `deskpilot` entry-point group."""
