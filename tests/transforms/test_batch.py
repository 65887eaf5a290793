"""split(): every row ends exactly once, and the newest update wins."""

from __future__ import annotations

import itertools
import random
import threading

import polars as pl
import pytest

from transforms.batch import begin, flag, flag_where, split, warn, warn_where
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


def test_codes_noted_by_value_and_by_condition_list_alike_in_the_order_noted() -> None:
    # flag/warn carry the code in the column; flag_where/warn_where in the column's name,
    # as a Boolean: the rows must end with the same lists either way, in the order noted.
    lf = begin(
        pl.LazyFrame(
            {"k": ["a", "b", "c", "d"], "t": [1, 2, None, 4], "_source": ["f"] * 4},
        ).with_row_index("_source_row", 1)
    ).with_columns(pl.col("_source_row").cast(pl.Int64))
    k, t = pl.col("k"), pl.col("t")
    lf = flag_where(lf, "t", "missing", t.is_null())
    lf = flag(lf, "k", pl.when(k == "b").then(pl.lit("format")))
    lf = flag_where(lf, "k", "reserved", k.is_in(["b", "c"]))
    # A null condition notes nothing, as a null code does.
    lf = warn_where(lf, "t", "old", t < 2)
    lf = warn(lf, "k", pl.when(k == "d").then(pl.lit("odd")))
    # The point of flag_where: a Boolean per row, not a String of mostly nulls.
    codes = {n: t for n, t in lf.collect_schema().items() if n.startswith(("_reason.", "_warn"))}
    assert [t for n, t in codes.items() if n.endswith((".missing", ".reserved", ".old"))] == [
        pl.Boolean
    ] * 3
    valid, rejected, _ = split(
        lf, columns=["k", "t"], schema=SCHEMA, business_key=["k"], updated_at="t"
    ).collect()
    assert dict(rejected.select("_source_row", "reasons").rows()) == {
        2: ["k.format", "k.reserved"],
        3: ["t.missing", "k.reserved"],
    }
    assert dict(valid.select("k", "_warnings").rows()) == {"a": ["t.old"], "d": ["k.odd"]}


def test_a_field_with_a_dot_cannot_be_noted() -> None:
    with pytest.raises(ValueError, match="cannot hold a dot"):
        flag_where(begin(pl.LazyFrame({"a": [1]})), "a.b", "odd", pl.col("a") > 0)


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


@pytest.mark.parametrize("chunk_rows", [3, 100])
def test_valid_files_say_their_business_key_is_unique(tmp_path, chunk_rows: int) -> None:
    # The load trusts this instead of counting the keys again: it must hold for the parts
    # together, once the superseded rows are left out.
    import json

    from transforms.staged import UNIQUE_KEY_METADATA

    rows = [("a", 1), ("b", 1), ("c", 1), ("a", 2), ("b", 0), ("d", 1)]
    out = _chunked(rows).write(tmp_path, chunk_rows=chunk_rows)
    files = sorted(out.valid_path.glob("part-*.parquet")) or [out.valid_path]
    assert len(files) == (2 if chunk_rows == 3 else 1)
    for f in files:
        assert pl.read_parquet_metadata(f)[UNIQUE_KEY_METADATA] == json.dumps(["k"])
    keys = scan_valid(out.valid_path).select("k").collect()["k"]
    assert keys.is_unique().all() and keys.len() == 4


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


def _chunked(rows: list[tuple[str, int | None]], steps=begin):
    """A delivery of (key, update) rows, each with its own payload ``v`` (so that a raw
    record taken from the wrong row shows), split from the delivery and its steps."""
    n = len(rows)
    delivery = pl.LazyFrame(
        {
            "k": [k for k, _ in rows],
            "t": [t for _, t in rows],
            "v": [f"v{i}" for i in range(1, n + 1)],
            "_source": ["f"] * n,
            "_source_row": list(range(1, n + 1)),
        },
        schema_overrides={"t": pl.Int64},
    )
    return split(
        None,
        columns=["k", "t"],
        schema=SCHEMA,
        business_key=["k"],
        updated_at="t",
        delivery=delivery,
        steps=steps,
    )


def _raw(rows: list[tuple[str, int | None]], row: int) -> str:
    k, t = rows[row - 1]
    return pl.DataFrame({"k": [k], "t": [t], "v": [f"v{row}"]}).write_ndjson().strip()


