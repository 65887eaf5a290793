"""GB 32100 credit codes, GS 15 registration numbers, GB 11714 organization codes and
subject codes: the vectors of standards.md §2 and verify_vectors.py."""

from __future__ import annotations

import pytest

from schemas.codes.credit_code import (
    PILOT_ERA_CODES,
    REASONS,
    check_org_code,
    check_registration_number,
    check_subject_code,
    check_uscc,
    org_code_check_char,
    registration_number_check_digit,
    uscc_check_char,
)


@pytest.mark.parametrize(
    "code",
    [
        "91110000600037341L",  # python-stdnum doctest
        "914403001922038216",  # widely cited, 华为
        "9144030071526726XG",  # check G, embedded org-code check X
        "91440300708461136T",
        "91330100799655058B",
        "11100000000013338W",  # 住建部: prefix 11 机关, region 100000
        "11220000013544541J",  # an issuer in the licence vectors
        "91350100M000100Y43",  # embedded org code with letters, M000100Y → 4
        # Letter registration authorities are legal; python-stdnum 2.2 rejects them.
        "N23301001234567880",
        "A1100000123456788G",
    ],
)
def test_valid_credit_codes(code, run_check):
    (row,) = run_check(check_uscc, [code])
    assert (row["value"], row["reason"], row["warning"]) == (code, None, None)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("91110000600037341l", "91110000600037341L"),  # lowercase delivery
        (" 9111 0000 6000 3734 1L ", "91110000600037341L"),  # grouped for reading
        ("９１１１００００６０００３７３４１Ｌ", "91110000600037341L"),  # full-width
    ],
)
def test_spelling_is_normalized_not_corrected(raw, value, run_check):
    assert run_check(check_uscc, [raw])[0]["value"] == value


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("914403001922038217", "checksum"),  # should be 6
        ("91110000600037341M", "checksum"),  # should be L
        ("9111000060003734IL", "format"),  # I is not in the alphabet
        # O for 0 is a typo we must not fix silently (standards.md §10).
        ("91110000600O37341L", "format"),
        ("91110000600037341", "format"),  # 17 characters
        ("01110000600037341L", "format"),  # registration authority 0 does not exist
        ("Z1110000600037341L", "format"),  # nor Z
        ("9A110000600037341L", "format"),  # the category is a digit
        ("91A10000600037341L", "format"),  # the region part is digits
        # Realistic-looking codes from public mock data that fail the check (§2.5).
        ("91110108717809965C", "checksum"),
        ("9133010057462616XH", "checksum"),
    ],
)
def test_invalid_credit_codes(code, reason, run_check):
    (row,) = run_check(check_uscc, [code])
    assert (row["value"], row["reason"]) == (None, reason)


@pytest.mark.parametrize("code", sorted(PILOT_ERA_CODES))
def test_pilot_era_codes_are_kept_with_a_warning(code, run_check):
    # Real codes whose 18th char fails (§2.4): keep the records, flag them.
    assert uscc_check_char(code[:17]) != code[17]
    (row,) = run_check(check_uscc, [code])
    assert (row["value"], row["reason"], row["warning"]) == (code, None, "legacy_pilot")


def test_embedded_org_code_failure_is_only_a_warning(run_check):
    body = "91110000600037342"  # org code 600037342: its check should be 1
    code = body + uscc_check_char(body)
    (row,) = run_check(check_uscc, [code])
    assert (row["value"], row["reason"], row["warning"]) == (code, None, "org_code_check")


def test_embedded_org_code_with_a_letter_as_check_char_warns(run_check):
    # A letter other than X is a legal credit-code character but never a GB 11714 check.
    for letter in "ABCDEFGHJKLMNPQRTUWY":
        body = "9111000060003734" + letter
        (row,) = run_check(check_uscc, [body + uscc_check_char(body)])
        assert (row["reason"], row["warning"]) == (None, "org_code_check"), letter


def test_scalar_helpers_match_the_standard_vectors():
    assert uscc_check_char("91110000600037341") == "L"
    assert uscc_check_char("91440300192203821") == "6"
    assert org_code_check_char("60003734") == "1"
    assert org_code_check_char("71526726") == "X"
    assert org_code_check_char("M000100Y") == "4"
    assert registration_number_check_digit("44030110854837") == "9"


@pytest.mark.parametrize(
    ("raw", "value", "reason"),
    [
        ("440301108548379", "440301108548379", None),  # the real GS 15 sample
        ("440301108548378", None, "checksum"),
        ("440301108548397", None, "checksum"),  # last two digits swapped
        ("44030110854837", None, "format"),
        ("44030110854837A", None, "format"),
        ("4403011085483790", None, "format"),
    ],
)
def test_registration_numbers(raw, value, reason, run_check):
    (row,) = run_check(check_registration_number, [raw])
    assert (row["value"], row["reason"]) == (value, reason)


@pytest.mark.parametrize(
    ("raw", "value", "reason"),
    [
        ("60003734-1", "600037341", None),  # usual printed form
        ("600037341", "600037341", None),  # as embedded in a credit code
        ("71526726-X", "71526726X", None),  # check value 10 → X
        ("m000100y-4", "M000100Y4", None),  # letters in the body
        ("60003734-2", None, "checksum"),
        ("60003734-", None, "format"),
        ("6000373#-1", None, "format"),
    ],
)
def test_org_codes(raw, value, reason, run_check):
    (row,) = run_check(check_org_code, [raw])
    assert (row["value"], row["reason"]) == (value, reason)


def test_org_code_zero_check_case(run_check):
    # c = 11 - (sum mod 11) is 11 when the sum is a multiple of 11: check char 0.
    body = next(b for n in range(10_000_000, 10_001_000) if org_code_check_char(b := str(n)) == "0")
    assert run_check(check_org_code, [body + "0"])[0]["reason"] is None


@pytest.mark.parametrize(
    ("raw", "value", "reason", "code_type"),
    [
        ("91110000600037341L", "91110000600037341L", None, "uscc"),
        ("N23301001234567880", "N23301001234567880", None, "uscc"),
        ("914403001922038216", "914403001922038216", None, "uscc"),  # all digits, still a USCC
        ("11010519491231002x", "11010519491231002X", None, "citizen_id"),
        ("110105491231002", "11010519491231002X", None, "citizen_id"),  # legacy 15
        # Shaped like an ID and failing: the ID's reason is the useful one.
        ("110105194912310020", None, "checksum", "citizen_id"),
        ("110105194902310026", None, "birth_date", "citizen_id"),
        ("91110000600037341M", None, "checksum", "uscc"),
        ("ABC", None, "format", "uscc"),
        (None, None, None, None),
    ],
)
def test_subject_codes(raw, value, reason, code_type, run_check):
    (row,) = run_check(check_subject_code, [raw])
    assert (row["value"], row["reason"], row["code_type"]) == (value, reason, code_type)


def test_every_reason_is_documented(run_check):
    produced = {
        row["reason"]
        for row in run_check(check_uscc, ["914403001922038217", "X"])
        + run_check(check_registration_number, ["440301108548378", "1"])
        + run_check(check_org_code, ["60003734-2", "1"])
    }
    assert produced == set(REASONS)
