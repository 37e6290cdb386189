"""Deskpilot settings: one TOML file, `DESKPILOT_…` environment overrides, secrets by reference.

Precedence, highest first: environment (`DESKPILOT_SERVER__PORT=9000`, nested keys joined by
`__`), then the TOML file (`--config PATH` or `DESKPILOT_CONFIG`), then the defaults below.
Every field here is documented, with its default, in `config.example.toml`.

A secret may be written in the file as `"env:NAME"`: it is read from the environment variable
NAME at load time, so the file itself can be committed. Secrets are `SecretStr` and print as
`**********`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_ENV = "DESKPILOT_CONFIG"
_SECRET_KEY = re.compile(r"token|secret|password|api_key|apikey", re.IGNORECASE)


class ConfigError(Exception):
    """A configuration problem a user can fix; its message is one line naming file and key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _resolve_secret(value: Any) -> Any:
    """`"env:NAME"` → the value of $NAME (an unset variable is a configuration error)."""
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    if isinstance(raw, str) and raw.startswith("env:"):
        name = raw[4:]
        if name not in os.environ:
            raise ValueError(f"refers to environment variable {name}, which is not set")
        return os.environ[name]
    return value


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    admin_token: SecretStr | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "text"] = "text"

    _secret = field_validator("admin_token", mode="before")(_resolve_secret)


class DatabaseSettings(_Section):
    # Empty means SQLite at <data_dir>/deskpilot.db.
    url: SecretStr | None = None

    _secret = field_validator("url", mode="before")(_resolve_secret)


class IndexSettings(_Section):
    backend: Literal["embedded", "qdrant"] = "embedded"
    # Only for backend = "qdrant": a server URL, or ":memory:"/a path for qdrant-client local mode.
    url: str | None = None
    api_key: SecretStr | None = None
    collection: str = "deskpilot"

    _secret = field_validator("api_key", mode="before")(_resolve_secret)


class EmbedderSettings(_Section):
    name: str = "local"
    model: str | None = None
    batch_size: int = Field(64, ge=1)
    api_key: SecretStr | None = None
    base_url: str | None = None

    _secret = field_validator("api_key", mode="before")(_resolve_secret)


class PluginSettings(_Section):
    # Plugin names as listed by `deskpilot plugins`. An empty allow list allows everything.
    allow: list[str] = []
    deny: list[str] = []


class ConnectorSettings(BaseModel):
    """One configured helpdesk source. Keys other than these are the connector's own options
    and are validated by the connector class itself."""

    model_config = ConfigDict(extra="allow")

    type: str
    enabled: bool = True
    # Sync schedule: an interval in seconds, or a crontab expression in `cron`.
    interval_seconds: int | None = Field(None, ge=10)
    cron: str | None = None

    @model_validator(mode="after")
    def _one_schedule(self) -> ConnectorSettings:
        if self.interval_seconds is not None and self.cron is not None:
            raise ValueError("set either interval_seconds or cron, not both")
        extra = self.model_extra or {}
        for key, value in list(extra.items()):
            value = _resolve_secret(value)
            # Connector options are free-form: keep the secret-looking ones out of any output.
            if _SECRET_KEY.search(key) and isinstance(value, str):
                value = SecretStr(value)
            extra[key] = value
        return self

    def options(self) -> dict[str, Any]:
        """The connector's own options, secrets unwrapped, for its Options model."""
        return {
            key: value.get_secret_value() if isinstance(value, SecretStr) else value
            for key, value in (self.model_extra or {}).items()
        }


class AgentSettings(_Section):
    provider: Literal["offline", "openai", "openai-compatible"] = "offline"
    model: str = "gpt-4.1-mini"
    base_url: str | None = None
    api_key: SecretStr | None = None
    name: str = "Deskpilot"
    instructions: str = (
        "You are a friendly support agent for {company}. Answer only from the knowledge "
        "returned by your tools and cite its sources. If the knowledge does not answer the "
        "question, say so and offer to hand over to a person."
    )
    company: str = "Acme Cloud"

    _secret = field_validator("api_key", mode="before")(_resolve_secret)


class AutomationSettings(_Section):
    """What a helpdesk webhook (ticket created/updated) sets off, in this order."""

    triage: bool = True
    tags: bool = True
    # Propose tags and record what would be written, without writing them.
    tag_dry_run: bool = False
    # Post a cited reply draft as an internal note (the copilot plugin).
    draft_note: bool = True
    # Triage abstains (routes to a person) below a confidence threshold set on the training
    # tickets: the share of tickets it gets right that it may still route to a person.
    triage_max_missed: float = Field(0.02, ge=0, lt=1)
    # Delivery records (replay protection, outcome) are deleted after this many days; 0 keeps
    # them. Helpdesks retry a delivery for hours, not weeks.
    webhook_retention_days: int = Field(30, ge=0)


class ChatSettings(_Section):
    allow_anonymous: bool = True
    # HMAC secret shared with the host site for signed user tokens.
    identity_secret: SecretStr | None = None
    max_attachment_bytes: int = Field(5_000_000, ge=0)
    allowed_attachment_types: list[str] = [
        "image/png", "image/jpeg", "application/pdf", "text/plain"
    ]
    # Agent runs at once per server; further turns wait after their first events are sent.
    max_concurrent_turns: int = Field(4, ge=1)

    _secret = field_validator("identity_secret", mode="before")(_resolve_secret)


class EscalationSettings(_Section):
    # The connector that receives escalated conversations as tickets. Unset: the first
    # configured connector that can create tickets.
    connector: str | None = None


def default_connectors() -> dict[str, ConnectorSettings]:
    return {"demo": ConnectorSettings(type="local", interval_seconds=3600)}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DESKPILOT_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    data_dir: Path = Path(".deskpilot")
    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    index: IndexSettings = IndexSettings()
    embedder: EmbedderSettings = EmbedderSettings()
    plugins: PluginSettings = PluginSettings()
    agent: AgentSettings = AgentSettings()
    chat: ChatSettings = ChatSettings()
    automation: AutomationSettings = AutomationSettings()
    escalation: EscalationSettings = EscalationSettings()
    connectors: dict[str, ConnectorSettings] = Field(default_factory=default_connectors)

    # Set by load_settings; not a setting itself.
    _source: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_file = _TOML_FILE.get("path")
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @property
    def source(self) -> Path | None:
        return self._source

    @property
    def database_url(self) -> str:
        if self.database.url is not None:
            return self.database.url.get_secret_value()
        return f"sqlite:///{(self.data_dir / 'deskpilot.db').resolve()}"

    def redacted(self) -> dict[str, Any]:
        """The effective config as plain data, secrets replaced by `**********`."""
        return self.model_dump(mode="json")


# The TOML path for the settings being built; pydantic-settings asks for sources on the class.
_TOML_FILE: dict[str, Path | None] = {"path": None}


def _describe(error: dict[str, Any]) -> str:
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown setting"
    if error["type"] == "missing":
        return f"{key}: required setting is missing"
    return f"{key}: {error['msg']}"


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Load settings from `path` (or $DESKPILOT_CONFIG), environment and defaults.

    Raises ConfigError with one line naming the file and the offending key.
    """
    if path is None and os.environ.get(CONFIG_ENV):
        path = os.environ[CONFIG_ENV]
    where = str(path) if path is not None else "environment"
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        import tomllib

        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    _TOML_FILE["path"] = path
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        errors = exc.errors()
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(f"{where}: {_describe(errors[0])}{more}") from None
    finally:
        _TOML_FILE["path"] = None
    settings._source = path
    return settings
