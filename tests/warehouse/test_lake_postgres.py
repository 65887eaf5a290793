"""A PostgreSQL URL becomes a DuckLake catalog: conversion, quoting, secrets, a real server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pytest
from sqlglot import exp

from schemas.errors import ConfigError
from schemas.settings import Settings
from tests.warehouse import test_load_support as S
from warehouse.lake import (
    attach,
    attach_statement,
    ducklake_target,
    init_lake,
    postgres_conninfo,
    postgres_password,
    redact,
)
from warehouse.load import load_batch
from warehouse.status import lake_status

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.mark.parametrize(
    ("url", "conninfo"),
    [
        (
            "postgresql://lake:secret@db.gov.cn:5432/citybrain",
            "dbname=citybrain host=db.gov.cn port=5432 user=lake password=secret",
        ),
        ("postgres://db/citybrain", "dbname=citybrain host=db"),
        # Percent-escapes decoded; a value with a space or quote quoted the libpq way.
        (
            "postgresql://lake:it%27s%20a%20p%40ss@db/city%20lake",
            "dbname='city lake' host=db user=lake password='it\\'s a p@ss'",
        ),
        # A backslash is escaped inside quotes.
        ("postgresql://u:a%5Cb%20c@db/x", "dbname=x host=db user=u password='a\\\\b c'"),
        # IPv6 literal and several hosts (libpq failover).
        ("postgresql://u@[2001:db8::1]:6432/x", "dbname=x host=2001:db8::1 port=6432 user=u"),
        (
            "postgresql://u@pg1:5432,pg2:5433/x?target_session_attrs=read-write",
            "dbname=x host=pg1,pg2 port=5432,5433 user=u target_session_attrs=read-write",
        ),
        # Query parameters pass through; "+" is not a space for libpq.
        (
            "postgresql://u@db/x?sslmode=verify-full&application_name=city+brain",
            "dbname=x host=db user=u sslmode=verify-full application_name=city+brain",
        ),
        # Unix socket directory given as a parameter; empty password kept (quoted).
        (
            "postgresql://u:@/x?host=%2Fvar%2Frun%2Fpostgresql",
            "dbname=x user=u password='' host=/var/run/postgresql",
        ),
    ],
)
def test_postgres_url_to_libpq_conninfo(url: str, conninfo: str) -> None:
    assert postgres_conninfo(url) == conninfo


@pytest.mark.parametrize(
    "url",
    ["postgresql://u@db:port/x", "postgresql://u@db/x?bad key=1", "postgresql:/db/x"],
)
def test_malformed_postgres_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="CITYBRAIN_LAKE_CATALOG"):
        postgres_conninfo(url)


def test_password_never_reaches_the_attach_statement() -> None:
    settings = Settings(lake_catalog="postgresql://lake:it%27s%20secret@db:5432/city")
    statement = attach_statement(settings).sql("duckdb")
    assert "secret" not in statement
    assert "META_SECRET 'citybrain_lake_catalog'" in statement
    assert ducklake_target(settings) == "ducklake:postgres:dbname=city host=db port=5432 user=lake"
    assert postgres_password(settings.catalog) == "it's secret"


def test_redact_hides_passwords_in_urls_and_conninfo() -> None:
    assert redact("postgresql://lake:p%40ss@db/x") == "postgresql://lake:***@db/x"
    assert "s3" not in redact("host=db password='it\\'s s3' user=u")


def test_conninfo_survives_the_sql_string_literal_unchanged() -> None:
    # The attach target is a SQL literal built by sqlglot: the libpq quoting inside must
    # reach DuckDB byte for byte.
    conninfo = postgres_conninfo("postgresql://u:it%27s%20a%5Cb@db/city%20lake")
    literal = exp.Literal.string(conninfo).sql("duckdb")
    assert duckdb.sql(f"SELECT {literal}").fetchone() == (conninfo,)


def test_other_url_schemes_are_refused() -> None:
    with pytest.raises(ConfigError, match="postgresql:// URL"):
        _ = Settings(lake_catalog="mysql://u@db/x").catalog_kind


# --- a real server (integration) -----------------------------------------------------------

PG_BIN = Path("/usr/lib/postgresql")


def _pg_tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(PG_BIN.glob(f"*/bin/{name}"))
    return str(candidates[-1]) if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL on loopback with a password user; skipped without binaries."""
    initdb, pg_ctl = _pg_tool("initdb"), _pg_tool("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL server binaries are not installed")
    # PostgreSQL refuses to run as root: run it as the postgres user when we are root.
    prefix: list[str] = []
    if os.geteuid() == 0:
        if not shutil.which("runuser"):
            pytest.skip("running as root without runuser")
        prefix = ["runuser", "-u", "postgres", "--"]
    # Not under tmp_path: pytest makes that 0700 for root, out of the postgres user's reach.
    root = Path(tempfile.mkdtemp(prefix="citybrain-pg-"))
    password_file = root / "pw"
    password_file.write_text("it's a p@ss\n")
    if prefix:
        for path in (root, password_file):
            shutil.chown(path, "postgres")
    data = root / "data"
    port = _free_port()
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
    try:
        subprocess.run(
            [*prefix, initdb, "-D", str(data), "-U", "lake", f"--pwfile={password_file}",
             "--auth=scram-sha-256", "-E", "UTF8"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w",
             "start"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        # The password needs percent-escapes in the URL and quoting in the conninfo.
        yield f"postgresql://lake:it%27s%20a%20p%40ss@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.integration
@pytest.mark.slow
def test_lake_with_a_postgres_catalog(postgres_url: str, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", lake_catalog=postgres_url, lake_data_path=None)
    first = init_lake(settings)
    second = init_lake(settings)
    status = lake_status(settings)
    assert first.changed
    assert not second.changed
    assert status.initialised
    assert status.catalog_kind == "postgres"
    assert "p%40ss" not in status.catalog
    assert status.snapshots == 2
    # The password lives in a redacted secret, not in what SQL users can list.
    con = attach(settings, read_only=True)
    paths = con.execute("SELECT path FROM duckdb_databases()").fetchall()
    secrets = con.execute("SELECT secret_string FROM duckdb_secrets()").fetchall()
    con.close()
    assert "p@ss" not in str(paths)
    assert "p@ss" not in str(secrets)

    # Loads commit through the PostgreSQL catalog: new versions registered as files in
    # core and history, an update closing the old version.
    staging = tmp_path / "staged"
    first_load = load_batch(settings, S.stage(staging, "pg1", S.persons(range(3))))
    update = S.persons([1], name="李四", updated=datetime(2026, 2, 1))
    second_load = load_batch(settings, S.stage(staging, "pg2", update))
    assert (first_load.rows_inserted, second_load.rows_updated) == (3, 1)
    state = S.lake_state(settings)
    assert state["core.person"]["name"].to_list() == ["张三", "李四", "张三"]
    assert state["core.person_history"].height == 4
