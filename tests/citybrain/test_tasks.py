"""The pipeline's tasks: the pull reads watermarks and records deliveries through one attach
of the lake; the load spends the staged files it committed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import polars as pl
import pytest

from citybrain import tasks
from citybrain.tasks import ingest, pull_feed, stage_delivery, staged_dir
from schemas.errors import ContractViolation, LakeError
from schemas.records import table as model_of
from warehouse import lake as lake_module
from warehouse.frames import read_frame
from warehouse.lake import attach, init_lake
from warehouse.load import ledger

if TYPE_CHECKING:
    from schemas.settings import Settings

HEADER = "统一社会信用代码,注册号,企业名称,注册资本,经营范围,核准日期"


def _drop(folder: Path, day: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / f"scjg_sczt_{day}.csv"
    row = f"91440101MA5CXXXX0X,,广州某某科技有限公司,500万元人民币,软件开发,{day}"
    path.write_text(f"{HEADER}\r\n{row}\r\n", encoding="utf-8")
    (folder / f"{path.name}.ok").touch()
    return path


@pytest.fixture
def drop(settings: Settings, tmp_path: Path) -> Path:
    """A department's exchange folder, next to an initialised lake."""
    init_lake(settings)
    return tmp_path / "drop"


def _attaches(monkeypatch: pytest.MonkeyPatch) -> list[duckdb.DuckDBPyConnection]:
    """Every connection ``warehouse.lake.attach`` hands out from now on (the ledger's too)."""
    opened: list[duckdb.DuckDBPyConnection] = []
    real = lake_module.attach

    def counting(*args: object, **kwargs: object) -> duckdb.DuckDBPyConnection:
        con = real(*args, **kwargs)  # type: ignore[arg-type]
        opened.append(con)
        return con

    monkeypatch.setattr(lake_module, "attach", counting)
    monkeypatch.setattr(ledger, "attach", counting)
    return opened


def _closed(con: duckdb.DuckDBPyConnection) -> bool:
    try:
        con.execute("SELECT 1")
    except duckdb.ConnectionException:
        return True
    return False