# Chunks of 3 rows: rows 1-3, 4-6, 7-9. Key "a" meets itself across chunks; the others
# are fillers. (rows, winner, losers, superseded: the losers that their own chunk kept)
_FILL = [("x2", 1), ("x3", 1)], [("x5", 1), ("x6", 1)], [("x8", 1), ("x9", 1)]
ACROSS_CHUNKS = {
    # the loser is in the chunk before: its raw record comes from that chunk, still in memory
    "earlier_chunk_loses": ([("a", 1), *_FILL[0], ("a", 2), *_FILL[1]], 4, [1], [1]),
    # the loser is two chunks back, no longer in memory: its raw record is read back
    "two_chunks_back_loses": (
        [("a", 1), *_FILL[0], ("x4", 1), *_FILL[1], ("a", 2), *_FILL[2]],
        7,
        [1],
        [1],
    ),
    # the loser is in the chunk at hand: its raw record comes from that chunk
    "current_chunk_loses": ([("a", 2), *_FILL[0], ("a", 1), *_FILL[1]], 1, [4], [4]),
    # the same update time: the later source row wins
    "tie_goes_to_later_row": ([("a", 3), *_FILL[0], ("a", 3), *_FILL[1]], 4, [1], [1]),
    # no update time loses to any, earlier or later
    "null_update_earlier": ([("a", None), *_FILL[0], ("a", 1), *_FILL[1]], 4, [1], [1]),
    "null_update_later": ([("a", 1), *_FILL[0], ("a", None), *_FILL[1]], 1, [4], [4]),
    "null_updates_tie": ([("a", None), *_FILL[0], ("a", None), *_FILL[1]], 4, [1], [1]),
    # three chunks: each newer than the one before; the oldest is beaten once only
    "three_chunks_newest_last": (
        [("a", 1), *_FILL[0], ("a", 2), *_FILL[1], ("a", 3), *_FILL[2]],
        7,
        [1, 4],
        [1, 4],
    ),
    # three chunks: the third must lose to the first (the newest so far), although it is
    # newer than the second, which lost already
    "three_chunks_newest_first": (
        [("a", 3), *_FILL[0], ("a", 1), *_FILL[1], ("a", 2), *_FILL[2]],
        1,
        [4, 7],
        [4, 7],
    ),
    "three_chunks_newest_between": (
        [("a", 1), *_FILL[0], ("a", 3), *_FILL[1], ("a", 2), *_FILL[2]],
        4,
        [1, 7],
        [1, 7],
    ),
    # a repeat inside a chunk, then across: the chunk's own loser is not met again
    "inside_then_across": (
        [("a", 1), ("a", 2), ("x3", 1), ("a", 3), *_FILL[1], ("a", 2), *_FILL[2]],
        4,
        [1, 2, 7],
        [2, 7],
    ),
}


def _uneven(delivery: pl.LazyFrame, sizes: list[int]):
    """Chunks of the given sizes, in turn, whatever size is asked for: as a reader that
    cuts a file by bytes hands them over."""

    def chunks(rows: int):
        frame, start = delivery.collect(), 0
        for size in itertools.cycle(sizes):
            if start >= frame.height:
                return
            yield frame.slice(start, size)
            start += size

    return chunks


# Slices of 3 rows, or chunks of varying rows as a reader that cuts the delivery by bytes
# hands them over: each chunk's rows are counted from where the one before ended, and a
# version beaten one or two chunks back is found as with equal slices.
@pytest.mark.parametrize(
    "sizes", [None, [2, 4], [5, 1, 3], [1]], ids=["slices", "2-4", "5-1-3", "1"]
)
@pytest.mark.parametrize(
    ("rows", "winner", "losers", "superseded"), ACROSS_CHUNKS.values(), ids=ACROSS_CHUNKS.keys()
)
def test_a_key_across_chunks_keeps_its_newest_version(
    tmp_path,
    sizes: list[int] | None,
    rows: list[tuple[str, int | None]],
    winner: int,
    losers: list[int],
    superseded: list[int],
) -> None:
    batch = _chunked(rows)
    chunks = _uneven(batch.delivery, sizes) if sizes else None
    done: list[int] = []
    out = batch.write(tmp_path, chunk_rows=3, chunks=chunks, on_rows=done.append)

    valid = scan_valid(out.valid_path).sort("_source_row").collect()
    assert valid.filter(pl.col("k") == "a")["_source_row"].to_list() == [winner]
    assert valid.height == len({k for k, _ in rows})
    dups = pl.read_parquet(out.duplicates_path).sort("_source_row")
    assert dups.rows() == [("f", row, _raw(rows, row), "superseded_in_delivery") for row in losers]
    assert out.rows == (valid.height, 0, len(losers))
    # And all as when the whole delivery is split at once.
    _, _, at_once = batch.collect()
    assert sorted(at_once.rows()) == dups.rows()
    if chunks is None:
        # The parts still hold the versions beaten in another chunk; the list leaves them out.
        assert sorted(pl.read_parquet(out.valid_path / SUPERSEDED)["_source_row"]) == superseded
    else:
        # One part per chunk handed over, not per slice of 3, each placed where it starts.
        handed = list(chunks(3))
        assert len(list(out.valid_path.glob("part-*.parquet"))) == len(handed)
        assert done == list(itertools.accumulate(c.height for c in handed))


