"""Feed-field lineage from the FeedSpecs, meta.lineage refresh, and `citybrain catalog`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from citybrain import cli
from citybrain.lineage import feed_edges, record_lineage
from feeds.spec import FEEDS
from schemas.errors import LakeError
from schemas.generate import table_columns
from schemas.records import table
from schemas.settings import Settings
from warehouse.lake import attach, init_lake
from warehouse.lineage import mart_sql_files, read_lake_edges
from warehouse.sql import load_sql

if TYPE_CHECKING:
    pass

runner = CliRunner()


# --- department fields → core columns ------------------------------------------------------


@pytest.mark.parametrize("feed", sorted(FEEDS))
def test_every_field_of_every_feed_has_an_edge_naming_it(feed: str) -> None:
    spec = FEEDS[feed]
    edges = [e for e in feed_edges() if e.source_kind == "feed_field" and e.source_feed == feed]
    assert edges, f"no lineage for feed {feed}"
    expected = {
        (res.table, column, res.name, name, rank)
        for res in spec.resources
        for column, names in res.fields.items()
        for rank, name in enumerate(names)
    }
    found = {
        (e.target_table, e.target_column, e.source_resource, e.source_column, e.source_rank)
        for e in edges
    }
    assert found == expected
    for edge in edges:
        assert edge.target_column in table(edge.target_table).model_fields


def test_both_credit_generations_are_traced() -> None:
    names = {
        e.source_column: e.source_rank
        for e in feed_edges()
        if (e.target_table, e.target_column) == ("core.credit_penalty", "authority_code")
    }
    assert names == {"CF_CFJGDM": 0, "CF_XZJGDM": 1}


def test_every_derived_column_says_what_it_is_computed_from() -> None:
    derived = {
        (res.table, column): derivation
        for spec in FEEDS.values()
        for res in spec.resources
        for column, derivation in res.derived.items()
    }
    assert derived
    for (name, column), derivation in derived.items():
        assert derivation.how, f"{name}.{column}: say how it is derived"
        for source in derivation.sources:
            source_table, _, source_column = source.rpartition(".")
            columns = {c.name for c in table_columns(table(source_table or name))}
            assert source_column in columns, f"{name}.{column} derives from unknown {source}"
    edges = [
        e
        for e in feed_edges()
        if (e.target_table, e.target_column) == ("core.person", "person_key")
    ]
    assert [(e.source_table, e.source_column) for e in edges] == [("core.person", "id_number")]


# --- meta.lineage ----------------------------------------------------------------------------


def _snapshots(settings: Settings) -> int:
    con = attach(settings, read_only=True)
    try:
        return con.execute(load_sql("lake_snapshots"), {"lake": settings.lake_name}).fetchone()[0]
    finally:
        con.close()


@pytest.mark.slow
def test_record_lineage_replaces_the_table_and_a_second_run_changes_nothing(
    settings: Settings,
) -> None:
    with pytest.raises(LakeError, match="citybrain lake init"):
        record_lineage(settings)
    # A lake made before meta.lineage existed: the refresh creates the table.
    init_lake(settings, tables=[table("meta.batches")])
    first = record_lineage(settings)
    assert first.changed
    assert first.feed_field_edges == sum(
        len(names) for s in FEEDS.values() for r in s.resources for names in r.fields.values()
    )
    assert set(first.marts) == set(mart_sql_files())
    before = _snapshots(settings)
    second = record_lineage(settings)
    assert not second.changed
    assert _snapshots(settings) == before  # idempotent: no new snapshot
    con = attach(settings, read_only=True)
    try:
        stored = read_lake_edges(con)
    finally:
        con.close()
    assert len(stored) == first.rows


# --- the command -------------------------------------------------------------------------------


def test_catalog_lineage_tree_names_the_bureau_fields(settings: Settings) -> None:
    if "mart.population_by_area" not in mart_sql_files():
        pytest.skip("warehouse/marts/population_by_area.sql is not there yet")
    result = runner.invoke(
        cli.app, ["catalog", "--lineage", "mart.population_by_area"], env={"COLUMNS": "160"}
    )
    assert result.exit_code == 0, result.output
    assert "mart.population_by_area" in result.output
    assert "core.person.birth_date" in result.output
    assert "市公安局 population/persons field CSRQ" in result.output
    assert not settings.home.exists()  # lineage needs no lake


def test_catalog_lineage_as_json_and_markdown(settings: Settings) -> None:
    as_json = runner.invoke(cli.app, ["catalog", "--lineage", "core.credit_penalty", "-f", "json"])
    assert as_json.exit_code == 0, as_json.output
    tree = json.loads(as_json.output)
    name = next(c for c in tree["columns"] if c["column"] == "subject_name")
    assert [(s["column"], s["rank"]) for s in name["sources"]] == [("CF_XDR_MC", 0), ("CF_XDR", 1)]
    md = runner.invoke(cli.app, ["catalog", "--lineage", "core.licence", "-f", "markdown"])
    assert md.exit_code == 0
    # The bureau's Chinese field name, once: it is its own label.
    assert (
        "- `holder_name` 持证主体\n  - ← 市政务服务数据管理局 licence/licences field `持证主体`\n"
        in md.output
    )
    assert "- `_loaded_at` 入库时间\n  - kept by the pipeline (provenance)\n" in md.output


def test_catalog_refuses_an_unknown_table_plainly(settings: Settings) -> None:
    result = runner.invoke(cli.app, ["catalog", "--lineage", "mart.nope"])
    assert result.exit_code == 2
    assert "known tables" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_catalog_refresh_then_json_shows_freshness_and_feeds(settings: Settings) -> None:
    init_lake(settings)
    refreshed = runner.invoke(cli.app, ["catalog", "--refresh", "--table", "core.person"])
    assert refreshed.exit_code == 0, refreshed.output
    assert "Recorded" in refreshed.output
    assert "人口基础信息" in refreshed.output
    assert "population never loaded" in refreshed.output
    as_json = runner.invoke(cli.app, ["catalog", "-f", "json", "-t", "mart.alerts"])
    body = json.loads(as_json.output)
    (alerts,) = body["tables"]
    assert {"population", "legal_entity", "credit", "licence"} <= set(alerts["feeds"])
    # SLAs come from the FeedSpecs while meta.feed_slas is empty.
    slas = {f["feed"]: f["freshness_sla_hours"] for f in body["feeds"]}
    assert slas["population"] == 30.0
    assert slas["licence"] == 35 * 24
