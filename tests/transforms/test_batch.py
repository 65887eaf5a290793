"""split(): every row ends exactly once, and the newest update wins."""

from __future__ import annotations

import random

import polars as pl
import pytest

from transforms.batch import begin, flag, split
from transforms.staged import SUPERSEDED, scan_valid

SCHEMA = pl.Schema({"k": pl.String, "t": pl.Int64})


def _batch(keys: list[str], times: list[int | None], bad: set[int] = frozenset()):
    n = len(keys)
    lf = begin(
        pl.LazyFrame(
            {"k": keys, "t": times, "_source": ["f"] * n, "_source_row": list(range(1, n + 1))},
            schema_overrides={"t": pl.Int64},
        )
    )
    lf = flag(lf, "k", pl.when(pl.col("_source_row").is_in(list(bad))).then(pl.lit("format")))
    return split(
        lf, columns=["k", "t"], schema=SCHEMA, business_key=["k"], updated_at="t"
    ).collect()


@pytest.mark.parametrize("seed", range(5))
def test_newest_update_wins_and_every_row_ends_once(seed: int) -> None:
    rng = random.Random(seed)
    n = 500
    keys = [rng.choice("abcdefghijklmnop") for _ in range(n)]
    times = [rng.randint(0, 30) for _ in range(n)]
    bad = {i for i in range(1, n + 1) if rng.random() < 0.1}
    valid, rejected, dups = _batch(keys, times, bad)

    expected: dict[str, tuple[int, int]] = {}
    for row, (k, t) in enumerate(zip(keys, times, strict=True), start=1):
        if row in bad:
            continue
        if k not in expected or (t, row) >= expected[k]:
            expected[k] = (t, row)
    got = {k: (t, r) for k, t, r in valid.select("k", "t", "_source_row").rows()}
    assert got == expected
    assert set(rejected["_source_row"]) == bad
    assert sorted([*valid["_source_row"], *rejected["_source_row"], *dups["_source_row"]]) == list(
        range(1, n + 1)
    )


def test_rows_without_update_time_lose_to_dated_ones() -> None:
    valid, _, dups = _batch(["a", "a"], [5, None])
    assert valid["_source_row"].to_list() == [1]
    assert dups["reason"].to_list() == ["superseded_in_delivery"]


def test_rejected_rows_keep_the_raw_record_and_all_reasons() -> None:
    _, rejected, _ = _batch(["a"], [1], bad={1})
    assert rejected["raw_record"].to_list() == ['{"k":"a","t":1}']
    assert rejected["reasons"].to_list() == [["k.format"]]


def _lazy_batch(keys: list[str], times: list[int | None], bad: set[int], *, sliced: bool = True):
    n = len(keys)
    delivery = pl.LazyFrame(
        {"k": keys, "t": times, "_source": ["f"] * n, "_source_row": list(range(1, n + 1))},
        schema_overrides={"t": pl.Int64},
    )

    def steps(frame: pl.LazyFrame) -> pl.LazyFrame:
        rejected = pl.col("_source_row").is_in(list(bad))
        return flag(begin(frame), "k", pl.when(rejected).then(pl.lit("format")))

    return split(
        steps(delivery),
        columns=["k", "t"],
        schema=SCHEMA,
        business_key=["k"],
        updated_at="t",
        # With the delivery and its steps, write() normalizes one slice of the delivery at
        # a time; without, it takes the stepped rows in batches.
        delivery=delivery if sliced else None,
        steps=steps if sliced else None,
    )


@pytest.mark.parametrize("sliced", [True, False], ids=["delivery_slices", "stepped_batches"])
@pytest.mark.parametrize(("seed", "chunk_rows"), [(0, 1), (1, 7), (2, 50), (3, 10_000)])
def test_written_in_chunks_equals_collected_at_once(
    tmp_path, seed: int, chunk_rows: int, sliced: bool
) -> None:
    # A delivery larger than a chunk is normalized chunk by chunk (bounded memory); a key
    # repeated across chunks must end exactly as when the whole batch is split at once.
    rng = random.Random(seed)
    n = 400
    keys = [rng.choice("abcdefghijklmnopqrstuvwxyz") + str(rng.randint(0, 20)) for _ in range(n)]
    times = [rng.choice([None, *range(5)]) for _ in range(n)]
    bad = {i for i in range(1, n + 1) if rng.random() < 0.1}
    batch = _lazy_batch(keys, times, bad, sliced=sliced)
    valid, rejected, dups = batch.collect()
    out = batch.write(tmp_path, chunk_rows=chunk_rows)

    def rows(path, cols):
        return pl.read_parquet(path).select(cols).sort("_source_row").rows()

    def valid_rows(frame: pl.LazyFrame) -> list[tuple]:
        return frame.select("_source_row", "k", "t").sort("_source_row").collect().rows()

    assert valid_rows(scan_valid(out.valid_path)) == valid_rows(valid.lazy())
    assert (
        rows(out.rejected_path, ["_source_row", "raw_record", "reasons"])
        == rejected.select("_source_row", "raw_record", "reasons").sort("_source_row").rows()
    )
    assert (
        rows(out.duplicates_path, ["_source_row", "raw_record", "reason"])
        == dups.select("_source_row", "raw_record", "reason").sort("_source_row").rows()
    )
    assert out.rows == (valid.height, rejected.height, dups.height)
    assert sum(out.rows) == n
    one_chunk = chunk_rows >= n
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "duplicates.parquet",
        "rejected.parquet",
        "valid.parquet" if one_chunk else "valid",
    ]
    if not one_chunk:
        # The parts hold every chunk's valid rows; the versions that lost to a later chunk
        # are listed, and they are exactly the duplicates found across chunks.
        parts = pl.read_parquet(out.valid_path / "part-*.parquet")
        superseded = set(pl.read_parquet(out.valid_path / SUPERSEDED)["_source_row"])
        assert parts.height == valid.height + len(superseded)
        assert superseded <= set(dups["_source_row"])
        assert superseded.isdisjoint(valid["_source_row"])


def test_an_empty_delivery_writes_three_empty_files(tmp_path) -> None:
    out = _lazy_batch([], [], set()).write(tmp_path)
    assert out.rows == (0, 0, 0)
    assert pl.read_parquet(out.valid_path).columns[:2] == ["k", "t"]
    assert "raw_record" in pl.read_parquet(out.rejected_path).columns


def test_chunks_order_versions_by_a_helper_column_not_in_the_table(tmp_path) -> None:
    # Licences order versions by a parsed helper column that the valid rows do not keep.
    source = begin(
        pl.LazyFrame(
            {"k": ["a", "a", "b", "a"], "_order": [2, 9, 1, 5], "_source": ["f"] * 4},
        ).with_row_index("_source_row", 1)
    )
    batch = split(
        source.with_columns(pl.col("_source_row").cast(pl.Int64)),
        columns=["k"],
        schema=pl.Schema({"k": pl.String}),
        business_key=["k"],
        updated_at="_order",
    )
    out = batch.write(tmp_path, chunk_rows=1)
    assert scan_valid(out.valid_path).sort("k").collect()["_source_row"].to_list() == [2, 3]
    assert sorted(pl.read_parquet(out.duplicates_path)["_source_row"].to_list()) == [1, 4]
