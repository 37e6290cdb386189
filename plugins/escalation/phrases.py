"""What a hand-over hears and says, in the customer's language.

Heard: a request for a person in English, German, French, Spanish, Italian, Dutch or
Portuguese (the widget's button sends one in its UI language; the offline model's "I can only
answer in English" notice tells the customer what to type in theirs). Said: the hand-over's
own messages in those same seven languages, so whoever is heard is answered in theirs; any
other language gets English. The language is the customer's latest message that
`deskpilot.language` calls with confidence (an email address or "skip" says nothing), so the
answer to the email question comes in the language the person was asked for in. The email
checker explains a bad address in English only: only the English message quotes it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from babel import Locale
from babel.dates import format_datetime, get_day_names
from babel.lists import format_list

from deskpilot.language import DECLINE, NO, YES, SmallTalk, detect, small_talk

from .settings import DAYS

# An explicit request for a person, in the customer's own words (not a question about people).
_PERSON_DE = r"(mensch(en)?|person|mitarbeiter(in)?|berater(in)?|ansprechpartner(in)?|jemandem)"
_PERSON_NL = r"(een )?(mens|persoon|medewerker|iemand)"
_ASKS_FOR_PERSON = re.compile("|".join((
    # en
    r"\b(talk|speak|chat|connect me|put me through)\b.{0,20}\b(person|human|agent|someone|"
    r"representative|somebody|staff|operator)\b|\b(human|real person|live agent),? please\b",
    # de: "mit einem Menschen sprechen", "sprechen mit einer Person", "Mensch, bitte"
    rf"\bmit\b.{{0,25}}\b{_PERSON_DE}\b.{{0,20}}\b(sprechen|reden|chatten|verbunden)\b",
    rf"\b(sprechen|reden|chatten|verbinden Sie mich)\b.{{0,10}}\bmit\b.{{0,25}}\b{_PERSON_DE}\b",
    r"\b(mensch|mitarbeiter|echte person),? bitte\b",
    # fr
    r"\b(parler|discuter)\b.{0,10}\b(à|a|avec)\b.{0,15}\b(une? )?(personne|humain|"
    r"conseill(er|ère)|agent|opérat(eur|rice)|quelqu'un)\b",
    # es
    r"\b(hablar|chatear)\b.{0,10}\bcon\b.{0,15}\b(una persona|un humano|un agente|alguien|"
    r"una? asesora?|una? operadora?)\b",
    # it
    r"\b(parlare|chattare)\b.{0,10}\bcon\b.{0,15}\b(una persona|un operatore|un'operatrice|"
    r"un umano|qualcuno|un agente|un consulente)\b",
    # nl
    rf"\b(praten|spreken|chatten)\b.{{0,10}}\bmet\b.{{0,15}}\b{_PERSON_NL}\b",
    rf"\bmet\b.{{0,15}}\b{_PERSON_NL}\b.{{0,15}}\b(praten|spreken|chatten)\b",
    # pt
    r"\b(falar|conversar)\b.{0,10}\bcom\b.{0,15}\b(uma pessoa|um humano|uma? atendente|"
    r"alguém|um agente)\b",
)), re.IGNORECASE)
_NEGATED = re.compile("|".join((
    r"\b(don't|do not|no need to|not)\b.{0,12}\b(talk|speak|chat)\b",
    r"\b(nicht|kein\w*)\b.{0,35}\b(sprechen|reden|chatten)\b",
    r"\bpas\b.{0,15}\b(parler|discuter)\b",
    r"\bno\b.{0,15}\b(hablar|chatear)\b",
    r"\bnon\b.{0,15}\b(parlare|chattare)\b",
    r"\b(niet|geen)\b.{0,30}\b(praten|spreken|chatten)\b",
    r"\bnão\b.{0,15}\b(falar|conversar)\b",
)), re.IGNORECASE)

# Words that leave a request for a person with no question of its own ("Hi, can I please...").
_COURTESY_WORDS = {
    "en": "i i'd id i'm would like want wanna to can could may please let me a an the with hi "
          "hello hey now just need you ok okay thanks thank yes",
    "de": "ich möchte möchten würde würden gerne gern bitte hallo kann könnte darf will jetzt "
          "danke ja guten tag einem einer",
    "fr": "je j'aimerais voudrais veux souhaite bonjour s'il vous plaît merci pourrais puis "
          "peux oui",
    "es": "quiero quisiera me gustaría por favor hola puedo podría gracias sí",
    "it": "vorrei voglio posso per favore ciao salve grazie",
    "nl": "ik wil graag alstublieft alsjeblieft kan mag dank u ja",
    "pt": "eu quero gostaria de olá posso obrigado obrigada sim",
}
_COURTESY = frozenset(word for words in _COURTESY_WORDS.values() for word in words.split())

# "Go on without an email address", as each language's question offers it; a plain no or a
# "no thanks" (small talk, read in every language) says the same (`skips_email`).
_SKIP = re.compile(r"^\W*(skip|no email|none|überspringen|ohne|passer|sans|omitir|saltar|sin|"
                   r"salta|senza|overslaan|zonder|pular|sem)\W*$", re.IGNORECASE)


# The assistant's message offered a person: as a question ("Would you like me to hand you
# over to a person?"), which a yes accepts, or on a condition ("Did that answer your question?
# If not, I can hand you over to a person."), which a no accepts. A "no thanks" (DECLINE) turns
# either down. The offline model's offers
# in its seven languages, and an LLM's in its own words alike.
_SOMEONE = (r"(person|human|agent|someone|somebody|colleague|representative|mensch\w*|"
            r"mitarbeiter\w*|kolleg\w*|personne|conseill\w+|quelqu'un|persona|humano|umano|"
            r"operat\w+|medewerker|iemand|pessoa|atendente|alguém|alguien|qualcuno)")
_WOULD_YOU = (r"(would you|do you want|shall i|should i|can i|may i|want me|like me|"
              r"möchten sie|wollen sie|soll ich|willst du|möchtest du|voulez|souhaitez|"
              r"aimeriez|quiere|desea|quieres|vuole|desidera|vuoi|wilt u|wil je|zal ik|"
              r"quer|deseja|gostaria)")
_OFFER_QUESTION = re.compile(rf"\b{_WOULD_YOU}\b[^.!?]*\b{_SOMEONE}\b[^.!?]*\?$", re.IGNORECASE)
_OFFER_IF_NOT = re.compile(
    r"\b(if not|otherwise|wenn nicht|ansonsten|sonst|sinon|si no|si non|altrimenti|zo niet|"
    rf"anders|se não|caso contrário)\b[^.!?]{{0,80}}\b{_SOMEONE}\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def accepts_offer(offer: str, reply: SmallTalk) -> bool:
    """Whether a bare yes or no (`reply`) takes up the person that `offer`, the assistant's
    last message, held out."""
    if DECLINE in reply.kinds:
        return False
    if YES in reply.kinds and NO not in reply.kinds:
        return any(_OFFER_QUESTION.search(sentence.strip())
                   for sentence in _SENTENCE_END.split(offer))
    if NO in reply.kinds and YES not in reply.kinds:
        return bool(_OFFER_IF_NOT.search(offer))
    return False


def skips_email(text: str) -> bool:
    """Whether a reply to the email question goes on without one: the question's skip word,
    or a no ("no thanks", "nope", "nein danke") rather than an address."""
    if _SKIP.match(text):
        return True
    reply = small_talk(text)
    return reply is not None and reply.kinds <= {NO, DECLINE}


def requested(text: str) -> bool:
    """Whether a customer's message asks for a person outright."""
    return bool(_ASKS_FOR_PERSON.search(text)) and not _NEGATED.search(text)