def test_the_watermark_is_read_and_deliveries_registered_through_one_attach(
    settings: Settings, drop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _drop(drop, "20240305")
    ingest("legal_entity", str(drop), settings=settings)  # the watermark is now 2024-03-05
    _drop(drop, "20240301")
    _drop(drop, "20240310")
    opened = _attaches(monkeypatch)

    pulled = pull_feed("legal_entity", str(drop), settings=settings)

    # The file dated before the watermark is skipped; the one at it comes back as stored.
    assert [Path(d["source"]).name for d in pulled] == [
        "scjg_sczt_20240305.csv",
        "scjg_sczt_20240310.csv",
    ]
    assert len(opened) == 1 and _closed(opened[0])
    con = attach(settings, read_only=True)
    try:
        deliveries = read_frame(con, model_of("meta.deliveries"), catalog=settings.lake_name)
    finally:
        con.close()
    assert sorted(deliveries["sha256"]) == sorted(d["sha256"] for d in pulled)


def test_the_lake_is_closed_when_the_pull_fails(
    settings: Settings, drop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _drop(drop, "20240305").write_bytes(b"\xff\xfe\x00broken")
    opened = _attaches(monkeypatch)
    with pytest.raises(ContractViolation, match="UTF-16"):
        pull_feed("legal_entity", str(drop), settings=settings)
    assert len(opened) == 1 and _closed(opened[0])


def test_an_explicit_since_and_no_delivery_attach_nothing(
    settings: Settings, drop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _drop(drop, "20240301")
    opened = _attaches(monkeypatch)
    assert pull_feed("legal_entity", str(drop), since="2024-04-01", settings=settings) == []
    assert opened == []


def test_a_committed_load_removes_its_staged_files_and_a_failed_one_keeps_them(
    settings: Settings, drop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _drop(drop, "20240305")
    staged = [
        stage_delivery(d, settings=settings)
        for d in pull_feed("legal_entity", str(drop), settings=settings)
    ]
    folders = [Path(s["valid_path"]).parent for s in staged]
    assert all(f.is_dir() and f.parent == staged_dir(settings) for f in folders)

    def failing(*args: object, **kwargs: object) -> None:
        raise LakeError("a load that fails on purpose")

    monkeypatch.setattr("warehouse.load.load_batch", failing)
    with pytest.raises(LakeError):
        tasks.load_all(staged, settings=settings)
    assert all(f.is_dir() for f in folders)  # the retry needs them

    monkeypatch.undo()
    loaded = tasks.load_all(staged, settings=settings)
    assert [r["status"] for r in loaded] == ["loaded"]
    assert not any(f.exists() for f in folders)


def _lake_rows(settings: Settings, sql: str) -> list[tuple]:
    con = attach(settings, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_delivery_normalized_in_chunks_loads_as_one_pass_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A large export is normalized a chunk at a time: its valid rows are staged as a folder
    # of parts, and the versions beaten by a newer one in a later chunk are left out as the
    # load reads them. The lake must end exactly as with the whole export in one pass.
    from feeds.demo_city import GenerateParams, generate
    from schemas.settings import Settings as SettingsModel
    from transforms import batch as batch_module
    from transforms.staged import SUPERSEDED

    city = tmp_path / "city"
    generate(GenerateParams(residents=1_500, days=1, seed=5, out=city))
    export = next((city / "deliveries" / "population").glob("gaj_rk_full_*.csv"))
    results = {}
    for name, chunk_rows in (("one_pass", None), ("chunked", 250)):
        settings = SettingsModel(home=tmp_path / name, person_key="one key for both lakes")
        init_lake(settings)
        drop = tmp_path / f"drop_{name}"
        drop.mkdir()
        for path in (export, export.with_name(export.name + ".ok")):
            (drop / path.name).write_bytes(path.read_bytes())
        if chunk_rows:
            monkeypatch.setattr(batch_module, "CHUNK_ROWS", chunk_rows)
            monkeypatch.setattr(batch_module, "ONE_CHUNK_ROWS", chunk_rows)
        else:
            monkeypatch.undo()
        staged = [
            stage_delivery(d, settings=settings)
            for d in pull_feed("population", str(drop), settings=settings)
        ]
        valid = Path(staged[0]["valid_path"])
        if chunk_rows:
            assert valid.is_dir() and len(list(valid.glob("part-*.parquet"))) > 4
            # Equal chunks from the pulled row count, not full ones and a small rest.
            heights = [pl.read_parquet(p).height for p in valid.glob("part-*.parquet")]
            assert min(heights) > max(heights) * 0.8
            assert pl.read_parquet(valid / SUPERSEDED).height > 0  # keys met across chunks
        else:
            assert valid.is_file()
        [loaded] = tasks.load_all(staged, settings=settings)
        assert loaded["status"] == "loaded"
        results[name] = {
            "counts": {
                k: loaded[k]
                for k in ("rows_in", "rows_loaded", "rows_quarantined", "rows_duplicate")
            },
            "person": _lake_rows(
                settings,
                "SELECT id_number, _source_row, _record_hash, _version_at FROM lake.core.person "
                "ORDER BY id_number",
            ),
            "history": _lake_rows(
                settings, "SELECT count(*), count(DISTINCT id_number) FROM lake.core.person_history"
            ),
            "quarantine": _lake_rows(settings, "SELECT count(*) FROM lake.meta.quarantine"),
        }
    assert results["chunked"] == results["one_pass"]
    assert len(results["one_pass"]["person"]) > 1_000


def test_ingest_reports_its_steps_and_a_large_deliverys_rows_chunk_by_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # `citybrain ingest` draws its progress bar from these; an Airflow task logs the same.
    from feeds.demo_city import GenerateParams, generate
    from schemas.settings import Settings as SettingsModel
    from transforms import batch as batch_module

    city = tmp_path / "city"
    generate(GenerateParams(residents=600, days=1, seed=7, out=city))
    export = next((city / "deliveries" / "population").glob("gaj_rk_full_*.csv"))
    drop = tmp_path / "drop"
    drop.mkdir()
    for path in (export, export.with_name(export.name + ".ok")):
        (drop / path.name).write_bytes(path.read_bytes())
    settings = SettingsModel(home=tmp_path / "home")
    init_lake(settings)
    monkeypatch.setattr(batch_module, "CHUNK_ROWS", 150)
    monkeypatch.setattr(batch_module, "ONE_CHUNK_ROWS", 150)
    events: list[tuple[str, int, int | None]] = []

    caplog.set_level("INFO", logger="citybrain.tasks")
    [result] = ingest(
        "population", str(drop), settings=settings, progress=lambda *e: events.append(e)
    )

    steps = list(dict.fromkeys(step for step, _, _ in events))
    assert steps == [
        "pull population",
        f"normalize {export.name}",
        "load 1 batch(es) into the lake",
    ]
    normalized = [(done, total) for step, done, total in events if step.startswith("normalize")]
    done = [d for d, _ in normalized]
    assert done[0] == 0 and done == sorted(done) and len(done) > 4  # a chunk at a time
    assert done[-1] == result["rows_in"]
    assert {total for _, total in normalized} == {result["rows_in"]}  # counted by the pull
    logged = [r.getMessage() for r in caplog.records if "rows normalized" in r.getMessage()]
    assert len(logged) == len(done) - 1
    assert logged[-1].endswith(f"{result['rows_in']:,} of {result['rows_in']:,} rows normalized")
