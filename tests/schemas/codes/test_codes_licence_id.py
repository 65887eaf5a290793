"""电子证照标识 with its ISO 7064 MOD 37,36 check (standards.md §5.2)."""

from __future__ import annotations

import pytest

from schemas.codes.licence_id import MAX_PAYLOAD, ROOT, check_licence_id, licence_id_check_char

# The six real identifiers of verify_vectors.py, all verified against their check char.
REAL = [
    "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F",
    "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.002.S",
    "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
    "1.2.156.3005.2.11100000000013338W087.11370800MB28559184.37080001202411010001.001.3",
    "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0",
    # An issuer given as a 6-digit region code.
    "1.2.156.3005.2.11100000MB03271699022.340100.000000016.001.9",
]


@pytest.mark.parametrize("ident", REAL)
def test_real_identifiers_are_valid_and_split(ident, run_check):
    (row,) = run_check(check_licence_id, [ident])
    assert (row["value"], row["reason"]) == (ident, None)
    type_code, issuer, serial, version, _ = ident.removeprefix(ROOT).split(".")
    assert (row["type_code"], row["issuer_code"], row["serial"], row["version"]) == (
        type_code,
        issuer,
        serial,
        version,
    )


def test_lowercase_is_normalized(run_check):
    assert run_check(check_licence_id, [REAL[0].lower()])[0]["value"] == REAL[0]


@pytest.mark.parametrize(
    ("ident", "reason"),
    [
        # Wrong check char (verify_vectors.py).
        ("1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.G", "checksum"),
        # One serial digit changed.
        ("1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430598.001.F", "checksum"),
        # Version 002 of the first licence with the first one's check.
        ("1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.002.F", "checksum"),
        # Four segments, wrong root, bad version, stray characters.
        ("1.2.156.3005.2.11100000000013338W032.2430599.001.F", "format"),
        ("1.2.156.3005.3.11100000000013338W032.11220000013544541J.2430599.001.F", "format"),
        ("1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.1.F", "format"),
        ("1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430-599.001.F", "format"),
        ("1.2.156.3005.2..11220000013544541J.2430599.001.F", "format"),
    ],
)
def test_invalid_identifiers(ident, reason, run_check):
    assert run_check(check_licence_id, [ident])[0]["reason"] == reason


def test_payload_length_limit(run_check):
    def ident(serial: str) -> str:
        payload = "11100000000013338W032" + "11220000013544541J" + serial + "001"
        return f"{ROOT}11100000000013338W032.11220000013544541J.{serial}.001.{licence_id_check_char(payload)}"

    longest = "9" * (MAX_PAYLOAD - 42)  # type 21 + issuer 18 + version 3
    assert run_check(check_licence_id, [ident(longest)])[0]["reason"] is None
    assert run_check(check_licence_id, [ident(longest + "9")])[0]["reason"] == "format"


def test_scalar_check_char_matches_python_stdnum_doc_vector():
    assert licence_id_check_char("A12425GABC1234002") == "M"
