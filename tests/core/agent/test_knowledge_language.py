"""`[agent] knowledge_language = "auto"`: the LLM is told to search in the language the synced
articles are written in (was: "English" whatever the help center, unless configured)."""

from __future__ import annotations

from pathlib import Path

from deskpilot.core.agent import build_customer_agent
from deskpilot.core.agent.language import corpus_language
from deskpilot.core.config import ConnectorSettings, Settings
from deskpilot.core.plugins import load_plugins
from deskpilot.core.services import Services

GERMAN = {
    "passwort": ("Passwort zurücksetzen", "Öffnen Sie die Anmeldeseite und wählen Sie "
                 "„Passwort vergessen“."),
    "rechnungen": ("Rechnungen herunterladen", "Alle Rechnungen finden Sie unter "
                   "Einstellungen und Abrechnung."),
    "domain": ("Eine eigene Domain verbinden", "Legen Sie bei Ihrem DNS-Anbieter einen "
               "CNAME-Eintrag an."),
}
ENGLISH = {
    "password": ("Reset your password", "Open the sign-in page and choose Forgot password."),
    "invoices": ("Download your invoices", "Every invoice is under Settings and Billing."),
}


def _write(folder: Path, articles: dict[str, tuple[str, str]]) -> None:
    for old in folder.glob("*.md"):
        old.unlink()
    for name, (title, text) in articles.items():
        (folder / f"{name}.md").write_text(f"# {title}\n\n{text}\n", encoding="utf-8")


def _services(tmp_path: Path, folder: Path, **agent: str) -> Services:
    settings = Settings(data_dir=tmp_path / "data", agent=agent, connectors={
        "kb": ConnectorSettings(type="local", path=str(folder))})
    services = Services(settings, load_plugins(settings.plugins))
    services.migrate()
    return services


def _searched_in(services: Services) -> str:
    instructions = build_customer_agent(services).instructions
    assert isinstance(instructions, str) and "{knowledge_language}" not in instructions
    return instructions.split("in the language it is written in (", 1)[1].split(")", 1)[0]


def test_the_knowledge_language_is_read_off_the_synced_articles(tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    _write(folder, GERMAN)  # Markdown names no locale: only the text says it is German
    services = _services(tmp_path, folder)
    try:
        assert _searched_in(services) == "English"  # nothing synced yet
        services.sync("kb")
        assert _searched_in(services) == "German"
        _write(folder, ENGLISH)  # the help center rewritten: the next sync reads it again
        services.sync("kb")
        assert _searched_in(services) == "English"
    finally:
        services.index.close()


def test_a_configured_knowledge_language_is_used_as_it_is(tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    _write(folder, GERMAN)
    services = _services(tmp_path, folder, knowledge_language="Swiss German")
    try:
        services.sync("kb")
        assert _searched_in(services) == "Swiss German"
    finally:
        services.index.close()


def test_the_corpus_language_is_the_most_titles_language_or_none() -> None:
    assert corpus_language([title for title, _ in GERMAN.values()]) == "de"
    assert corpus_language(["Reset your password", "Passwort zurücksetzen",
                            "Réinitialiser votre mot de passe"]) is None  # no majority
    assert corpus_language([]) is None
