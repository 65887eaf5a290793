"""The governed SQL endpoint over real HTTP on loopback, its tokens, and `citybrain sql`."""

from __future__ import annotations

import json
import os
import stat
from contextlib import contextmanager
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from citybrain.cli import app as cli_app
from schemas.errors import AccessDenied
from tests.support import serving as _serving
from tests.warehouse.governed.conftest import ID_ZHANG, SECRETS, TIANHE, audit_row
from warehouse.governed import authenticate, issue_tokens
from warehouse.governed.tokens import token_file
from warehouse.serve.sql_routes import router

if TYPE_CHECKING:
    from collections.abc import Iterator

    import duckdb

    from schemas.settings import Settings


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The SQL router in a FastAPI app under uvicorn, in a thread, on 127.0.0.1."""
    api = FastAPI()
    api.state.settings = settings
    api.include_router(router)
    with _serving(api, lifespan=False) as url:
        yield url


@pytest.fixture(scope="module")
def tokens(lake: Settings) -> dict[str, str]:
    return issue_tokens(lake)


@pytest.fixture(scope="module")
def base_url(lake: Settings) -> Iterator[str]:
    with serving(lake) as url:
        yield url


def post(base_url: str, token: str | None, **body: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.post(f"{base_url}/api/sql", json=body, headers=headers, timeout=30)


def test_tokens_are_kept_as_hashes_only(lake: Settings, tokens: dict[str, str]) -> None:
    assert set(tokens) == {
        "demo_public",
        "demo_analyst",
        "demo_district_analyst",
        "demo_steward",
        "demo_admin",
    }
    path = token_file(lake)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    stored = path.read_text(encoding="utf-8")
    assert not any(token in stored for token in tokens.values())
    assert issue_tokens(lake) == {}  # issued once
    assert authenticate(tokens["demo_district_analyst"], lake).district_code == TIANHE
    with pytest.raises(AccessDenied, match="not valid"):
        authenticate(tokens["demo_analyst"] + "x", lake)


def test_analyst_over_http_gets_masked_json(base_url: str, tokens: dict[str, str]) -> None:
    response = post(
        base_url,
        tokens["demo_analyst"],
        sql="SELECT id_number, name, phone, birth_date FROM core.person ORDER BY phone DESC",
        max_rows=2,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["columns"] == ["id_number", "name", "phone", "birth_date"]
    assert body["rows"][1] == ["110105********002X", "张*", "138****1234", "1949-01-01"]
    assert body["masked_columns"] == ["id_number", "name", "phone", "birth_date"]
    assert body["truncated"] is True
    assert body["elapsed_ms"] > 0
    assert not any(secret in response.text for secret in SECRETS)


def test_steward_and_district_tokens_carry_their_role(
    base_url: str, tokens: dict[str, str]
) -> None:
    steward = post(
        base_url, tokens["demo_steward"], sql="SELECT id_number FROM person WHERE name = '张三'"
    )
    assert steward.json()["rows"] == [[ID_ZHANG]]
    district = post(
        base_url,
        tokens["demo_district_analyst"],
        sql="SELECT DISTINCT residence_region_code FROM core.person",
        dialect="postgres",
    )
    assert district.json()["rows"] == [[TIANHE]]


@pytest.mark.parametrize(
    ("token", "sql", "status", "reason"),
    [
        (None, "SELECT 1", 401, "auth.invalid_token"),
        ("not-a-token", "SELECT 1", 401, "auth.invalid_token"),
        ("demo_analyst", "SELECT * FROM meta.query_audit", 403, "table.not_allowed"),
        ("demo_public", "SELECT name FROM core.person", 403, "table.not_allowed"),
        ("demo_analyst", "SELECT * FROM read_csv('/etc/passwd')", 403, "table.function"),
        ("demo_analyst", "SELEC name FROM core.person", 400, "sql.parse"),
        ("demo_analyst", "SELECT nope FROM core.person", 400, "column.unknown"),
    ],
)
def test_refusals_have_a_status_a_reason_and_a_message(
    base_url: str,
    tokens: dict[str, str],
    audit_reader: duckdb.DuckDBPyConnection,
    token: str | None,
    sql: str,
    status: int,
    reason: str,
) -> None:
    response = post(base_url, tokens.get(token, token) if token else None, sql=sql)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["reason"] == reason
    assert body["message"]
    if status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"
    row = audit_row(audit_reader, sql=sql)
    assert row["allowed"] is False
    assert row["reason"].startswith(reason)


def test_rotating_a_token_retires_the_old_one(lake: Settings, tokens: dict[str, str]) -> None:
    new = issue_tokens(lake, rotate=["demo_admin"])
    assert set(new) == {"demo_admin"}
    assert authenticate(new["demo_admin"], lake).role == "admin"
    with pytest.raises(AccessDenied):
        authenticate(tokens["demo_admin"], lake)


@pytest.fixture
def cli_env(lake: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for key in list(os.environ):
        if key.startswith("CITYBRAIN_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("CITYBRAIN_HOME", str(lake.home))
    return CliRunner()


def test_cli_prints_masked_json_and_csv(cli_env: CliRunner) -> None:
    result = cli_env.invoke(
        cli_app, ["sql", "SELECT name, phone FROM core.person ORDER BY phone", "-f", "json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["rows"][0] == ["李*", "020-******21"]
    assert body["masked_columns"] == ["name", "phone"]
    csv_out = cli_env.invoke(
        cli_app,
        ["sql", "SELECT `name` FROM person ORDER BY 1 LIMIT 1", "--dialect", "mysql", "-f", "csv"],
    )
    assert csv_out.exit_code == 0, csv_out.output
    assert csv_out.output.splitlines() == ["name", "张*"]
    piped = cli_env.invoke(
        cli_app, ["sql", "-", "-f", "csv"], input="SELECT count(*) AS n\nFROM core.person\n"
    )
    assert piped.output.splitlines() == ["n", "3"]


def test_cli_table_marks_masked_columns_and_scopes_districts(cli_env: CliRunner) -> None:
    result = cli_env.invoke(
        cli_app,
        [
            "sql",
            "SELECT name, sex_code FROM core.person",
            "--role",
            "district_analyst",
            "-d",
            TIANHE,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "name *" in result.output
    assert "欧阳**" in result.output
    assert "李*" not in result.output
    assert "masked (*): name" in result.output


def test_cli_refusal_says_why_and_exits_non_zero(cli_env: CliRunner) -> None:
    result = cli_env.invoke(cli_app, ["sql", "SELECT getenv('HOME')"])
    assert result.exit_code == 2
    assert "function.not_allowed" in result.output
    denied = cli_env.invoke(cli_app, ["sql", "SELECT 1", "--role", "district_analyst"])
    assert denied.exit_code == 2
    assert "district code" in denied.output


def test_cli_tokens_shows_each_token_once(cli_env: CliRunner, lake: Settings) -> None:
    first = cli_env.invoke(cli_app, ["sql", "tokens", "--rotate", "demo_public"])
    assert first.exit_code == 0, first.output
    assert "cbq_" in first.output
    assert "demo_district_analyst" in first.output
    again = cli_env.invoke(cli_app, ["sql", "tokens"])
    assert "cbq_" not in again.output
    assert again.output.count("(issued 20") == 5
