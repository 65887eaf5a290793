"""Dirt: how real exports misspell values, at configurable rates, as Polars expressions.

:class:`DirtProfile` holds one rate per kind of dirt (a probability per value, per row or
per file, as each field says). ``default`` looks like real exports; ``clean`` has no dirt
at all, so every delivered row is valid and written in its one canonical spelling.

The helpers turn a canonical column into its delivered spelling given a per-row random
choice, so a renderer reads: canonical value + dice -> delivered text (+ reason codes).
Everything here is vectorized; no helper loops over rows.
"""

from __future__ import annotations

import datetime as _dt

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from schemas.codes.text import NULL_SPELLINGS

__all__ = [
    "PROFILES",
    "Dice",
    "DirtProfile",
    "fullwidth",
    "null_spelled",
    "spell_date",
    "spell_end_date",
    "text_noise",
]

Rate = Field(default=0.0, ge=0.0, le=1.0)

# What feeds.md lists around text; NFKC turns U+3000 and NBSP into spaces, but not U+200B,
# which a pipeline must remove on its own.
_NOISE = ("\u3000", " ", "\u00a0", "\u200b", "  ", "\t")

# Date spellings (feeds.md, "Common to all feeds"); index 0..6. 5 = Excel serial.
DATE_FORMATS = ("%Y%m%d", "%Y-%m-%d", "%Y/%-m/%-d", "%Y.%m.%d", "%Y年%-m月%-d日")
EXCEL_SERIAL = 5
DATETIME = 6
N_DATE_SPELLINGS = 7
NO_END_SPELLINGS = ("长期", "9999-12-31", "99991231")


