"""Electronic licence (电子证照) normalization: every kind of dirt in feeds.md §5 and
standards.md §5, one case each, and the accuracy against the demo city's ground truth."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from feeds.connectors.read import read_xlsx
from feeds.spec import FEEDS
from schemas.codes.citizen_id import citizen_id_check_digit
from schemas.codes.credit_code import org_code_check_char, uscc_check_char
from schemas.codes.licence_id import licence_id_check_char
from schemas.generate import polars_schema
from schemas.records.licence import Licence
from transforms import normalizer
from transforms.batch import begin, reason_lists, run_steps
from transforms.context import NormalizeContext
from transforms.licence import STATUS, STEPS, normalize_licences

RESOURCE = FEEDS["licence"].resources[0]
CTX = NormalizeContext(fields=RESOURCE.fields, today=date(2026, 10, 10))
COLUMNS = [name for names in RESOURCE.fields.values() for name in names]


def _uscc(head8: str, org8: str) -> str:
    body17 = head8 + org8 + org_code_check_char(org8)
    return body17 + uscc_check_char(body17)


def _licence_id(type_code: str, issuer: str, serial: str, version: str) -> str:
    payload = type_code + issuer + serial + version
    return (
        f"1.2.156.3005.2.{type_code}.{issuer}.{serial}.{version}.{licence_id_check_char(payload)}"
    )


def _wrong_check(code: str) -> str:
    return code[:-1] + ("1" if code[-1] == "0" else "0")


FOOD = "11100000MB01435387013"  # 食品经营许可证's type code (defined by 市场监管总局)
ISSUER = _uscc("11440106", "MB2C9024")  # 广州市天河区市场监督管理局
HOLDER = _uscc("91440106", "MA5C1234")
PERSON = "44010619900307123" + citizen_id_check_digit("44010619900307123")
FIRST = _licence_id(FOOD, ISSUER, "2021000000123", "001")
SECOND = _licence_id(FOOD, ISSUER, "2021000000123", "002")

LICENCE = {
    "证照标识": SECOND,
    "证照类型代码": FOOD,
    "证照名称": "食品经营许可证",
    "证照编号": "JY14401060000123",
    "持证主体": "广州市某某餐饮有限公司",
    "持证主体代码": HOLDER,
    "持证主体代码类型": "001",
    "颁证单位": "广州市天河区市场监督管理局",
    "颁证单位代码": ISSUER,
    "颁证日期": "44260",  # Excel serial: 2021-03-05
    "有效期起始": "2021-03-05",
    "有效期截止": "2026-03-04",
    "证照状态": "有效",
    "所属区划": "440106",
    "版本号": "002",
    "关联证照标识": FIRST,
}
EXPECTED = {
    "certificate_id": SECOND,
    "licence_type_code": FOOD,
    "licence_name": "食品经营许可证",
    "licence_number": "JY14401060000123",
    "holder_name": "广州市某某餐饮有限公司",
    "holder_code": HOLDER,
    "holder_code_type": "uscc",
    "issuer_name": "广州市天河区市场监督管理局",
    "issuer_code": ISSUER,
    "issue_date": date(2021, 3, 5),
    "valid_from": date(2021, 3, 5),
    "valid_to": date(2026, 3, 4),
    "is_perpetual": False,
    "status": "VALID",
    "region_code": "440106",
    "version": "002",
    "predecessor_id": FIRST,
}


def _frame(rows: list[dict[str, str | None]]) -> pl.LazyFrame:
    return pl.LazyFrame(
        {c: [r.get(c) for r in rows] for c in COLUMNS}
        | {"_source": ["dzzz_202603.xlsx"] * len(rows), "_source_row": range(1, len(rows) + 1)},
        schema={**dict.fromkeys(COLUMNS, pl.String), "_source": pl.String, "_source_row": pl.Int64},
    )  # fmt: skip


def test_clean_row_becomes_the_canonical_licence() -> None:
    valid, rejected, dups = normalize_licences(_frame([LICENCE]), CTX).collect()
    assert rejected.height == 0 and dups.height == 0
    schema = polars_schema(Licence)
    assert_frame_equal(valid.select(schema.names()), pl.DataFrame([EXPECTED], schema=schema))
    # Past its end date but still 有效 on ctx.today: kept, flagged for a look.
    assert valid["_warnings"].to_list() == [["status.valid_after_end"]]
    assert normalizer("core.licence") is normalize_licences


LICENCE_CASES = [
    # Dates: Excel serials, 长期 and its spellings, empty end.
    pytest.param({"有效期截止": "长期"}, [], [], {"valid_to": None, "is_perpetual": True}, id="perpetual"),
    pytest.param({"有效期截止": "99991231"}, [], [], {"valid_to": None, "is_perpetual": True}, id="9999-compact"),
    pytest.param({"有效期截止": ""}, [], ["valid_to.empty_as_perpetual"], {"is_perpetual": True}, id="empty-end"),
    pytest.param({"颁证日期": "2021-03-05 00:00:00"}, [], [], {"issue_date": date(2021, 3, 5)}, id="excel-date-cell"),
    pytest.param({"有效期截止": "2020-01-01"}, ["valid_to.before_valid_from"], ["status.valid_after_end"], {}, id="ends-before-start"),
    pytest.param({"有效期起始": "长期"}, ["valid_from.open_ended"], [], {}, id="open-start"),
    # Status words and codes (standards.md §5.3 code list).
    pytest.param({"证照状态": "04"}, [], [], {"status": "CANCELLED"}, id="code-04"),
    pytest.param({"证照状态": "7"}, [], [], {"status": "REVOKED"}, id="unpadded-07"),
    pytest.param({"证照状态": "暂扣"}, [], [], {"status": "SUSPENDED"}, id="suspended"),
    pytest.param({"证照状态": "过期"}, [], [], {"status": "EXPIRED"}, id="expired"),
    pytest.param({"证照状态": "作废了"}, ["status.unknown"], [], {}, id="unknown-status"),
    pytest.param({"证照状态": None}, ["status.missing"], [], {}, id="no-status"),
    # Holder code by its declared type.
    pytest.param({"持证主体代码": HOLDER.lower()}, [], [], {"holder_code": HOLDER}, id="lowercase-uscc"),
    pytest.param({"持证主体代码": PERSON, "持证主体代码类型": "111"}, [], [], {"holder_code_type": "citizen_id"}, id="person"),
    pytest.param({"持证主体代码": "４４０１０６１９９００３０７１２３" + PERSON[-1], "持证主体代码类型": "111"}, [], [], {"holder_code": PERSON}, id="fullwidth-id"),
    pytest.param({"持证主体代码": _wrong_check(HOLDER)}, ["holder_code.checksum"], [], {}, id="holder-checksum"),
    pytest.param({"持证主体代码": PERSON}, ["holder_code.type_mismatch"], [], {}, id="id-declared-as-uscc"),
    pytest.param({"持证主体代码类型": None}, [], ["holder_code_type.from_code"], {"holder_code_type": "uscc"}, id="type-from-code"),
    pytest.param({"持证主体代码类型": "099"}, ["holder_code_type.unknown"], [], {}, id="unknown-type"),
    # Identifiers.
    pytest.param({"证照标识": _wrong_check(SECOND)}, ["certificate_id.checksum"], [], {}, id="id-checksum"),
    pytest.param({"证照标识": "JY14401060000123"}, ["certificate_id.format"], [], {}, id="number-as-id"),
    pytest.param({"关联证照标识": _wrong_check(FIRST)}, ["predecessor_id.checksum"], [], {}, id="predecessor-checksum"),
    pytest.param({"关联证照标识": "无"}, [], [], {"predecessor_id": None}, id="first-version"),
    pytest.param({"版本号": "1"}, [], ["version.mismatch_id"], {"version": "002"}, id="version-disagrees"),
    pytest.param({"证照类型代码": None}, [], [], {"licence_type_code": FOOD}, id="type-from-id"),
    pytest.param({"颁证单位代码": _wrong_check(ISSUER)}, ["issuer_code.checksum"], [], {}, id="issuer-checksum"),
    # Region: retired codes map to their successors (增城市 → 增城区).
    pytest.param({"所属区划": "440183"}, [], [], {"region_code": "440118"}, id="retired-region"),
    pytest.param({"持证主体": "广州市 某某 餐饮有限公司"}, [], [], {"holder_name": "广州市某某餐饮有限公司"}, id="spaced-name"),
]  # fmt: skip


@pytest.fixture(scope="module")
def licence_cases() -> pl.DataFrame:
    # One run for all cases (planning the chain costs more than the rows); ctx.today is
    # before the end date here so that only each case's own warning shows.
    ctx = NormalizeContext(fields=RESOURCE.fields, today=date(2025, 1, 1))
    frame = _frame([LICENCE | p.values[0] for p in LICENCE_CASES])
    return run_steps(begin(frame), [b(ctx) for b in STEPS]).pipe(reason_lists).collect()


@pytest.mark.parametrize(("index", "override", "reasons", "warnings", "values"), [
    pytest.param(i, *p.values, id=p.id) for i, p in enumerate(LICENCE_CASES)
])  # fmt: skip
def test_licence_dirt(
    licence_cases: pl.DataFrame, index, override, reasons, warnings, values
) -> None:
    row = licence_cases.row(index, named=True)
    assert row["_reasons"] == reasons
    assert row["_warnings"] == warnings
    assert {k: row[k] for k in values} == values


def test_status_table_covers_the_code_list() -> None:
    # standards.md §5.3: 01 有效 … 07 吊销, 99 其他 — every code maps, onto the enum.
    codes = [f"{i:02d}" for i in range(1, 8)] + ["99"]
    assert all(c in STATUS for c in codes)
    assert set(STATUS.values()) == set(Licence.model_fields["status"].annotation.__args__)


def test_a_certificates_ended_state_wins_whatever_the_row_order() -> None:
    # Both states of one certificate share its 颁证日期 and the export has no update time:
    # the 注销 row is the newer one even when it comes first in the file.
    rows = [LICENCE | {"证照状态": "注销"}, LICENCE, LICENCE | {"证照标识": FIRST, "版本号": "001"}]
    valid, rejected, dups = normalize_licences(_frame(rows), CTX).collect()
    assert (valid.height, rejected.height, dups.height) == (2, 0, 1)
    assert dict(valid.select("version", "status").iter_rows()) == {
        "001": "VALID",
        "002": "CANCELLED",
    }
    assert dups["_source_row"].to_list() == [2]


# --- accuracy against the demo city --------------------------------------------------------


def test_licences_equal_the_truth(city: Path) -> None:
    """≥ 99.9% of normalizable rows equal the truth; every other row rejected with the
    truth's reason; rows in = valid + rejected + duplicates."""
    truth = pl.read_parquet(city / "truth/licence/rows/*.parquet")
    judged = []
    for delivery in truth["delivery"].unique().sort():
        path = city / "deliveries" / delivery
        frame, _ = read_xlsx(
            path, sheet="证照信息", expected=RESOURCE.source_fields(), feed="licence"
        )
        frame = frame.with_columns(pl.col("_source_row") - 1, pl.lit(delivery).alias("_source"))
        valid, rejected, dups = normalize_licences(frame.lazy(), CTX).collect()
        assert valid.height + rejected.height + dups.height == frame.height
        out = run_steps(begin(frame.lazy()), [b(CTX) for b in STEPS]).pipe(reason_lists).collect()
        rows = truth.filter(pl.col("delivery") == delivery)
        judged.append(
            out.join(rows, left_on="_source_row", right_on="row", how="full", suffix="_t")
        )
    j = pl.concat(judged)

    bad = j.filter(pl.col("outcome") == "quarantine")
    assert bad.height > 100  # the heavy profile's wrong check characters
    assert bad.filter(pl.col("_reasons").list.sort() != pl.col("reasons").list.sort()).height == 0

    good = j.filter(pl.col("outcome") != "quarantine")
    assert good.filter(pl.col("_reasons").list.len() > 0).height == 0
    columns = [c for c in polars_schema(Licence).names() if f"{c}_t" in j.columns]
    assert len(columns) == 17
    equal = pl.all_horizontal(pl.col(c).eq_missing(pl.col(f"{c}_t")) for c in columns)
    assert good.select(equal.mean()).item() >= 0.999
    dirt = good.select(pl.col("dirt").list.explode().value_counts()).unnest("dirt")
    assert {"excel_dates", "status_as_code", "no_end_spelling", "date_spelling"} <= set(
        dirt["dirt"]
    )
