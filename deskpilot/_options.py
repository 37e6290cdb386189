"""Options models: the base of every settings section, connector and plugin options model.

A value written as `"env:NAME"` in the config file is read from the environment variable NAME
when the options are validated, so the file itself can be committed; declare such fields as
`SecretStr` and they print as `**********`.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator


def resolve_secret(value: Any) -> Any:
    """`"env:NAME"` → the value of $NAME (an unset variable is a configuration error)."""
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    if isinstance(raw, str) and raw.startswith("env:"):
        name = raw[4:]
        if name not in os.environ:
            raise ValueError(f"refers to environment variable {name}, which is not set")
        return os.environ[name]
    return value


class Options(BaseModel):
    """Keys of one config table. Unknown keys are errors; `"env:NAME"` values are resolved."""

    model_config = ConfigDict(extra="forbid")

    _resolve_secrets = field_validator("*", mode="before")(resolve_secret)