def test_versions_beaten_in_the_chunk_before_are_not_read_back(tmp_path, monkeypatch) -> None:
    # Reading back costs a pass over the delivery; the chunk before is still in memory.
    from transforms.batch import NormalizedBatch

    read_back: list[int] = []
    original = NormalizedBatch._read_back

    def spy(self, beaten):
        read_back.extend(beaten["_source_row"].to_list())
        return original(self, beaten)

    monkeypatch.setattr(NormalizedBatch, "_read_back", spy)
    _chunked(ACROSS_CHUNKS["earlier_chunk_loses"][0]).write(tmp_path / "near", chunk_rows=3)
    assert read_back == []
    _chunked(ACROSS_CHUNKS["two_chunks_back_loses"][0]).write(tmp_path / "far", chunk_rows=3)
    assert read_back == [1]


@pytest.mark.parametrize("collide", [False, True], ids=["hashed", "all_hashes_collide"])
@pytest.mark.parametrize("seed", range(3))
def test_a_key_of_two_columns_meets_across_chunks_as_at_once(
    tmp_path, monkeypatch, seed: int, collide: bool
) -> None:
    # Keys are matched across chunks on a hash of the whole key, nulls included (as
    # split() ranks them), and then compared column by column: keys whose hashes collide
    # still do not meet.
    from transforms import batch as batch_module

    if collide:
        monkeypatch.setattr(batch_module, "_key_hash", lambda key: pl.lit(0, dtype=pl.UInt64))
    rng = random.Random(seed)
    n = 300
    delivery = pl.LazyFrame(
        {
            "k": [rng.choice("abc") for _ in range(n)],
            "j": [rng.choice(["x", "y", None]) for _ in range(n)],
            "t": [rng.choice([None, 1, 2]) for _ in range(n)],
            "_source": ["f"] * n,
            "_source_row": list(range(1, n + 1)),
        },
        schema_overrides={"t": pl.Int64},
    )
    batch = split(
        None,
        columns=["k", "j", "t"],
        schema=pl.Schema({"k": pl.String, "j": pl.String, "t": pl.Int64}),
        business_key=["k", "j"],
        updated_at="t",
        delivery=delivery,
        steps=begin,
    )
    valid, _, dups = batch.collect()
    out = batch.write(tmp_path, chunk_rows=40)
    got = scan_valid(out.valid_path).select("k", "j", "_source_row").sort("_source_row")
    assert got.collect().rows() == valid.select("k", "j", "_source_row").sort("_source_row").rows()
    assert sorted(pl.read_parquet(out.duplicates_path).rows()) == sorted(dups.rows())
    assert valid.height == 9


@pytest.mark.parametrize(
    "rows",
    [
        # beaten in the chunk before: found in it by row number, wherever the step put them
        [("a", 1), ("x2", 1), ("x3", 1), ("a", 2), ("b", 1), ("x6", 1), ("b", 2)],
        # beaten two chunks back: read back from where they stood in the delivery, which
        # the step moved them from, so the whole delivery is searched
        [("a", 1), ("x2", 1), ("x3", 1), ("b", 1), ("x5", 1), ("x6", 1), ("a", 2), ("b", 2)],
    ],
    ids=["chunk_before", "two_chunks_back"],
)
def test_raw_records_are_found_when_a_step_reorders_rows(tmp_path, rows) -> None:
    out = _chunked(rows, steps=lambda frame: begin(frame).reverse()).write(tmp_path, chunk_rows=3)
    dups = pl.read_parquet(out.duplicates_path).sort("_source_row")
    losers = [1, 4] if rows[3][0] == "b" else [1, 5]
    assert dups.select("_source_row", "raw_record").rows() == [(r, _raw(rows, r)) for r in losers]


