"""The shortcuts of the normalize step give exactly what the plain way gives.

Reason columns built into lists once (split, reason_lists), checks run on distinct values
or only on the rows a fast twin cannot answer (common.with_check): each is compared with
the plain computation on deterministic, dirty inputs.
"""

from __future__ import annotations

import random
from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from schemas.codes.dates import OPEN_ENDED_SPELLINGS, parse_date, parse_datetime
from schemas.codes.person_codes import check_sex_code
from schemas.codes.region import check_statistical_code
from transforms.batch import begin, flag, has_reasons, reason_lists, split, warn
from transforms.common import cleaned_later, fast_date, fast_datetime, map_fields, with_check
from transforms.context import NormalizeContext

# --- reason lists -------------------------------------------------------------------


def _flagged(n: int, seed: int) -> tuple[pl.LazyFrame, list[list[str]], list[list[str]]]:
    """Rows flagged and warned by several checks at random, with the lists expected."""
    rng = random.Random(seed)
    hits = [[rng.random() < 0.3 for _ in range(6)] for _ in range(n)]
    lf = begin(pl.LazyFrame({"i": list(range(n)), "_source": ["f"] * n, "_source_row": range(n)}))
    expected_reasons: list[list[str]] = [[] for _ in range(n)]
    expected_warnings: list[list[str]] = [[] for _ in range(n)]
    # Interleaved, a field flagged twice: the lists keep the order the steps noted them in.
    for check, (field, kind) in enumerate(
        [("b", "r"), ("a", "w"), ("a", "r"), ("b", "r"), ("c", "w"), ("a", "w")]
    ):
        rows = [i for i in range(n) if hits[i][check]]
        code = pl.when(pl.col("i").is_in(rows)).then(pl.lit(f"code{check}"))
        lf = flag(lf, field, code) if kind == "r" else warn(lf, field, code)
        for i in rows:
            target = expected_reasons if kind == "r" else expected_warnings
            target[i].append(f"{field}.code{check}")
    return lf, expected_reasons, expected_warnings


@pytest.mark.parametrize("seed", range(3))
def test_reason_and_warning_lists_keep_the_order_of_the_checks(seed: int) -> None:
    lf, reasons, warnings = _flagged(300, seed)
    got = lf.pipe(reason_lists).collect()
    assert got["_reasons"].to_list() == reasons
    assert got["_warnings"].to_list() == warnings
    assert lf.select(has_reasons(lf)).collect().to_series().to_list() == [bool(r) for r in reasons]
    assert not any(c.startswith(("_reason.", "_warning.")) for c in got.columns)


@pytest.mark.parametrize("seed", range(3))
def test_split_gives_each_row_its_lists(seed: int) -> None:
    lf, reasons, warnings = _flagged(300, seed)
    batch = split(
        lf, columns=["i"], schema=pl.Schema({"i": pl.Int64}), business_key=["i"], updated_at=None
    )
    valid, rejected, _ = batch.collect()
    assert dict(rejected.select("_source_row", "reasons").rows()) == {
        i: r for i, r in enumerate(reasons) if r
    }
    assert dict(valid.select("_source_row", "_warnings").rows()) == {
        i: w for i, (r, w) in enumerate(zip(reasons, warnings, strict=True)) if not r
    }


def test_a_frame_without_checks_has_empty_lists() -> None:
    lf = begin(pl.LazyFrame({"a": ["x"]}))
    assert lf.pipe(reason_lists).select("_reasons", "_warnings").collect().row(0) == ([], [])
    assert lf.select(has_reasons(lf)).collect().item() is False


# --- fast twins and distinct values -------------------------------------------------------

# A `when` over distinct values once panicked the in-memory engine alone: both are run.
ENGINES = ["streaming", "in-memory"]


