"""Identifiers the simulator issues: citizen IDs, credit codes, registration numbers and
licence identifiers, unique by construction and with the standards' check characters.

Check characters come from :mod:`schemas.codes` (one implementation of each algorithm);
they are plain-Python functions there, called once per identifier — cheap next to
building the identifiers, which is vectorized.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from schemas.codes.citizen_id import citizen_id_check_digit
from schemas.codes.credit_code import (
    USCC_ALPHABET,
    org_code_check_char,
    registration_number_check_digit,
    uscc_check_char,
)
from schemas.codes.licence_id import licence_id_check_char

__all__ = [
    "IdAllocator",
    "licence_ids",
    "org_bodies",
    "registration_numbers",
    "usccs",
    "with_check_digit",
]

_DAY_ZERO = date(1880, 1, 1)
_SEQ_SLOTS = 499  # per address code, birth date and sex: odd (male) or even (female)


class IdAllocator:
    """Hands out the 3-digit sequence of citizen IDs so that no two people share an ID.

    Real sequences count per (address code, birth date); a counter per such group and sex
    keeps them unique across chunks without remembering the IDs themselves.
    """

    def __init__(self, prefixes: list[str], last_day: date) -> None:
        self.index = {p: i for i, p in enumerate(prefixes)}
        self.n_days = (last_day - _DAY_ZERO).days + 1
        self.counts = np.zeros(len(prefixes) * self.n_days * 2, dtype=np.int32)

    def allocate(self, prefix: pl.Series, birth: pl.Series, male: np.ndarray) -> pl.Series:
        """17-digit ID bodies for people with these address codes, birth dates and sexes."""
        p = prefix.replace_strict(self.index, return_dtype=pl.Int64).to_numpy()
        day = (birth.cast(pl.Int64) - (_DAY_ZERO - date(1970, 1, 1)).days).to_numpy()
        group = (p * self.n_days + day) * 2 + (~male).astype(np.int64)
        order = np.argsort(group, kind="stable")
        sorted_group = group[order]
        starts = np.r_[0, np.flatnonzero(np.diff(sorted_group)) + 1]
        sizes = np.diff(np.r_[starts, len(group)])
        rank = np.empty(len(group), dtype=np.int64)
        rank[order] = np.arange(len(group)) - np.repeat(starts, sizes)
        slot = self.counts[group] + rank
        np.add.at(self.counts, group, 1)
        if len(slot) and slot.max() >= _SEQ_SLOTS:
            msg = "more than 499 people share an address code, birth date and sex"
            raise ValueError(msg)
        # Real sequences do not start at 001: offset each group's numbering.
        k = (slot + group * 7919) % _SEQ_SLOTS
        seq = np.where(male, 2 * k + 1, 2 * k + 2)
        return pl.select(
            pl.concat_str(
                prefix,
                birth.dt.strftime("%Y%m%d"),
                pl.Series(seq).cast(pl.String).str.zfill(3),
            )
        ).to_series()


def with_check_digit(body17: pl.Series) -> pl.Series:
    """Citizen IDs from their 17-digit bodies (GB 11643 MOD 11-2)."""
    return pl.Series([b + citizen_id_check_digit(b) for b in body17.to_list()], dtype=pl.String)


def _base(values: np.ndarray, alphabet: str, width: int) -> pl.Series:
    digits = []
    v = values.copy()
    for _ in range(width):
        digits.append(v % len(alphabet))
        v //= len(alphabet)
    chars = np.array(list(alphabet))
    cols = [pl.Series(chars[d]) for d in reversed(digits)]
    return pl.select(pl.concat_str(cols)).to_series()


def org_bodies(index: np.ndarray, legacy: np.ndarray) -> pl.Series:
    """The 8-character organization-code body of entity ``index``, unique per index.

    New-era bodies are ``MA`` + 6 characters of the credit-code alphabet; entities from
    before the 2015 reform have 8-digit bodies. Both are a bijective scramble of the index,
    so they look random but never collide.
    """
    new = pl.concat_str(pl.lit("MA"), _base((index * 48_271 + 12_345) % 31**6, USCC_ALPHABET, 6))
    old = _base((index * 7_919 + 10_000_019) % 10**8, "0123456789", 8)
    return pl.select(pl.when(pl.Series(legacy)).then(old).otherwise(new)).to_series()


def usccs(category: pl.Series, region: pl.Series, org8: pl.Series) -> pl.Series:
    """统一社会信用代码: ``9`` (工商) + category + authority region + org code + check."""
    org = [b + org_code_check_char(b) for b in org8.to_list()]
    bodies = pl.select(pl.concat_str(pl.lit("9"), category, region, pl.Series(org))).to_series()
    return pl.Series([b + uscc_check_char(b) for b in bodies.to_list()], dtype=pl.String)


def registration_numbers(region: pl.Series, index: np.ndarray) -> pl.Series:
    """15-digit 注册号 (GS 15-2006): authority region + 8-digit sequence + MOD 11,10."""
    seq = pl.Series((index * 3_571 + 1_000_003) % 10**8).cast(pl.String).str.zfill(8)
    bodies = pl.select(pl.concat_str(region, seq)).to_series()
    return pl.Series(
        [b + registration_number_check_digit(b) for b in bodies.to_list()], dtype=pl.String
    )


LICENCE_ROOT = "1.2.156.3005.2"


def licence_ids(type_code: pl.Series, issuer: pl.Series, serial: pl.Series, version: pl.Series):
    """证照标识: root . type . issuer . serial . version . MOD 37,36 check (§5.2)."""
    payload = pl.select(pl.concat_str(type_code, issuer, serial, version)).to_series()
    check = pl.Series([licence_id_check_char(p) for p in payload.to_list()], dtype=pl.String)
    return pl.select(
        pl.concat_str(
            pl.lit(LICENCE_ROOT), type_code, issuer, serial, version, check, separator="."
        )
    ).to_series()