@pytest.mark.parametrize("chunk_rows", [None, 2])
def test_derived_columns_are_computed_on_the_valid_rows_alone(tmp_path, chunk_rows) -> None:
    # ``derived`` runs after the split: the rejected row (``bad``) and the superseded one
    # never reach it, collected at once or written chunk by chunk. (A function the
    # optimizer cannot see through records what it is given.)
    seen: list[str] = []

    def tens(keys: pl.Series) -> pl.Series:
        seen.extend(keys.to_list())
        return keys.str.to_integer(strict=True) * 10

    delivery = pl.LazyFrame(
        {
            "k": ["1", "bad", "2", "1"],
            "t": [2, 1, 1, 1],
            "_source": ["f"] * 4,
            "_source_row": [1, 2, 3, 4],
        },
    )

    def steps(frame: pl.LazyFrame) -> pl.LazyFrame:
        return flag(begin(frame), "k", pl.when(pl.col("k") == "bad").then(pl.lit("format")))

    batch = split(
        None,
        columns=["k", "t", "n"],
        schema=pl.Schema({"k": pl.String, "t": pl.Int64, "n": pl.Int64}),
        business_key=["k"],
        updated_at="t",
        delivery=delivery,
        steps=steps,
        derived={"n": pl.col("k").map_batches(tens, return_dtype=pl.Int64)},
    )
    if chunk_rows is None:
        valid, rejected, dups = batch.collect()
        assert valid.sort("k").select("k", "t", "n").rows() == [("1", 2, 10), ("2", 1, 20)]
        assert rejected["_source_row"].to_list() == [2] and dups["_source_row"].to_list() == [4]
        assert sorted(seen) == ["1", "2"]
    else:
        out = batch.write(tmp_path, chunk_rows=chunk_rows)
        written = scan_valid(out.valid_path).sort("k").select("k", "t", "n").collect().rows()
        assert written == [("1", 2, 10), ("2", 1, 20)]
        assert out.rows == (2, 1, 1)
        # Row 4 is valid in its chunk, and loses to row 1 only across chunks.
        assert sorted(seen) == ["1", "1", "2"]


def test_the_next_slice_is_read_while_this_one_is_stepped(tmp_path, monkeypatch) -> None:
    # Three chunks are under way at once (NormalizedBatch._chunks): the steps of each slice
    # wait here until the read of the slice after it has begun. Reading only when a slice's
    # turn comes, they would wait for nothing and fail.
    from transforms import batch as batch_module

    chunk_rows, rows = 3, [(f"k{i}", 1) for i in range(11)]  # slices at 0, 3, 6, 9
    reads = {offset: threading.Event() for offset in range(0, len(rows), chunk_rows)}
    read_slice = batch_module.read_slice

    def reading(delivery: pl.LazyFrame, offset: int, n: int) -> pl.DataFrame:
        reads[offset].set()
        return read_slice(delivery, offset, n)

    waited: list[tuple[int, bool]] = []

    def steps(frame: pl.LazyFrame) -> pl.LazyFrame:
        offset = frame.select(pl.col("_source_row").min()).collect().item() - 1
        if offset + chunk_rows in reads:
            waited.append((offset, reads[offset + chunk_rows].wait(timeout=30)))
        return begin(frame)

    monkeypatch.setattr(batch_module, "read_slice", reading)
    out = _chunked(rows, steps=steps).write(tmp_path, chunk_rows=chunk_rows)
    assert waited == [(0, True), (3, True), (6, True)]
    # Nothing read twice, nothing left out.
    assert out.rows == (len(rows), 0, 0)
    assert sorted(scan_valid(out.valid_path).collect()["k"]) == sorted(k for k, _ in rows)


def test_an_error_while_writing_a_chunk_stops_the_reading_ahead(tmp_path, monkeypatch) -> None:
    # The caller fails on the first chunk: the error comes through once the chunks under
    # way are done, and no thread is left running.
    from transforms import batch as batch_module

    def failing(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(batch_module.NormalizedBatch, "_split_into", failing)
    rows = [(f"k{i}", 1) for i in range(30)]
    with pytest.raises(RuntimeError, match="disk full"):
        _chunked(rows).write(tmp_path, chunk_rows=3)
    names = [t.name for t in threading.enumerate()]
    assert not [n for n in names if n.startswith(("citybrain-read", "citybrain-chunk"))], names


def test_a_delivery_is_split_into_equal_chunks_by_its_row_count(tmp_path, monkeypatch) -> None:
    from transforms import batch as batch_module

    monkeypatch.setattr(batch_module, "CHUNK_ROWS", 10)
    monkeypatch.setattr(batch_module, "ONE_CHUNK_ROWS", 20)
    rows = [(f"k{i}", 1) for i in range(23)]  # 3 chunks of 8, 8, 7 rather than 10, 10, 3
    out = _chunked(rows).write(tmp_path, rows_hint=len(rows))
    parts = sorted(out.valid_path.glob("part-*.parquet"))
    assert [pl.read_parquet(p).height for p in parts] == [8, 8, 7]
    # Without a count, chunks of ONE_CHUNK_ROWS.
    out = _chunked(rows).write(tmp_path / "no_hint")
    parts = sorted(out.valid_path.glob("part-*.parquet"))
    assert [pl.read_parquet(p).height for p in parts] == [20, 3]
    # A delivery below ONE_CHUNK_ROWS is one chunk, whatever CHUNK_ROWS says.
    out = _chunked(rows[:19]).write(tmp_path / "small", rows_hint=19)
    assert out.valid_path.is_file() and pl.read_parquet(out.valid_path).height == 19
