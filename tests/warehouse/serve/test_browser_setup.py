"""How the browser test gets its browser: installed by the setup, never downloaded by it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support import find_chromium

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = "scripts/ensure_system_packages.sh"


def test_a_missing_chromium_fails_and_names_the_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CITYBRAIN_SKIP_BROWSER", raising=False)
    with pytest.raises(pytest.fail.Exception, match=r"run `scripts/ensure_system_packages\.sh`"):
        find_chromium(tmp_path / "chromium")


def test_skipping_the_browser_is_explicit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYBRAIN_SKIP_BROWSER", "1")
    with pytest.raises(pytest.skip.Exception, match="CITYBRAIN_SKIP_BROWSER=1"):
        find_chromium(tmp_path / "chromium")


def test_make_test_and_ci_install_the_system_packages() -> None:
    makefile = (ROOT / "Makefile").read_text()
    test_target = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert SCRIPT in test_target
    assert SCRIPT in (ROOT / ".ci" / "run").read_text()
    script = (ROOT / SCRIPT).read_text()
    assert "chromium" in script and "postgresql" in script
    subprocess.run(["bash", "-n", str(ROOT / SCRIPT)], check=True)
