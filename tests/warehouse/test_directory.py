"""The directory of authorities: the configured file (``CITYBRAIN_AUTHORITY_DIRECTORY``)
merged with what the lake has seen, and the older credit records it resolves."""

from __future__ import annotations

import importlib.util
import logging
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest

from feeds.spec import FEEDS
from schemas.codes.credit_code import org_code_check_char, uscc_check_char
from schemas.errors import ConfigError
from transforms.context import NormalizeContext
from transforms.credit import normalize_penalties
from warehouse.directory import (
    authority_directory,
    load_authority_directory,
    read_directory_file,
)
from warehouse.lake import init_lake
from warehouse.load import load_batch

if TYPE_CHECKING:
    from types import ModuleType

    from schemas.settings import Settings

PENALTIES = FEEDS["credit"].resources[0]


def _support() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "load_support", Path(__file__).with_name("test_load_support.py")
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _uscc(head8: str, org8: str) -> str:
    body17 = head8 + org8 + org_code_check_char(org8)
    return body17 + uscc_check_char(body17)


# Three authorities: one the lake knows by code, one only the directory file knows (by its
# current and its former name), one nobody knows.
SEEN = _uscc("11440100", "MB000001")
SEEN_NAME = "广州市交通运输局"
LISTED = _uscc("11440100", "MB000002")
LISTED_NAME = "广州市生态环境局"
LISTED_FORMER = "广州市环境保护局"
COMPANY = _uscc("91440106", "MA5C1234")


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _published(folder: Path) -> Path:
    # As a credit office exports it from a spreadsheet: BOM, CRLF, Chinese header, former
    # names in one cell with full-width separators, a blank line, typed spaces.
    return _write(
        folder / "authorities.csv",
        "统一社会信用代码,机关名称,曾用名,行政区划代码\r\n"
        f"{LISTED.lower()},广州市 生态环境局,{LISTED_FORMER}；广州市环保局 ,440100\r\n"
        "\r\n"
        f"{SEEN},{SEEN_NAME},,440100\r\n",
        "utf-8-sig",
    )


def test_a_published_directory_is_read_with_its_former_names(tmp_path: Path) -> None:
    frame = read_directory_file(_published(tmp_path))
    assert frame.rows() == [
        (LISTED_NAME, LISTED, "440100", 2),
        (LISTED_FORMER, LISTED, "440100", 2),
        ("广州市环保局", LISTED, "440100", 2),
        (SEEN_NAME, SEEN, "440100", 4),
    ]


def test_english_headers_in_gb18030_without_optional_columns(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "a.csv", f"authority_name,authority_code\n{LISTED_NAME},{LISTED}\n", "gb18030"
    )
    assert read_directory_file(path).rows() == [(LISTED_NAME, LISTED, None, 2)]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        pytest.param(
            f"机关名称,地址\n{LISTED_NAME},x\n", r"authority_code \(", id="no-code-column"
        ),
        pytest.param(
            f"统一社会信用代码,机关名称\n{LISTED},{LISTED_NAME}\n{LISTED[:-1]}0,某局\n",
            r"line 3: code '.*' checksum, name '某局'",
            id="bad-check-character",
        ),
        pytest.param(
            f"统一社会信用代码,机关名称\n{LISTED},无\n", r"line 2: .* name None", id="null-name"
        ),
        pytest.param("", "a header line", id="empty-file"),
    ],
)
def test_a_directory_file_that_cannot_be_trusted_stops_with_the_lines_to_fix(
    tmp_path: Path, text: str, match: str
) -> None:
    path = _write(tmp_path / "authorities.csv", text)
    with pytest.raises(ConfigError, match="CITYBRAIN_AUTHORITY_DIRECTORY") as raised:
        read_directory_file(path)
    assert raised.match(match)


def test_an_explicit_path_must_exist_while_the_default_may_be_absent(
    settings: Settings, tmp_path: Path
) -> None:
    # The default (the credit folder of the exchange) holds nothing yet: lake only, empty.
    assert not settings.authority_directory.exists()
    assert authority_directory(settings) == {}
    wrong = settings.model_copy(update={"authority_directory": tmp_path / "nope.csv"})
    with pytest.raises(ConfigError, match=r"nope\.csv.*No such file"):
        authority_directory(wrong)


