"""Which language a customer wrote in, for plugins that talk to customers themselves (a
hand-over's messages): the offline model's own detector (`deskpilot.core.agent.language`), so
the platform and its plugins call a message's language alike.

    from deskpilot.language import detect

    detect("Ich möchte mit einem Menschen sprechen")  # "de"; None when not confident
"""

from deskpilot.core.agent.language import base_language, detect

__all__ = ["base_language", "detect"]
