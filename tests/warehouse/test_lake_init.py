"""init_lake: the lake equals the standard, is created once, and never drifts silently."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, ClassVar

import pytest

from schemas.errors import SpecError
from schemas.generate import table_columns, table_name
from schemas.records import TABLES, table
from schemas.records.base import CanonicalRecord
from schemas.standard import std
from warehouse.lake import LAKE_SCHEMAS, SchemaDrift, attach, init_lake
from warehouse.sql import load_sql

if TYPE_CHECKING:
    from collections.abc import Iterator

    import duckdb

    from schemas.settings import Settings


def _snapshots(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute(load_sql("lake_snapshots"), {"lake": "lake"}).fetchone()[0]


def _columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str, bool, str]]]:
    out: dict[str, list[tuple[str, str, bool, str]]] = {}
    for schema, name, column, sql_type, nullable, comment in con.execute(
        load_sql("lake_columns"), {"lake": "lake"}
    ).fetchall():
        out.setdefault(f"{schema}.{name}", []).append((column, sql_type, nullable, comment))
    return out


@pytest.fixture(scope="module")
def standard_lake(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[duckdb.DuckDBPyConnection]:
    from schemas.settings import Settings

    settings = Settings(
        home=tmp_path_factory.mktemp("lake"), lake_catalog=None, lake_data_path=None
    )
    init_lake(settings)
    con = attach(settings, read_only=True)
    yield con
    con.close()


def _standard_tables() -> list[tuple[type[CanonicalRecord], bool]]:
    return [(m, h) for m in TABLES for h in ((False, True) if m.__history__ else (False,))]


@pytest.mark.parametrize(
    ("model", "history"),
    _standard_tables(),
    ids=[table_name(m, history=h) for m, h in _standard_tables()],
)
def test_lake_table_equals_its_model(
    standard_lake: duckdb.DuckDBPyConnection, model: type[CanonicalRecord], history: bool
) -> None:
    found = _columns(standard_lake)[table_name(model, history=history)]
    wanted = [
        (c.name, c.sql_type, c.nullable, c.standard.label)
        for c in table_columns(model, history=history)
    ]
    assert found == wanted


def test_lake_has_exactly_the_standard_tables_and_zones(
    standard_lake: duckdb.DuckDBPyConnection,
) -> None:
    tables = {
        f"{s}.{t}"
        for s, t, _ in standard_lake.execute(load_sql("lake_tables"), {"lake": "lake"}).fetchall()
    }
    assert tables == {table_name(m, history=h) for m, h in _standard_tables()}
    schemas = {
        r[0] for r in standard_lake.execute(load_sql("lake_schemas"), {"lake": "lake"}).fetchall()
    }
    assert set(LAKE_SCHEMAS) <= schemas
    labels = dict(
        (f"{s}.{t}", c)
        for s, t, c in standard_lake.execute(load_sql("lake_tables"), {"lake": "lake"}).fetchall()
    )
    assert labels["core.person"] == "人口基础信息"
    assert labels["core.person_history"] == "人口基础信息（历史）"


def test_init_creates_catalog_and_data_folders(settings: Settings) -> None:
    report = init_lake(settings)
    assert report.changed
    assert (settings.home / "lake" / "catalog.sqlite").is_file()
    assert (settings.home / "lake" / "data").is_dir()
    assert set(report.created_schemas) == set(LAKE_SCHEMAS)


def test_init_twice_changes_nothing(settings: Settings) -> None:
    first = init_lake(settings)
    con = attach(settings, read_only=True)
    before = (_snapshots(con), _columns(con))
    con.close()

    second = init_lake(settings)

    con = attach(settings, read_only=True)
    after = (_snapshots(con), _columns(con))
    con.close()
    assert first.changed
    assert first.snapshot_id is not None
    assert not second.changed
    assert second.snapshot_id is None
    assert after == before  # no new snapshot, same tables, same columns


class Probe(CanonicalRecord):
    __table__: ClassVar[str] = "meta.probe"
    __business_key__: ClassVar[tuple[str, ...]] = ("code",)
    __label__: ClassVar[str] = "探针"
    __owner__: ClassVar[str] = "测试"

    code: str = std("代码", "Business key.", business_key=True)
    count: int = std("数量", "A number.")
    note: str | None = std("备注", "Optional text.", default=None)
    legacy: str | None = std("旧字段", "Dropped in the next version.", default=None)


class ProbeDrifted(CanonicalRecord):
    __table__: ClassVar[str] = "meta.probe"
    __business_key__: ClassVar[tuple[str, ...]] = ("code",)
    __label__: ClassVar[str] = "探针"
    __owner__: ClassVar[str] = "测试"

    code: str = std("代码", "Business key.", business_key=True)
    count: str = std("数量", "Now text.")  # BIGINT -> VARCHAR
    note: str = std("备注", "Now required.")  # nullable -> NOT NULL
    added: dt.date | None = std("新字段", "New column.", default=None)  # not in the lake


class ProbeRelabelled(CanonicalRecord):
    __table__: ClassVar[str] = "meta.probe"
    __business_key__: ClassVar[tuple[str, ...]] = ("code",)
    __label__: ClassVar[str] = "探针表"
    __owner__: ClassVar[str] = "测试"

    code: str = std("编码", "Business key.", business_key=True)
    count: int = std("数量", "A number.")
    note: str | None = std("备注", "Optional text.", default=None)
    legacy: str | None = std("旧字段", "Dropped in the next version.", default=None)


@pytest.fixture
def con(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """One writable connection per test: each attach costs ~0.3 s of extension loading."""
    con = attach(settings)
    yield con
    con.close()


def test_drifted_table_stops_init_with_the_migration_to_write(
    settings: Settings, con: duckdb.DuckDBPyConnection
) -> None:
    init_lake(settings, [Probe], con=con)
    before = (_snapshots(con), _columns(con))

    with pytest.raises(SchemaDrift) as caught:
        init_lake(settings, [ProbeDrifted], con=con)

    message = str(caught.value)
    assert "meta.probe.count: the lake has BIGINT, the model says VARCHAR" in message
    assert "meta.probe.note: the lake allows NULL, the model requires a value" in message
    assert "meta.probe.added: in the model (DATE), missing from the lake" in message
    assert "ALTER TABLE lake.meta.probe ADD COLUMN added DATE" in message
    assert "meta.probe.legacy: in the lake (VARCHAR), not in the model" in message
    assert "migration" in message
    assert {(d.table, d.column) for d in caught.value.drifts} == {
        ("meta.probe", "count"),
        ("meta.probe", "note"),
        ("meta.probe", "added"),
        ("meta.probe", "legacy"),
    }
    assert (_snapshots(con), _columns(con)) == before  # nothing was altered


def test_drift_is_reported_before_anything_is_created(
    settings: Settings, con: duckdb.DuckDBPyConnection
) -> None:
    init_lake(settings, [Probe], con=con)
    with pytest.raises(SchemaDrift):
        init_lake(settings, [ProbeDrifted, *TABLES], con=con)
    assert "core.person" not in _columns(con)


def test_changed_labels_are_refreshed_without_a_migration(
    settings: Settings, con: duckdb.DuckDBPyConnection
) -> None:
    init_lake(settings, [Probe], con=con)
    report = init_lake(settings, [ProbeRelabelled], con=con)
    assert report.relabelled == ("meta.probe",)
    columns = _columns(con)["meta.probe"]
    tables = {t: c for _, t, c in con.execute(load_sql("lake_tables"), {"lake": "lake"}).fetchall()}
    assert columns[0][3] == "编码"
    assert tables["probe"] == "探针表"
    assert not init_lake(settings, [ProbeRelabelled], con=con).changed


def test_new_model_adds_only_its_table(settings: Settings, con: duckdb.DuckDBPyConnection) -> None:
    init_lake(settings, [Probe], con=con)
    report = init_lake(settings, [Probe, table("core.person")], con=con)
    assert report.created_tables == ("core.person", "core.person_history")


def test_same_table_declared_twice_is_a_spec_error(settings: Settings) -> None:
    with pytest.raises(SpecError, match=r"meta\.probe is declared twice"):
        init_lake(settings, [Probe, ProbeDrifted])
