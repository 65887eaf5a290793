"""The demo city the transforms' accuracy tests share."""

from __future__ import annotations

from pathlib import Path

import pytest

from feeds.demo_city.context import GenerateParams
from feeds.demo_city.dirt import PROFILES
from feeds.demo_city.generate import generate

# The default dirt, with the rare kinds raised so that a small city carries each of them
# dozens of times.
HEAVY = PROFILES["default"].model_copy(
    update={
        "name": "heavy", "lonlat_swapped": 0.05, "lonlat_zero": 0.03, "lonlat_out_of_city": 0.03,
        "region_code_missing": 0.2, "fine_in_yuan": 0.3, "subject_code_checksum": 0.03,
        "licence_id_checksum": 0.03, "holder_code_checksum": 0.03, "legacy_fields": 0.3,
        "text_noise": 0.1, "id_fullwidth": 0.1, "uscc_lowercase": 0.1, "date_spelling": 0.5,
        "null_spelling": 0.5,
    }
)  # fmt: skip


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 20,000-resident city with heavy dirt, generated once per worker."""
    out = tmp_path_factory.getbasetemp() / "demo_city_heavy"
    if not (out / "manifest.json").exists():
        generate(GenerateParams(residents=20_000, seed=8, days=3, out=out, profile=HEAVY))
    return out
