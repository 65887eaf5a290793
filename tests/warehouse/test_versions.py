"""The load's versions pass: one version per key, written once, stopped when unwanted."""

from __future__ import annotations

import threading
from datetime import date, datetime
from typing import TYPE_CHECKING

import polars as pl
import pytest

from schemas.generate import polars_schema
from schemas.records import table as model_of
from warehouse.load import versions as versions_module
from warehouse.load.staging import LoadInput
from warehouse.load.versions import VersionsStopped, versions_ahead, write_versions

if TYPE_CHECKING:
    from pathlib import Path


def _job(tmp_path: Path, valid: pl.DataFrame) -> LoadInput:
    path = tmp_path / "valid.parquet"
    valid.with_columns(
        pl.lit("d.csv").alias("_source"),
        pl.int_range(pl.len(), dtype=pl.Int64).alias("_source_row"),
    ).write_parquet(path)
    return LoadInput(
        batch_id="credit-list-t1",
        feed="credit",
        resource="list",
        model=model_of("core.credit_list"),
        source="d.csv",
        received_at=datetime(2026, 1, 2, 8),
        valid_path=path,
        rows_in=valid.height,
        rows_valid=valid.height,
        rejected_path=None,
        rows_rejected=0,
        superseded_upstream=0,
    )


def _lists(keys: list[tuple[str, str, date]], names: list[str]) -> pl.DataFrame:
    schema = polars_schema(model_of("core.credit_list"))
    rows = [
        {"subject_code": s, "list_type": t, "listed_at": d, "subject_name": n}
        for (s, t, d), n in zip(keys, names, strict=True)
    ]
    return pl.DataFrame(rows, schema=schema, orient="row")


@pytest.mark.parametrize(
    ("keys", "kept"),
    [
        # A compound key whose parts trade places is another key: nothing to set aside.
        ([("A", "B", date(2026, 1, 1)), ("B", "A", date(2026, 1, 1))], ["甲", "乙"]),
        # The same key twice: the later row of the file wins.
        ([("A", "B", date(2026, 1, 1)), ("A", "B", date(2026, 1, 1))], ["乙"]),
        ([("A", "B", date(2026, 1, 1)), ("A", "B", date(2026, 1, 2))], ["甲", "乙"]),
    ],
)
def test_one_version_per_compound_key(
    tmp_path: Path, keys: list[tuple[str, str, date]], kept: list[str]
) -> None:
    job = _job(tmp_path, _lists(keys, ["甲", "乙"]))
    versions = write_versions(job, tmp_path / "versions.parquet", loaded_at=datetime(2026, 1, 3))
    written = pl.read_parquet(versions.files[0])
    assert written["subject_name"].to_list() == kept
    assert (versions.rows, versions.superseded) == (len(kept), 2 - len(kept))


@pytest.mark.parametrize(
    ("marked", "counted"),
    [
        (None, True),  # a file from elsewhere: its keys are counted
        (["subject_code", "list_type", "listed_at"], False),  # as the stage writes it
        (["subject_code"], True),  # another key's promise is not this one's
    ],
)
def test_keys_are_counted_unless_the_stage_marked_them_unique(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, marked: list[str] | None, counted: bool
) -> None:
    import json

    from transforms.staged import UNIQUE_KEY_METADATA

    rows = _lists([("A", "B", date(2026, 1, 1)), ("A", "C", date(2026, 1, 1))], ["甲", "乙"])
    job = _job(tmp_path, rows)
    if marked is not None:
        staged = pl.read_parquet(job.valid_path)
        staged.write_parquet(job.valid_path, metadata={UNIQUE_KEY_METADATA: json.dumps(marked)})
    scans: list[Path] = []
    scan = versions_module.scan_valid
    monkeypatch.setattr(
        versions_module, "scan_valid", lambda path: scans.append(path) or scan(path)
    )
    versions = write_versions(job, tmp_path / "versions.parquet", loaded_at=datetime(2026, 1, 3))
    # One scan reads the versions; a second one counts the keys.
    assert len(scans) == (2 if counted else 1)
    assert versions.rows == 2


# --- writing ahead of the lake ---------------------------------------------------------------


def test_versions_stopped_while_the_sink_runs_fail_at_the_next_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stop arrives after the rows are read and before a byte is written: the way a
    # re-run of a loaded batch stops its versions. Polars must end the sink at the write.
    job = _job(tmp_path, _lists([("A", "B", date(2026, 1, 1))], ["甲"]))
    stop = threading.Event()
    frame = versions_module.version_frame

    def stopping(job: LoadInput, *, loaded_at: datetime) -> pl.LazyFrame:
        return frame(job, loaded_at=loaded_at).map_batches(lambda rows: stop.set() or rows)

    monkeypatch.setattr(versions_module, "version_frame", stopping)
    with pytest.raises(VersionsStopped, match="no longer wanted"):
        write_versions(
            job, tmp_path / "versions.parquet", loaded_at=datetime(2026, 1, 3), stop=stop
        )
    assert stop.is_set()


def test_versions_stopped_before_they_begin_write_nothing(tmp_path: Path) -> None:
    job = _job(tmp_path, _lists([("A", "B", date(2026, 1, 1))], ["甲"]))
    stop = threading.Event()
    stop.set()
    with pytest.raises(VersionsStopped, match=job.batch_id):
        write_versions(
            job, tmp_path / "versions.parquet", loaded_at=datetime(2026, 1, 3), stop=stop
        )
    assert not (tmp_path / "versions.parquet").exists()


def test_versions_ahead_are_written_once_and_their_scratch_removed(tmp_path: Path) -> None:
    job = _job(tmp_path, _lists([("A", "B", date(2026, 1, 1))], ["甲"]))
    with versions_ahead(job, loaded_at=datetime(2026, 1, 3)) as pending:
        first, again = pending.result(), pending.result()
        assert first is again  # every attempt of a retried load takes the same file
        assert pl.read_parquet(first.files[0])["subject_name"].to_list() == ["甲"]
    assert not first.files[0].exists()
    assert not list(tmp_path.glob(".load-*"))
