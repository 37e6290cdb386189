"""Which language a customer wrote in, and whether a message is only small talk, for plugins
that talk to customers themselves (a hand-over's messages): the offline model's own readers
(`deskpilot.core.agent.language`, `.small_talk`), so the platform and its plugins read a
message alike.

    from deskpilot.language import detect, small_talk

    detect("Ich möchte mit einem Menschen sprechen")  # "de"; None when not confident
    small_talk("yes, thanks").kinds  # {"yes", "thanks"}; None for anything more
    small_talk("no thanks").kinds  # {"decline"}: turns an offer down; a bare "no" is {"no"}
"""

from deskpilot.core.agent.language import base_language, detect
from deskpilot.core.agent.small_talk import (
    BYE,
    DECLINE,
    GREETING,
    NO,
    THANKS,
    YES,
    SmallTalk,
    small_talk,
)

__all__ = ["BYE", "DECLINE", "GREETING", "NO", "THANKS", "YES", "SmallTalk", "base_language",
           "detect", "small_talk"]
