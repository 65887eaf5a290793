"""Differential tests against python-stdnum 2.2 on thousands of generated codes.

python-stdnum is an oracle for check characters only (DESIGN.md "Traps"): ``cn.ric``
also rejects a number whose address code did not exist in the birth year, although the
code is the one in force when the number was *issued*; ``cn.uscc`` rejects the legal
letter registration authorities A, N and Y. So citizen IDs are compared on the check
verdict, credit codes on digit prefixes only, and the places where stdnum is wrong are
pinned down in tests of their own.

Generated inputs are deterministic (fixed seeds). Half of them are corrupted by a single
substitution or an adjacent transposition, the errors check characters exist to catch.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import polars as pl
import pytest
from stdnum.cn import ric, uscc
from stdnum.iso7064 import mod_11_10, mod_37_36

from schemas.codes.citizen_id import check_citizen_id
from schemas.codes.credit_code import (
    USCC_ALPHABET,
    check_org_code,
    check_registration_number,
    check_uscc,
    org_code_check_char,
)
from schemas.codes.licence_id import ROOT, check_licence_id
from schemas.codes.region import current_region_codes

N = 3000
DIGITS = "0123456789"
ALNUM = DIGITS + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def corrupt(code: str, rng: random.Random, positions: range, alphabet: str) -> str:
    """One substitution or one adjacent transposition inside ``positions``."""
    chars = list(code)
    i = rng.choice(positions)
    swappable = i + 1 < positions.stop and chars[i] != chars[i + 1] and chars[i + 1] in alphabet
    if rng.random() < 0.5 and swappable:
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    else:
        chars[i] = rng.choice(alphabet.replace(chars[i], ""))
    return "".join(chars)


def results(check, values: list[str]) -> list[dict]:
    frame = pl.DataFrame({"x": values}, schema={"x": pl.String})
    return frame.select(check(pl.col("x")))["x"].to_list()


def citizen_ids(seed: int) -> list[str]:
    rng = random.Random(seed)
    regions = sorted(current_region_codes())
    out = []
    for _ in range(N):
        born = date(1900, 1, 1) + timedelta(days=rng.randrange(45_000))
        body = f"{rng.choice(regions)}{born:%Y%m%d}{rng.randrange(1000):03d}"
        # stdnum's calc_check_digit expects the full number and ignores its last char.
        number = body + ric.calc_check_digit(body + "0")
        out.append(number)
        # Positions 1..17 keep the shape (position 0 to "0" would be a format error).
        out.append(corrupt(number, rng, range(1, 18), DIGITS))
    return out


def test_citizen_id_check_verdict_agrees_with_stdnum():
    numbers = citizen_ids(seed=11643)
    ours = results(lambda e: check_citizen_id(e, today=date(2026, 1, 1)), numbers)
    disagreements = []
    for number, row in zip(numbers, ours, strict=True):
        theirs = ric.calc_check_digit(number) == number[-1]
        # An 18-digit number ending 000 that fails is reported as an Excel artefact.
        mine = row["reason"] not in ("checksum", "excel_float")
        if mine != theirs:
            disagreements.append((number, row["reason"]))
    assert not disagreements
    # The corruptions must have produced failures, or this test proves nothing.
    assert sum(row["reason"] == "checksum" for row in ours) > N // 3


def test_stdnum_rejects_valid_ids_whose_region_is_younger_than_the_person():
    # 440118 增城区 exists from 2014; a person born 1980 there got the number after 2014.
    number = "44011819800101002"
    number += ric.calc_check_digit(number + "0")
    assert not ric.is_valid(number)
    (row,) = results(lambda e: check_citizen_id(e, today=date(2026, 1, 1)), [number])
    assert (row["reason"], row["warning"]) == (None, None)
    # And it is not rare: on valid generated numbers, stdnum rejects a large share.
    valid = citizen_ids(seed=1)[::2]
    rejected = sum(not ric.is_valid(n) for n in valid)
    assert rejected > len(valid) // 10


def credit_codes(seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(N):
        # Digit prefixes only: stdnum's format check requires digits in positions 1-8.
        head = rng.choice("123456789") + rng.choice("123456789")
        head += "".join(rng.choice(DIGITS) for _ in range(6))
        body = head + "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
        code = body + uscc.calc_check_digit(body)
        out.append(code)
        out.append(corrupt(code, rng, range(2, 18), USCC_ALPHABET))
    return out


def test_credit_code_verdict_agrees_with_stdnum():
    codes = credit_codes(seed=32100)
    ours = results(check_uscc, codes)
    disagreements = [
        (code, row["reason"])
        for code, row in zip(codes, ours, strict=True)
        if (row["reason"] is None) != uscc.is_valid(code)
    ]
    assert not disagreements
    assert sum(row["reason"] == "checksum" for row in ours) > N // 3
    assert sum(row["reason"] == "format" for row in ours) > 0  # letters in the region part


@pytest.mark.parametrize("code", ["N23301001234567880", "A1100000123456788G", "Y1110000MA0000000"])
def test_stdnum_rejects_legal_letter_prefixes_we_accept(code):
    # GB 32100 registration authorities A (军队), N (农业), Y (其他): stdnum 2.2 wrongly
    # requires digits in positions 1-8 (standards.md §2.4).
    if len(code) == 17:
        code += uscc.calc_check_digit(code + "0")
    assert not uscc.is_valid(code)
    assert results(check_uscc, [code])[0]["reason"] is None


def test_embedded_org_code_shortcut_agrees_with_the_char_by_char_check():
    # check_uscc reads the organization code in base 35 (a modular shortcut);
    # check_org_code goes char by char. They must agree on every USCC-alphabet body.
    rng = random.Random(11714)
    bodies = ["".join(rng.choice(USCC_ALPHABET) for _ in range(8)) for _ in range(N)]
    org_codes = [
        b + (org_code_check_char(b) if i % 2 else rng.choice("0123456789X"))
        for i, b in enumerate(bodies)
    ]
    uscc_codes = []
    for org in org_codes:
        body17 = "91440300" + org
        uscc_codes.append(body17 + uscc.calc_check_digit(body17 + "0"))
    standalone = results(check_org_code, org_codes)
    embedded = results(check_uscc, uscc_codes)
    for org, alone, inside in zip(org_codes, standalone, embedded, strict=True):
        assert inside["reason"] is None
        assert (alone["reason"] is None) == (inside["warning"] is None), org
        assert (alone["reason"] is None) == (org_code_check_char(org[:8]) == org[8]), org


def test_registration_number_verdict_agrees_with_stdnum_mod_11_10():
    rng = random.Random(15)
    numbers = []
    for _ in range(N):
        body = "".join(rng.choice(DIGITS) for _ in range(14))
        number = body + mod_11_10.calc_check_digit(body)
        numbers += [number, corrupt(number, rng, range(15), DIGITS)]
    ours = results(check_registration_number, numbers)
    for number, row in zip(numbers, ours, strict=True):
        assert (row["reason"] is None) == mod_11_10.is_valid(number), number
    assert sum(row["reason"] == "checksum" for row in ours) > N // 3


def test_licence_id_verdict_agrees_with_stdnum_mod_37_36():
    rng = random.Random(36904)
    idents, payloads = [], []
    for i in range(N):
        type_code = "".join(rng.choice(ALNUM) for _ in range(21))
        issuer = "".join(rng.choice(ALNUM) for _ in range(rng.choice((6, 18))))
        # Serials up to the payload limit, so that every unrolled position is exercised.
        serial = "".join(
            rng.choice(ALNUM) for _ in range(rng.randint(1, 80 - 3 - len(type_code) - len(issuer)))
        )
        version = f"{rng.randint(1, 999):03d}"
        payload = type_code + issuer + serial + version
        check = mod_37_36.calc_check_digit(payload)
        if i % 2:
            payload = corrupt(payload, rng, range(len(payload) - 3), ALNUM)
            serial = payload[len(type_code) + len(issuer) : -3]
            type_code, issuer = payload[:21], payload[21 : 21 + len(issuer)]
        idents.append(f"{ROOT}{type_code}.{issuer}.{serial}.{version}.{check}")
        payloads.append(payload + check)
    ours = results(check_licence_id, idents)
    for ident, payload, row in zip(idents, payloads, ours, strict=True):
        assert (row["reason"] is None) == mod_37_36.is_valid(payload), ident
    assert sum(row["reason"] == "checksum" for row in ours) > N // 3
