"""Social credit (社会信用) normalization: penalties and permits in both generations of
field names, red/black lists, every kind of dirt in feeds.md §4 and standards.md §6, and
the accuracy against the demo city's ground truth."""

from __future__ import annotations

import json
import unicodedata
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from feeds.connectors.read import text_value
from feeds.spec import FEEDS
from schemas.codes.citizen_id import citizen_id_check_digit
from schemas.codes.credit_code import org_code_check_char, uscc_check_char
from schemas.generate import polars_schema
from schemas.records.credit import CreditListEntry, CreditPenalty, CreditPermit
from transforms import normalizer
from transforms.batch import begin, reason_lists, run_steps
from transforms.context import NormalizeContext
from transforms.credit import (
    LIST_STEPS,
    PENALTY_STEPS,
    PERMIT_STEPS,
    normalize_lists,
    normalize_penalties,
    normalize_permits,
)

PENALTIES, PERMITS, LISTS = FEEDS["credit"].resources

TODAY = date(2026, 10, 10)
P_CTX = NormalizeContext(fields=PENALTIES.fields, today=TODAY)
K_CTX = NormalizeContext(fields=PERMITS.fields, today=TODAY)
L_CTX = NormalizeContext(fields=LISTS.fields, today=TODAY)


def _uscc(head8: str, org8: str) -> str:
    """A credit code whose embedded organization code verifies too (no warnings)."""
    body17 = head8 + org8 + org_code_check_char(org8)
    return body17 + uscc_check_char(body17)


def _id(body17: str) -> str:
    return body17 + citizen_id_check_digit(body17)


def _wrong_check(code: str) -> str:
    return code[:-1] + ("1" if code[-1] == "0" else "0")


COMPANY = _uscc("91440106", "MA5C1234")
SHOP = _uscc("92440106", "MA5C5432")  # category 92: 个体工商户
PERSON = _id("44010619900307123")
MARKET = _uscc("11440106", "MB2C9024")  # 天河区市场监督管理局
MARKET_NAME = "广州市天河区市场监督管理局"


def _frame(rows: list[dict[str, str | None]]) -> pl.LazyFrame:
    names = list(dict.fromkeys(k for r in rows for k in r))
    return pl.LazyFrame(
        {n: [r.get(n) for r in rows] for n in names}
        | {"_source": ["credit/penalties?page=1"] * len(rows), "_source_row": range(1, len(rows) + 1)},
        schema={**dict.fromkeys(names, pl.String), "_source": pl.String, "_source_row": pl.Int64},
    )  # fmt: skip


# --- penalties ---------------------------------------------------------------------------

