"""lake_status and the `citybrain lake` / `citybrain catalog` commands."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

import polars as pl
import pytest
from rich.console import Console
from typer.testing import CliRunner

from citybrain import lake_cli
from schemas.generate import polars_schema
from schemas.records import TABLES, table
from warehouse.frames import insert_frame
from warehouse.lake import attach, init_lake
from warehouse.retry import transaction
from warehouse.status import lake_status

if TYPE_CHECKING:
    from schemas.settings import Settings

runner = CliRunner()


def test_status_of_an_empty_home_says_not_initialised_and_creates_nothing(
    settings: Settings,
) -> None:
    status = lake_status(settings)
    assert not status.initialised
    assert status.tables == ()
    assert "core.person" in status.missing_tables
    assert "not initialised" in status.summary
    assert "citybrain lake init" in status.summary
    assert not settings.home.exists()  # a status never creates a lake


def test_status_after_init_and_a_load(settings: Settings) -> None:
    init_lake(settings)
    model = table("meta.watermarks")
    # 100 rows: DuckLake 1.0 keeps a handful of rows inlined in the catalog, not in a file.
    frame = pl.DataFrame(
        {
            "feed": [f"feed{i}" for i in range(100)],
            "cursor_field": ["GXSJ"] * 100,
            "cursor_value": ["2026-11-01 00:00:00"] * 100,
            "batch_id": ["b1"] * 100,
            "updated_at": [dt.datetime(2026, 11, 2)] * 100,
            "resource": ["persons"] * 100,
        },
        schema=polars_schema(model),
    )
    con = attach(settings)
    with transaction(con):
        insert_frame(con, model, frame)
    con.close()

    status = lake_status(settings)
    rows = {t.name: t.rows for t in status.tables}
    assert status.initialised
    assert status.missing_tables == ()
    assert rows["meta.watermarks"] == 100
    assert rows["core.person"] == 0
    expected = sum(2 if m.__history__ else 1 for m in TABLES)
    assert len(status.tables) == expected
    assert {t.label for t in status.tables if t.name == "meta.watermarks"} == {"增量水位"}
    assert status.snapshots == 3  # catalog created, init, the insert
    assert status.latest_snapshot_id == 2
    assert status.latest_snapshot_at is not None
    assert status.data_files == 1
    assert status.data_bytes > 0
    assert status.data_path == str(settings.home.resolve() / "lake" / "data") + "/"
    assert f"{expected} tables and 100 rows in 1 data files" in status.summary


def test_status_reports_tables_outside_the_standard_and_missing_ones(settings: Settings) -> None:
    init_lake(settings, [table("meta.watermarks")])
    status = lake_status(settings)
    assert not status.initialised
    assert "core.person" in status.missing_tables
    assert "not initialised completely" in status.summary


def test_cli_status_on_an_empty_home(settings: Settings) -> None:
    result = runner.invoke(lake_cli.app, ["status"])
    assert result.exit_code == 0, result.output
    assert "not initialised" in result.output
    assert "citybrain lake init" in result.output
    assert "make demo" in result.output


def test_cli_init_then_status(settings: Settings) -> None:
    first = runner.invoke(lake_cli.app, ["init"])
    assert first.exit_code == 0, first.output
    assert "Created schemas: core, mart, meta" in first.output
    assert "core.person_history" in first.output

    again = runner.invoke(lake_cli.app, ["init"])
    assert again.exit_code == 0, again.output
    assert "already matches the data standard" in again.output

    status = runner.invoke(lake_cli.app, ["status"])
    assert status.exit_code == 0, status.output
    assert "人口基础信息" in status.output
    assert "Snapshots" in status.output

    as_json = runner.invoke(lake_cli.app, ["status", "--json"])
    assert json.loads(as_json.output)["initialised"] is True


def test_cli_init_reports_a_bad_catalog_setting_plainly(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYBRAIN_LAKE_CATALOG", "mysql://lake@db/city")
    result = runner.invoke(lake_cli.app, ["init"])
    assert result.exit_code == 1
    assert "CITYBRAIN_LAKE_CATALOG" in result.output
    assert "Traceback" not in result.output


def test_catalog_markdown_lists_every_table(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    lake_cli.catalog_command("markdown")
    out = capsys.readouterr().out
    for model in TABLES:
        assert f"## {model.__table__} — {model.__label__}" in out


@pytest.mark.parametrize("width", [80, 200])
def test_catalog_table_for_one_table_is_readable(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    width: int,
) -> None:
    monkeypatch.setattr(lake_cli, "console", Console(width=width))
    lake_cli.catalog_command("table", "core.person")
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= width
    # Names and labels are never cut, whatever the width.
    for name, label in [("id_number", "公民身份号码"), ("residence_street_code", "居住地街道代码")]:
        assert f" {name} " in out
        assert label in out
    assert "core.legal_entity" not in out
    assert ("Keyed HMAC-SHA256" in out) is (width >= 170)


def test_catalog_honours_security_level_overrides(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CITYBRAIN_SECURITY_LEVEL_OVERRIDES", '{"core.person.phone": "important"}')
    lake_cli.catalog_command("markdown", "core.person")
    phone = next(line for line in capsys.readouterr().out.splitlines() if "`phone`" in line)
    assert "| important |" in phone


@pytest.mark.parametrize(("fmt", "name"), [("xml", None), ("table", "core.nope")])
def test_catalog_rejects_unknown_format_or_table(fmt: str, name: str | None) -> None:
    import typer

    with pytest.raises(typer.Exit) as caught:
        lake_cli.catalog_command(fmt, name)
    assert caught.value.exit_code == 2