def only_requested(text: str) -> bool:
    """Whether the message asks for a person and says nothing else (no question of its own)."""
    if not requested(text):
        return False
    rest = _ASKS_FOR_PERSON.sub(" ", text).lower().replace("\u2019", "'")
    return all(word in _COURTESY for word in re.findall(r"[\w']+", rest))


MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "delivered": (
            "I've passed this conversation to our support team (reference {ref}), with "
            "everything you've told me, so you won't need to repeat yourself. A person will "
            "reply to you here as soon as possible; until they have finished, I'll stay out of "
            "this conversation."),
        "queued": (
            "I've saved your request for our support team. Our helpdesk is not reachable at "
            "this moment, so it will be passed on automatically as soon as it is, and a person "
            "will follow up with you here; you won't need to repeat yourself."),
        "unavailable": (
            "I'm sorry: handing this conversation to a person is not possible right now. "
            "Please contact our support team directly."),
        "ask_email": (
            "Before I pass you to a person: what email address can they reach you at? They "
            "will answer you here, and by email if you leave this page. (Say \"skip\" to go on "
            "without.)"),
        "bad_email": (
            "That does not look like an email address ({problem}). Please type it again, or "
            "say \"skip\" to go on without one."),
        "handed_back": (
            "I've passed your message to our support team again; a person will reply to you "
            "here."),
        "after_hours": (
            " Our team is available {days} {start}–{end} ({timezone}), so a person will reply "
            "from {opening}."),
    },
    "de": {
        "delivered": (
            "Ich habe diese Unterhaltung an unser Support-Team weitergegeben (Referenz {ref}), "
            "mit allem, was Sie mir geschrieben haben: Sie müssen nichts wiederholen. Ein Mensch "
            "antwortet Ihnen hier, so bald wie möglich; bis dahin halte ich mich aus dieser "
            "Unterhaltung heraus."),
        "queued": (
            "Ich habe Ihre Anfrage für unser Support-Team gespeichert. Unser Helpdesk ist "
            "gerade nicht erreichbar; sie wird automatisch weitergegeben, sobald er es wieder "
            "ist, und ein Mensch meldet sich hier bei Ihnen. Sie müssen nichts wiederholen."),
        "unavailable": (
            "Es tut mir leid: Die Übergabe an einen Menschen ist gerade nicht möglich. Bitte "
            "wenden Sie sich direkt an unser Support-Team."),
        "ask_email": (
            "Bevor ich Sie an einen Menschen weitergebe: Unter welcher E-Mail-Adresse erreicht "
            "man Sie? Die Antwort kommt hier und per E-Mail, falls Sie diese Seite verlassen. "
            "(Schreiben Sie „überspringen“, um ohne E-Mail-Adresse fortzufahren.)"),
        "bad_email": (
            "Das sieht nicht nach einer E-Mail-Adresse aus. Bitte geben Sie sie noch einmal "
            "ein, oder schreiben Sie „überspringen“, um ohne fortzufahren."),
        "handed_back": (
            "Ich habe Ihre Nachricht wieder an unser Support-Team weitergegeben; ein Mensch "
            "antwortet Ihnen hier."),
        "after_hours": (
            " Unser Team ist {days} von {start} bis {end} Uhr ({timezone}) erreichbar, ein "
            "Mensch antwortet Ihnen also ab {opening} Uhr."),
    },
    "fr": {
        "delivered": (
            "J'ai transmis cette conversation à notre équipe d'assistance (référence {ref}), "
            "avec tout ce que vous m'avez dit : vous n'aurez rien à répéter. Une personne vous "
            "répondra ici dès que possible ; d'ici là, je me retire de cette conversation."),
        "queued": (
            "J'ai enregistré votre demande pour notre équipe d'assistance. Notre service "
            "d'assistance n'est pas joignable pour le moment : elle lui sera transmise "
            "automatiquement dès qu'il le sera, et une personne vous répondra ici. Vous n'aurez "
            "rien à répéter."),
        "unavailable": (
            "Je suis désolé : il n'est pas possible de transmettre cette conversation à une "
            "personne pour le moment. Veuillez contacter directement notre équipe d'assistance."),
        "ask_email": (
            "Avant de vous mettre en relation avec une personne : à quelle adresse e-mail "
            "peut-on vous joindre ? La réponse arrivera ici, et par e-mail si vous quittez "
            "cette page. (Écrivez « passer » pour continuer sans adresse.)"),
        "bad_email": (
            "Cela ne ressemble pas à une adresse e-mail. Veuillez la saisir à nouveau, ou "
            "écrivez « passer » pour continuer sans adresse."),
        "handed_back": (
            "J'ai de nouveau transmis votre message à notre équipe d'assistance ; une personne "
            "vous répondra ici."),
        "after_hours": (
            " Notre équipe est disponible {days} de {start} à {end} ({timezone}) : une personne "
            "vous répondra à partir du {opening}."),
    },
    "es": {
        "delivered": (
            "He pasado esta conversación a nuestro equipo de soporte (referencia {ref}), con "
            "todo lo que me ha contado, así que no tendrá que repetir nada. Una persona le "
            "responderá aquí lo antes posible; hasta entonces, me mantendré al margen de esta "
            "conversación."),
        "queued": (
            "He guardado su solicitud para nuestro equipo de soporte. Nuestro servicio de "
            "ayuda no está disponible en este momento, así que se enviará automáticamente en "
            "cuanto lo esté, y una persona le responderá aquí; no tendrá que repetir nada."),
        "unavailable": (
            "Lo siento: ahora mismo no es posible pasar esta conversación a una persona. "
            "Póngase en contacto directamente con nuestro equipo de soporte."),
        "ask_email": (
            "Antes de pasarle con una persona: ¿en qué dirección de correo electrónico pueden "
            "contactarle? Le responderán aquí, y por correo si sale de esta página. (Escriba "
            "«omitir» para continuar sin ella.)"),
        "bad_email": (
            "Eso no parece una dirección de correo electrónico. Escríbala de nuevo, o escriba "
            "«omitir» para continuar sin ella."),
        "handed_back": (
            "He vuelto a pasar su mensaje a nuestro equipo de soporte; una persona le "
            "responderá aquí."),
        "after_hours": (
            " Nuestro equipo atiende {days} de {start} a {end} ({timezone}), así que una "
            "persona le responderá a partir del {opening}."),
    },
    "it": {
        "delivered": (
            "Ho passato questa conversazione al nostro team di assistenza (riferimento {ref}), "
            "con tutto quello che mi ha detto, quindi non dovrà ripetere nulla. Una persona le "
            "risponderà qui il prima possibile; fino ad allora resterò fuori da questa "
            "conversazione."),
        "queued": (
            "Ho salvato la sua richiesta per il nostro team di assistenza. Il nostro helpdesk "
            "non è raggiungibile in questo momento: la richiesta verrà inoltrata "
            "automaticamente appena lo sarà, e una persona le risponderà qui; non dovrà "
            "ripetere nulla."),
        "unavailable": (
            "Mi dispiace: in questo momento non è possibile passare questa conversazione a una "
            "persona. Contatti direttamente il nostro team di assistenza."),
        "ask_email": (
            "Prima di passarla a una persona: a quale indirizzo email la possono contattare? Le "
            "risponderanno qui, e per email se lascia questa pagina. (Scriva «salta» per "
            "continuare senza.)"),
        "bad_email": (
            "Non sembra un indirizzo email. Lo scriva di nuovo, oppure scriva «salta» per "
            "continuare senza."),
        "handed_back": (
            "Ho inoltrato di nuovo il suo messaggio al nostro team di assistenza; una persona "
            "le risponderà qui."),
        "after_hours": (
            " Il nostro team è disponibile {days} dalle {start} alle {end} ({timezone}), quindi "
            "una persona le risponderà a partire da {opening}."),
    },
    "nl": {
        "delivered": (
            "Ik heb dit gesprek doorgegeven aan ons supportteam (referentie {ref}), met alles "
            "wat u mij hebt verteld, dus u hoeft niets te herhalen. Een medewerker antwoordt u "
            "hier zo snel mogelijk; tot die tijd houd ik me buiten dit gesprek."),
        "queued": (
            "Ik heb uw verzoek voor ons supportteam opgeslagen. Onze helpdesk is op dit moment "
            "niet bereikbaar; zodra dat weer kan, wordt het automatisch doorgegeven en neemt "
            "een medewerker hier contact met u op. U hoeft niets te herhalen."),
        "unavailable": (
            "Het spijt me: dit gesprek doorgeven aan een medewerker is op dit moment niet "
            "mogelijk. Neem rechtstreeks contact op met ons supportteam."),
        "ask_email": (
            "Voordat ik u doorverbind met een medewerker: op welk e-mailadres kunnen we u "
            "bereiken? U krijgt hier antwoord, en per e-mail als u deze pagina verlaat. (Typ "
            "„overslaan” om zonder verder te gaan.)"),
        "bad_email": (
            "Dat lijkt geen e-mailadres. Typ het opnieuw, of typ „overslaan” om zonder verder "
            "te gaan."),
        "handed_back": (
            "Ik heb uw bericht opnieuw doorgegeven aan ons supportteam; een medewerker "
            "antwoordt u hier."),
        "after_hours": (
            " Ons team is bereikbaar op {days} van {start} tot {end} ({timezone}), dus een "
            "medewerker antwoordt u vanaf {opening}."),
    },
    "pt": {
        "delivered": (
            "Passei esta conversa para a nossa equipe de suporte (referência {ref}), com tudo o "
            "que você me contou, então você não precisará repetir nada. Uma pessoa vai "
            "responder aqui o mais rápido possível; até lá, ficarei fora desta conversa."),
        "queued": (
            "Guardei o seu pedido para a nossa equipe de suporte. O nosso helpdesk não está "
            "acessível neste momento; o pedido será encaminhado automaticamente assim que "
            "estiver, e uma pessoa vai responder aqui. Você não precisará repetir nada."),
        "unavailable": (
            "Desculpe: não é possível passar esta conversa para uma pessoa agora. Entre em "
            "contato diretamente com a nossa equipe de suporte."),
        "ask_email": (
            "Antes de passar você para uma pessoa: em qual endereço de e-mail podemos falar com "
            "você? A resposta virá aqui, e por e-mail se você sair desta página. (Escreva "
            "“pular” para continuar sem.)"),
        "bad_email": (
            "Isso não parece um endereço de e-mail. Digite-o novamente, ou escreva “pular” para "
            "continuar sem."),
        "handed_back": (
            "Passei a sua mensagem novamente para a nossa equipe de suporte; uma pessoa vai "
            "responder aqui."),
        "after_hours": (
            " A nossa equipe atende {days} das {start} às {end} ({timezone}), então uma pessoa "
            "vai responder a partir de {opening}."),
    },
}