PENALTY = {
    "CF_WSH": "穗天市监罚〔2026〕12号",
    "CF_XDR_MC": "广州市某某科技有限公司",
    "CF_XDR_LB": "法人及非法人组织",
    "CF_XDR_SHXYM": COMPANY,
    "CF_WFXW": "虚假宣传",
    "CF_SY": "广州市某某科技有限公司虚假宣传",
    "CF_YJ": "《中华人民共和国反不正当竞争法》第二十条",
    "CF_CFLB": "警告、罚款",
    "CF_NR": "虚假宣传，依据……，给予警告、罚款处罚，罚款人民币2000元",
    "CF_NR_FK": "0.2",
    "CF_JDRQ": "2026-03-05",
    "CF_GSJZQ": "2027-03-05",
    "CF_CFJG": MARKET_NAME,
    "CF_CFJGDM": MARKET,
    "CF_SJLY": MARKET_NAME,
    "CF_SJLYDM": MARKET,
}
# The same decision as the older sub-system sends it (standards.md §6.2 names): no code of
# the authority, no 类别, no CF_NR_FK, categories split over CF_CFLB1/2, content in CF_JG.
LEGACY_PENALTY = {
    "CF_WSH": "穗天市监罚〔2026〕13号",
    "CF_XDR_MC": "广州市某某科技有限公司",
    "CF_XDR_SHXYM": COMPANY,
    "CF_AJMC": "广州市某某科技有限公司虚假宣传案",
    "CF_SY": "广州市某某科技有限公司虚假宣传",
    "CF_YJ": "《中华人民共和国反不正当竞争法》第二十条",
    "CF_CFLB1": "警告",
    "CF_CFLB2": "罚款",
    "CF_JG": "虚假宣传，依据……，给予警告、罚款处罚，罚款人民币2000元",
    "CF_JDRQ": "2026/3/5",
    "CF_XZJG": MARKET_NAME,
}
EXPECTED_PENALTY = {
    "decision_no": "穗天市监罚〔2026〕12号",
    "authority_code": MARKET,
    "authority_name": MARKET_NAME,
    "subject_name": "广州市某某科技有限公司",
    "subject_category": "法人及非法人组织",
    "subject_code": COMPANY,
    "subject_code_type": "uscc",
    "violation_type": "虚假宣传",
    "facts": "广州市某某科技有限公司虚假宣传",
    "basis": "《中华人民共和国反不正当竞争法》第二十条",
    "penalty_types": ["警告", "罚款"],
    # Free text is NFKC-cleaned like every field (feeds.md): ，… become ,... .
    "content": unicodedata.normalize("NFKC", PENALTY["CF_NR"]),
    "fine_amount": Decimal("2000.00"),
    "decision_date": date(2026, 3, 5),
    "publish_until": date(2027, 3, 5),
    "data_source_name": MARKET_NAME,
    "data_source_code": MARKET,
}


def test_current_and_older_generation_give_the_same_penalty() -> None:
    valid, rejected, dups = normalize_penalties(_frame([PENALTY, LEGACY_PENALTY]), P_CTX).collect()
    assert rejected.height == 0 and dups.height == 0
    schema = polars_schema(CreditPenalty)
    legacy = EXPECTED_PENALTY | {
        "decision_no": "穗天市监罚〔2026〕13号",
        "violation_type": "广州市某某科技有限公司虚假宣传案",  # CF_AJMC: the case's name
        "publish_until": None,  # the older sub-system has no 公示截止期
        "data_source_name": None,
        "data_source_code": None,
    }
    expected = pl.DataFrame([EXPECTED_PENALTY, legacy], schema=schema)
    assert_frame_equal(valid.sort("_source_row").select(schema.names()), expected)
    # The older record's authority code came from its name; its fine from the content.
    assert valid.sort("_source_row")["_warnings"].to_list() == [
        [],
        ["authority_code.from_name", "fine_amount.from_content"],
    ]
    assert normalizer("core.credit_penalty") is normalize_penalties