def _dates(n: int, seed: int, *, with_time: bool) -> list[str | None]:
    """Dates in every spelling the feeds use, with impossible days, times and the rest."""
    rng = random.Random(seed)
    values: list[str | None] = [None, "", "长期", "永久有效", "99991231", "9999-12-31",
                                "9999-12-31 00:00:00", "00000101", "2021-02-29", "20240229",
                                "2021-03-05 24:00:00", "2021-03-05 23:59:60", "2021-3-5",
                                "2021-03-05T08:00:00Z", "2021-03-05 08:00", " 20210305",
                                "２０２１０３０５", "2021-03-05 08:00:00.5", "44260", "44260.5",
                                "2021", "202103051", "2021-03-05x", "2021.03-05",
                                "2021/03/05 08:00:00", "2021.02.30 99:99:99", "2021/03/5",
                                "9999/12/31", "2021.03.05T08:00:00", "2021年3月5日",
                                "2021年03月05日 08:00:00", "2021年3月5", "2021年3/5日",
                                "9999年12月31日", "2021-003-05", "2021-3-005", "+2021-03-05",
                                "0000-01-01", "09999", "10000", "80000", "80001", "2958465",
                                "２０２１年３月５日", "2021年2月29日", "2021年0月5日"]  # fmt: skip
    for _ in range(n):
        y, m, d = rng.randint(1900, 2030), rng.randint(0, 13), rng.randint(0, 32)
        h, mi, s = rng.randint(0, 25), rng.randint(0, 61), rng.randint(0, 61)
        spelling = rng.choice(
            [
                f"{y}{m:02}{d:02}",
                f"{y}-{m:02}-{d:02}",
                f"{y}.{m:02}.{d:02}",
                f"{y}/{m}/{d}",
                f"{y}/{m:02}/{d:02}",
                f"{y}年{m}月{d}日",
                f"{y}年{m:02}月{d:02}日",
                f"{y}年{m}月{d}日 {h:02}:{mi:02}:{s:02}",
                f"{y}.{m}.{d}",
                f"{y}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}",
                f"{y}{m:02}{d:02}{h:02}{mi:02}{s:02}",
                f"{rng.randint(9000, 90000)}",
            ]
        )
        values.append(spelling if with_time or rng.random() < 0.9 else spelling[:10])
    return values


@pytest.mark.parametrize(
    ("check", "fast"), [(parse_date, fast_date), (parse_datetime, fast_datetime)]
)
@pytest.mark.parametrize("engine", ENGINES)
def test_a_fast_twin_changes_no_result(check, fast, engine) -> None:
    lf = pl.LazyFrame({"d": _dates(3_000, seed=7, with_time=check is parse_datetime)})
    plain = with_check(lf, "d", check, "_d").collect().unnest("_d")
    got = with_check(lf, "d", check, "_d", fast=fast).collect(engine=engine).unnest("_d")
    assert_frame_equal(got, plain)
    # The twin must answer for some rows (its spellings, valid days), or it saves nothing.
    answered = lf.select(fast(pl.col("d")).is_not_null().mean()).collect().item()
    assert answered > 0.05


def _day_spellings(n: int, seed: int) -> list[str]:
    """Days spelled every way the feeds do and a few ways they might, with impossible days
    (month 0 or 13, day 0 or 32, 29 February), years 0000 and 9999, full-width digits, times
    out of range, Excel serials around the accepted range, and stray characters."""
    rng = random.Random(seed)
    wide = str.maketrans("0123456789-/.: ", "０１２３４５６７８９－／．：\u3000")
    values = []
    for _ in range(n):
        y = rng.choice([rng.randint(1900, 2030), 0, 1, 1000, 9999])
        m, d = rng.randint(0, 13), rng.choice([rng.randint(0, 32), 29, 30, 31])
        if rng.random() < 0.3:  # the last day of the year: 9999-12-31 is "no end"
            m, d = 12, 31
        seps = rng.choice(["-", "/", ".", "年月日", "年月", "-/", "./", "年/日", " "])
        first, second = seps[0], seps[1] if len(seps) > 1 else seps[0]
        tail = seps[2] if len(seps) > 2 else ""
        month = f"{m:02}" if rng.random() < 0.5 else str(m)
        day = f"{d:02}" if rng.random() < 0.5 else str(d)
        value = rng.choice(
            [
                f"{y:04}{m:02}{d:02}",
                f"{y:04}{first}{month}{second}{day}{tail}",
                f"{rng.randint(9990, 80010)}",
                f"{rng.randint(10000, 80000)}.{rng.randint(0, 99)}",
            ]
        )
        if rng.random() < 0.2:
            h, mi, sec = rng.randint(0, 25), rng.randint(0, 61), rng.randint(0, 61)
            value += rng.choice([f" {h:02}:{mi:02}:{sec:02}", f"T{h:02}:{mi:02}", f" {h}:{mi:02}"])
        if rng.random() < 0.05:
            value = value.translate(wide)
        if rng.random() < 0.05:
            value = rng.choice([" ", "x", "日", "\u3000"]) + value
        if rng.random() < 0.05:
            value += rng.choice([" ", "x", "日", "0"])
        values.append(value)
    return values + list(OPEN_ENDED_SPELLINGS)


