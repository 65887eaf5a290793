"""The normalize step writes the lake's versions; the load links them into core and history.

What users rely on: the lake holds exactly what the load's own versions pass would have
written (every column but ``_loaded_at``), the files are linked rather than written again,
and ``_loaded_at`` keeps the order in which batches commit.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest

from citybrain import tasks
from citybrain.tasks import pull_feed, stage_delivery
from schemas.generate import table_columns
from schemas.records import table as model_of
from schemas.settings import Settings
from transforms import batch as batch_module
from transforms.staged import SUPERSEDED, VALID_PARTS
from transforms.versions import stamp_of
from warehouse.lake import attach, init_lake, local_data_path
from warehouse.load import batch as load_module

if TYPE_CHECKING:
    from collections.abc import Iterator

PERSON = model_of("core.person")


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small city's population export, with the keys that repeat across chunks."""
    from feeds.demo_city import GenerateParams, generate

    city = tmp_path_factory.mktemp("city")
    generate(GenerateParams(residents=1_500, days=1, seed=5, out=city))
    return next((city / "deliveries" / "population").glob("gaj_rk_full_*.csv"))


def _staged(home: Path, export: Path) -> tuple[Settings, list[dict]]:
    """The export pulled from one exchange folder (so ``_source`` is the same in every
    lake of the test) and normalized into ``home``."""
    settings = Settings(home=home, person_key="one key for every lake of this test")
    init_lake(settings)
    drop = export.parent.parent / "one_drop"
    if not drop.is_dir():
        drop.mkdir()
        for path in (export, export.with_name(export.name + ".ok")):
            (drop / path.name).write_bytes(path.read_bytes())
    pulled = pull_feed("population", str(drop), settings=settings)
    return settings, [stage_delivery(d, settings=settings) for d in pulled]


def _parts(staged: dict) -> list[Path]:
    valid = Path(staged["valid_path"])
    return sorted(valid.glob(VALID_PARTS)) if valid.is_dir() else [valid]


def _lake_inodes(settings: Settings, table: str) -> set[int]:
    folder = Path(str(local_data_path(settings))) / "core" / table
    return {p.stat().st_ino for p in folder.glob("*.parquet")}


def _read(settings: Settings, sql: str) -> pl.DataFrame:
    con = attach(settings, read_only=True)
    try:
        return con.execute(sql).pl()
    finally:
        con.close()


def _rows(settings: Settings, table: str) -> pl.DataFrame:
    return _read(settings, f"SELECT * FROM lake.core.{table} ORDER BY id_number, _version_at")