PENALTY_CASES = [
    # Fine: CF_NR_FK in 万元, checked against the amount CF_NR states (standards.md §9.3).
    pytest.param({"CF_NR_FK": "2000"}, [], ["fine_amount.unit_yuan"], {"fine_amount": Decimal("2000.00")}, id="fine-sent-in-yuan"),
    pytest.param({"CF_NR": "罚款0.2万元"}, [], [], {"fine_amount": Decimal("2000.00")}, id="content-in-wan"),
    pytest.param({"CF_NR_FK": "3"}, [], ["fine_amount.mismatch_content"], {"fine_amount": Decimal("30000.00")}, id="fine-disagrees"),
    pytest.param({"CF_NR_FK": "2000元"}, [], [], {"fine_amount": Decimal("2000.00")}, id="fine-with-unit"),
    pytest.param({"CF_NR_FK": "50000", "CF_NR": None}, [], ["fine_amount.implausible"], {"fine_amount": Decimal("500000000.00")}, id="fine-implausible"),
    pytest.param({"CF_NR_FK": "0", "CF_CFLB": "警告", "CF_NR": "给予警告处罚"}, [], [], {"fine_amount": Decimal("0.00")}, id="warning-only"),
    pytest.param({"CF_NR_FK": "-1"}, ["fine_amount.negative"], [], {}, id="negative-fine"),
    # Categories: every separator the contract lists.
    pytest.param({"CF_CFLB": "警告；罚款,没收违法所得"}, [], [], {"penalty_types": ["警告", "罚款", "没收违法所得"]}, id="separators"),
    # Subjects: a credit code, a citizen ID, a 个体工商户; dirt on each.
    pytest.param({"CF_XDR_SHXYM": COMPANY.lower()}, [], [], {"subject_code": COMPANY}, id="lowercase-uscc"),
    pytest.param({"CF_XDR_SHXYM": None, "CF_XDR_ZJHM": PERSON, "CF_XDR_LB": "自然人"}, [], [], {"subject_code": PERSON, "subject_code_type": "citizen_id"}, id="person"),
    pytest.param({"CF_XDR_SHXYM": _wrong_check(COMPANY)}, ["subject_code.checksum"], [], {}, id="uscc-checksum"),
    pytest.param({"CF_XDR_SHXYM": SHOP, "CF_XDR_LB": None}, [], [], {"subject_category": "个体工商户"}, id="category-from-code"),
    pytest.param({"CF_XDR_LB": "自然人"}, [], ["subject_category.mismatch_code"], {}, id="category-contradicts-code"),
    # Required fields and dates.
    pytest.param({"CF_WSH": "/"}, ["decision_no.missing"], [], {}, id="no-decision-no"),
    pytest.param({"CF_XDR_MC": None}, ["subject_name.missing"], [], {}, id="no-subject-name"),
    pytest.param({"CF_CFJGDM": None, "CF_CFJG": "某不明机关"}, ["authority_code.missing"], [], {}, id="unknown-authority"),
    pytest.param({"CF_CFJGDM": _wrong_check(MARKET)}, ["authority_code.checksum"], [], {}, id="authority-checksum"),
    pytest.param({"CF_JDRQ": "44260"}, [], [], {"decision_date": date(2021, 3, 5)}, id="excel-serial"),
    pytest.param({"CF_JDRQ": "长期"}, ["decision_date.open_ended"], [], {}, id="open-decision-date"),
    pytest.param({"CF_JDRQ": "2026-02-30"}, ["decision_date.invalid_date"], [], {}, id="feb-30"),
    pytest.param({"CF_GSJZQ": "2025-01-01"}, ["publish_until.before_decision_date"], [], {}, id="published-before-decided"),
    pytest.param({"CF_GSJZQ": "9999-12-31"}, [], [], {"publish_until": None}, id="published-forever"),
]  # fmt: skip


@pytest.fixture(scope="module")
def penalty_cases() -> pl.DataFrame:
    # One run for all cases, with a clean record first so the authority's name is known.
    rows = [PENALTY] + [
        PENALTY | {"CF_WSH": f"{i}"} | p.values[0] for i, p in enumerate(PENALTY_CASES)
    ]
    return (
        run_steps(begin(_frame(rows)), [b(P_CTX) for b in PENALTY_STEPS])
        .pipe(reason_lists)
        .collect()
        .slice(1)
    )


@pytest.mark.parametrize(("index", "override", "reasons", "warnings", "values"), [
    pytest.param(i, *p.values, id=p.id) for i, p in enumerate(PENALTY_CASES)
])  # fmt: skip
def test_penalty_dirt(
    penalty_cases: pl.DataFrame, index, override, reasons, warnings, values
) -> None:
    row = penalty_cases.row(index, named=True)
    assert row["_reasons"] == reasons
    assert [w for w in row["_warnings"] if not w.startswith("subject_code.")] == warnings
    assert {k: row[k] for k in values} == values


