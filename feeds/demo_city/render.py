"""From versions to deliveries and ground truth, the same way for every feed.

For one chunk of one lake table: every version goes to the deliveries that carry it (a
full export carries each key's latest version before it, an increment or API pull the
versions of its window); some rows are delivered again (``repeat``) and some older
versions arrive after newer ones (``stale``); the feed's spelling turns canonical values
into delivered text with dirt and reason codes; each row gets its verdict; rows are
appended to their files and their truth is written beside, keyed by file and row.

Verdicts follow the order a pipeline processes rows in: deliveries in ``seq`` order,
within one the newest update first (as a pipeline dedups a batch by newest update), then
file order. A row is ``quarantine`` if it has a reason code; else ``duplicate`` if it is
older than what is already loaded (``stale``) or the very version already loaded
(``repeat``); else ``valid``. ``current/`` holds what the lake should hold per key after
every complete delivery.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from feeds.demo_city.context import Context
from feeds.demo_city.dirt import Dice
from feeds.demo_city.streams import stream
from feeds.demo_city.timeline import Delivery
from feeds.demo_city.writers import JsonlSink, Sink

__all__ = ["TRUTH_META", "Renderer", "Truth", "outcomes", "render_chunk"]

# Columns every truth row has before the table's canonical columns.
TRUTH_META = {
    "delivery": pl.String,  # path under deliveries/
    "row": pl.Int64,  # 0-based record index in that file (API: line index)
    "outcome": pl.String,  # valid | duplicate | quarantine
    "duplicate_kind": pl.String,  # repeat | stale (duplicates only)
    "reasons": pl.List(pl.String),  # quarantine reason codes
    "dirt": pl.List(pl.String),  # every kind of dirt the row carries
    "delivery_complete": pl.Boolean,  # False: the file has no .ok marker yet
    "business_key": pl.String,
    "served_at": pl.Datetime("us"),  # API rows: the line's updated_at
}


@dataclass(frozen=True)
class Renderer:
    """How one lake table's source rows are delivered.

    ``spell`` gets the rows (canonical values and internals) and dice, and returns the
    delivered fields (strings, in ``fields`` order) plus ``reasons`` and ``dirt`` lists,
    row for row. ``canonical`` maps the rows to the truth's canonical columns (schema
    given by ``canonical_schema``). ``sink`` makes the file a delivery is written to.
    """

    table: str
    deliveries: tuple[Delivery, ...]
    fields: tuple[str, ...]
    canonical_schema: dict[str, pl.DataType]
    spell: Callable[[Context, pl.DataFrame, Dice], pl.DataFrame]
    canonical: Callable[[pl.DataFrame], pl.DataFrame]
    sink: Callable[[Delivery], Sink]
    line: pl.Expr | None = None  # API files: the JSON line of a row
    stale: bool = True  # False where the cursor is the export itself (licences)


@dataclass
class Truth:
    root: Path  # OUT/truth

    def write(self, table: str, kind: str, name: str, frame: pl.DataFrame) -> None:
        folder = self.root / table / kind
        folder.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(folder / f"{name}.parquet", statistics=False)


def _assign(versions: pl.DataFrame, deliveries: tuple[Delivery, ...]) -> pl.DataFrame:
    parts = []
    for d in deliveries:
        if d.kind == "full":
            part = (
                versions.filter(pl.col("_cursor") < d.until)
                .sort("_cursor", "_vid")
                .unique("_key", keep="last", maintain_order=True)
            )
        else:
            part = versions.filter(pl.col("_cursor").is_between(d.since, d.until, closed="left"))
        parts.append(part.with_columns(pl.lit(d.seq, dtype=pl.Int64).alias("_batch")))
    return pl.concat(parts).with_columns(pl.lit(None, dtype=pl.String).alias("_copy"))


def _later(deliveries: tuple[Delivery, ...]) -> dict[int, list[int]]:
    """For each delivery seq, the next (up to 7) deliveries of the same kind and file."""
    return {
        d.seq: [
            e.seq
            for e in deliveries
            if e.seq > d.seq and e.kind == d.kind and e.kind != "full" and e.feed == d.feed
        ][:7]
        for d in deliveries
    }


def _targets(
    rng: np.random.Generator, batches: np.ndarray, later: dict[int, list[int]], force_later: bool
):
    """A target batch per row: the same one, or a later one of the same kind (-1: none)."""
    target = batches.copy()
    go = np.ones(len(batches), dtype=bool) if force_later else rng.random(len(batches)) < 0.5
    for i, b in enumerate(batches):
        options = later[int(b)]
        if go[i] and options:
            target[i] = options[rng.integers(0, len(options))]
        elif force_later:
            target[i] = -1
    return target


def _by_seq(
    deliveries: tuple[Delivery, ...], values: list, batches: pl.Series, dtype: pl.DataType
) -> np.ndarray:
    """``values`` (one per delivery) looked up by each row's batch seq."""
    table = dict(zip((d.seq for d in deliveries), values, strict=True))
    return batches.replace_strict(table, return_dtype=dtype).to_numpy()


