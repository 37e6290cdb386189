"""Follow-up questions: a short message that leans on the question before it ("and the SSL
certificate?", "how long are they kept?").

Searched alone, such a message finds what its few words match anywhere in the help center,
or nothing ("how long are they kept?" after "Where can I download my invoices?" got the
hand-over). The offline model searches it together with the customer's earlier question,
and keeps that answer only when it says something about the follow-up's own words; else it
searches the message alone (a customer who changes the subject: "what about crypto payments?").
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
_POINTS_BACK = re.compile(r"\b(it|its|they|them|their|that|those|these|this one)\b",
                          re.IGNORECASE)
# Longer messages say what they are about themselves.
MAX_WORDS = 8


def is_follow_up(message: str) -> bool:
    """Whether `message` reads as leaning on the question before it."""
    words = message.split()
    if not words or len(words) > MAX_WORDS:
        return False
    return bool(_LEAD.match(message) or _POINTS_BACK.search(message))


def earlier_question(messages: list[tuple[str, str]]) -> str | None:
    """The customer's question before their last message (small talk passed over), if any.
    `messages`: the conversation as (role, text), oldest first."""
    for role, text in reversed(messages[:-1]):
        if role == "user" and text and small_talk(text) is None:
            return text
    return None
