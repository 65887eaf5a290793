"""DuckDB connections that never download anything (DESIGN.md decision 1).

Government networks reach the package registries and nothing else, so the extensions the
lake needs come from the PyPI wheels ``duckdb-extension-<name>`` pinned beside DuckDB, and
are loaded from the wheel's own file. DuckDB's auto-install and auto-load are switched
off, so a missing extension fails loudly here instead of trying the network, and the
signature check stays on: a tampered or unsigned file is refused.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import duckdb

from schemas.errors import LakeError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

Extension = Literal["ducklake", "sqlite_scanner", "spatial", "postgres_scanner"]

# extension name -> importable package of its wheel
WHEELS: dict[Extension, str] = {
    "ducklake": "duckdb_extension_ducklake",
    "sqlite_scanner": "duckdb_extension_sqlite_scanner",
    "spatial": "duckdb_extension_spatial",
    "postgres_scanner": "duckdb_extension_postgres_scanner",
}

OFFLINE_CONFIG: dict[str, Any] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    # Already DuckDB's default; stated so that nobody "fixes" a load error by flipping it.
    "allow_unsigned_extensions": False,
    "allow_community_extensions": False,
}


def extension_path(name: Extension) -> Path:
    """The ``.duckdb_extension`` file the installed wheel ships for this DuckDB version.

    >>> extension_path("ducklake").name
    'ducklake.duckdb_extension'
    """
    package = WHEELS[name]
    wheel = f"duckdb-extension-{name.replace('_', '-')}=={duckdb.__version__}"
    try:
        root = resources.files(package)
    except ModuleNotFoundError as exc:
        msg = (
            f"DuckDB extension {name}: the wheel {wheel} is not installed. It must come "
            "from the package registry with the project (`uv sync --locked`); DuckDB "
            "cannot download extensions here."
        )
        raise LakeError(msg) from exc
    path = Path(str(root / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"))
    if not path.is_file():
        shipped = sorted(p.name for p in (Path(str(root)) / "extensions").glob("v*"))
        msg = (
            f"DuckDB extension {name}: {path} is missing. DuckDB is {duckdb.__version__} "
            f"but the installed wheel ships {', '.join(shipped) or 'nothing'}; pin {wheel} "
            "in pyproject.toml and run `uv sync --locked`."
        )
        raise LakeError(msg)
    return path


def load_extension(con: duckdb.DuckDBPyConnection, name: Extension) -> None:
    """Load one extension into ``con`` from its wheel's file (signature checked)."""
    path = extension_path(name)
    try:
        con.load_extension(str(path))
    except duckdb.Error as exc:
        msg = f"DuckDB extension {name} could not be loaded from {path}: {exc}"
        raise LakeError(msg) from exc


def connect(
    database: str = ":memory:",
    *,
    extensions: Iterable[Extension] = ("ducklake",),
    config: Mapping[str, Any] | None = None,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with downloads off and ``extensions`` loaded from the wheels.

    Each extension costs 0.1-0.3 s to load (spatial the most), so callers ask only for
    what they use; :func:`warehouse.lake.attach` picks the catalog's scanner itself.

    >>> con = connect(extensions=())
    >>> con.sql("SELECT current_setting('autoinstall_known_extensions')").fetchone()
    (False,)
    """
    settings = {**OFFLINE_CONFIG, **(config or {})}
    for key, value in OFFLINE_CONFIG.items():
        if settings[key] != value:
            msg = f"DuckDB setting {key} must stay {value} (DESIGN.md decision 1)"
            raise LakeError(msg)
    con = duckdb.connect(database, config=settings)
    for name in dict.fromkeys(extensions):
        load_extension(con, name)
    return con


def loaded_extensions(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Names of the extensions loaded in ``con`` (built-ins included)."""
    from warehouse.sql import load_sql

    return {name for (name,) in con.execute(load_sql("loaded_extensions")).fetchall()}
