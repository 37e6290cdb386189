"""Which language a customer wrote in: py3langid (a packaged n-gram model, offline).

Only languages a help center is commonly written in are considered, and only a confident call
counts: on 1,383 English questions (stackfaq, smarttv, CLINC150 oos_val, the demo's) none was
taken for another language at MIN_CONFIDENCE, while "Wie setze ich mein Passwort zurück?" is
German at 0.9998.
"""

from __future__ import annotations

from functools import cache
from typing import Any

_LANGUAGE_CODES = "en de fr es it nl pt sv da no fi pl cs tr ru uk el ja zh ko ar he hi"
LANGUAGES = tuple(_LANGUAGE_CODES.split())
MIN_CONFIDENCE = 0.9

# What the offline model says when it cannot answer in the customer's language: in that
# language where known, followed by the English. Each names a request for a person in that
# language, which the escalation plugin hears (plugins/escalation/phrases.py).
CANNOT_ANSWER_IN = {
    "de": "Ich kann leider nur auf {kb} antworten: unser Hilfe-Center ist auf {kb} geschrieben. "
          "Möchten Sie mit einem Menschen sprechen? Schreiben Sie einfach „mit einem Menschen "
          "sprechen“.",
    "fr": "Je ne peux répondre qu'en {kb} : notre centre d'aide est rédigé en {kb}. Voulez-vous "
          "parler à une personne ? Écrivez simplement « parler à une personne ».",
    "es": "Solo puedo responder en {kb}: nuestro centro de ayuda está escrito en {kb}. ¿Quiere "
          "hablar con una persona? Escriba «hablar con una persona».",
    "it": "Posso rispondere solo in {kb}: il nostro centro assistenza è scritto in {kb}. Vuole "
          "parlare con una persona? Scriva «parlare con una persona».",
    "nl": "Ik kan alleen in het {kb} antwoorden: ons helpcentrum is in het {kb} geschreven. Wilt "
          "u met een medewerker praten? Typ \"praten met een medewerker\".",
    "pt": "Só consigo responder em {kb}: a nossa central de ajuda está escrita em {kb}. Quer "
          "falar com uma pessoa? Escreva \"falar com uma pessoa\".",
}
# The offline answer's own words, in the language it is written in (English where none):
# the hand-over offer when nothing convinces, the line under every answer, the citation label,
# and its replies to small talk (small_talk.py): a greeting, thanks, a "no", a goodbye.
OFFLINE_TEXTS = {
    "en": {"handover": "I'm not sure about that: I couldn't find an answer in our help center. "
                       "Would you like me to hand you over to a person? Just say \"talk to a "
                       "person\".",
           "closing": "Did that answer your question? If not, I can hand you over to a person.",
           "source": "Source",
           "greeting": "Hello! What can I help you with?",
           "welcome": "You're welcome! Is there anything else I can help you with?",
           "declined": "All right. Is there anything else I can help you with?",
           "goodbye": "Goodbye, and have a nice day!"},
    "de": {"handover": "Da bin ich mir nicht sicher: Ich habe in unserem Hilfe-Center keine "
                       "Antwort gefunden. Möchten Sie mit einem Menschen sprechen? Schreiben Sie "
                       "einfach „mit einem Menschen sprechen“.",
           "closing": "Hat das Ihre Frage beantwortet? Wenn nicht, kann ich Sie an einen "
                      "Menschen weitergeben.",
           "source": "Quelle",
           "greeting": "Hallo! Wobei kann ich Ihnen helfen?",
           "welcome": "Gern geschehen! Kann ich Ihnen sonst noch helfen?",
           "declined": "In Ordnung. Kann ich Ihnen sonst noch helfen?",
           "goodbye": "Auf Wiedersehen und einen schönen Tag!"},
    "fr": {"handover": "Je n'en suis pas sûr : je n'ai pas trouvé de réponse dans notre centre "
                       "d'aide. Voulez-vous parler à une personne ? Écrivez simplement « parler "
                       "à une personne ».",
           "closing": "Cela répond-il à votre question ? Sinon, je peux vous mettre en relation "
                      "avec une personne.",
           "source": "Source",
           "greeting": "Bonjour ! Comment puis-je vous aider ?",
           "welcome": "Avec plaisir ! Puis-je vous aider pour autre chose ?",
           "declined": "Très bien. Puis-je vous aider pour autre chose ?",
           "goodbye": "Au revoir et bonne journée !"},
    "es": {"handover": "No estoy seguro: no he encontrado una respuesta en nuestro centro de "
                       "ayuda. ¿Quiere hablar con una persona? Escriba «hablar con una persona».",
           "closing": "¿Ha respondido esto a su pregunta? Si no, puedo pasarle con una persona.",
           "source": "Fuente",
           "greeting": "¡Hola! ¿En qué puedo ayudarle?",
           "welcome": "¡De nada! ¿Puedo ayudarle en algo más?",
           "declined": "De acuerdo. ¿Puedo ayudarle en algo más?",
           "goodbye": "¡Adiós y que tenga un buen día!"},
    "it": {"handover": "Non ne sono sicuro: non ho trovato una risposta nel nostro centro "
                       "assistenza. Vuole parlare con una persona? Scriva «parlare con una "
                       "persona».",
           "closing": "Ho risposto alla sua domanda? Altrimenti posso passarla a una persona.",
           "source": "Fonte",
           "greeting": "Salve! Come posso aiutarla?",
           "welcome": "Prego! Posso aiutarla in qualcos'altro?",
           "declined": "Va bene. Posso aiutarla in qualcos'altro?",
           "goodbye": "Arrivederci e buona giornata!"},
    "nl": {"handover": "Daar ben ik niet zeker van: ik heb geen antwoord gevonden in ons "
                       "helpcentrum. Wilt u met een medewerker praten? Typ \"praten met een "
                       "medewerker\".",
           "closing": "Heeft dit uw vraag beantwoord? Zo niet, dan verbind ik u door met een "
                      "medewerker.",
           "source": "Bron",
           "greeting": "Hallo! Waarmee kan ik u helpen?",
           "welcome": "Graag gedaan! Kan ik u ergens anders mee helpen?",
           "declined": "Prima. Kan ik u ergens anders mee helpen?",
           "goodbye": "Tot ziens en nog een fijne dag!"},
    "pt": {"handover": "Não tenho certeza: não encontrei uma resposta na nossa central de "
                       "ajuda. Quer falar com uma pessoa? Escreva \"falar com uma pessoa\".",
           "closing": "Isso respondeu à sua pergunta? Se não, posso passar você para uma pessoa.",
           "source": "Fonte",
           "greeting": "Olá! Como posso ajudar você?",
           "welcome": "De nada! Posso ajudar você com mais alguma coisa?",
           "declined": "Tudo bem. Posso ajudar você com mais alguma coisa?",
           "goodbye": "Tchau e tenha um ótimo dia!"},
}


