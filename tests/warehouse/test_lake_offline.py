"""The lake opens with no network and no extension cache (DESIGN.md decision 1)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from schemas.errors import LakeError
from warehouse import extensions
from warehouse.extensions import WHEELS, connect, extension_path, loaded_extensions

ROOT = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter: HOME is empty (no ~/.duckdb/extensions cache to fall back
# on) and every proxy points at a closed loopback port, so any download attempt fails.
OFFLINE_SCRIPT = """
import json, os
from pathlib import Path
from schemas.settings import get_settings
from warehouse.extensions import load_extension
from warehouse.lake import attach, init_lake

settings = get_settings()
con = attach(settings, spatial=True)
load_extension(con, "postgres_scanner")
report = init_lake(settings, con=con)
rows = con.execute(
    "SELECT extension_name, loaded, installed, install_mode FROM duckdb_extensions()"
).fetchall()
config = con.execute(
    "SELECT current_setting('autoinstall_known_extensions'),"
    " current_setting('autoload_known_extensions'),"
    " current_setting('allow_unsigned_extensions')"
).fetchone()
maps = Path("/proc/self/maps")
print(json.dumps({
    "created": list(report.created_tables),
    "extensions": {name: [loaded, installed, mode] for name, loaded, installed, mode in rows},
    "config": list(config),
    "maps": maps.read_text() if maps.exists() else None,
}))
"""


def _offline_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYBRAIN_")}
    for key in ("no_proxy", "NO_PROXY"):
        env.pop(key, None)
    dead = "http://127.0.0.1:9"  # discard port: nothing listens, connections are refused
    for key in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[key] = dead
    home = tmp_path / "empty-home"
    home.mkdir()
    env["HOME"] = str(home)
    env["CITYBRAIN_HOME"] = str(tmp_path / "citybrain")
    env["PYTHONPATH"] = str(ROOT)
    return env


def test_lake_attaches_and_initialises_offline_from_the_wheels(tmp_path: Path) -> None:
    env = _offline_env(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", OFFLINE_SCRIPT],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.splitlines()[-1])

    assert "core.person" in out["created"]
    assert "meta.quarantine" in out["created"]
    assert out["config"] == [False, False, False]
    for name in WHEELS:
        loaded, installed, mode = out["extensions"][name]
        # Loaded, yet not installed: it did not come from DuckDB's extension directory.
        assert loaded, name
        assert not installed, (name, mode)
    # Nothing was downloaded or cached in the (empty) home.
    assert not (Path(env["HOME"]) / ".duckdb").exists()
    if out["maps"] is not None:
        # The process mapped exactly the wheels' files into memory.
        for name in WHEELS:
            assert str(extension_path(name)) in out["maps"], name


def test_extension_files_come_from_the_wheel_of_this_duckdb_version() -> None:
    for name, package in WHEELS.items():
        path = extension_path(name)
        assert path.is_file()
        assert package in path.parts
        assert path.parent.name == f"v{duckdb.__version__}"


def test_connection_has_downloads_off() -> None:
    con = connect(extensions=())
    settings = con.execute(
        "SELECT current_setting('autoinstall_known_extensions'),"
        " current_setting('autoload_known_extensions'),"
        " current_setting('allow_unsigned_extensions'),"
        " current_setting('allow_community_extensions')"
    ).fetchone()
    assert settings == (False, False, False, False)
    # With autoload off, a function of an unloaded extension is an error, not a download.
    with pytest.raises(duckdb.CatalogException, match="ducklake"):
        con.execute("SELECT * FROM ducklake_snapshots('nope')")


def test_connect_loads_only_what_is_asked() -> None:
    con = connect(extensions=("ducklake",))
    loaded = loaded_extensions(con)
    assert "ducklake" in loaded
    assert "spatial" not in loaded


@pytest.mark.parametrize("setting", ["allow_unsigned_extensions", "autoinstall_known_extensions"])
def test_signature_check_and_autoinstall_cannot_be_switched_back_on(setting: str) -> None:
    with pytest.raises(LakeError, match=setting):
        connect(extensions=(), config={setting: True})


def test_tampered_extension_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tampered = tmp_path / "ducklake.duckdb_extension"
    shutil.copyfile(extension_path("ducklake"), tampered)
    with tampered.open("r+b") as f:
        f.seek(tampered.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setattr(extensions, "extension_path", lambda name: tampered)
    with pytest.raises(LakeError, match="signature"):
        connect(extensions=("ducklake",))


def test_missing_wheel_names_the_package_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(WHEELS, "spatial", "duckdb_extension_not_installed")
    with pytest.raises(LakeError, match=r"duckdb-extension-spatial==1\.5\.\d+.*uv sync"):
        extension_path("spatial")
