"""A delivery the lake has loaded already costs (almost) nothing the next time it is pulled.

A dated full file left in a drop folder is pulled again on every run while its date is not
before the watermark; so is every delivery of a re-triggered DAG run. The pull asks the
ledger, and the stage passes such a batch through without reading the file; the load
reports the skip with the ledger's counts and writes nothing.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

import feeds.connectors
import transforms
import warehouse.load
import warehouse.spatial
from citybrain import cli
from citybrain.tasks import (
    SkippedBatch,
    as_staged,
    ingest,
    load_all,
    pull_feed,
    stage_delivery,
    staged_dir,
)
from feeds.delivery import RawDelivery
from feeds.raw_zone import DELIVERY_FILE
from warehouse.lake import attach, init_lake
from warehouse.load import record_failure

if TYPE_CHECKING:
    from schemas.settings import Settings

HEADER = "统一社会信用代码,注册号,企业名称,注册资本,经营范围,登记状态,核准日期"
COUNTS = ("rows_in", "rows_loaded", "rows_quarantined", "rows_duplicate")


def _drop(folder: Path, day: str) -> Path:
    """A monthly legal-entity file with one good row, one rejected, one repeated."""
    folder.mkdir(exist_ok=True)
    path = folder / f"scjg_sczt_{day}.csv"
    rows = [
        f"91440101MA5CXXXX08,,广州某某科技有限公司,500万元人民币,软件开发,存续,{day}",
        f"91440101MA5CXXXX08,,广州某某科技有限公司,500万元人民币,软件开发,存续,{day}",
        f"not-a-uscc,,广州某某贸易有限公司,100万元人民币,批发,存续,{day}",
    ]
    path.write_text("\r\n".join([HEADER, *rows, ""]), encoding="utf-8")
    (folder / f"{path.name}.ok").touch()
    return path


@pytest.fixture
def drop(settings: Settings, tmp_path: Path) -> Path:
    """A department's exchange folder with one delivery, next to an initialised lake."""
    init_lake(settings)
    folder = tmp_path / "drop"
    _drop(folder, "20240305")
    return folder


def _lake_state(settings: Settings) -> dict[str, list[tuple]]:
    con = attach(settings, read_only=True)
    try:
        return {
            "snapshot": con.execute("SELECT max(snapshot_id) FROM lake.snapshots()").fetchall(),
            "batches": con.execute("SELECT * FROM lake.meta.batches ORDER BY batch_id").fetchall(),
            "legal_entity": con.execute("SELECT count(*) FROM lake.core.legal_entity").fetchall(),
        }
    finally:
        con.close()


def _forbid(monkeypatch: pytest.MonkeyPatch, *targets: tuple[object, str]) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        msg = "a batch the lake has loaded must not be read, normalized or loaded again"
        raise AssertionError(msg)

    for owner, name in targets:
        monkeypatch.setattr(owner, name, refuse)


