"""split(): every row ends exactly once, and the newest update wins."""

from __future__ import annotations

import random

import polars as pl
import pytest

from transforms.batch import begin, flag, split

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
