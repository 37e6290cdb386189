"""Follow-up questions: a short message that leans on the question before it ("and the SSL
certificate?", "how long does that take?").

Searched alone, such a message finds what its few words match anywhere in the help center,
or nothing ("how long are they kept?" after "Where can I download my invoices?" got the
hand-over; "how long does that take?" after a rollback question quoted the custom-domain
article's "How long does it take?"). So the offline model may search it a second time,
together with the customer's earlier question (`with_earlier`), and choose:

- a message that names its subject only by pointing back ("it", "they", "that", "the old
  one") is always searched both ways, and what it found alone is kept only while both
  searches stay on one subject: the first document found with the earlier question is among
  what it found alone, and what it would quote alone is among what was found with the earlier
  question ("can they see billing?" after an invitation question quotes "Roles and
  permissions"); else the answer found with the earlier question;
- any other follow-up ("and …", "what about …") names its own subject, often a new one
  ("also, how do I delete my account?"): searched alone, and with the earlier question only
  when alone finds nothing, that answer kept only if it quotes the follow-up's own words (a
  customer who changes the subject: "what about the weather in Paris?").
"""

from __future__ import annotations

import re

from deskpilot.core.agent.small_talk import small_talk

# How a follow-up starts, in the seven languages the offline texts speak ("and …", "what
# about …"), or a pronoun that points back in English ("are they kept?").
_LEADS = (
    r"and|also|but|or|what about|how about|what if|same for|"
    r"und|aber|oder|was ist mit|und wenn|"
    r"et|mais|ou|et si|et pour|qu'en est-il|"
    r"y|pero|o|y si|y para|qué pasa con|"
    r"e|ma|o|e se|e per|"
    r"en|maar|of|en als|wat als|"
    r"e|mas|ou|e se|e quanto"
)
_LEAD = re.compile(rf"^\W*({_LEADS})(?=[\s,]|$)", re.IGNORECASE)  # not "e-mail"
_POINTS_BACK = re.compile(
    r"\b(it|its|they|them|their|that|those|these"
    r"|(the|a|an|another|this|which)( \w+)? ones?)\b",  # "the old one", "a second one"
    re.IGNORECASE)
# Longer messages say what they are about themselves.
MAX_WORDS = 8


def is_follow_up(message: str) -> bool:
    """Whether `message` reads as leaning on the question before it."""
    words = message.split()
    if not words or len(words) > MAX_WORDS:
        return False
    return bool(_LEAD.match(message)) or points_back(message)


def points_back(message: str) -> bool:
    """Whether `message` names its subject by pointing back ("are they encrypted?")."""
    return bool(_POINTS_BACK.search(message))


def with_earlier(message: str, messages: list[tuple[str, str]]) -> str | None:
    """A follow-up `message` together with the customer's question before it, to search with;
    None when it is no follow-up or has no question before it (`messages`: as below)."""
    earlier = earlier_question(messages) if is_follow_up(message) else None
    return None if earlier is None else f"{earlier} {message}"


def earlier_question(messages: list[tuple[str, str]]) -> str | None:
    """The customer's question before their last message (small talk passed over), if any.
    `messages`: the conversation as (role, text), oldest first."""
    for role, text in reversed(messages[:-1]):
        if role == "user" and text and small_talk(text) is None:
            return text
    return None