def _copies(
    ctx: Context, r: Renderer, rows: pl.DataFrame, versions: pl.DataFrame, rng
) -> pl.DataFrame:
    """Rows delivered again: the same version (repeat), or an older one late (stale)."""
    p = ctx.profile
    later = _later(r.deliveries)
    repeat = rows.filter(pl.Series(rng.random(rows.height) < p.repeat))
    repeat = repeat.with_columns(
        pl.Series("_batch", _targets(rng, repeat["_batch"].to_numpy(), later, False)),
        pl.lit("repeat").alias("_copy"),
    )
    if not r.stale or p.stale <= 0:
        return repeat
    previous = (
        versions.sort("_key", "_cursor", "_vid")
        .with_columns(pl.col("_vid").shift(-1).over("_key").alias("_next_vid"))
        .filter(pl.col("_next_vid").is_not_null())
    )
    incremental = rows.filter(
        pl.col("_batch").is_in([d.seq for d in r.deliveries if d.kind != "full"])
    )
    chosen = incremental.filter(pl.Series(rng.random(incremental.height) < p.stale)).select(
        pl.col("_vid").alias("_next_vid"), "_batch"
    )
    stale = previous.join(chosen, on="_next_vid", how="inner").drop("_next_vid")
    stale = stale.with_columns(
        pl.Series("_batch", _targets(rng, stale["_batch"].to_numpy(), later, True)),
        pl.lit("stale").alias("_copy"),
    ).filter(pl.col("_batch") >= 0)
    return pl.concat([repeat, stale.select(repeat.columns)])


def _served_at(rows: pl.DataFrame, deliveries: tuple[Delivery, ...], rng) -> pl.Series:
    """When an API served each row: its update time, or within the batch it was re-sent in."""
    since = _by_seq(deliveries, [d.since for d in deliveries], rows["_batch"], pl.Datetime("us"))
    until = _by_seq(deliveries, [d.until for d in deliveries], rows["_batch"], pl.Datetime("us"))
    cursor = rows["_cursor"].to_numpy()
    span = (until - since).astype(np.int64)
    resent = since + (rng.random(rows.height) * span).astype(np.int64).astype("timedelta64[us]")
    own = (cursor >= since) & (cursor < until)
    bumped = np.minimum(
        cursor + rng.integers(1, 600, rows.height).astype("timedelta64[s]"),
        until - np.timedelta64(1, "s"),
    )
    copy = rows["_copy"].is_not_null().to_numpy()
    served = np.where(own, np.where(copy, np.maximum(bumped, cursor), cursor), resent)
    return pl.Series("served_at", served.astype("datetime64[us]"))


