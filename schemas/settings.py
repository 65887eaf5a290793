"""The one configuration object: ``CITYBRAIN_*`` environment variables, read at run time.

Never read at import or DAG-parse time: call :func:`get_settings` inside the function that
needs a value, so a changed environment takes effect on the next task run.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.errors import ConfigError


def _default_home() -> Path:
    # lake.md: everything written at run time lives under CITYBRAIN_HOME, by default
    # `.citybrain/` in the repository (the folder holding pyproject.toml).
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").exists():
        return here / ".citybrain"
    return Path.cwd() / ".citybrain"


class Settings(BaseSettings):
    """Every setting citybrain reads. Each maps to ``CITYBRAIN_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="CITYBRAIN_", extra="ignore", frozen=True)

    home: Path = Field(
        default_factory=_default_home, description="Root of everything citybrain writes."
    )
    lake_catalog: str | None = Field(
        default=None,
        description=(
            "DuckLake catalog: a SQLite file path (default $CITYBRAIN_HOME/lake/catalog.sqlite) "
            "or a PostgreSQL URL (postgresql://user:pass@host:5432/db)."
        ),
    )
    lake_data_path: str | None = Field(
        default=None,
        description="Where the lake's Parquet files live: a folder or an s3:// URL "
        "(default $CITYBRAIN_HOME/lake/data/).",
    )
    lake_name: str = Field(default="lake", description="Name the lake is attached under.")
    person_key: SecretStr | None = Field(
        default=None,
        description="HMAC key for person_key. If unset, a random key is created once in "
        "$CITYBRAIN_HOME/secrets/person_key (mode 0600) and read from there.",
    )
    security_level_overrides: dict[str, str] = Field(
        default_factory=dict,
        description="Per-column GB/T 43697 grade overrides, e.g. "
        '{"core.person.phone": "important"} (the legal team decides grades).',
    )

    @property
    def lake_dir(self) -> Path:
        return self.home / "lake"

    @property
    def catalog(self) -> str:
        return self.lake_catalog or str(self.lake_dir / "catalog.sqlite")

    @property
    def data_path(self) -> str:
        return self.lake_data_path or str(self.lake_dir / "data") + "/"

    @property
    def catalog_kind(self) -> str:
        """``sqlite`` or ``postgres``, judged from :attr:`catalog`."""
        cat = self.catalog
        if cat.startswith(("postgres://", "postgresql://")):
            return "postgres"
        if "://" in cat:
            raise ConfigError(
                "CITYBRAIN_LAKE_CATALOG", cat, "a SQLite file path or a postgresql:// URL"
            )
        return "sqlite"


def get_settings() -> Settings:
    """Read the settings now (from the environment); cheap enough to call per task."""
    return Settings()
