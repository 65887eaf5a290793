"""The one configuration object: ``CITYBRAIN_*`` environment variables, read at run time.

Never read at import or DAG-parse time: call :func:`get_settings` inside the function that
needs a value, so a changed environment takes effect on the next task run.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.errors import ConfigError

# The demo city's feed server accepts exactly these (feeds/demo_city/server.py should import
# them from here: feeds may import schemas, not the reverse), so the demo runs with no set-up.
# They guard loopback test data only; a real deployment sets CITYBRAIN_POPULATION_TOKEN and
# CITYBRAIN_CREDIT_API_KEY.
DEMO_API_URL = "http://127.0.0.1:8765"
DEMO_POPULATION_TOKEN = "citybrain-demo-population-token"
DEMO_CREDIT_API_KEY = "citybrain-demo-credit-api-key"


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

    snapshot_retention_days: int = Field(
        default=30,
        ge=0,
        description="Maintenance expires lake snapshots older than this: time travel "
        "reaches back this many days.",
    )
    duckdb_memory_limit: str = Field(
        default="2GB",
        description="Memory DuckDB may use per lake connection before it spills to "
        "$CITYBRAIN_HOME/tmp/duckdb (a load of 5M persons stays under 4 GiB with it).",
    )

    # --- pull (feeds/connectors): sources, credentials, HTTP behaviour -----------------
    population_api_url: str = Field(
        default=DEMO_API_URL, description="Base URL of the population API (市公安局)."
    )
    population_token: SecretStr = Field(
        default=SecretStr(DEMO_POPULATION_TOKEN),
        description="Bearer token of the population API (the demo city's by default).",
    )
    credit_api_url: str = Field(
        default=DEMO_API_URL, description="Base URL of the social credit API (信用办)."
    )
    credit_api_key: SecretStr = Field(
        default=SecretStr(DEMO_CREDIT_API_KEY),
        description="X-Api-Key of the social credit API (the demo city's by default).",
    )
    drop_dir: Path = Field(
        # pydantic passes the fields validated so far, so this follows CITYBRAIN_HOME.
        default_factory=lambda data: Path(data["home"]) / "demo_city" / "deliveries",
        description="Exchange folder of the file drops, one sub-folder per feed "
        "(default $CITYBRAIN_HOME/demo_city/deliveries).",
    )
    authority_directory: Path = Field(
        # The credit office's folder of the exchange, where the demo city publishes it; a
        # missing file at this default means "no directory", a path set explicitly must exist.
        default_factory=lambda data: Path(data["drop_dir"]) / "credit" / "authorities.csv",
        description="CSV of the authorities that decide credit records (统一社会信用代码, "
        "机关名称, 曾用名, 行政区划代码), merged with the ones the lake has seen: older credit "
        "records name their authority only "
        "(default $CITYBRAIN_DROP_DIR/credit/authorities.csv).",
    )
    http_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Timeout of one HTTP request (connect, read)."
    )
    http_attempts: int = Field(
        default=5, ge=1, description="Attempts per API page before the pull gives up."
    )
    http_backoff_seconds: float = Field(
        default=1.0, ge=0, description="First retry delay; doubles per attempt, with jitter."
    )
    http_backoff_max_seconds: float = Field(
        default=30.0, ge=0, description="Longest delay between two attempts of a page."
    )
    http_retry_after_cap_seconds: float = Field(
        default=60.0,
        ge=0,
        description="Longest Retry-After honoured; a server asking for more is retried "
        "after this many seconds.",
    )

    # --- serve (warehouse/serve): the situation page and the HTTP endpoints --------------
    serve_port: int = Field(
        default=8600,
        ge=1,
        le=65535,
        description="Port of `citybrain serve` (situation page, /api/sql, /catalog) on 127.0.0.1.",
    )

    # --- governed SQL (warehouse/governed): roles, principals, tokens --------------------
    roles_file: Path | None = Field(
        default=None,
        description="TOML file of governed-SQL roles and principals; its entries replace "
        "the defaults of the same name in warehouse/governed/roles.toml (token hashes of "
        "real users go here, as token_sha256).",
    )

    @property
    def lake_dir(self) -> Path:
        return self.home / "lake"

    @property
    def raw_dir(self) -> Path:
        """The raw zone: every delivery as received (DESIGN.md decision 3)."""
        return self.home / "raw"

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
