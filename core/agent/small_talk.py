"""Messages that are only small talk: a greeting, thanks, a bare yes or no, a goodbye.

They are no question for the knowledge: the offline model answers them in kind instead of
searching ("hi" got "I couldn't find an answer in our help center"), the escalation plugin
reads a yes or no as the answer to the question it follows ("Would you like me to hand you
over to a person?" — "yes"; a "no thanks" declines it, while a bare "no" to "Did that answer
your question? If not, I can hand you over" takes it up), and the gap report and the
escalation rules do not count them as questions left unanswered. Only a whole message made
of these phrases counts ("hi, how do I reset my password?" is a question), in the seven
languages the offline texts speak.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

GREETING, THANKS, YES, NO, BYE = "greeting", "thanks", "yes", "no", "bye"
# A no that turns something down ("no thanks", "no need") rather than answering whether an
# answer helped ("no", "it didn't"): it never takes up an offer of a person.
DECLINE = "decline"

# Per language and kind, phrases separated by commas; a message is small talk when it is a
# sequence of them (punctuation aside).
_PHRASES: dict[str, dict[str, str]] = {
    "en": {
        GREETING: "hi, hello, hey, hiya, howdy, hi there, hello there, hey there, good morning, "
                  "good afternoon, good evening, good day, what's up, how are you",
        THANKS: "thanks, thank you, thank you so much, thanks so much, thanks a lot, many thanks, "
                "thx, ty, cheers, great, perfect, awesome, excellent, that helped, that helps, "
                "that answered it, got it, very helpful, helpful, that's helpful, appreciate it, "
                "i appreciate it, much appreciated, thanks again, thanks for the help, "
                "thanks for your help, thanks for helping, thank you for your help, "
                "thanks for the info",
        YES: "yes, yeah, yep, yup, sure, ok, okay, yes please, please, of course, it did, "
             "yes it did, that did, correct, right, alright, all right",
        NO: "no, nope, nah, not really, no it didn't, it didn't, it did not, not quite, "
            "not at all, definitely not, i don't think so",
        DECLINE: "no thanks, no thank you, no need, not needed, not necessary, i'm good, "
                 "i'm fine, no thanks i'm good, i'm all set, all good",
        BYE: "bye, goodbye, bye bye, see you, have a nice day, have a good day",
    },
    "de": {
        GREETING: "hallo, hi, hey, moin, servus, guten morgen, guten tag, guten abend, "
                  "grüß gott",
        THANKS: "danke, danke schön, dankeschön, vielen dank, danke sehr, super, perfekt, "
                "toll, prima, hat geholfen, das hat geholfen",
        YES: "ja, ja bitte, gerne, gern, klar, okay, ok, ja gerne, genau, ja danke",
        NO: "nein, nicht wirklich, leider nicht, nö, ne, eher nicht",
        DECLINE: "nein danke, nein vielen dank, nicht nötig, nicht notwendig, brauche ich nicht",
        BYE: "tschüss, tschüs, auf wiedersehen, bis bald, schönen tag noch",
    },
    "fr": {
        GREETING: "bonjour, salut, bonsoir, coucou, allô",
        THANKS: "merci, merci beaucoup, merci bien, parfait, super, génial, ça m'a aidé",
        YES: "oui, oui merci, oui s'il vous plaît, oui svp, d'accord, ok, bien sûr, volontiers",
        NO: "non, pas vraiment, pas du tout",
        DECLINE: "non merci, pas besoin, pas la peine, ce n'est pas nécessaire",
        BYE: "au revoir, bonne journée, à bientôt, bonne soirée",
    },
    "es": {
        GREETING: "hola, buenos días, buenas tardes, buenas noches, buenas",
        THANKS: "gracias, muchas gracias, mil gracias, perfecto, genial, estupendo",
        YES: "sí, si, sí por favor, si por favor, claro, vale, de acuerdo, por supuesto",
        NO: "no, la verdad que no, no mucho, para nada",
        DECLINE: "no gracias, no hace falta, no es necesario",
        BYE: "adiós, hasta luego, hasta pronto, chao",
    },
    "it": {
        GREETING: "ciao, salve, buongiorno, buonasera",
        THANKS: "grazie, grazie mille, perfetto, ottimo, fantastico",
        YES: "sì, si, sì grazie, si grazie, certo, va bene, volentieri, d'accordo",
        NO: "no, non proprio, non molto, per niente",
        DECLINE: "no grazie, non serve, non è necessario",
        BYE: "arrivederci, a presto, buona giornata",
    },
    "nl": {
        GREETING: "hallo, hoi, hey, hi, goedemorgen, goedemiddag, goedenavond, dag",
        THANKS: "bedankt, dank je, dank u, dank je wel, dank u wel, heel erg bedankt, top, "
                "perfect, super",
        YES: "ja, ja graag, graag, prima, oké, ok, zeker, goed",
        NO: "nee, niet echt, helaas niet",
        DECLINE: "nee bedankt, nee dank je, nee dank u, hoeft niet, niet nodig",
        BYE: "doei, tot ziens, fijne dag, dag dag",
    },
    "pt": {
        GREETING: "olá, oi, bom dia, boa tarde, boa noite",
        THANKS: "obrigado, obrigada, muito obrigado, muito obrigada, valeu, perfeito, ótimo",
        YES: "sim, sim por favor, claro, pode ser, com certeza, ok",
        NO: "não, na verdade não, nem tanto",
        DECLINE: "não obrigado, não obrigada, não precisa, não é necessário",
        BYE: "tchau, até logo, até mais, até breve",
    },
}
LANGUAGES = tuple(_PHRASES)
_MAX_WORDS = 8
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


@dataclass(frozen=True)
class SmallTalk:
    """What a small-talk message says (its kinds: "yes" and "thanks" in "yes, thanks") and
    the languages whose phrases make up the whole message, in LANGUAGES order ("ok" is
    English, German, French, Dutch and Portuguese)."""

    kinds: frozenset[str]
    languages: tuple[str, ...]

    def language(self, preferred: str | None = None) -> str:
        """`preferred` (the conversation's language) when the message fits it, else the first."""
        return preferred if preferred in self.languages else self.languages[0]


@cache
def _phrases(language: str) -> tuple[tuple[tuple[str, ...], str], ...]:
    """The language's phrases as word tuples with their kind, longest first (greedy match)."""
    found = [(tuple(_WORD.findall(phrase)), kind)
             for kind, phrases in _PHRASES[language].items() for phrase in phrases.split(",")]
    return tuple(sorted(found, key=lambda entry: -len(entry[0])))


def _kinds(words: list[str], language: str) -> frozenset[str] | None:
    """The kinds of the phrases `words` is made of, or None when something else is said."""
    kinds: set[str] = set()
    at = 0
    while at < len(words):
        for phrase, kind in _phrases(language):
            if tuple(words[at : at + len(phrase)]) == phrase:
                kinds.add(kind)
                at += len(phrase)
                break
        else:
            return None
    return frozenset(kinds) or None


def small_talk(text: str) -> SmallTalk | None:
    """The message as small talk, or None when it says anything more (a question, a request,
    an email address)."""
    if "@" in text or "?" in text.rstrip()[:-1]:
        return None  # an address, or a question mark before the end: something is asked
    words = _WORD.findall(text.lower().replace("\u2019", "'"))
    if not words or len(words) > _MAX_WORDS or any(c.isdigit() for c in text):
        return None
    read = {language: kinds for language in LANGUAGES
            if (kinds := _kinds(words, language)) is not None}
    if not read:
        return None
    return SmallTalk(frozenset().union(*read.values()), tuple(read))