def test_the_default_path_is_the_credit_folder_of_the_exchange(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert settings.authority_directory == settings.drop_dir / "credit" / "authorities.csv"
    monkeypatch.setenv("CITYBRAIN_DROP_DIR", str(tmp_path / "exchange"))
    from schemas.settings import get_settings

    assert get_settings().authority_directory == tmp_path / "exchange/credit/authorities.csv"


# --- merged with the lake, used by the credit normalizer ---------------------------------


def _penalty(no: str, authority_name: str, authority_code: str | None) -> dict[str, str | None]:
    current = {
        "CF_CFJG": authority_name,
        "CF_CFJGDM": authority_code,
        "CF_XDR_LB": "法人及非法人组织",
    }
    legacy = {"CF_XZJG": authority_name}
    return {
        "CF_WSH": no,
        "CF_XDR_MC": "广州市某某科技有限公司",
        "CF_XDR_SHXYM": COMPANY,
        "CF_CFLB1" if authority_code is None else "CF_CFLB": "警告",
        "CF_JDRQ": "2026-03-05",
        **(legacy if authority_code is None else current),
    }


def _frame(rows: list[dict[str, str | None]]) -> pl.LazyFrame:
    names = list(dict.fromkeys(k for r in rows for k in r))
    return pl.LazyFrame(
        {n: [r.get(n) for r in rows] for n in names}
        | {"_source": ["credit/penalties?page=1"] * len(rows), "_source_row": range(1, len(rows) + 1)},
        schema={**dict.fromkeys(names, pl.String), "_source": pl.String, "_source_row": pl.Int64},
    )  # fmt: skip


def _context(codes: dict[str, str]) -> NormalizeContext:
    return NormalizeContext(
        fields=PENALTIES.fields, today=date(2026, 10, 10), authority_codes=codes
    )


@pytest.fixture
def lake_with_one_authority(settings: Settings, tmp_path: Path) -> Settings:
    """A lake holding one current-generation penalty: its authority is known by code."""
    init_lake(settings)
    batch = normalize_penalties(
        _frame([_penalty("穗交罚〔2026〕1号", SEEN_NAME, SEEN)]), _context({})
    )
    valid, rejected, _ = batch.collect()
    assert rejected.height == 0 and valid.height == 1
    staged = _support().stage(
        tmp_path / "staged",
        "p1",
        valid,
        table="core.credit_penalty",
        feed="credit",
        resource="penalties",
        updated_at=None,
    )
    load_batch(settings, staged)
    return settings


def test_older_records_resolve_through_the_lake_and_the_directory_and_no_further(
    lake_with_one_authority: Settings, tmp_path: Path
) -> None:
    settings = lake_with_one_authority.model_copy(
        update={"authority_directory": _published(tmp_path)}
    )
    codes = authority_directory(settings)
    assert codes[SEEN_NAME] == SEEN and codes[LISTED_FORMER] == LISTED

    legacy = [
        _penalty("穗交罚〔2026〕2号", SEEN_NAME, None),  # the lake's
        _penalty("穗环罚〔2026〕3号", "广州市 生态环境局", None),  # the file's, typed apart
        _penalty("穗环罚〔2019〕4号", "广州市环境保护局", None),  # the file's former name
        _penalty("穗某罚〔2026〕5号", "广州市某不明局", None),  # nobody's
    ]
    valid, rejected, _ = normalize_penalties(_frame(legacy), _context(codes)).collect()
    assert valid.select("decision_no", "authority_code").rows() == [
        ("穗交罚〔2026〕2号", SEEN),
        ("穗环罚〔2026〕3号", LISTED),
        ("穗环罚〔2019〕4号", LISTED),
    ]
    assert valid["_warnings"].to_list() == [["authority_code.from_name"]] * 3
    assert rejected.select("_source_row", "reasons").rows() == [(4, ["authority_code.missing"])]

    # Without the file (the default path holds none), only the lake's authority resolves.
    lake_only = authority_directory(lake_with_one_authority)
    assert lake_only == {SEEN_NAME: SEEN}
    valid, rejected, _ = normalize_penalties(_frame(legacy), _context(lake_only)).collect()
    assert valid["decision_no"].to_list() == ["穗交罚〔2026〕2号"]
    assert rejected.height == 3


def test_the_directory_wins_over_the_lake_and_the_disagreement_is_logged(
    lake_with_one_authority: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    corrected = _uscc("11440100", "MB000009")
    path = _write(
        tmp_path / "authorities.csv",
        f"统一社会信用代码,机关名称,曾用名\n{corrected},{SEEN_NAME},\n"
        f"{LISTED},旧局,\n{corrected},旧局,\n",
    )
    settings = lake_with_one_authority.model_copy(update={"authority_directory": path})
    directory = load_authority_directory(settings)
    assert directory.codes == {SEEN_NAME: corrected}
    assert [(c.name, c.against, c.codes, c.kept) for c in directory.conflicts] == [
        (SEEN_NAME, "lake", (SEEN,), corrected),
        ("旧局", "directory", tuple(sorted((LISTED, corrected))), None),
    ]
    with caplog.at_level(logging.WARNING, logger="warehouse.directory"):
        authority_directory(settings)
    logged = [r.getMessage() for r in caplog.records]
    assert any(SEEN_NAME in m and SEEN in m and corrected in m for m in logged), logged
    assert any("旧局" in m and "authority_code.missing" in m for m in logged), logged