def test_penalty_rows_end_once_and_the_later_item_wins() -> None:
    # The API serves items in update order and has no update time in them: of two items
    # with one business key, the later one is the newer.
    rows = [
        PENALTY,
        PENALTY | {"CF_GSJZQ": "2026-06-01"},
        PENALTY | {"CF_WSH": "x", "CF_JDRQ": "?"},
    ]
    valid, rejected, dups = normalize_penalties(_frame(rows), P_CTX).collect()
    assert (valid.height, rejected.height, dups.height) == (1, 1, 1)
    assert valid["publish_until"].to_list() == [date(2026, 6, 1)]
    assert dups["_source_row"].to_list() == [1]


# --- permits -----------------------------------------------------------------------------

PERMIT = {
    "XK_WSH": "穗天市监许〔2026〕1号",
    "XK_XDR_MC": "广州市某某餐饮有限公司",
    "XK_XDR_LB": "法人及非法人组织",
    "XK_XDR_SHXYM": COMPANY,
    "XK_XKZS": "食品经营许可证",
    "XK_XKBH": "JY14401060000001",
    "XK_XKLB": "普通",
    "XK_NR": "准予食品经营许可证",
    "XK_JDRQ": "2026-03-05",
    "XK_YXQZ": "2026-03-05",
    "XK_YXQZI": "2031-03-04",
    "XK_XKJG": MARKET_NAME,
    "XK_XKJGDM": MARKET,
    "XK_ZT": "有效",
}
LEGACY_PERMIT = {
    "XK_WSH": "穗天市监许〔2016〕9号",
    "XK_XMMC": "食品经营许可证",
    "XK_SPLB": "普通",
    "XK_NR": "准予食品经营许可证",
    "XK_XDR": "广州市某某餐饮有限公司",
    "XK_XDR_SHXYM": COMPANY,
    "XK_JDRQ": "2016.01.01",
    "XK_JZQ": "长期",
    "XK_XZJG": MARKET_NAME,
    "XK_ZT": "0",
}


def test_permits_of_both_generations() -> None:
    valid, rejected, _ = normalize_permits(_frame([PERMIT, LEGACY_PERMIT]), K_CTX).collect()
    assert rejected.height == 0
    schema = polars_schema(CreditPermit)
    current = {
        "decision_no": "穗天市监许〔2026〕1号",
        "authority_code": MARKET,
        "authority_name": MARKET_NAME,
        "subject_name": "广州市某某餐饮有限公司",
        "subject_category": "法人及非法人组织",
        "subject_code": COMPANY,
        "subject_code_type": "uscc",
        "permit_name": "食品经营许可证",
        "permit_number": "JY14401060000001",
        "permit_category": "普通",
        "content": "准予食品经营许可证",
        "decision_date": date(2026, 3, 5),
        "valid_from": date(2026, 3, 5),
        "valid_to": date(2031, 3, 4),
        "status": "有效",
    }
    legacy = current | {
        "decision_no": "穗天市监许〔2016〕9号",
        "permit_number": None,  # the older sub-system has no 许可编号
        "decision_date": date(2016, 1, 1),
        "valid_from": None,
        "valid_to": None,  # 长期
        "status": "正常",  # XK_ZT 0
    }
    assert_frame_equal(
        valid.sort("_source_row").select(schema.names()),
        pl.DataFrame([current, legacy], schema=schema),
    )
    assert normalizer("core.credit_permit") is normalize_permits


@pytest.mark.parametrize(("override", "reasons"), [
    pytest.param({"XK_YXQZI": "2020-01-01"}, ["valid_to.before_valid_from"], id="ends-before-start"),
    pytest.param({"XK_YXQZ": "长期"}, ["valid_from.open_ended"], id="open-start"),
    pytest.param({"XK_JDRQ": None}, ["decision_date.missing"], id="no-decision-date"),
    pytest.param({"XK_XDR_SHXYM": None, "XK_XDR_ZJHM": _wrong_check(PERSON)}, ["subject_code.checksum"], id="person-checksum"),
])  # fmt: skip
def test_permit_dirt(override, reasons) -> None:
    _, rejected, _ = normalize_permits(
        _frame([PERMIT, PERMIT | {"XK_WSH": "2"} | override]), K_CTX
    ).collect()
    assert rejected["reasons"].to_list() == [reasons]


