"""Which messages are only small talk: whole messages of greeting, thanks, yes/no, goodbye."""

from __future__ import annotations

import pytest

from deskpilot.language import BYE, DECLINE, GREETING, NO, THANKS, YES, small_talk


@pytest.mark.parametrize(("text", "kinds", "language"), [
    ("hi", {GREETING}, "en"),
    ("Hello there!", {GREETING}, "en"),
    ("Yes, thank you so much!", {YES, THANKS}, "en"),
    ("ok thanks, bye", {YES, THANKS, BYE}, "en"),
    ("I don't think so", {NO}, "en"),
    ("Danke schön", {THANKS}, "de"),
    ("nein danke", {DECLINE}, "de"),
    ("No, thanks.", {DECLINE}, "en"),
    ("no it didn't, thanks", {NO, THANKS}, "en"),
    ("non merci", {DECLINE}, "fr"),
    ("merci beaucoup !", {THANKS}, "fr"),
    ("Sí, por favor", {YES}, "es"),
    ("grazie mille", {THANKS}, "it"),
    ("dank je wel", {THANKS}, "nl"),
    ("Obrigada!", {THANKS}, "pt"),
])
def test_small_talk_is_read_with_its_kinds_and_language(text: str, kinds: set[str],
                                                        language: str) -> None:
    chat = small_talk(text)
    assert chat is not None and chat.kinds == kinds and chat.language() == language


@pytest.mark.parametrize("text", [
    "hi, how do I reset my password?", "no, the link never arrives", "thanks? what about refunds",
    "ana@example.com", "order 12345", "tiger", "", "yes " * 9,
])
def test_anything_more_is_no_small_talk(text: str) -> None:
    assert small_talk(text) is None


def test_a_message_of_several_languages_takes_the_conversations() -> None:
    chat = small_talk("ok")
    assert chat is not None and chat.language() == "en" and chat.language("de") == "de"
    assert chat.language("sv") == "en"  # a language it is not in: the first