def outcomes(rows: pl.DataFrame) -> pl.DataFrame:
    """``outcome`` and ``duplicate_kind`` per row (see the module docstring).

    Needs ``_key``, ``_vid``, ``_cursor``, ``_batch``, ``_order`` and ``reasons``.

    >>> import datetime as dt
    >>> t = [dt.datetime(2026, 10, d) for d in (1, 2, 2, 1, 3)]
    >>> rows = pl.DataFrame({"_key": ["a"] * 5, "_vid": [1, 2, 2, 1, 3], "_cursor": t,
    ...     "_batch": [0, 1, 2, 3, 3], "_order": [0, 0, 0, 0, 1],
    ...     "reasons": [[], [], [], [], ["id_number.checksum"]]})
    >>> outcomes(rows).select("outcome", "duplicate_kind").rows()
    [('valid', None), ('valid', None), ('duplicate', 'repeat'), ('duplicate', 'stale'), ('quarantine', None)]
    """
    indexed = rows.with_row_index("_i")
    good = indexed.filter(pl.col("reasons").list.len() == 0).select(
        "_i", "_key", "_vid", "_cursor", "_batch", "_order"
    )
    # Only keys with several good rows can hold a duplicate: sort and scan just those.
    repeated = good.filter(pl.col("_key").is_duplicated())
    verdicts = (
        repeated.sort(
            ["_key", "_batch", "_cursor", "_order"], descending=[False, False, True, False]
        )
        .with_columns(pl.col("_cursor").cum_max().shift(1).over("_key").alias("_seen"))
        .with_columns((pl.col("_cursor") < pl.col("_seen")).fill_null(False).alias("_stale"))
        .with_columns(
            pl.when(~pl.col("_stale"))
            .then(pl.col("_vid"))
            .shift(1)
            .forward_fill()
            .over("_key")
            .alias("_current")
        )
        .select(
            "_i",
            pl.when(pl.col("_stale"))
            .then(pl.lit("stale"))
            .when(pl.col("_vid") == pl.col("_current"))
            .then(pl.lit("repeat"))
            .alias("duplicate_kind"),
        )
    )
    kind = pl.Series("duplicate_kind", [None] * indexed.height, dtype=pl.String).scatter(
        verdicts["_i"], verdicts["duplicate_kind"]
    )
    return rows.with_columns(kind).with_columns(
        pl.when(pl.col("reasons").list.len() > 0)
        .then(pl.lit("quarantine"))
        .when(pl.col("duplicate_kind").is_not_null())
        .then(pl.lit("duplicate"))
        .otherwise(pl.lit("valid"))
        .alias("outcome"),
    )


# Canonical columns travel beside the delivered fields under this prefix: a delivered
# field may have a canonical column's name (the credit lists' subject_code).
_C = "canonical:"


def _truth_frame(r: Renderer, rows: pl.DataFrame) -> pl.DataFrame:
    meta = [
        pl.col(c).cast(t) if c in rows.columns else pl.lit(None, dtype=t).alias(c)
        for c, t in TRUTH_META.items()
    ]
    canon = [pl.col(_C + c).cast(t).alias(c) for c, t in r.canonical_schema.items()]
    return rows.select(*meta, *canon)


def _rows_to_deliver(ctx: Context, r: Renderer, chunk: int, versions: pl.DataFrame, api: list[bool]):  # fmt: skip
    """The rows each delivery carries (repeats and late copies included), in file order."""
    rng = stream(ctx.seed, "deliver", r.table, chunk)
    rows = _assign(versions, r.deliveries)
    rows = pl.concat([rows, _copies(ctx, r, rows, versions, rng)])
    order = rng.random(rows.height)
    if any(api):
        rows = rows.with_columns(_served_at(rows, r.deliveries, rng))
        # API lines are processed in the order they are served; files in file order.
        served = rows["served_at"].dt.epoch("us").to_numpy().astype(np.float64)
        order = np.where(_by_seq(r.deliveries, api, rows["_batch"], pl.Boolean), served, order)
    return rows.with_columns(pl.Series("_order", order)).sort("_batch", "_order")


