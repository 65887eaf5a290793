"""person_key equals Python's hmac, on thousands of IDs and on every kind of key."""

from __future__ import annotations

import hmac
import random

import polars as pl
import pytest

from schemas.codes.citizen_id import citizen_id_check_digit
from schemas.errors import ConfigError
from transforms.person_key import hmac_sha256_hex


def _ids(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        body = f"{rng.choice(['440106', '440103', '110105'])}{rng.randint(1930, 2020)}"
        body += f"{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
        out.append(body + citizen_id_check_digit(body))
    return out


KEYS = [
    pytest.param(b"citybrain-demo-key", id="ascii"),  # the common case: a SecretStr setting
    pytest.param("密钥-ünï".encode(), id="utf8"),  # non-ASCII text key: plugin path, multibyte
    pytest.param(b"k" * 64, id="block-sized"),  # exactly one SHA-256 block: no hashing of key
    pytest.param(b"long" * 40, id="longer-than-block"),  # RFC 2104: key hashed first
    pytest.param(bytes(range(256))[::7], id="binary"),  # not UTF-8: the general path
    pytest.param(b"\xff" * 100, id="binary-long"),  # general path and a hashed key together
    pytest.param(b"a\x00b", id="nul-byte"),  # valid UTF-8 with NUL: must not truncate
]


@pytest.mark.parametrize("key", KEYS)
def test_equals_python_hmac_on_thousands_of_ids(key: bytes) -> None:
    ids = _ids(3000, seed=len(key))
    got = pl.DataFrame({"id": ids}).select(hmac_sha256_hex(pl.col("id"), key))["id"].to_list()
    assert got == [hmac.new(key, i.encode(), "sha256").hexdigest() for i in ids]


@pytest.mark.parametrize("key", [b"ascii-key", b"\xfe\xff-binary"])
def test_null_stays_null_and_lazy_name_is_kept(key: bytes) -> None:
    lf = pl.LazyFrame({"id_number": ["11010519491231002X", None]})
    out = lf.select(hmac_sha256_hex(pl.col("id_number"), key).alias("person_key")).collect()
    assert out.columns == ["person_key"]
    assert out["person_key"].to_list() == [
        hmac.new(key, b"11010519491231002X", "sha256").hexdigest(),
        None,
    ]


def test_different_keys_give_different_person_keys() -> None:
    # The point of keying: without the key the hash cannot be recomputed from an ID.
    df = pl.DataFrame({"id": _ids(10, seed=1)})
    a = df.select(hmac_sha256_hex(pl.col("id"), b"key-a"))["id"]
    b = df.select(hmac_sha256_hex(pl.col("id"), b"key-b"))["id"]
    assert not (a == b).any()


def test_empty_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="CITYBRAIN_PERSON_KEY"):
        hmac_sha256_hex(pl.col("id"), b"")