def offline_text(key: str, language: str | None) -> str:
    """OFFLINE_TEXTS[language][key], in English for a language it lacks."""
    return OFFLINE_TEXTS.get(language or "en", OFFLINE_TEXTS["en"])[key]


# The knowledge base's language as each of those languages names it (English is the default).
LANGUAGE_NAMES = {
    "en": {"de": "Englisch", "fr": "anglais", "es": "inglés", "it": "inglese",
           "nl": "Engels", "pt": "inglês", "en": "English"},
    "de": {"de": "Deutsch", "fr": "allemand", "es": "alemán", "it": "tedesco",
           "nl": "Duits", "pt": "alemão", "en": "German"},
}
# Each detectable language's English name: what the customer agent's instructions call the
# knowledge base's language (`[agent] knowledge_language = "auto"`).
ENGLISH_NAMES = {
    "en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian",
    "nl": "Dutch", "pt": "Portuguese", "sv": "Swedish", "da": "Danish", "no": "Norwegian",
    "fi": "Finnish", "pl": "Polish", "cs": "Czech", "tr": "Turkish", "ru": "Russian",
    "uk": "Ukrainian", "el": "Greek", "ja": "Japanese", "zh": "Chinese", "ko": "Korean",
    "ar": "Arabic", "he": "Hebrew", "hi": "Hindi",
}
ENGLISH_NOTICE = (
    "I can only answer in {kb}: our help center is written in {kb}. Would you like me to hand "
    "you over to a person? Just say \"talk to a person\"."
)


@cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def load() -> None:
    """Load the identifier now (~0.5 s of CPU, its model file decompressed): the first chat turn
    of a fresh server would otherwise pay it on the event loop, in front of every other turn."""
    _identifier()


def detect(text: str) -> str | None:
    """The text's language code when the call is confident, else None (too short, mixed)."""
    if len(text.split()) < 2:
        return None
    language, confidence = _identifier().classify(text)
    return str(language) if confidence >= MIN_CONFIDENCE else None


def corpus_language(titles: list[str]) -> str | None:
    """The language a help center is written in, read off its articles' titles: the language
    most titles are confidently in, if it is at least half of those calls (else None)."""
    calls = [found for title in titles if (found := detect(title))]
    if not calls:  # short titles, each too short to call: read them together
        return detect(". ".join(titles)) if titles else None
    language = max(set(calls), key=calls.count)
    return language if calls.count(language) * 2 >= len(calls) else None


def base_language(locale: str | None) -> str:
    """"en-GB" -> "en"."""
    return (locale or "en").replace("_", "-").split("-")[0].lower()


def cannot_answer_in(customer: str, knowledge: str) -> str:
    """The honest notice: only the knowledge base's language, and a person on offer."""
    names = LANGUAGE_NAMES.get(knowledge, {})
    english = ENGLISH_NOTICE.format(kb=names.get("en", knowledge))
    local = CANNOT_ANSWER_IN.get(customer)
    if local is None or customer not in names:
        return english
    return f"{local.format(kb=names[customer])}\n\n{english}"