@pytest.fixture
def chunked(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(batch_module, "CHUNK_ROWS", 250)
    monkeypatch.setattr(batch_module, "ONE_CHUNK_ROWS", 250)
    yield


def test_linked_versions_are_what_the_loads_own_pass_writes(
    tmp_path: Path, export: Path, chunked: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    linked, [staged] = _staged(tmp_path / "linked", export)
    parts = _parts(staged)
    assert len(parts) > 4 and (Path(staged["valid_path"]) / SUPERSEDED).is_file()
    history = [c.name for c in table_columns(PERSON, history=True)]
    stamps = {stamp_of(p) for p in parts}
    assert len(stamps) == 1
    [(batch_id, stamped_at)] = stamps
    assert batch_id == staged["batch_id"]
    assert all(pl.read_parquet_schema(p).names() == history for p in parts)
    inodes = {p.stat().st_ino for p in parts}
    [result] = tasks.load_all([staged], settings=linked)
    assert result["status"] == "loaded"
    # The parts themselves are the lake's files (hard links), in core and in history.
    assert inodes <= _lake_inodes(linked, "person")
    assert inodes <= _lake_inodes(linked, "person_history")

    # The same staged rows, with the load writing its own versions file.
    passed, [again] = _staged(tmp_path / "passed", export)
    again_inodes = {p.stat().st_ino for p in _parts(again)}
    monkeypatch.setattr(load_module, "stage_versions", lambda job: None)
    [result_again] = tasks.load_all([again], settings=passed)
    assert not again_inodes & _lake_inodes(passed, "person")
    counts = ("rows_in", "rows_loaded", "rows_quarantined", "rows_duplicate")
    assert {k: result[k] for k in counts} == {k: result_again[k] for k in counts}
    for table in ("person", "person_history"):
        mine = _rows(linked, table)
        theirs = _rows(passed, table)
        assert mine.height == theirs.height == result["rows_loaded"]
        differ = [c for c in mine.columns if not mine[c].equals(theirs[c])]
        assert differ == ["_loaded_at"], table
        # Every row of the batch carries the moment the normalize step wrote it.
        assert mine["_loaded_at"].unique().to_list() == [stamped_at]
    assert _rows(linked, "person")["id_number"].is_unique().all()
    [(started, finished)] = _read(
        linked, "SELECT started_at, finished_at FROM lake.meta.batches WHERE status = 'loaded'"
    ).rows()
    assert started <= stamped_at <= finished


def test_the_left_out_rows_are_deleted_with_the_join_built_on_their_list(
    tmp_path: Path, export: Path, chunked: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Left to the optimizer's estimates, the DELETE could hash every row of the batch
    # instead of the few listed (warehouse.load.batch.joins_as_written).
    settings, [staged] = _staged(tmp_path / "lake", export)
    seen: list[str] = []
    execute = load_module._execute

    def spying(con, expression, params):  # type: ignore[no-untyped-def]
        if "left_out_path" in params and expression.key == "delete":
            setting = "SELECT current_setting('disabled_optimizers')"
            seen.append(con.execute(setting).fetchone()[0])
        return execute(con, expression, params)

    monkeypatch.setattr(load_module, "_execute", spying)
    [result] = tasks.load_all([staged], settings=settings)
    assert result["status"] == "loaded"
    assert seen == ["build_side_probe_side"] * 2  # core, then history


HEADER = (
    "统一社会信用代码,注册号,企业名称,企业类型,法定代表人,法定代表人证件号码,注册资本,成立日期,"
    "营业期限自,营业期限至,核准日期,注销日期,吊销日期,登记机关,登记状态,住所,住所所在行政区划,"
    "行业代码,经营范围"
)


def _drop_day(folder: Path, day: str, uscc: str) -> None:
    """One entity's record as the market regulator exports it, approved on ``day``."""
    folder.mkdir(exist_ok=True)
    path = folder / f"scjg_sczt_{day}.csv"
    row = (
        f"{uscc},,广州市创彩餐饮有限公司,有限责任公司（自然人投资或控股）,叶娟,"
        f"440902196702131306,1000万元人民币,2026-05-14,2026-05-14,99991231,{day},,,"
        "广州市花都区市场监督管理局,存续（在营、开业、在册）,广州市花都区柏中镇南溪大街180号701室,"
        "440114,H6210,正餐服务"
    )
    path.write_text(f"{HEADER}\r\n{row}\r\n", encoding="utf-8")
    (folder / f"{path.name}.ok").touch()


def test_versions_normalized_before_a_newer_load_are_written_again_with_the_loads_time(
    settings: Settings, tmp_path: Path
) -> None:
    # Two days' deliveries, normalized in order, loaded the other way round (a retried
    # load of the first after the second went through), one new entity each. A reader who asks for rows newer
    # than the newest _loaded_at it has seen must still find the first day's rows.
    init_lake(settings)
    staged = []
    for day, uscc in (("20261101", "91440114MAWPWJ119N"), ("20261102", "91440106MAGAA7HB7C")):
        drop = tmp_path / f"drop_{day}"
        _drop_day(drop, day, uscc)
        [delivery] = pull_feed("legal_entity", str(drop), settings=settings)
        staged.append(stage_delivery(delivery, settings=settings))
    first, second = staged
    first_stamp, second_stamp = (stamp_of(_parts(s)[0]) for s in staged)
    assert first_stamp is not None and second_stamp is not None
    assert first_stamp[1] < second_stamp[1]
    first_inodes = {p.stat().st_ino for p in _parts(first)}
    second_inodes = {p.stat().st_ino for p in _parts(second)}

    assert tasks.load_staged(second, settings=settings)["status"] == "loaded"
    assert tasks.load_staged(first, settings=settings)["status"] == "loaded"

    assert second_inodes <= _lake_inodes(settings, "legal_entity_history")
    assert not first_inodes & _lake_inodes(settings, "legal_entity_history")
    loaded_at = dict(
        _read(
            settings,
            "SELECT _batch_id, _loaded_at FROM lake.core.legal_entity_history",
        ).rows()
    )
    assert loaded_at[second["batch_id"]] == second_stamp[1]
    assert loaded_at[first["batch_id"]] > loaded_at[second["batch_id"]]
    assert _read(settings, "SELECT count(*) FROM lake.core.legal_entity").item() == 2


def test_only_files_stamped_for_the_batch_are_taken_as_its_versions(
    settings: Settings, tmp_path: Path
) -> None:
    from dataclasses import replace

    from transforms.staged import StagedBatch
    from warehouse.load.staging import prepare
    from warehouse.load.versions import stage_versions

    init_lake(settings)
    _drop_day(tmp_path / "drop", "20261101", "91440114MAWPWJ119N")
    [delivery] = pull_feed("legal_entity", str(tmp_path / "drop"), settings=settings)
    job = prepare(StagedBatch(**stage_delivery(delivery, settings=settings)))
    taken = stage_versions(job)
    assert taken is not None and taken.from_stage and taken.files == (job.valid_path,)
    # Another batch's files, a replay's rows (several deliveries), a file without the stamp.
    assert stage_versions(replace(job, batch_id="legal_entity-entities-other")) is None
    assert stage_versions(replace(job, per_row_received_at=True)) is None
    pl.read_parquet(job.valid_path).write_parquet(job.valid_path)
    assert stamp_of(job.valid_path) is None
    assert stage_versions(job) is None