def test_a_delivery_the_lake_has_loaded_is_not_normalized_or_loaded_again(
    settings: Settings, drop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    [first] = ingest("legal_entity", str(drop), settings=settings)
    assert first["status"] == "loaded"
    assert [first[c] for c in COUNTS] == [3, 1, 1, 1]
    before = _lake_state(settings)

    # Reading, normalizing, address placement and the loader itself all refuse now.
    _forbid(
        monkeypatch,
        (feeds.connectors, "read_delivery"),
        (transforms, "normalizer"),
        (warehouse.spatial, "enrich_addresses"),
        (warehouse.load, "load_batch"),
    )
    [pulled] = pull_feed("legal_entity", str(drop), settings=settings)
    staged = stage_delivery(pulled, settings=settings)
    [again] = load_all([staged], settings=settings)

    assert pulled["loaded"] is not None
    assert isinstance(as_staged(staged), SkippedBatch)
    assert not staged_dir(settings).exists() or not any(staged_dir(settings).iterdir())
    assert again["status"] == "skipped_duplicate"
    assert again["batch_id"] == first["batch_id"]
    assert [again[c] for c in COUNTS] == [first[c] for c in COUNTS]
    assert again["snapshot_id"] is None
    assert _lake_state(settings) == before  # no snapshot, no ledger change

    # The raw zone's record of the delivery holds no lake state.
    stored = Path(pulled["raw_paths"][0]).parent / DELIVERY_FILE
    record = json.loads(stored.read_text(encoding="utf-8"))
    assert "loaded" not in record
    RawDelivery.model_validate(record)


def test_citybrain_ingest_prints_the_skip_with_the_first_runs_counts(
    settings: Settings, drop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    first = runner.invoke(cli.app, ["ingest", "legal_entity", "--source", str(drop)])
    assert first.exit_code == 0, first.output
    _forbid(monkeypatch, (feeds.connectors, "read_delivery"), (warehouse.load, "load_batch"))
    # A terminal of 80 columns: the batch id may fold, the status must not.
    second = runner.invoke(
        cli.app, ["ingest", "legal_entity", "--source", str(drop)], env={"COLUMNS": "80"}
    )
    assert second.exit_code == 0, second.output
    [row] = [line.split() for line in second.output.splitlines() if "skipped_duplicate" in line]
    assert "legal_entity-".startswith(row[0][:13])  # the id's start; the rest folds below
    assert row[1:] == ["skipped_duplicate", "3", "1", "1", "1"]


def test_a_delivery_whose_load_failed_is_normalized_and_loaded_again(
    settings: Settings, drop: Path
) -> None:
    [pulled] = pull_feed("legal_entity", str(drop), settings=settings)
    staged = stage_delivery(pulled, settings=settings)
    assert record_failure(settings, as_staged(staged), "LakeBusy: the catalog stayed busy")

    [again] = pull_feed("legal_entity", str(drop), settings=settings)
    assert again["loaded"] is None  # a failed attempt is not a load
    restaged = stage_delivery(again, settings=settings)
    assert Path(restaged["valid_path"]).exists()
    [result] = load_all([restaged], settings=settings)

    assert result["status"] == "loaded"
    assert [result[c] for c in COUNTS] == [3, 1, 1, 1]
    batches = _lake_state(settings)["batches"]
    assert len(batches) == 1  # the loaded row replaced the failed one
    assert _lake_state(settings)["legal_entity"] == [(1,)]


def test_a_batch_the_pull_saw_unloaded_is_checked_again_by_the_load(
    settings: Settings, drop: Path
) -> None:
    # Two runs pull the same delivery before either loads: the second one's pull saw
    # nothing in the ledger, so it stages and leaves the skip to load_batch's own check.
    [early] = pull_feed("legal_entity", str(drop), settings=settings)
    [first] = ingest("legal_entity", str(drop), settings=settings)
    before = _lake_state(settings)

    staged = stage_delivery(early, settings=settings)
    assert Path(staged["valid_path"]).exists()
    [late] = load_all([staged], settings=settings)

    assert late["status"] == "skipped_duplicate"
    assert [late[c] for c in COUNTS] == [first[c] for c in COUNTS]
    assert _lake_state(settings) == before


def test_deliveries_and_staged_batches_from_before_the_skip_still_validate(
    settings: Settings, drop: Path
) -> None:
    # XCom values written by the tasks before the pull asked the ledger have no "loaded".
    [pulled] = pull_feed("legal_entity", str(drop), settings=settings)
    old = RawDelivery.model_validate({k: v for k, v in pulled.items() if k != "loaded"})
    staged = stage_delivery(old.model_dump(mode="json"), settings=settings)
    assert "status" not in staged
    [result] = load_all([staged], settings=settings)
    assert result["status"] == "loaded"


@pytest.mark.slow
@pytest.mark.integration
def test_a_retriggered_feed_dag_passes_the_loaded_batch_through_its_xcom(
    settings: Settings, drop: Path
) -> None:
    # The DAG maps the stage over the pulled list and hands the staged list to the load:
    # the pass-through must travel through Airflow's XCom as it does through ingest().
    from citybrain import airflow_env

    env = airflow_env.environment(settings)
    airflow_env.prepare(settings, env=env)
    conf = json.dumps({"source": str(drop)})
    states = []
    for _ in range(2):
        run = airflow_env.airflow(
            settings, "dags", "test", "feed_legal_entity", "-c", conf, env=env, check=False
        )
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        states.append(_lake_state(settings))

    # Airflow's own record of what each task handed on, newest run last.
    db = sqlite3.connect(airflow_env.airflow_home(settings) / "airflow.db")
    try:
        values = db.execute(
            "SELECT task_id, value FROM xcom WHERE task_id IN ('normalize', 'load') "
            "AND key = 'return_value' ORDER BY timestamp"
        ).fetchall()
    finally:
        db.close()
    staged = [json.loads(v) for t, v in values if t == "normalize"]
    loads = [json.loads(v) for t, v in values if t == "load"]
    assert [s.get("status") for s in staged] == [None, "skipped_duplicate"]
    assert [[r["status"] for r in load] for load in loads] == [["loaded"], ["skipped_duplicate"]]
    assert [loads[1][0][c] for c in COUNTS] == [loads[0][0][c] for c in COUNTS]
    assert states[1] == states[0]
