"""The shortcuts of the normalize step give exactly what the plain way gives.

Reason columns built into lists once (split, reason_lists), checks run on distinct values
or only on the rows a fast twin cannot answer (common.with_check): each is compared with
the plain computation on deterministic, dirty inputs.
"""

from __future__ import annotations

import random

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from schemas.codes.dates import parse_date, parse_datetime
from schemas.codes.person_codes import check_sex_code
from schemas.codes.region import check_statistical_code
from transforms.batch import begin, flag, has_reasons, reason_lists, split, warn
from transforms.common import fast_date, fast_datetime, map_fields, with_check

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
                                "9999/12/31", "2021.03.05T08:00:00"]  # fmt: skip
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
