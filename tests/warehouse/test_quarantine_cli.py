"""``citybrain quarantine list|show|replay`` on a real lake (the CLI passes the feed's spec)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from citybrain.quarantine_cli import app
from feeds.spec import FEEDS
from warehouse.lake import init_lake
from warehouse.quarantine import list_quarantine

if TYPE_CHECKING:
    from types import ModuleType

    from schemas.settings import Settings


def support() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "load_support", Path(__file__).with_name("test_load_support.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


S = support()
runner = CliRunner()
ID_A = S.citizen_id("11010519900101001")
ID_B = S.citizen_id("11010519700303003")


@pytest.fixture
def lake(settings: Settings, tmp_path: Path) -> tuple[Settings, str]:
    """Rows quarantined by a broken mapping (name read from a column that is not there)."""
    init_lake(settings)
    broken = dict(FEEDS["population"].resources[0].fields) | {"name": ("XINGMING",)}
    rows = [S.population_row(ID_A), S.population_row(ID_B, CSRQ="1970-02-30")]
    result = S.normalize_and_load(settings, tmp_path, "d1", rows, broken)
    assert result.rows_quarantined == 2
    return settings, result.batch_id


def test_list_shows_counts_by_reason_and_rows(lake: tuple[Settings, str]) -> None:
    out = runner.invoke(app, ["list", "--feed", "population"])
    assert out.exit_code == 0, out.output
    assert "name.missing" in out.output
    assert "a required value is" in out.output  # the reason explained
    assert "Rows (2 of 2" in out.output
    assert "resource" in out.output and "persons" in out.output

    by_resource = runner.invoke(app, ["list", "--resource", "persons", "--json"])
    assert [r["resource"] for r in json.loads(by_resource.output)["rows"]] == ["persons"] * 2
    none = runner.invoke(app, ["list", "--feed", "population", "--resource", "movers"])
    assert none.exit_code == 0 and "No unresolved quarantined rows match." in none.output

    as_json = runner.invoke(app, ["list", "--reason", "birth_date", "--json"])
    listing = json.loads(as_json.output)
    assert [r["source_row"] for r in listing["rows"]] == [2]


def test_show_prints_the_raw_record_and_what_each_reason_means(
    lake: tuple[Settings, str],
) -> None:
    _, batch = lake
    out = runner.invoke(app, ["show", batch, "2"])
    assert out.exit_code == 0, out.output
    assert ID_B in out.output and "1970-02-30" in out.output
    assert "birth_date.invalid_date" in out.output
    assert "the date does not exist" in out.output  # its explanation (wrapped at 80 columns)

    missing = runner.invoke(app, ["show", batch, "99"])
    assert missing.exit_code == 1
    assert "no quarantined row 99" in missing.output


def test_replay_with_the_current_mapping_loads_what_now_passes(lake: tuple[Settings, str]) -> None:
    settings, _ = lake
    out = runner.invoke(app, ["replay", "population"])
    assert out.exit_code == 0, out.output
    assert "population/persons: replayed 2 rows: 1 now pass, 1 still fail" in out.output
    assert "1 loaded" in out.output
    assert S.read(settings, "core.person")["id_number"].to_list() == [ID_A]
    assert list_quarantine(settings).total == 1

    unknown = runner.invoke(app, ["replay", "population", "--resource", "nope"])
    assert unknown.exit_code != 0
