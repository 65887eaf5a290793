"""Legal-entity (法人) normalization: every kind of dirt in feeds.md §2, one case each."""

from __future__ import annotations

import json
import random
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from feeds.connectors.read import scan_text_csv
from feeds.demo_city.context import GenerateParams
from feeds.demo_city.dirt import PROFILES
from feeds.demo_city.generate import generate
from feeds.spec import FEEDS
from schemas.codes.credit_code import (
    org_code_check_char,
    registration_number_check_digit,
    uscc_check_char,
)
from schemas.codes.dates import parse_date
from schemas.codes.text import clean_text
from schemas.generate import polars_schema
from schemas.records.legal_entity import LegalEntity
from transforms import normalizer
from transforms.batch import begin, reason_lists, run_steps
from transforms.context import NormalizeContext
from transforms.legal_entity import (
    DATE_COLUMNS,
    OPEN_ENDED_COLUMNS,
    STEPS,
    map_source_fields,
    normalize_dates,
    normalize_entities,
)

CTX = NormalizeContext(fields=FEEDS["legal_entity"].resources[0].fields, today=date(2026, 11, 1))
SCHEMA = polars_schema(LegalEntity)


def _uscc(prefix8: str, org8: str) -> str:
    """A credit code whose embedded organization code and own check character are right."""
    body17 = prefix8 + org8 + org_code_check_char(org8)
    return body17 + uscc_check_char(body17)


USCC = _uscc("91440106", "MA5C0000")  # an enterprise registered in 天河区
OTHER = _uscc("92440113", "MA41E5PW")  # an individual business (个体工商户)
REG = "44010600000001" + registration_number_check_digit("44010600000001")
REP_ID = "11010519491231002X"

BASE = {
    "统一社会信用代码": USCC,
    "注册号": "",
    "企业名称": "广州市华图(天河)装饰工程有限公司",
    "企业类型": "有限责任公司（自然人独资）",
    "法定代表人": "梁安建",
    "法定代表人证件号码": REP_ID,
    "注册资本": "500万元人民币",
    "成立日期": "2015-06-19",
    "营业期限自": "2015-06-19",
    "营业期限至": "长期",
    "核准日期": "2020-04-04",
    "注销日期": "",
    "吊销日期": "",
    "登记机关": "广州市天河区市场监督管理局",
    "登记状态": "存续（在营、开业、在册）",
    "住所": "广州市天河区龙丰街道湖兴大道796号5栋厂房",
    "住所所在行政区划": "440106",
    "行业代码": "E5012",
    "经营范围": "住宅装饰和装修；企业管理咨询（依法须经批准的项目，经相关部门批准后方可开展经营活动）",
}
EXPECTED = {
    "uscc": USCC,
    "registration_number": None,
    # NFKC: full-width brackets become (), the one width every feed's names share.
    "name": "广州市华图(天河)装饰工程有限公司",
    "entity_type": "有限责任公司(自然人独资)",
    "legal_rep_name": "梁安建",
    "legal_rep_id_number": REP_ID,
    "industry_code": "E5012",
    "industry_section": "E",
    "registered_capital": Decimal("5000000.00"),
    "capital_currency": "CNY",
    "established_date": date(2015, 6, 19),
    "term_from": date(2015, 6, 19),
    "term_to": None,
    "approved_date": date(2020, 4, 4),
    "deregistered_date": None,
    "revoked_date": None,
    "registration_authority": "广州市天河区市场监督管理局",
    "status": "ACTIVE",
    "status_raw": "存续(在营、开业、在册)",
    "region_code": "440106",
    "address": "广州市天河区龙丰街道湖兴大道796号5栋厂房",
    "business_scope": "住宅装饰和装修;企业管理咨询(依法须经批准的项目,经相关部门批准后方可开展经营活动)",
}


def _frame(rows: list[dict[str, str | None]]) -> pl.LazyFrame:
    data = {k: [r.get(k) for r in rows] for k in BASE}
    return pl.LazyFrame(
        data
        | {
            "_source": ["scjg_sczt_20261002.csv"] * len(rows),
            "_source_row": range(1, len(rows) + 1),
        },
        schema={**dict.fromkeys(BASE, pl.String), "_source": pl.String, "_source_row": pl.Int64},
    )


