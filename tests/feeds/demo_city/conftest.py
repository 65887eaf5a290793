"""One small city generated per test session (two chunks, 35 days: two months of
exports), read back by every test module with ordinary tools."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import polars as pl
import pytest

from feeds.demo_city import PROFILES, GenerateParams, generate

REFERENCE = Path(__file__).resolve().parents[4] / "shared" / "reference" / "verify_vectors.py"


# The default profile, with the rare kinds of dirt made common enough that a small city
# shows every one of them (the tests check each one is there and judged right).
DIRTY = PROFILES["default"].model_copy(
    update={
        "name": "dirty",
        **dict.fromkeys(
            (
                "id_checksum",
                "uscc_o_for_0",
                "uscc_checksum",
                "industry_letter_wrong",
                "subject_code_checksum",
                "licence_id_checksum",
                "holder_code_checksum",
            ),
            0.03,
        ),
        **dict.fromkeys(
            ("sex_mismatch", "birth_mismatch", "lonlat_zero", "lonlat_out_of_city"), 0.01
        ),
        "repeat": 0.03,
        "stale": 0.2,
        "fine_in_yuan": 0.25,
    }
)
PROFILES_FOR_TESTS = {**PROFILES, "dirty": DIRTY}


def small_city(
    out: Path, *, seed: int = 7, profile: str = "dirty", days: int = 35, residents: int = 3_000
) -> dict[str, Any]:
    return generate(
        GenerateParams(
            residents=residents,
            seed=seed,
            days=days,
            out=out,
            profile=PROFILES_FOR_TESTS[profile],
            chunk_size=1_000,
        )
    )


@pytest.fixture(scope="session")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo_city")
    small_city(out)
    return out


@pytest.fixture(scope="session")
def manifest(city: Path) -> dict[str, Any]:
    return json.loads((city / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def truth(city: Path) -> dict[str, pl.DataFrame]:
    """Truth rows per lake table."""
    return {
        folder.name: pl.read_parquet(folder / "rows" / "*.parquet")
        for folder in sorted((city / "truth").iterdir())
    }


@pytest.fixture(scope="session")
def current(city: Path) -> dict[str, pl.DataFrame]:
    return {
        folder.name: pl.read_parquet(folder / "current" / "*.parquet")
        for folder in sorted((city / "truth").iterdir())
    }


@pytest.fixture(scope="session")
def reference() -> ModuleType:
    """The stdlib reference implementations beside standards.md (an independent oracle)."""
    if not REFERENCE.exists():
        pytest.skip(f"{REFERENCE} not found")
    spec = importlib.util.spec_from_file_location("verify_vectors", REFERENCE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def deliveries(manifest: dict[str, Any], feed: str) -> list[dict[str, Any]]:
    return [d for d in manifest["deliveries"] if d["feed"] == feed]


@pytest.fixture(scope="session")
def files_of() -> Callable[[dict[str, Any], str], list[dict[str, Any]]]:
    """``files_of(manifest, feed)``: the manifest's entries of one feed."""
    return deliveries


@pytest.fixture(scope="session")
def make_city() -> Callable[..., dict[str, Any]]:
    """``make_city(out, seed=, profile=, days=, residents=)``: generate a city, get its manifest."""
    return small_city