# --- lists -------------------------------------------------------------------------------

LIST = {
    "subject_name": "广州市某某科技有限公司",
    "subject_code": COMPANY,
    "list_type": "严重违法失信名单",
    "listing_authority": "广州市市场监督管理局",
    "basis_doc": "穗环罚〔2023〕67号",
    "listed_at": "2024年1月11日",
    "expires_at": "2027年1月11日",
    "removed_at": " ",
}


@pytest.mark.parametrize(("name", "kind"), [
    # Why: the current term, the older terms, the court's and the tax office's lists
    # (black); incentive lists (red); a list that is neither (经营异常名录 is not a penalty).
    pytest.param("严重失信主体名单", "black", id="serious-dishonesty"),
    pytest.param("严重违法失信名单", "black", id="market-black"),
    pytest.param("失信被执行人名单", "black", id="court"),
    pytest.param("重大税收违法失信主体名单", "black", id="tax-black"),
    pytest.param("黑名单", "black", id="plain-black"),
    pytest.param("守信激励对象名单", "red", id="incentive"),
    pytest.param("A级纳税人名单", "red", id="a-grade-taxpayer"),
    pytest.param("红名单", "red", id="plain-red"),
    pytest.param("经营异常名录", None, id="neither"),
])  # fmt: skip
def test_list_types(name: str, kind: str | None) -> None:
    valid, rejected, _ = normalize_lists(_frame([LIST | {"list_type": name}]), L_CTX).collect()
    if kind is None:
        assert rejected["reasons"].to_list() == [["list_type.unknown"]]
    else:
        assert valid.select("list_type", "list_name").row(0) == (kind, name)


def test_list_entry_and_its_dates() -> None:
    rows = [
        LIST,
        LIST | {"subject_code": PERSON, "removed_at": "2023-01-01"},  # removed before listed
        LIST | {"subject_code": SHOP, "expires_at": "长期", "subject_name": "广州市 某某 店"},
    ]
    valid, rejected, _ = normalize_lists(_frame(rows), L_CTX).collect()
    schema = polars_schema(CreditListEntry)
    first = {
        "subject_code": COMPANY,
        "list_type": "black",
        "listed_at": date(2024, 1, 11),
        "subject_name": "广州市某某科技有限公司",
        "list_name": "严重违法失信名单",
        "listing_authority": "广州市市场监督管理局",
        "basis_doc": "穗环罚〔2023〕67号",
        "expires_at": date(2027, 1, 11),
        "removed_at": None,
    }
    shop = first | {"subject_code": SHOP, "subject_name": "广州市某某店", "expires_at": None}
    assert_frame_equal(
        valid.sort("_source_row").select(schema.names()), pl.DataFrame([first, shop], schema=schema)
    )
    assert rejected["reasons"].to_list() == [["removed_at.before_listed_at"]]
    assert normalizer("core.credit_list") is normalize_lists


# --- accuracy against the demo city --------------------------------------------------------


def _api_items(path: Path) -> pl.DataFrame:
    """A credit API file's items as the connector reads pages: every value as its text."""
    rows = []
    for line in path.read_text("utf-8").splitlines():
        record = json.loads(line, parse_int=str, parse_float=str)["record"]
        rows.append({k: text_value(v) for k, v in record.items()})
    names = list(dict.fromkeys(k for r in rows for k in r))
    return pl.DataFrame(rows, schema=dict.fromkeys(names, pl.String)).with_columns(
        pl.lit(path.name).alias("_source"),
        pl.int_range(pl.len(), dtype=pl.Int64).alias("_source_row"),
    )