def _stepped(rows: list[dict[str, str | None]]) -> pl.DataFrame:
    """Every step but the final split, over many cases at once (planning costs ~0.3 s)."""
    return (
        run_steps(begin(_frame(rows)), [build(CTX) for build in STEPS]).pipe(reason_lists).collect()
    )


def _cases(params: list) -> list:
    return [pytest.param(i, *p.values, id=p.id) for i, p in enumerate(params)]


def test_clean_row_becomes_the_canonical_entity() -> None:
    valid, rejected, dups = normalize_entities(_frame([BASE]), CTX).collect()
    assert_frame_equal(valid.select(SCHEMA.names()), pl.DataFrame([EXPECTED], schema=SCHEMA))
    assert valid["_source_row"].to_list() == [1]
    assert valid["_warnings"].to_list() == [[]]
    assert rejected.height == dups.height == 0


def test_registry_names_this_normalizer_and_output_matches_the_standard() -> None:
    assert normalizer("core.legal_entity") is normalize_entities
    valid = normalize_entities(_frame([BASE]), CTX).valid
    assert list(valid.collect_schema().items())[: len(SCHEMA)] == list(SCHEMA.items())


NORMALIZED = [
    # Lower-case credit code: case is not content; upper-cased, nothing else changed.
    pytest.param({"统一社会信用代码": USCC.lower()}, {"uscc": USCC}, id="uscc-lowercase"),
    pytest.param({"统一社会信用代码": f"\u3000{USCC} "}, {"uscc": USCC}, id="uscc-noise"),
    # A legacy 注册号 beside the USCC is kept, checked (GS 15-2006).
    pytest.param({"注册号": REG}, {"registration_number": REG}, id="registration-number"),
    # The same name with full-width or half-width brackets compares equal.
    pytest.param(
        {"企业名称": "广州市华图（天河）装饰工程有限公司"},
        {"name": "广州市华图(天河)装饰工程有限公司"},
        id="name-fullwidth-brackets",
    ),
    pytest.param(
        {"企业名称": " 广州市华图(天河)装饰工程有限公司\u3000"},
        {"name": "广州市华图(天河)装饰工程有限公司"},
        id="name-noise",
    ),
    pytest.param({"法定代表人": "梁 安建"}, {"legal_rep_name": "梁安建"}, id="rep-name-space"),
    # The representative's ID typed full width / lower-case x: normalized like persons'.
    pytest.param(
        {"法定代表人证件号码": "１１０１０５１９４９１２３１００２ｘ"},
        {"legal_rep_id_number": REP_ID},
        id="rep-id-fullwidth",
    ),
    # Every spelling of registered capital in feeds.md §2.
    pytest.param(
        {"注册资本": "500万人民币"},
        {"registered_capital": Decimal("5000000.00"), "capital_currency": "CNY"},
        id="capital-万人民币",
    ),
    pytest.param(
        {"注册资本": "500万元"},
        {"registered_capital": Decimal("5000000.00"), "capital_currency": "CNY"},
        id="capital-万元",
    ),
    pytest.param(
        {"注册资本": "5000000元"},
        {"registered_capital": Decimal("5000000.00"), "capital_currency": "CNY"},
        id="capital-元",
    ),
    pytest.param(
        {"注册资本": "100万美元"},
        {"registered_capital": Decimal("1000000.00"), "capital_currency": "USD"},
        id="capital-万美元",
    ),
    pytest.param(
        {"注册资本": "500"},
        {"registered_capital": Decimal("5000000.00"), "capital_currency": "CNY"},
        id="capital-bare-is-万元",
    ),
    pytest.param(
        {"注册资本": "12.5万港元"},
        {"registered_capital": Decimal("125000.00"), "capital_currency": "HKD"},
        id="capital-decimal-hkd",
    ),
    pytest.param(
        {"注册资本": "无"},
        {"registered_capital": None, "capital_currency": None},
        id="capital-null",
    ),
    # Dates in every spelling; 营业期限至 "no end" spellings become NULL.
    pytest.param(
        {"成立日期": "20150619"}, {"established_date": date(2015, 6, 19)}, id="date-compact"
    ),
    pytest.param(
        {"成立日期": "2015/6/19"}, {"established_date": date(2015, 6, 19)}, id="date-slash"
    ),
    pytest.param(
        {"成立日期": "2015.06.19"}, {"established_date": date(2015, 6, 19)}, id="date-dots"
    ),
    pytest.param(
        {"成立日期": "2015年6月19日"}, {"established_date": date(2015, 6, 19)}, id="date-chinese"
    ),
    pytest.param({"成立日期": "42174"}, {"established_date": date(2015, 6, 19)}, id="date-excel"),
    pytest.param(
        {"成立日期": "2015-06-19 08:00:00"},
        {"established_date": date(2015, 6, 19)},
        id="date-datetime",
    ),
    pytest.param({"营业期限至": "9999-12-31"}, {"term_to": None}, id="term-9999-12-31"),
    pytest.param({"营业期限至": "99991231"}, {"term_to": None}, id="term-99991231"),
    pytest.param({"营业期限至": "2045-06-18"}, {"term_to": date(2045, 6, 18)}, id="term-dated"),
    pytest.param(
        {"注销日期": "——", "吊销日期": "NULL"},
        {"deregistered_date": None, "revoked_date": None},
        id="dates-null",
    ),
    # Status wordings (standards.md §4.4); the wording is kept in status_raw.
    pytest.param(
        {"登记状态": "在业"}, {"status": "ACTIVE", "status_raw": "在业"}, id="status-在业"
    ),
    pytest.param(
        {"登记状态": "存续"}, {"status": "ACTIVE", "status_raw": "存续"}, id="status-存续"
    ),
    pytest.param(
        {"登记状态": "迁出"}, {"status": "MOVED_OUT", "status_raw": "迁出"}, id="status-迁出"
    ),
    pytest.param(
        {"登记状态": "停业"}, {"status": "SUSPENDED", "status_raw": "停业"}, id="status-停业"
    ),
    pytest.param(
        {"登记状态": "清算"}, {"status": "LIQUIDATING", "status_raw": "清算"}, id="status-清算"
    ),
    pytest.param(
        {"登记状态": "吊销，未注销", "吊销日期": "2024-01-01"},
        {"status": "REVOKED", "status_raw": "吊销,未注销", "revoked_date": date(2024, 1, 1)},
        id="status-吊销未注销",
    ),
    pytest.param(
        {"登记状态": "吊销，已注销"},
        {"status": "DEREGISTERED", "status_raw": "吊销,已注销"},
        id="status-吊销已注销",
    ),
    pytest.param(
        {"登记状态": "注销"}, {"status": "DEREGISTERED", "status_raw": "注销"}, id="status-注销"
    ),
    pytest.param(
        {"登记状态": "撤销"},
        {"status": "REGISTRATION_CANCELLED", "status_raw": "撤销"},
        id="status-撤销",
    ),
    # Industry code without its section letter: the division implies it.
    pytest.param(
        {"行业代码": "5012"},
        {"industry_code": "E5012", "industry_section": "E"},
        id="industry-letter-missing",
    ),
    pytest.param(
        {"行业代码": "i6510"},
        {"industry_code": "I6510", "industry_section": "I"},
        id="industry-lowercase",
    ),
    # Retired district codes (feeds.md "The demo city"): mapped to the successor.
    pytest.param({"住所所在行政区划": "440183"}, {"region_code": "440118"}, id="region-增城市"),
    pytest.param({"住所所在行政区划": "440107"}, {"region_code": "440103"}, id="region-芳村区"),
]


