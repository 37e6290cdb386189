"""Every UI language the widget ships says everything English says, with the same blanks: a
missing string would show "undefined" in that language only."""

from __future__ import annotations

import json
import re

from tests.conftest import REPO

WIDGET = (REPO / "core" / "widget" / "widget.js").read_text()


def _strings() -> dict[str, dict[str, str]]:
    start = WIDGET.index("var STRINGS = {")
    block = WIDGET[start:WIDGET.index("\n  };", start)]
    languages: dict[str, dict[str, str]] = {}
    for language, body in re.findall(r"\n    (\w+): \{\n(.*?)\n    \}", block, re.DOTALL):
        pairs = re.findall(r'^\s+(\w+): ("(?:[^"\\]|\\.)*")', body, re.MULTILINE)
        languages[language] = {key: json.loads(text) for key, text in pairs}
    return languages


def test_every_ui_language_has_every_string_with_the_same_blanks() -> None:
    strings = _strings()
    assert set(strings) == {"en", "de", "fr", "es", "it", "nl", "pt"}
    english = strings["en"]
    assert len(english) > 20
    for language, said in strings.items():
        assert set(said) == set(english), language
        for key, text in said.items():
            assert set(re.findall(r"\{\w+\}", text)) == set(re.findall(r"\{\w+\}", english[key])), \
                (language, key)