@pytest.mark.parametrize("seed", range(3))
def test_the_fast_date_twin_answers_as_the_parser_or_not_at_all(seed: int) -> None:
    values = pl.DataFrame({"d": _day_spellings(4_000, seed)})
    both = values.with_columns(
        fast_date(pl.col("d")).alias("fast"), parse_date(pl.col("d")).alias("parsed")
    )
    answered = both.filter(pl.col("fast").is_not_null())
    assert_frame_equal(
        answered.select(pl.col("fast").struct.unnest()),
        answered.select(pl.col("parsed").struct.unnest()),
    )
    # Answered: valid days (compact, separated, Chinese, Excel) and the "no end" ones.
    assert answered.height > 0.3 * values.height


# Each common spelling of the legal-entity export, valid: the twin answers every one, so
# that none falls to the parser (it would give the same answer, at four times the cost).
COMMON_DAYS = [
    "20210305", "2021-03-05", "2021.03.05", "2021/03/05", "2021/3/5", "2021-3-5", "2021.3.5",
    "2021年3月5日", "2021年03月05日", "2021年3月5", "2021-03-05 08:00:00",
    "2021年3月5日 08:00:00", "2021/3/5 23:59:59", "44260", "10000", "80000", "长期",
    "永久有效", "9999-12-31", "99991231", "9999年12月31日", "9999-12-31 00:00:00", "9999-05-01",
]  # fmt: skip


def test_the_fast_date_twin_answers_every_common_spelling() -> None:
    values = pl.DataFrame({"d": COMMON_DAYS})
    fast = values.select(fast_date(pl.col("d")).struct.unnest())
    assert fast["open_ended"].null_count() == 0, fast.filter(pl.col("open_ended").is_null())
    assert_frame_equal(fast, values.select(parse_date(pl.col("d")).struct.unnest()))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("check", [check_sex_code, check_statistical_code, parse_date])
def test_checking_distinct_values_changes_no_result(check, engine) -> None:
    rng = random.Random(3)
    pool = ["1", "2", "男", "女", "9", "x", None, "", "440106001002", "440102005", "4401", "长期",
            "20210305", "2021-02-30"]  # fmt: skip
    lf = pl.LazyFrame({"c": [rng.choice(pool) for _ in range(2_000)]}, schema={"c": pl.String})
    plain = with_check(lf, "c", check, "_c").collect().unnest("_c")
    got = with_check(lf, "c", check, "_c", distinct=True).collect(engine=engine).unnest("_c")
    assert_frame_equal(got, plain)


@pytest.mark.parametrize("engine", ENGINES)
def test_map_fields_cleans_distinct_values_alike(engine) -> None:
    rng = random.Random(5)
    pool = [
        "有限责任公司（自然人投资或控股）",
        " 存续 ",
        "无",
        "ＮＵＬＬ",
        None,
        "吊销，未注销",
        "\u3000在业",
    ]
    lf = pl.LazyFrame({"T": [rng.choice(pool) for _ in range(1_000)]}, schema={"T": pl.String})
    fields = {"entity_type": ["T"]}
    assert_frame_equal(
        map_fields(fields, distinct=["entity_type"])(lf).collect(engine=engine),
        map_fields(fields)(lf).collect(),
    )


def test_a_column_cleaned_later_ends_as_one_cleaned_at_once() -> None:
    """Free text mapped as delivered and cleaned after the split (cleaned_later) ends as
    map_fields would have cleaned it; a column of two source names is cleaned at once, as
    which name wins depends on the cleaned values (the first is a null spelling here)."""
    pool = ["\u3000广州市天河区\uff11号 ", " 无 ", "ＮＵＬＬ", None, "广州市 越秀区", "e\u0301"]
    lf = pl.LazyFrame(
        {"A": pool, "OLD": ["无", None, "x", "y", "z", "w"], "NEW": ["v", "u", "t", "s", "r", "q"]}
    )
    fields = {"address": ["A"], "two": ["OLD", "NEW"]}
    ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    at_once = map_fields(fields)(lf).collect()
    later = (
        map_fields(fields, clean_later=["address", "two"])(lf)
        .with_columns(cleaned_later("address")(ctx).alias("address"))
        .collect()
    )
    assert_frame_equal(later, at_once)
    assert at_once["two"].to_list() == ["v", "u", "x", "y", "z", "w"]