@pytest.fixture(scope="module")
def normalized() -> pl.DataFrame:
    return _stepped([BASE | p.values[0] for p in NORMALIZED])


@pytest.mark.parametrize(("i", "overrides", "expected"), _cases(NORMALIZED))
def test_dirt_is_normalized(
    normalized: pl.DataFrame, i: int, overrides: dict, expected: dict
) -> None:
    row = normalized.slice(i, 1)
    assert row["_reasons"].to_list() == [[]]
    cols = list(expected)
    want = pl.DataFrame([expected], schema={c: SCHEMA[c] for c in cols})
    assert_frame_equal(row.select(cols), want)
    rest = [c for c in SCHEMA.names() if c not in expected]
    assert row.select(rest).row(0, named=True) == {c: EXPECTED[c] for c in rest}


REJECTED = [
    # O typed for 0: never corrected (standards.md §10), a format error.
    pytest.param({"统一社会信用代码": USCC.replace("0", "O")}, ["uscc.format"], id="uscc-O-for-0"),
    pytest.param(
        {"统一社会信用代码": USCC[:17] + ("1" if USCC[17] != "1" else "2")},
        ["uscc.checksum"],
        id="uscc-checksum",
    ),
    pytest.param({"统一社会信用代码": USCC[:17]}, ["uscc.format"], id="uscc-17-chars"),
    # Closed before the 2015 reform: only a 注册号. The lake is keyed by USCC.
    pytest.param(
        {"统一社会信用代码": "", "注册号": REG}, ["uscc.missing"], id="uscc-missing-reg-only"
    ),
    pytest.param(
        {"注册号": REG[:-1] + str((int(REG[-1]) + 1) % 10)},
        ["registration_number.checksum"],
        id="registration-number-checksum",
    ),
    pytest.param({"企业名称": "/"}, ["name.missing"], id="name-missing"),
    pytest.param(
        {"法定代表人证件号码": REP_ID[:-1] + "0"},
        ["legal_rep_id_number.checksum"],
        id="rep-id-checksum",
    ),
    pytest.param({"注册资本": "壹佰万元"}, ["registered_capital.format"], id="capital-numerals"),
    pytest.param(
        {"注册资本": "500万卢比"},
        ["registered_capital.unknown_currency"],
        id="capital-unknown-currency",
    ),
    pytest.param({"成立日期": "2015-02-30"}, ["established_date.invalid_date"], id="date-invalid"),
    pytest.param({"核准日期": "去年"}, ["approved_date.format"], id="date-unreadable"),
    # 长期 means "no end": only an end date may say it.
    pytest.param({"成立日期": "长期"}, ["established_date.open_ended"], id="date-open-ended"),
    pytest.param({"登记状态": "倒闭"}, ["status.unknown"], id="status-unknown"),
    pytest.param({"登记状态": ""}, ["status.missing"], id="status-missing"),
    # Section letter contradicting the division (C is 13–43, 50 is E).
    pytest.param(
        {"行业代码": "C5012"}, ["industry_code.section_mismatch"], id="industry-wrong-letter"
    ),
    pytest.param({"行业代码": "9912"}, ["industry_code.unknown_division"], id="industry-division"),
    pytest.param({"住所所在行政区划": "999999"}, ["region_code.unknown"], id="region-unknown"),
]