def _judged(city: Path, table: str, steps, ctx) -> pl.DataFrame:
    truth = pl.read_parquet(city / f"truth/{table}/rows/*.parquet")
    frame = _api_items(city / "deliveries" / truth["delivery"][0])
    out = run_steps(begin(frame.lazy()), [b(ctx) for b in steps]).pipe(reason_lists).collect()
    return out.join(truth, left_on="_source_row", right_on="row", how="full", suffix="_truth")


def _assert_accurate(j: pl.DataFrame, columns: dict[str, pl.Expr]) -> float:
    bad = j.filter(pl.col("outcome") == "quarantine")
    assert (bad["_reasons"].list.len() > 0).all(), "a row the truth quarantines was loaded"
    differ = bad.filter(pl.col("_reasons").list.sort() != pl.col("reasons").list.sort())
    # Known gap in schemas.codes.check_subject_code, reported to its owner: an all-digit
    # credit code with a wrong check character is read as a citizen ID (and rejected as one,
    # e.g. birth_date); still rejected, under another reason. At most a handful.
    assert (
        differ.filter(~pl.col("_reasons").list.first().str.starts_with("subject_code.")).height == 0
    )
    assert differ.height <= max(2, bad.height // 20), differ.select("_reasons", "reasons")
    good = j.filter(pl.col("outcome") != "quarantine")
    assert good.filter(pl.col("_reasons").list.len() > 0).height == 0, (
        good.filter(pl.col("_reasons").list.len() > 0).select("_reasons", "dirt").head()
    )
    equal = pl.all_horizontal(*columns.values())
    accuracy = good.select(equal.mean()).item()
    wrong = {c: good.filter(~e.fill_null(False)).height for c, e in columns.items()}
    assert accuracy >= 0.999, wrong
    return accuracy


def _same(column: str, truth: str | None = None) -> pl.Expr:
    """Equal to the truth's column (suffixed ``_truth`` where the names collide)."""
    return pl.col(column).eq_missing(pl.col(truth or f"{column}_truth"))


def test_penalties_equal_the_truth(city: Path) -> None:
    ctx = NormalizeContext(
        fields=P_CTX.fields, today=TODAY, authority_codes=_authorities_from_licences(city)
    )
    j = _judged(city, "credit_penalty", PENALTY_STEPS, ctx)
    columns = {c: _same(c) for c in ("decision_no", "authority_code", "authority_name", "subject_name",
               "subject_category", "subject_code", "penalty_types", "fine_amount", "decision_date",
               "publish_until", "basis")}  # fmt: skip
    # CF_AJMC, the older generation's 违法行为类型 stand-in, is the case's name, not the
    # violation the truth holds: compared on the current generation only.
    legacy = pl.col("record_generation") == "legacy"
    columns["violation_type"] = legacy | _same("violation_type", "violation")
    _assert_accurate(j, columns)
    assert j.select(pl.col("dirt").list.contains("fine_in_yuan").sum()).item() >= 5
    assert j.select(legacy.sum()).item() >= 20


def test_permits_equal_the_truth(city: Path) -> None:
    # Older-generation records name their authority only: the code comes from the batch's
    # other records, or the directory the DAG passes.
    licences = _authorities_from_licences(city)
    ctx = NormalizeContext(fields=PERMITS.fields, today=TODAY, authority_codes=licences)
    j = _judged(city, "credit_permit", PERMIT_STEPS, ctx)
    legacy = pl.col("record_generation") == "legacy"
    columns = {c: _same(c) for c in ("decision_no", "authority_code", "authority_name", "subject_name",
               "subject_category", "subject_code", "permit_name", "decision_date", "valid_from",
               "valid_to")}  # fmt: skip
    # The older generation sends no 许可编号 at all, yet the simulator's truth holds the
    # number (reported: it should be null there, as it does for valid_from).
    columns["permit_number"] = legacy | _same("permit_number", "licence_number")
    _assert_accurate(j, columns)


def test_lists_equal_the_truth(city: Path) -> None:
    j = _judged(city, "credit_list", LIST_STEPS, L_CTX)
    columns = {c: _same(c) for c in ("subject_code", "list_type", "list_name", "listed_at",
               "subject_name", "listing_authority", "basis_doc", "expires_at", "removed_at")}  # fmt: skip
    _assert_accurate(j, columns)


def _authorities_from_licences(city: Path) -> dict[str, str]:
    """Issuer name → code from the licence export: the kind of directory the lake holds."""
    from feeds.connectors.read import read_xlsx

    path = next((city / "deliveries/licence").glob("*.xlsx"))
    frame, _ = read_xlsx(
        path, sheet="证照信息", expected={"颁证单位", "颁证单位代码", "证照标识"}, feed="licence"
    )
    pairs = frame.select("颁证单位", "颁证单位代码").drop_nulls().unique()
    return dict(pairs.iter_rows())


# --- the directory of authorities ---------------------------------------------------------


def test_the_directory_join_keeps_every_row_once_and_in_delivery_order() -> None:
    # A later item of a business key wins in split, so the lookup must not reorder rows;
    # the directory's spelling (full-width brackets, spaces) meets the records' after both
    # are normalized the same way.
    names = ["国家税务总局（广州市）税务局", "广州市 交通运输局", "某不明机关", None]
    codes = {"国家税务总局(广州市)税务局 ": MARKET, "广州市交通运输局": COMPANY}
    rows = [LEGACY_PENALTY | {"CF_WSH": f"罚{i}", "CF_XZJG": names[i % 4]} for i in range(2_000)]
    ctx = NormalizeContext(fields=P_CTX.fields, today=TODAY, authority_codes=codes)
    out = (
        run_steps(begin(_frame(rows)), [b(ctx) for b in PENALTY_STEPS]).pipe(reason_lists).collect()
    )
    assert out["_source_row"].to_list() == list(range(1, 2_001))
    assert out["authority_code"].head(4).to_list() == [MARKET, COMPANY, None, None]
    assert out["_reasons"].head(4).to_list() == [
        [],
        [],
        ["authority_code.missing"],
        ["authority_code.missing"],
    ]


def test_a_name_the_directory_gives_two_codes_is_not_guessed() -> None:
    ctx = NormalizeContext(
        fields=P_CTX.fields,
        today=TODAY,
        authority_codes={MARKET_NAME: MARKET, MARKET_NAME.replace("市场", "市场 "): COMPANY},
    )
    valid, rejected, _ = normalize_penalties(_frame([LEGACY_PENALTY]), ctx).collect()
    assert valid.height == 0
    assert rejected["reasons"].to_list() == [["authority_code.missing"]]


def test_the_published_directory_alone_resolves_every_older_record(city: Path) -> None:
    # The credit office's directory (feeds/demo_city writes it beside the credit data),
    # without any help from licences or the lake: every older record the truth can load
    # gets the truth's authority code.
    from warehouse.directory import read_directory_file

    published = read_directory_file(city / "deliveries" / "credit" / "authorities.csv")
    codes = dict(published.select("name", "code").iter_rows())
    for table, steps, fields in (
        ("credit_penalty", PENALTY_STEPS, P_CTX.fields),
        ("credit_permit", PERMIT_STEPS, K_CTX.fields),
    ):
        ctx = NormalizeContext(fields=fields, today=TODAY, authority_codes=codes)
        j = _judged(city, table, steps, ctx)
        legacy = j.filter(
            (pl.col("record_generation") == "legacy") & (pl.col("outcome") != "quarantine")
        )
        assert legacy.height >= 20, table
        assert legacy.filter(pl.col("_reasons").list.len() > 0).height == 0, table
        assert (legacy["authority_code"] == legacy["authority_code_truth"]).all(), table
