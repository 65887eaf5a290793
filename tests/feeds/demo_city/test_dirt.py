"""The dirt helpers and the verdict rules, on tiny frames."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError

from feeds.demo_city.dirt import (
    PROFILES,
    Dice,
    DirtProfile,
    spell_date,
    spell_end_date,
    wrong_check_char,
)
from feeds.demo_city.render import outcomes
from schemas.codes.dates import parse_date

T = [dt.datetime(2026, 10, d) for d in range(1, 6)]


def test_clean_profile_has_no_dirt_and_rates_are_probabilities():
    clean = PROFILES["clean"]
    rates = {k: v for k, v in clean.model_dump().items() if isinstance(v, float)}
    assert rates and not any(rates.values()) and clean.unmarked_last_file is False
    with pytest.raises(ValidationError):
        DirtProfile(id_checksum=1.5)
    with pytest.raises(ValidationError):
        DirtProfile(no_such_dirt=0.1)


def test_every_date_spelling_parses_back_to_the_date():
    days = [dt.date(1930, 1, 2), dt.date(2021, 3, 5), dt.date(2026, 12, 31)]
    frame = pl.DataFrame({"d": days * 7, "k": np.repeat(np.arange(7), 3)})
    spelled = frame.select(spell_date(pl.col("d"), 1, pl.lit(True), pl.col("k")).alias("s"), "d")
    assert spelled["s"].n_unique() == 21
    parsed = spelled.select(parse_date(pl.col("s")).struct.field("value"))
    assert parsed.to_series().to_list() == spelled["d"].to_list()


def test_no_end_date_spellings_mean_open_ended():
    frame = pl.DataFrame({"d": [None, None, None]}, schema={"d": pl.Date})
    spelled = frame.select(
        spell_end_date(
            pl.col("d"), 1, pl.lit(False), pl.Series([0, 1, 2]), pl.Series([False, True, True])
        )
    ).to_series()
    assert set(spelled) == {"长期", "9999-12-31", "99991231"}
    assert (
        frame.with_columns(spelled.alias("s"))
        .select(parse_date(pl.col("s")).struct.field("open_ended").all())
        .item()
    )


def test_old_dates_never_become_excel_serials():
    # Serials below 10000 (1927) are read as years by the pipeline: none are written.
    frame = pl.DataFrame({"d": [dt.date(1920, 5, 1)]})
    assert frame.select(spell_date(pl.col("d"), 1, pl.lit(True), pl.lit(5))).item() == "1920-05-01"


def test_a_wrong_check_character_is_always_another_one():
    codes = pl.DataFrame({"c": ["11010519491231002X"] * 10, "k": range(1, 11)})
    got = codes.select(wrong_check_char(pl.col("c"), "0123456789X", pl.col("k"))).to_series()
    assert got.str.head(17).eq("11010519491231002").all() and got.n_unique() == 10
    assert not got.str.ends_with("X").any()


def test_one_of_draws_exclusive_kinds():
    dice = Dice(np.random.default_rng(0), 10_000)
    kinds = dice.one_of({"a": 0.2, "b": 0.3})
    share = dict(kinds.value_counts().iter_rows())
    assert (
        set(share) == {"a", "b", ""} and 1_700 < share["a"] < 2_300 and 2_700 < share["b"] < 3_300
    )


def _rows(**cols):
    n = len(cols["_key"])
    base = {"_batch": [0] * n, "_order": list(range(n)), "reasons": [[] for _ in range(n)]}
    return pl.DataFrame({**base, **cols}, schema_overrides={"reasons": pl.List(pl.String)})


def test_a_late_older_version_is_stale_and_a_resent_one_a_repeat():
    rows = _rows(
        _key=["a", "a", "a", "a"],
        _vid=[2, 1, 2, 3],
        _cursor=[T[1], T[0], T[1], T[2]],
        _batch=[0, 1, 2, 3],
    )
    got = outcomes(rows).select("outcome", "duplicate_kind").rows()
    assert got == [
        ("valid", None),
        ("duplicate", "stale"),
        ("duplicate", "repeat"),
        ("valid", None),
    ]


def test_within_one_delivery_the_newest_version_wins_whatever_the_row_order():
    rows = _rows(_key=["a", "a"], _vid=[1, 2], _cursor=[T[0], T[1]])
    assert outcomes(rows)["duplicate_kind"].to_list() == ["stale", None]


def test_a_quarantined_row_does_not_count_as_loaded():
    rows = _rows(_key=["a", "a"], _vid=[1, 1], _cursor=[T[0], T[0]], _batch=[0, 1])
    rows = rows.with_columns(pl.Series("reasons", [["id_number.checksum"], []]))
    assert outcomes(rows)["outcome"].to_list() == ["quarantine", "valid"]