@pytest.fixture(scope="module")
def rejected() -> pl.DataFrame:
    valid, rejected, dups = normalize_entities(
        _frame([BASE | p.values[0] for p in REJECTED]), CTX
    ).collect()
    assert valid.height == dups.height == 0
    return rejected.sort("_source_row")


@pytest.mark.parametrize(("i", "overrides", "reasons"), _cases(REJECTED))
def test_unnormalizable_rows_are_rejected_with_reasons(
    rejected: pl.DataFrame, i: int, overrides: dict, reasons: list
) -> None:
    row = rejected.row(i, named=True)
    assert row["_source_row"] == i + 1
    assert sorted(row["reasons"]) == sorted(reasons)
    raw = pl.Series([row["raw_record"]]).str.json_decode().struct.unnest()
    assert raw.row(0, named=True) == BASE | overrides


def test_every_row_ends_once_and_the_newest_approval_wins() -> None:
    rows = [
        BASE | {"核准日期": "2020-04-04", "住所": "旧址"},  # 1: older approval
        BASE | {"核准日期": "2024-05-06", "住所": "新址"},  # 2: newest approval: wins
        BASE | {"统一社会信用代码": USCC.lower(), "核准日期": "20220101"},  # 3: same key
        BASE | {"统一社会信用代码": "", "注册号": REG},  # 4: rejected
        BASE | {"统一社会信用代码": OTHER, "企业类型": "个体工商户"},  # 5: another entity
    ]
    valid, rejected, dups = normalize_entities(_frame(rows), CTX).collect()
    assert sorted(valid["_source_row"]) == [2, 5]
    assert valid.filter(pl.col("uscc") == USCC)["address"].to_list() == ["新址"]
    assert rejected["_source_row"].to_list() == [4]
    assert sorted(dups["_source_row"]) == [1, 3]
    assert valid.height + rejected.height + dups.height == len(rows)


