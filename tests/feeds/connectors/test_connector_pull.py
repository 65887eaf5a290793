"""The entry point: a source string picks the transport; no source pulls them all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from feeds.connectors import pull, read_delivery
from feeds.demo_city import server as demo_server
from feeds.demo_city.server import FeedServer
from schemas.errors import ConfigError, SourceUnavailable, SpecError
from schemas.settings import Settings

pytestmark = pytest.mark.integration

FULL_HEADER = "GMSFHM,XM,XBDM,MZDM,GXSJ\n"
FULL_ROW = "440106199001019999,李 四,2,01,2023-12-31 23:00:00\n"


def _full_export(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "gaj_rk_full_20240101.csv"
    path.write_text(FULL_HEADER + FULL_ROW, encoding="utf-8")
    (folder / "gaj_rk_full_20240101.csv.ok").write_bytes(b"")
    return path


def test_a_url_source_means_the_api_and_a_folder_the_file_drop(
    records: Any, sleeps: Any, server: FeedServer, settings: Settings, tmp_path: Path
) -> None:
    (api,) = pull("population", "persons", server.url, settings=settings, sleep=sleeps)
    assert api.format == "json_pages" and api.rows_hint == len(records.persons)
    (full,) = pull("population", "persons", str(_full_export(tmp_path / "x")), settings=settings)
    assert full.format == "csv" and full.rows_hint == 1 and full.cursor_max == "2024-01-01"
    assert read_delivery(full).collect()["MZDM"].to_list() == ["01"]


def test_no_source_pulls_every_transport_from_the_settings(
    settings_for: Callable[..., Settings], sleeps: Any, server: FeedServer, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path / "home", population_api_url=server.url)
    _full_export(settings.drop_dir / "population")
    full, api = pull("population", "persons", settings=settings, sleep=sleeps)
    assert (full.format, api.format) == ("csv", "json_pages")  # the full file first
    assert api.source == f"{server.url}/api/v1/population/persons"


def test_no_drop_folder_for_a_feed_with_an_api_pulls_the_api_only(
    sleeps: Any, server: FeedServer, settings: Settings
) -> None:
    assert not (settings.drop_dir / "population").exists()
    (api,) = pull("population", "persons", settings=settings, sleep=sleeps)
    assert api.format == "json_pages"


def test_a_source_of_the_wrong_kind_names_what_was_expected(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="folder or file"):
        pull("licence", "licences", "http://127.0.0.1:1", settings=settings)
    with pytest.raises(ConfigError, match="http"):
        pull("credit", "penalties", "/some/folder", settings=settings)
    with pytest.raises(SpecError, match="known: entities"):
        pull("legal_entity", "companies", settings=settings)
    with pytest.raises(SpecError, match="unknown feed"):
        pull("weather", "days", settings=settings)


def test_a_missing_exchange_folder_names_the_setting(
    settings_for: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = settings_for(tmp_path / "home")
    with pytest.raises(SourceUnavailable, match="CITYBRAIN_DROP_DIR"):
        pull("legal_entity", "entities", settings=settings)


def test_the_defaults_are_the_demo_servers_credentials(tmp_path: Path) -> None:
    # Until the server imports them from schemas.settings, this keeps the two in step:
    # the demo must run with no set-up.
    settings = Settings(home=tmp_path)
    assert settings.population_token.get_secret_value() == demo_server.DEMO_POPULATION_TOKEN
    assert settings.credit_api_key.get_secret_value() == demo_server.DEMO_CREDIT_API_KEY
    url = f"http://{demo_server.LOOPBACK}:{demo_server.DEFAULT_PORT}"
    assert settings.population_api_url == settings.credit_api_url == url
    assert settings.drop_dir == tmp_path / "demo_city" / "deliveries"
    assert settings.raw_dir == tmp_path / "raw"
