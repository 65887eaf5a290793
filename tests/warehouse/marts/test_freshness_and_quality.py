"""Feed freshness against the SLAs, and the GB/T 36344 scorecard with known A/B counts."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
from polars.testing import assert_frame_equal

from schemas.generate import polars_schema
from schemas.records import table
from tests.warehouse.marts.conftest import BUILT_AT, LOADED_AT, build, put, put_core, read
from warehouse.marts import FeedSla, write_feed_slas

POLICE = "市公安局"
POLICE_FEED = "population"
MARKET = "市市场监督管理局"
LICENCES = "市政务服务数据管理局"


def frame(name: str, rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=polars_schema(table(name)), orient="row")


def batch(batch_id: str, feed: str, finished_at: datetime, rows_in: int, **extra) -> dict:
    return {
        "batch_id": batch_id,
        "feed": feed,
        "rows_in": rows_in,
        "rows_loaded": rows_in,
        "started_at": finished_at - timedelta(minutes=1),
        "finished_at": finished_at,
        **extra,
    }


def slas(con, settings) -> None:
    write_feed_slas(
        con,
        settings,
        [
            FeedSla("population", POLICE, "0 2 * * *", 30.0),
            FeedSla("legal_entity", MARKET, "0 3 * * *", 48.0),
            FeedSla("licence", LICENCES, "0 5 1 * *", 840.0),
        ],
        updated_at=LOADED_AT,
    )


def test_slas_are_written_only_when_they_change(con, settings) -> None:
    first = [FeedSla("population", POLICE, "0 2 * * *", 30.0)]
    assert write_feed_slas(con, settings, first) == ["population"]
    snapshots = con.execute("SELECT count(*) FROM lake.snapshots()").fetchone()
    assert write_feed_slas(con, settings, first) == []
    # Nothing changed: no new snapshot either.
    assert con.execute("SELECT count(*) FROM lake.snapshots()").fetchone() == snapshots
    changed = [FeedSla("population", POLICE, "0 2 * * *", 36.0)]
    assert write_feed_slas(con, settings, changed) == ["population"]
    assert_frame_equal(
        read(con, "meta.feed_slas").drop("updated_at"),
        frame("meta.feed_slas", [("population", POLICE, "0 2 * * *", 36.0, None)]).drop(
            "updated_at"
        ),
    )


def test_feed_freshness_measures_each_feed_against_its_sla(con, settings) -> None:
    slas(con, settings)
    put(
        con,
        "meta.batches",
        [
            # 10 hours old against 30: fresh. The older batch does not count.
            batch("p1", "population", BUILT_AT - timedelta(hours=50), 5),
            batch("p2", "population", BUILT_AT - timedelta(hours=10), 5),
            # 60 hours old against 48: stale. A later failed attempt is not a load.
            batch("e1", "legal_entity", BUILT_AT - timedelta(hours=60), 5),
            batch("e2", "legal_entity", BUILT_AT - timedelta(hours=1), 0, status="failed"),
            # A feed with batches but no SLA on record: never judged stale.
            batch("c1", "credit", BUILT_AT - timedelta(hours=1000), 5),
        ],
    )
    updated = datetime(2026, 6, 14, 9, 30)
    put_core(
        con,
        "core.person",
        [
            {"id_number": "A", "_feed": "population", "source_updated_at": updated},
            {"id_number": "B", "_feed": "population", "source_updated_at": datetime(2026, 1, 1)},
        ],
    )
    build(con, settings)
    want = frame(
        "mart.feed_freshness",
        [
            ("credit", None, BUILT_AT - timedelta(hours=1000), None, None, 1000.0, False),
            ("legal_entity", MARKET, BUILT_AT - timedelta(hours=60), None, 48.0, 60.0, True),
            # Licences: an SLA but never loaded, so stale.
            ("licence", LICENCES, None, None, 840.0, None, True),
            ("population", POLICE, BUILT_AT - timedelta(hours=10), updated, 30.0, 10.0, False),
        ],
    )
    assert_frame_equal(read(con, "mart.feed_freshness"), want)


def test_quality_scores_follow_the_a_over_b_counts_and_accumulate_once_per_batch(
    con, settings
) -> None:
    slas(con, settings)
    t0 = datetime(2026, 6, 1, 2, 0)
    put(
        con,
        "meta.batches",
        [
            batch(
                "p1",
                "population",
                t0,
                10,
                rows_superseded=1,
                failed_attempts=0,
            ),
            # 40 hours after the previous delivery against an SLA of 30: late; and it took
            # a second attempt to load.
            batch(
                "p2",
                "population",
                t0 + timedelta(hours=40),
                4,
                rows_superseded=0,
                failed_attempts=1,
            ),
            # Failed batches are not scored.
            batch("p3", "population", t0 + timedelta(hours=41), 0, status="failed"),
        ],
    )
    quarantined = [
        # Two reasons of the same rule count the row once.
        ["id_number.checksum", "birth_date.implausible"],
        ["name.missing", "phone.format"],
        ["sex_code.mismatch_id", "ethnicity_code.unknown"],
        ["valid_to.before_valid_from"],
        ["anything.else"],  # a reason no rule names: business rules
    ]
    put(
        con,
        "meta.quarantine",
        [
            {
                "feed": "population",
                "batch_id": "p1",
                "source_row": i,
                "reasons": reasons,
                "quarantined_at": t0,
            }
            for i, reasons in enumerate(quarantined, start=1)
        ],
    )
    build(con, settings)

    def rules(batch_id: str, counts: dict[str, tuple[int, int]]) -> list[tuple]:
        return [
            (POLICE_FEED, POLICE, batch_id, BUILT_AT, rule, dim, sub, a, b, round(100 * a / b, 2))
            for rule, dim, sub in RULES
            for a, b in [counts[rule]]
        ]

    # p1: 10 rows in, each quarantine rule broken by one row, one duplicate in the delivery.
    p1 = {rule: (9, 10) for rule, _, _ in RULES}
    p1 |= {"timeliness.on_time": (1, 1), "accessibility.available": (1, 1)}
    # p2: clean rows, but late and loaded on the second attempt.
    p2 = {rule: (4, 4) for rule, _, _ in RULES}
    p2 |= {"timeliness.on_time": (0, 1), "accessibility.available": (1, 2)}
    want = frame("meta.quality_results", rules("p1", p1) + rules("p2", p2))
    results = read(con, "meta.quality_results").sort("batch_id", "rule_id")
    assert_frame_equal(results, want.sort("batch_id", "rule_id"))

    # p1: every rule 90 except timeliness (ordering 90, on time 100) and accessibility 100:
    # 0.2·90 + 0.2·90 + 0.25·90 + 0.15·90 + 0.15·95 + 0.05·100 = 91.25 -> B.
    # p2: all 100 except timeliness 50 and accessibility 50: 90.0 -> B.
    dims = {
        "p1": {"accessibility": 100.0, "timeliness": 95.0},
        "p2": {"accessibility": 50.0, "timeliness": 50.0},
    }
    default = {"p1": 90.0, "p2": 100.0}
    overall = {"p1": (91.25, "B"), "p2": (90.0, "B")}
    finished = {"p1": t0, "p2": t0 + timedelta(hours=40)}
    card = [
        (
            POLICE_FEED,
            POLICE,
            b,
            BUILT_AT,
            d,
            dims[b].get(d, default[b]),
            *overall[b],
            finished[b],
        )
        for b in ("p1", "p2")
        for d in sorted(DIMENSIONS)
    ]
    assert_frame_equal(read(con, "mart.quality_scorecard"), frame("mart.quality_scorecard", card))

    # Scoring again adds nothing: the results are per batch, kept as first scored.
    build(con, settings)
    assert_frame_equal(read(con, "meta.quality_results").sort("batch_id", "rule_id"), results)


def test_cross_source_consistency_counts_licences_whose_holder_is_known(con, settings) -> None:
    slas(con, settings)
    put(con, "meta.batches", [batch("l1", "licence", datetime(2026, 6, 1), 4)])
    put_core(con, "core.legal_entity", [{"uscc": "E1"}])
    put_core(con, "core.person", [{"id_number": "P1"}])
    put_core(
        con,
        "core.licence",
        [
            {"certificate_id": "L1", "holder_code": "E1", "_batch_id": "l1"},
            {"certificate_id": "L2", "holder_code": "P1", "_batch_id": "l1"},
            {"certificate_id": "L3", "holder_code": "NOBODY", "_batch_id": "l1"},
            {"certificate_id": "L5", "holder_code": "E1", "_batch_id": "l1"},
            # Another batch's version: not this batch's to answer for.
            {"certificate_id": "L4", "holder_code": "NOBODY", "_batch_id": "l0"},
        ],
    )
    build(con, settings)
    got = read(con, "meta.quality_results").filter(pl.col("rule_id") == "consistency.cross_source")
    assert got.select("batch_id", "passed", "evaluated", "score").rows() == [("l1", 3, 4, 75.0)]
    card = read(con, "mart.quality_scorecard").filter(pl.col("dimension") == "consistency")
    # Mean of same-data consistency (100) and cross-source consistency (75).
    assert card.select("score").item() == 87.5


RULES = [
    ("accessibility.available", "accessibility", "可用性"),
    ("accuracy.content", "accuracy", "数据内容正确性"),
    ("accuracy.duplicates", "accuracy", "数据重复率"),
    ("accuracy.format", "accuracy", "数据格式合规性"),
    ("completeness.elements", "completeness", "数据元素完整性"),
    ("conformity.business_rules", "conformity", "业务规则"),
    ("conformity.reference_data", "conformity", "权威参考数据"),
    ("consistency.same_data", "consistency", "相同数据一致性"),
    ("timeliness.on_time", "timeliness", "基于时间点的及时性"),
    ("timeliness.ordering", "timeliness", "时序性"),
]
DIMENSIONS = {d for _, d, _ in RULES}