def test_same_approval_date_goes_to_the_later_row() -> None:
    valid, _, dups = normalize_entities(
        _frame([BASE | {"住所": "甲"}, BASE | {"住所": "乙"}]), CTX
    ).collect()
    assert valid["address"].to_list() == ["乙"]
    assert dups["_source_row"].to_list() == [1]


# --- accuracy against the demo city's ground truth ---------------------------------------

# Default dirt with the rare kinds made common, so a small city has dozens of each.
HEAVY = PROFILES["default"].model_copy(
    update={
        "uscc_o_for_0": 0.03,
        "uscc_checksum": 0.03,
        "industry_letter_wrong": 0.03,
        "uscc_lowercase": 0.1,
        "bracket_width": 0.5,
        "text_noise": 0.1,
        "id_fullwidth": 0.05,
        "repeat": 0.05,
        "stale": 0.05,
    }
)
# The truth names the business term after lake.md's wording; the standard's columns differ.
TRUTH_NAMES = {"business_term_from": "term_from", "business_term_to": "term_to"}


def read_delivery_file(path: Path, encoding: str, tmp: Path) -> pl.LazyFrame:
    """A delivery as the connectors hand it over: transcoded to UTF-8 first (GBK, GB18030,
    UTF-8 with BOM), String columns, provenance."""
    tmp.write_text(path.read_bytes().decode(encoding), encoding="utf-8")
    return (
        scan_text_csv(tmp)
        .with_row_index("_source_row", 1)
        .with_columns(pl.col("_source_row").cast(pl.Int64), pl.lit(path.name).alias("_source"))
    )


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city")
    generate(GenerateParams(residents=3000, seed=5, days=3, out=out, profile=HEAVY))
    return out


@pytest.mark.slow
def test_accuracy_against_the_simulated_city(city: Path, tmp_path: Path) -> None:
    manifest = json.loads((city / "manifest.json").read_text(encoding="utf-8"))
    encodings = {d["path"]: d["encoding"] for d in manifest["deliveries"]}
    truth = pl.read_parquet(city / "truth" / "legal_entity" / "rows" / "*.parquet").rename(
        TRUTH_NAMES
    )
    ctx = NormalizeContext(fields=CTX.fields, today=date(2026, 10, 4))
    steps = [build(ctx) for build in STEPS]
    canonical = [c for c in truth.columns if c in SCHEMA]
    normalizable = exact = 0
    mismatches, wrong_reasons = [], []
    reasons_seen: set[str] = set()
    for (delivery,), rows in truth.group_by("delivery"):
        frame = read_delivery_file(
            city / "deliveries" / delivery, encodings[f"deliveries/{delivery}"], tmp_path / "d.csv"
        )
        got = run_steps(begin(frame), steps).pipe(reason_lists).collect()
        joined = rows.with_columns((pl.col("row") + 1).alias("_source_row")).join(
            got, on="_source_row", suffix="_got", how="left"
        )
        assert joined.height == rows.height == got.height
        for r in joined.iter_rows(named=True):
            if r["outcome"] == "quarantine":
                reasons_seen.update(r["reasons"])
                if sorted(r["reasons"]) != sorted(r["_reasons"]):
                    wrong_reasons.append((delivery, r["row"], r["reasons"], r["_reasons"]))
                continue
            normalizable += 1
            diff = {c: (r[c], r[f"{c}_got"]) for c in canonical if r[c] != r[f"{c}_got"]}
            if r["_reasons"] or diff:
                mismatches.append((delivery, r["row"], r["_reasons"], diff, r["dirt"]))
            else:
                exact += 1
        valid, rejected, dups = normalize_entities(frame, ctx).collect()
        assert valid.height + rejected.height + dups.height == rows.height
        quarantined = set(rows.filter(pl.col("outcome") == "quarantine")["row"] + 1)
        assert set(rejected["_source_row"]) == quarantined
        newest = (
            joined.filter(pl.col("outcome") != "quarantine")
            .group_by("uscc")
            .agg(pl.col("approved_date").max())
        )
        assert_frame_equal(valid.select("uscc", "approved_date"), newest, check_row_order=False)
    # Every quarantine kind of the contract occurred, so each was checked.
    assert reasons_seen == {
        "uscc.format",
        "uscc.checksum",
        "uscc.missing",
        "industry_code.section_mismatch",
    }
    assert normalizable > 250
    assert exact / normalizable >= 0.999, mismatches[:10]
    assert not wrong_reasons, wrong_reasons[:10]


