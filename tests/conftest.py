"""Fixtures every test folder shares."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from schemas.settings import Settings, get_settings

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings of an empty home: no lake yet, nothing from the developer's environment."""
    for key in list(os.environ):
        if key.startswith("CITYBRAIN_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("CITYBRAIN_HOME", str(tmp_path / "home"))
    return get_settings()