def _judged(ctx: Context, r: Renderer, chunk: int, rows: pl.DataFrame, sinks: dict[str, Sink]):
    """Delivered fields, verdicts and canonical values, one row per delivered record."""
    spelled = r.spell(ctx, rows, Dice(stream(ctx.seed, "dirt", r.table, chunk), rows.height))
    copy = pl.when(pl.col("_copy").is_not_null()).then(pl.concat_list("_copy"))
    rows = outcomes(
        rows.with_columns(
            spelled["reasons"],
            pl.concat_list(spelled["dirt"], copy.otherwise(pl.lit([], pl.List(pl.String)))).alias(
                "dirt"
            ),
        )
    )
    complete = {d.seq: not sinks[d.path].still_writing for d in r.deliveries}
    meta = rows.select(
        "_key", "_vid", "_cursor", "_batch", "_order", "outcome", "duplicate_kind", "reasons",
        "dirt", *(["served_at"] if "served_at" in rows.columns else []),
        pl.col("_batch").replace_strict(complete, return_dtype=pl.Boolean).alias("delivery_complete"),
        pl.col("_key").alias("business_key"),
    )  # fmt: skip
    canonical = r.canonical(rows).select(pl.all().name.prefix(_C))
    return pl.concat([spelled.select(r.fields), meta, canonical], how="horizontal").with_row_index("_pos")  # fmt: skip


def render_chunk(
    ctx: Context,
    r: Renderer,
    chunk: int,
    versions: pl.DataFrame,
    *,
    sinks: dict[str, Sink],
    truth: Truth,
) -> None:
    """Deliver one chunk's versions of table ``r.table`` and write their truth."""
    api = [isinstance(sinks[d.path], JsonlSink) for d in r.deliveries]
    judged = _judged(ctx, r, chunk, _rows_to_deliver(ctx, r, chunk, versions, api), sinks)
    by_batch = judged.partition_by("_batch", as_dict=True)
    truth_parts, api_parts = [], {}
    for d in r.deliveries:
        block = by_batch.get((d.seq,))
        sink = sinks[d.path]
        if block is None:
            continue
        if isinstance(sink, JsonlSink):
            api_parts.setdefault(d.path, []).append(block)
            continue
        at = 0
        for rel, first, count in sink.append(block.select(r.fields)):
            part = block.slice(at, count).with_columns(
                pl.lit(rel).alias("delivery"),
                (pl.int_range(pl.len()) + first).cast(pl.Int64).alias("row"),
            )
            truth_parts.append(_truth_frame(r, part))
            at += count
    for path, blocks in api_parts.items():
        block = pl.concat(blocks).with_columns(pl.lit(path).alias("delivery"))
        staged = _truth_frame(r, block).drop("row")
        lines = block.select(r.line.alias("line"), "_order")  # type: ignore[union-attr]
        sinks[path].append(pl.concat([staged, lines], how="horizontal"), chunk)  # type: ignore[call-arg]
    if truth_parts:
        truth.write(r.table, "rows", f"part-{chunk:05d}", pl.concat(truth_parts))
    truth.write(r.table, "current", f"part-{chunk:05d}", _current(r, judged))


def _current(r: Renderer, judged: pl.DataFrame) -> pl.DataFrame:
    """Per key, the last version a pipeline loaded from the complete deliveries."""
    loaded = judged.filter((pl.col("outcome") == "valid") & pl.col("delivery_complete"))
    again = pl.col("_key").is_duplicated()
    latest = (
        loaded.filter(again).sort("_batch", "_pos").unique("_key", keep="last", maintain_order=True)
    )
    current = pl.concat([loaded.filter(~again), latest]).sort("_key")
    return _truth_frame(r, current).select("business_key", *r.canonical_schema)


def finish_api(r: Renderer, sinks: dict[str, Sink], truth: Truth) -> None:
    """Sort and write the table's API files; their truth gets each line's index."""
    for path in dict.fromkeys(d.path for d in r.deliveries):
        sink = sinks[path]
        if isinstance(sink, JsonlSink):
            for i, frame in enumerate(sink.collect()):
                name = f"api-{Path(path).stem}-{i:05d}"
                truth.write(r.table, "rows", name, frame.select(*TRUTH_META, *r.canonical_schema))
