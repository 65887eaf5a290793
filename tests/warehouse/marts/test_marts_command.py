"""`citybrain marts build`: the task behind the DAG, with a readable table of rows per mart."""

from __future__ import annotations

from typer.testing import CliRunner

from citybrain.cli import app
from feeds.spec import FEEDS
from warehouse.marts import MARTS


def test_marts_build_prints_rows_per_mart_and_records_the_slas(settings) -> None:
    # No lake yet: the task creates the tables it needs, like `citybrain lake init`.
    first = CliRunner().invoke(app, ["marts", "build"])
    assert first.exit_code == 0, first.output
    for name in MARTS:
        assert f"mart.{name}" in first.output
    assert "Batches scored for quality: 0" in first.output
    assert all(feed in first.output for feed in FEEDS)
    # Nothing loaded: every feed is in mart.feed_freshness (stale), nothing else has rows.
    assert "│ mart.feed_freshness               │    5 │" in first.output
    again = CliRunner().invoke(app, ["marts", "build"])
    assert "SLAs recorded: unchanged" in again.output