# Days and dates as each language writes them (CLDR, through Babel); English the British way,
# day before month, as the hours are given on the 24-hour clock.
_LOCALES = {"en": "en_GB"}


def _locale(language: str) -> Locale:
    return Locale.parse(_LOCALES.get(language, language if language in MESSAGES else "en_GB"))


def say(key: str, language: str, **fields: str) -> str:
    """The hand-over's message `key` in `language` (English when it has none)."""
    return MESSAGES.get(language, MESSAGES["en"])[key].format(**fields)


def language_of(texts: Iterable[str]) -> str:
    """The language to answer in: that of the first text (newest first) detected with
    confidence, if the hand-over speaks it; else English."""
    for text in texts:
        if (found := detect(text)) is not None:
            return found if found in MESSAGES else "en"
    return "en"


def days(day_codes: list[str], language: str) -> str:
    """["mon", …, "fri"] -> "Mon–Fri" ("Mo–Fr" in German); days with gaps are listed
    ("Mon, Wed and Fri")."""
    locale = _locale(language)
    names = get_day_names("abbreviated", context="stand-alone", locale=locale)
    order = sorted(DAYS.index(day) for day in day_codes)  # 0 = Monday, as Babel counts
    listed = [names[i] for i in order]
    if len(listed) > 2 and order == list(range(order[0], order[-1] + 1)):
        return f"{listed[0]}–{listed[-1]}"
    return format_list(listed, locale=locale)


def moment(when: datetime, language: str) -> str:
    """"Monday 7 December, 09:00" ("Montag, 7. Dezember, 09:00" in German)."""
    locale = _locale(language)
    weekday_day_month = locale.datetime_skeletons["MMMMEd"].pattern.replace("E", "EEEE")
    return f"{format_datetime(when, weekday_day_month, locale=locale)}, {when:%H:%M}"