class DirtProfile(BaseModel):
    """Rates of every kind of dirt the simulator can put into a delivery.

    A rate is the probability that one eligible value (or row, or file) gets that dirt;
    "eligible" is spelled out per field (lowercase ``x`` only applies to IDs ending ``X``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "custom"
    # Common to all feeds.
    null_spelling: float = Rate  # an empty optional field written as 无 / NULL / - ...
    text_noise: float = Rate  # U+3000, NBSP, U+200B, blanks around a text value
    date_spelling: float = Rate  # a date in another of the seven spellings
    no_end_spelling: float = Rate  # 长期 written as 9999-12-31 / 99991231
    repeat: float = Rate  # a row delivered again (same version), within or across files
    stale: float = Rate  # an older version delivered after a newer one
    # Population (GMSFHM ... GXSJ).
    id_fullwidth: float = Rate
    id_lowercase_x: float = Rate  # of IDs ending in X
    id_legacy_15: float = Rate  # of IDs that have a 15-digit form (born 19xx)
    id_checksum: float = Rate  # quarantine: id_number.checksum
    name_spaces: float = Rate  # 张 三
    sex_as_text: float = Rate  # 男 / 女
    sex_unknown: float = Rate  # 0 / 9 where the ID knows better
    sex_mismatch: float = Rate  # quarantine: sex_code.mismatch_id
    birth_mismatch: float = Rate  # quarantine: birth_date.mismatch_id
    ethnicity_spelling: float = Rate  # 1 or 汉族 instead of 01
    retired_region: float = Rate  # of records whose district had a predecessor
    residence_9_digits: float = Rate  # street code instead of the 12-digit community code
    phone_spelling: float = Rate  # +86 138-0013-8000, spaces, dashes
    # Legal entities.
    uscc_lowercase: float = Rate
    uscc_o_for_0: float = Rate  # quarantine: uscc.format
    uscc_checksum: float = Rate  # quarantine: uscc.checksum
    registration_only: float = Rate  # of entities closed before 2016: no USCC (uscc.missing)
    bracket_width: float = Rate  # （） vs () in a name that has brackets
    capital_spelling: float = Rate  # 500万人民币, 5000000元, bare 500 ...
    industry_letter_missing: float = Rate  # 6510 for I6510
    industry_letter_wrong: float = Rate  # quarantine: industry_code.section_mismatch
    status_spelling: float = Rate  # 在业 / 存续 for 存续（在营、开业、在册）
    encoding_gb18030: float = Rate  # per month: the month's files are GB18030
    encoding_utf8_bom: float = Rate  # per month: the month's files are UTF-8 with BOM
    unmarked_last_file: bool = False  # the newest daily file has no .ok yet
    # Geospatial.
    crs_gcj02: float = Rate  # share of points delivered in GCJ-02 (高德/腾讯)
    crs_bd09: float = Rate  # in BD-09 (百度)
    crs_cgcs2000: float = Rate  # labelled CGCS2000 (same numbers as WGS-84)
    lonlat_swapped: float = Rate
    lonlat_zero: float = Rate  # quarantine: lonlat.zero
    lonlat_out_of_city: float = Rate  # quarantine: lonlat.out_of_city
    region_code_missing: float = Rate  # 所属区划代码 empty: derive it from the point
    # Credit.
    legacy_fields: float = Rate  # a record from the older sub-system (§6.2 names)
    fine_in_yuan: float = Rate  # CF_NR_FK in 元, not 万元
    subject_code_checksum: float = Rate  # quarantine: subject_code.checksum
    # Licences.
    title_row: float = Rate  # per file: a title row above the header
    excel_dates: float = Rate  # a date cell holding an Excel serial number
    status_as_code: float = Rate  # 01 .. 07 instead of 有效 ...
    licence_id_checksum: float = Rate  # quarantine: certificate_id.checksum
    holder_code_checksum: float = Rate  # quarantine: holder_code.checksum


_DEFAULT = DirtProfile(
    name="default",
    null_spelling=0.3,
    text_noise=0.02,
    date_spelling=0.25,
    no_end_spelling=0.3,
    repeat=0.01,
    stale=0.005,
    id_fullwidth=0.005,
    id_lowercase_x=0.3,
    id_legacy_15=0.01,
    id_checksum=0.002,
    name_spaces=0.01,
    sex_as_text=0.05,
    sex_unknown=0.003,
    sex_mismatch=0.001,
    birth_mismatch=0.001,
    ethnicity_spelling=0.2,
    retired_region=0.3,
    residence_9_digits=0.1,
    phone_spelling=0.4,
    uscc_lowercase=0.01,
    uscc_o_for_0=0.002,
    uscc_checksum=0.002,
    registration_only=1.0,
    bracket_width=0.3,
    capital_spelling=0.4,
    industry_letter_missing=0.1,
    industry_letter_wrong=0.002,
    status_spelling=0.4,
    encoding_gb18030=0.2,
    encoding_utf8_bom=0.2,
    unmarked_last_file=True,
    crs_gcj02=0.35,
    crs_bd09=0.15,
    crs_cgcs2000=0.2,
    lonlat_swapped=0.005,
    lonlat_zero=0.003,
    lonlat_out_of_city=0.002,
    region_code_missing=0.05,
    legacy_fields=0.2,
    fine_in_yuan=0.05,
    subject_code_checksum=0.002,
    title_row=0.5,
    excel_dates=0.5,
    status_as_code=0.3,
    licence_id_checksum=0.002,
    holder_code_checksum=0.002,
)

PROFILES: dict[str, DirtProfile] = {
    "default": _DEFAULT,
    "clean": DirtProfile(name="clean"),
}


class Dice:
    """Per-row random draws for one block of rows, as Polars Series.

    >>> d = Dice(np.random.default_rng(0), 4)
    >>> d.mask(0.0).to_list(), d.mask(1.0).to_list()
    ([False, False, False, False], [True, True, True, True])
    """

    def __init__(self, rng: np.random.Generator, n: int) -> None:
        self.rng, self.n = rng, n

    def mask(self, rate: float) -> pl.Series:
        if rate <= 0.0:
            return pl.Series(np.zeros(self.n, dtype=bool))
        return pl.Series(self.rng.random(self.n) < rate)

    def pick(self, k: int) -> pl.Series:
        return pl.Series(self.rng.integers(0, k, self.n))

    def one_of(self, rates: dict[str, float]) -> pl.Series:
        """At most one dirt kind per row (mutually exclusive kinds), else ``""``.

        Never null, so that ``kind == "x"`` and its negation are plain booleans.
        """
        names = list(rates)
        p = np.array([rates[k] for k in names], dtype=np.float64)
        values = pl.Series([*names, ""], dtype=pl.String)
        if p.sum() <= 0.0:
            return values.gather(np.full(self.n, len(names)))
        idx = np.searchsorted(np.cumsum(p), self.rng.random(self.n), side="right")
        return values.gather(idx)


_HALF = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz()"
_FULL = "".join(chr(ord(c) + 0xFEE0) for c in _HALF)


def fullwidth(expr: pl.Expr) -> pl.Expr:
    """ASCII digits, letters and brackets as their full-width forms (NFKC undoes it).

    >>> pl.select(fullwidth(pl.lit("44010619901231002x"))).item()
    '４４０１０６１９９０１２３１００２ｘ'
    """
    return expr.str.replace_many(list(_HALF), list(_FULL))


def text_noise(expr: pl.Expr, on: pl.Expr, choice: pl.Expr) -> pl.Expr:
    """Wrap the value in one of the blanks real exports carry (lead, trail or both)."""
    pad = pl.lit(pl.Series(_NOISE)).gather(choice % len(_NOISE))
    where = (choice // len(_NOISE)) % 3
    noisy = (
        pl.when(where == 0)
        .then(pl.concat_str(pad, expr))
        .when(where == 1)
        .then(pl.concat_str(expr, pad))
        .otherwise(pl.concat_str(pad, expr, pad))
    )
    return pl.when(on & expr.is_not_null()).then(noisy).otherwise(expr)


def null_spelled(expr: pl.Expr, on: pl.Expr, choice: pl.Expr) -> pl.Expr:
    """A null written as ``""`` or, where ``on``, one of the other null spellings."""
    spelled = pl.lit(pl.Series(NULL_SPELLINGS)).gather(choice % len(NULL_SPELLINGS))
    return pl.when(expr.is_not_null()).then(expr).when(on).then(spelled).otherwise(pl.lit(""))


def _excel_serial(date: pl.Expr) -> pl.Expr:
    # Excel's day 0 is 1899-12-30 (its 1900 leap-year bug is folded into that epoch).
    return (date - pl.date(1899, 12, 30)).dt.total_days()


def spell_date(date: pl.Expr, canonical: int, on: pl.Expr, choice: pl.Expr) -> pl.Expr:
    """The date in spelling ``canonical`` or, where ``on``, in spelling ``choice``.

    >>> df = pl.DataFrame({"d": [_dt.date(2021, 3, 5)] * 7})
    >>> df.select(spell_date(pl.col("d"), 1, pl.lit(True), pl.int_range(7))).to_series().to_list()
    ['20210305', '2021-03-05', '2021/3/5', '2021.03.05', '2021年3月5日', '44260', '2021-03-05 08:00:00']
    """
    # The pipeline reads Excel serials from 10000 (1927-05-18) on, since a smaller number
    # is likelier a year (schemas.codes.dates): older dates are never written as serials.
    serial_ok = date >= pl.lit(_dt.date(1927, 5, 18))
    c = (
        pl.when(on & ((choice != EXCEL_SERIAL) | serial_ok))
        .then(choice)
        .otherwise(pl.lit(canonical))
    )
    chain = pl.when(c == 0).then(date.dt.strftime(DATE_FORMATS[0]))
    for i, fmt in enumerate(DATE_FORMATS[1:], start=1):
        chain = chain.when(c == i).then(date.dt.strftime(fmt))
    return (
        chain.when(c == EXCEL_SERIAL)
        .then(_excel_serial(date).cast(pl.String))
        .otherwise(date.dt.strftime("%Y-%m-%d 08:00:00"))
    )


def spell_end_date(
    date: pl.Expr, canonical: int, on: pl.Expr, choice: pl.Expr, no_end_on: pl.Expr
) -> pl.Expr:
    """An end date; null (no end) is written 长期, or 9999-12-31 / 99991231 where
    ``no_end_on``."""
    no_end = pl.lit(pl.Series(NO_END_SPELLINGS)).gather(1 + choice % 2)
    return (
        pl.when(date.is_not_null())
        .then(spell_date(date, canonical, on, choice))
        .when(no_end_on)
        .then(no_end)
        .otherwise(pl.lit(NO_END_SPELLINGS[0]))
    )


def labels(*pairs: tuple[pl.Expr, str]) -> pl.Expr:
    """The names whose condition holds, as a list per row (for ``dirt`` and ``reasons``).

    >>> df = pl.DataFrame({"a": [True, False], "b": [True, True]})
    >>> df.select(labels((pl.col("a"), "x"), (pl.col("b"), "y"))).to_series().to_list()
    [['x', 'y'], ['y']]
    """
    names = [name for _, name in pairs]
    if not pairs:
        return pl.lit([], dtype=pl.List(pl.String))
    # One bit per condition, then one list per distinct bit pattern: building a list per
    # row with concat_list is ~50x slower, and rows share a few hundred patterns at most.
    bits = pl.sum_horizontal(
        cond.fill_null(False).cast(pl.Int64) * (1 << i) for i, (cond, _) in enumerate(pairs)
    )

    def decode(s: pl.Series) -> pl.Series:
        patterns = s.unique().sort()
        table = pl.Series(
            [[n for i, n in enumerate(names) if (u >> i) & 1] for u in patterns.to_list()],
            dtype=pl.List(pl.String),
        )
        index = s.replace_strict(patterns, pl.Series(range(len(patterns))), return_dtype=pl.UInt32)
        return table.gather(index)

    return bits.map_batches(decode, return_dtype=pl.List(pl.String))


def api_line(served_at: pl.Expr, fields: list[str]) -> pl.Expr:
    """``{"updated_at": "<ISO-8601, Beijing time>", "record": {...}}`` for an API file."""
    return pl.concat_str(
        pl.lit('{"updated_at": "'),
        served_at.dt.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
        pl.lit('", "record": '),
        pl.struct(fields).struct.json_encode(),
        pl.lit("}"),
    )


_CITIZEN_CHECK = "0123456789X"


def wrong_check_char(code: pl.Expr, alphabet: str, shift: pl.Expr) -> pl.Expr:
    """``code`` with its last (check) character replaced by another of ``alphabet``.

    >>> pl.select(wrong_check_char(pl.lit("11010519491231002X"), "0123456789X", pl.lit(1))).item()
    '110105194912310020'
    """
    value = code.str.slice(-1, 1).replace_strict(
        {c: i for i, c in enumerate(alphabet)}, return_dtype=pl.Int64, default=0
    )
    other = pl.lit(pl.Series(list(alphabet))).gather(
        (value + 1 + (shift - 1) % (len(alphabet) - 1)) % len(alphabet)
    )
    return pl.concat_str(code.str.head(-1), other)


def wrong_citizen_check(code: pl.Expr, shift: pl.Expr) -> pl.Expr:
    return wrong_check_char(code, _CITIZEN_CHECK, shift)