def test_status_and_dates_that_disagree_are_warned_not_rejected() -> None:
    # standards.md §4.4: DEREGISTERED needs a 注销日期; an ACTIVE entity whose term ended
    # is a warning. The register is the authority on both: the rows still load.
    cases = [
        ({"登记状态": "注销"}, ["deregistered_date.missing"]),
        ({"登记状态": "吊销"}, ["revoked_date.missing"]),
        ({"营业期限至": "2020-01-01"}, ["term_to.expired"]),
        ({"登记状态": "注销", "注销日期": "2024-01-01"}, []),
    ]
    out = _stepped([BASE | o for o, _ in cases])
    assert out["_reasons"].to_list() == [[]] * len(cases)
    assert out["_warnings"].to_list() == [w for _, w in cases]


# --- values computed once each ------------------------------------------------------------

SOURCE_OF = {column: names[0] for column, names in CTX.fields.items()}
DAY_POOL = ["2015-06-19", "20150619", "2015年6月19日", "2015/6/19 08:00:00", "42174", "长期",
            "9999-12-31", "2015-02-30", "去年", "", "NULL", None, "２０１５０６１９", " 2015.6.19 ",
            "2958465", "80001"]  # fmt: skip
TEXT_POOL = [BASE["经营范围"], "住宅装饰和装修；（依法须经批准的项目）", " 软件开发\u3000", "无", "",
             None, "ＡＢＣ咨询", "——", "440106", " 440183", "E5012", "ｅ５０１２"]  # fmt: skip
ONCE_PER_VALUE = ["business_scope", "region_code", "industry_code", "entity_type"]


def test_values_cleaned_and_parsed_once_each_reach_every_row_of_that_value() -> None:
    # map_source_fields cleans some columns, normalize_dates parses each date column, once
    # per distinct value: every row must still get its own value's result, as cleaning and
    # parsing row by row gives it (random rows, so values repeat in no particular order).
    rng = random.Random(11)
    rows = [
        {SOURCE_OF[c]: rng.choice(DAY_POOL) for c in DATE_COLUMNS}
        | {SOURCE_OF[c]: rng.choice(TEXT_POOL) for c in ONCE_PER_VALUE}
        for _ in range(500)
    ]
    frame = _frame([BASE | row for row in rows])
    steps = [map_source_fields(CTX), normalize_dates(CTX)]
    got = run_steps(begin(frame), steps).pipe(reason_lists).collect()

    sources = frame.collect()
    for column in ONCE_PER_VALUE:
        plain = sources.select(clean_text(pl.col(SOURCE_OF[column])).alias(column))
        assert_frame_equal(got.select(column), plain)
    expected_reasons: list[list[str]] = [[] for _ in rows]
    for column in DATE_COLUMNS:
        parsed = sources.select(parse_date(clean_text(pl.col(SOURCE_OF[column]))).struct.unnest())
        assert_frame_equal(got.select(column), parsed.select(pl.col("value").alias(column)))
        for i, (reason, open_ended) in enumerate(parsed.select("reason", "open_ended").rows()):
            code = "open_ended" if open_ended and column not in OPEN_ENDED_COLUMNS else reason
            if code:
                expected_reasons[i].append(f"{column}.{code}")
    assert got["_reasons"].to_list() == expected_reasons
    assert any(expected_reasons) and not all(expected_reasons)
