"""``citybrain demo-city generate`` end to end, as a user types it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citybrain.demo_city_cli import app


def test_generate_writes_the_city_and_prints_a_summary(tmp_path: Path):
    result = CliRunner().invoke(
        app,
        [
            "generate",
            "--residents",
            "500",
            "--seed",
            "3",
            "--days",
            "2",
            "--out",
            str(tmp_path),
            "--profile",
            "clean",
        ],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["params"]["profile"]["name"] == "clean"
    for feed in ("population", "legal_entity", "geospatial", "credit_api", "licence"):
        assert feed in result.output
    assert "manifest.json" in result.output.replace("\n", "")  # rich wraps long paths


def test_generate_defaults_to_citybrain_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CITYBRAIN_HOME", str(tmp_path))
    result = CliRunner().invoke(app, ["generate", "--residents", "300", "--days", "0"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "demo_city" / "manifest.json").exists()


@pytest.mark.parametrize(("option", "value"), [("--profile", "filthy"), ("--start", "2026-13-01")])
def test_bad_options_are_refused_with_the_option_named(tmp_path: Path, option: str, value: str):
    result = CliRunner().invoke(app, ["generate", "--out", str(tmp_path), option, value])
    assert result.exit_code != 0
    assert option in result.output
