"""Population (人口) normalization: every kind of dirt in feeds.md §1, one case each."""

from __future__ import annotations

import hmac
import json
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from feeds.connectors.read import scan_text_csv
from feeds.demo_city.context import GenerateParams
from feeds.demo_city.dirt import PROFILES
from feeds.demo_city.generate import generate
from feeds.spec import FEEDS
from schemas.codes.citizen_id import citizen_id_check_digit
from schemas.generate import polars_schema
from schemas.records.population import Person
from transforms import normalizer
from transforms.batch import begin, reason_lists, run_steps
from transforms.context import NormalizeContext
from transforms.population import DERIVED, STEPS, normalize_persons

KEY = b"test-person-key"
CTX = NormalizeContext(
    fields=FEEDS["population"].resources[0].fields, today=date(2026, 11, 1), person_key=KEY
)
SCHEMA = polars_schema(Person)


def _id(body17: str) -> str:
    return body17 + citizen_id_check_digit(body17)


# A man (17th digit odd) born 1990-03-07, address code 440106 天河区.
ID = _id("44010619900307123")
ID15 = "440106900307123"  # the same person's legacy 15-digit number
WOMAN_X = "11010519491231002X"  # the standard's own example: female, check digit X

BASE = {
    "GMSFHM": ID,
    "XM": "张三",
    "XBDM": "1",
    "CSRQ": "19900307",
    "MZDM": "01",
    "HJDZ_XZQHDM": "440106",
    "HJDZ": "广州市天河区天河路1号",
    "JZDZ_XZQHDM": "440106001002",
    "JZDZ": "广州市天河区体育西路2号",
    "RKLX": "1",
    "LXDH": "13800138000",
    "SWBS": "0",
    "GXSJ": "2026-10-01 08:00:00",
}
EXPECTED = {
    "id_number": ID,
    "person_key": hmac.new(KEY, ID.encode(), "sha256").hexdigest(),
    "name": "张三",
    "sex_code": "1",
    "birth_date": date(1990, 3, 7),
    "ethnicity_code": "01",
    "hukou_region_code": "440106",
    "hukou_address": "广州市天河区天河路1号",
    "residence_region_code": "440106",
    "residence_street_code": "440106001",
    "residence_address": "广州市天河区体育西路2号",
    "population_type": "registered",
    "phone": "13800138000",
    "is_deceased": False,
    "source_updated_at": datetime(2026, 10, 1, 8, 0),
}


def _frame(rows: list[dict[str, str | None]]) -> pl.LazyFrame:
    data = {k: [r.get(k) for r in rows] for k in BASE}
    return pl.LazyFrame(
        data
        | {
            "_source": ["gaj_rk_full_20261001.csv"] * len(rows),
            "_source_row": range(1, len(rows) + 1),
        },
        schema={**dict.fromkeys(BASE, pl.String), "_source": pl.String, "_source_row": pl.Int64},
    )


def _run(*overrides: dict[str, str | None]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    return normalize_persons(_frame([BASE | o for o in overrides]), CTX).collect()


def _stepped(rows: list[dict[str, str | None]]) -> pl.DataFrame:
    """Every step, then the columns the split derives for valid rows (``DERIVED``), over
    many cases at once.

    Planning the chain costs ~0.3 s whatever the row count, so the per-dirt cases share
    one run; ``split`` (de-duplication) is tested on its own below.
    """
    steps = [build(CTX) for build in STEPS]
    derived = [build(CTX).alias(column) for column, build in DERIVED.items()]
    return run_steps(begin(_frame(rows)), steps).pipe(reason_lists).with_columns(derived).collect()


def _cases(params: list) -> list:
    return [pytest.param(i, *p.values, id=p.id) for i, p in enumerate(params)]


def test_clean_row_becomes_the_canonical_person() -> None:
    valid, rejected, dups = _run({})
    expected = pl.DataFrame([EXPECTED], schema=SCHEMA)
    assert_frame_equal(valid.select(SCHEMA.names()), expected)
    assert valid["_source_row"].to_list() == [1]
    assert valid["_warnings"].to_list() == [[]]
    assert rejected.height == dups.height == 0


def test_registry_names_this_normalizer_and_output_matches_the_standard() -> None:
    assert normalizer("core.person") is normalize_persons
    valid = normalize_persons(_frame([BASE]), CTX).valid
    assert list(valid.collect_schema().items())[: len(SCHEMA)] == list(SCHEMA.items())


# (delivered overrides, expected canonical values) — one per kind of dirt in feeds.md §1.
NORMALIZED = [
    # Lowercase x: the check digit X typed in lower case (feeds.md §1, standards §1.3).
    pytest.param(
        {"GMSFHM": WOMAN_X.lower(), "XBDM": "2", "CSRQ": "19491231"},
        {"id_number": WOMAN_X, "sex_code": "2", "birth_date": date(1949, 12, 31)},
        id="id-lowercase-x",
    ),
    # Full-width digits from Chinese input methods: NFKC makes them ASCII.
    pytest.param(
        {"GMSFHM": "".join(chr(ord(c) + 0xFEE0) for c in ID)}, {"id_number": ID}, id="id-fullwidth"
    ),
    # Blanks, ideographic space and zero-width space around an ID.
    pytest.param({"GMSFHM": f"\u3000{ID}\u200b "}, {"id_number": ID}, id="id-noise"),
    # Legacy 15-digit number: converted to the 18-digit form (century 19 + check digit).
    pytest.param({"GMSFHM": ID15}, {"id_number": ID}, id="id-legacy-15"),
    # Stray space inside a name (张 三), and text noise around it.
    pytest.param({"XM": "张 三"}, {"name": "张三"}, id="name-inner-space"),
    pytest.param({"XM": "\u00a0张三\u3000"}, {"name": "张三"}, id="name-noise"),
    # Sex as a word instead of the GB/T 2261.1 code.
    pytest.param({"XBDM": "男"}, {"sex_code": "1"}, id="sex-as-text"),
    # Sex unknown/unstated (0/9) or empty where the ID knows better: the ID's sex.
    pytest.param({"XBDM": "9"}, {"sex_code": "1"}, id="sex-unstated-from-id"),
    pytest.param({"XBDM": "0"}, {"sex_code": "1"}, id="sex-unknown-from-id"),
    pytest.param({"XBDM": "无"}, {"sex_code": "1"}, id="sex-null-spelling-from-id"),
    # Every date spelling of feeds.md: ISO, slashes, dots, Chinese, Excel serial, datetime.
    pytest.param({"CSRQ": "1990-03-07"}, {"birth_date": date(1990, 3, 7)}, id="birth-iso"),
    pytest.param({"CSRQ": "1990/3/7"}, {"birth_date": date(1990, 3, 7)}, id="birth-slash"),
    pytest.param({"CSRQ": "1990.03.07"}, {"birth_date": date(1990, 3, 7)}, id="birth-dots"),
    pytest.param({"CSRQ": "1990年3月7日"}, {"birth_date": date(1990, 3, 7)}, id="birth-chinese"),
    pytest.param({"CSRQ": "32939"}, {"birth_date": date(1990, 3, 7)}, id="birth-excel-serial"),
    pytest.param(
        {"CSRQ": "1990-03-07 08:00:00"}, {"birth_date": date(1990, 3, 7)}, id="birth-datetime"
    ),
    # An empty birth date: the ID is the authority (GB 11643), so it fills it.
    pytest.param({"CSRQ": "NULL"}, {"birth_date": date(1990, 3, 7)}, id="birth-empty-from-id"),
    # Ethnicity unpadded or as its name.
    pytest.param({"MZDM": "1"}, {"ethnicity_code": "01"}, id="ethnicity-unpadded"),
    pytest.param({"MZDM": "汉族"}, {"ethnicity_code": "01"}, id="ethnicity-name"),
    pytest.param({"MZDM": "壮族"}, {"ethnicity_code": "08"}, id="ethnicity-other-name"),
    # Optional fields spelled as null: null, not a reason.
    pytest.param(
        {"MZDM": "——", "LXDH": "无", "JZDZ": "/"},
        {"ethnicity_code": None, "phone": None, "residence_address": None},
        id="optional-null-spellings",
    ),
    # Retired hukou codes (feeds.md "The demo city"): mapped to their successors.
    pytest.param({"HJDZ_XZQHDM": "440102"}, {"hukou_region_code": "440104"}, id="hukou-东山"),
    pytest.param({"HJDZ_XZQHDM": "440183"}, {"hukou_region_code": "440118"}, id="hukou-增城市"),
    # Residence as a 9-digit street code instead of the 12-digit community code.
    pytest.param(
        {"JZDZ_XZQHDM": "440106001"},
        {"residence_street_code": "440106001", "residence_region_code": "440106"},
        id="residence-9-digits",
    ),
    # A residence code under a retired county: the county part is mapped, the street kept.
    pytest.param(
        {"JZDZ_XZQHDM": "440107003004"},
        {"residence_street_code": "440107003", "residence_region_code": "440103"},
        id="residence-retired-county",
    ),
    pytest.param({"RKLX": "2"}, {"population_type": "floating"}, id="floating"),
    # Phone spellings: country code, dashes, spaces; landlines as area-number.
    pytest.param({"LXDH": "+86 138-0013-8000"}, {"phone": "13800138000"}, id="phone-intl"),
    pytest.param({"LXDH": "138 0013 8000"}, {"phone": "13800138000"}, id="phone-spaces"),
    pytest.param({"LXDH": "020-87654321"}, {"phone": "020-87654321"}, id="phone-landline"),
    pytest.param({"SWBS": "1"}, {"is_deceased": True}, id="deceased"),
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
    # Everything not named in the case is still the canonical value.
    rest = [c for c in SCHEMA.names() if c not in expected and c not in {"id_number", "person_key"}]
    assert row.select(rest).row(0, named=True) == {c: EXPECTED[c] for c in rest}


def test_values_taken_from_the_id_are_warned() -> None:
    cases = [
        ({"XBDM": "9"}, ["sex_code.from_id"]),  # the filled value is visible, not silent
        ({"CSRQ": ""}, ["birth_date.from_id"]),
        ({}, []),
    ]
    out = _stepped([BASE | o for o, _ in cases])
    assert out["_warnings"].to_list() == [w for _, w in cases]


# (delivered overrides, reason codes) — values that cannot be normalized are quarantined.
REJECTED = [
    # Wrong check digit (a typo): never repaired.
    pytest.param(
        {"GMSFHM": ID[:-1] + ("0" if ID[-1] != "0" else "1")},
        ["id_number.checksum"],
        id="id-checksum",
    ),
    pytest.param({"GMSFHM": ID[:17]}, ["id_number.format"], id="id-17-chars"),
    # The ID went through Excel as a number: digits lost.
    pytest.param({"GMSFHM": "4.40106E+17"}, ["id_number.excel_float"], id="id-excel-float"),
    pytest.param({"GMSFHM": "无"}, ["id_number.missing"], id="id-missing"),
    # Declared sex contradicts the ID (GB 11643: the ID is the authority; the bureau must fix).
    pytest.param({"XBDM": "2"}, ["sex_code.mismatch_id"], id="sex-mismatch"),
    pytest.param({"XBDM": "女"}, ["sex_code.mismatch_id"], id="sex-text-mismatch"),
    pytest.param({"XBDM": "3"}, ["sex_code.unknown"], id="sex-unknown-code"),
    # Declared birth date contradicts the ID.
    pytest.param({"CSRQ": "19900308"}, ["birth_date.mismatch_id"], id="birth-mismatch"),
    pytest.param({"CSRQ": "1990-02-30"}, ["birth_date.invalid_date"], id="birth-not-a-date"),
    pytest.param({"CSRQ": "三月七日"}, ["birth_date.format"], id="birth-unreadable"),
    pytest.param({"MZDM": "99族"}, ["ethnicity_code.unknown"], id="ethnicity-unknown"),
    pytest.param({"HJDZ_XZQHDM": "999999"}, ["hukou_region_code.unknown"], id="hukou-unknown"),
    pytest.param({"HJDZ_XZQHDM": "44010"}, ["hukou_region_code.format"], id="hukou-format"),
    pytest.param(
        {"JZDZ_XZQHDM": "4401060010"}, ["residence_street_code.format"], id="residence-10-digits"
    ),
    pytest.param({"RKLX": "3"}, ["population_type.unknown"], id="population-type-unknown"),
    pytest.param({"RKLX": None}, ["population_type.missing"], id="population-type-missing"),
    pytest.param({"SWBS": "2"}, ["is_deceased.unknown"], id="deceased-unknown"),
    pytest.param({"LXDH": "12345"}, ["phone.format"], id="phone-format"),
    pytest.param(
        {"GXSJ": "2026-10-01 25:00:00"}, ["source_updated_at.invalid_time"], id="updated-at-invalid"
    ),
    pytest.param({"XM": " "}, ["name.missing"], id="name-missing"),
    # Several problems at once: every reason is reported, not only the first.
    pytest.param(
        {"XM": "NULL", "RKLX": "9"},
        ["name.missing", "population_type.unknown"],
        id="several-reasons",
    ),
]


@pytest.fixture(scope="module")
def rejected() -> pl.DataFrame:
    valid, rejected, dups = normalize_persons(
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
    # The raw record is kept as received, for quarantine and replay.
    raw = pl.Series([row["raw_record"]]).str.json_decode().struct.unnest()
    assert raw.row(0, named=True) == BASE | overrides


def test_every_row_ends_once_and_the_newest_update_wins() -> None:
    rows = [
        BASE | {"XM": "旧名", "GXSJ": "2026-09-01 08:00:00"},  # 1: older version
        BASE | {"XM": "新名", "GXSJ": "2026-10-02 08:00:00"},  # 2: newest: wins
        BASE | {"GMSFHM": ID.lower(), "GXSJ": "2026-09-15 08:00:00"},  # 3: same key after norm
        BASE | {"GMSFHM": "bad"},  # 4: rejected
        BASE | {"GMSFHM": WOMAN_X, "XBDM": "2", "CSRQ": "19491231"},  # 5: another person
        BASE | {"GMSFHM": ID15, "GXSJ": "2026-08-01 08:00:00"},  # 6: older, legacy spelling
    ]
    valid, rejected, dups = normalize_persons(_frame(rows), CTX).collect()
    assert sorted(valid["_source_row"]) == [2, 5]
    assert valid.filter(pl.col("id_number") == ID)["name"].to_list() == ["新名"]
    assert rejected["_source_row"].to_list() == [4]
    assert sorted(dups["_source_row"]) == [1, 3, 6]
    assert set(dups["reason"]) == {"superseded_in_delivery"}
    total = valid.height + rejected.height + dups.height
    assert total == len(rows)


def test_same_update_time_goes_to_the_later_row() -> None:
    # A department that sends one key twice with the same GXSJ means the second line.
    valid, _, dups = _run({"XM": "甲"}, {"XM": "乙"})
    assert valid["name"].to_list() == ["乙"]
    assert dups["_source_row"].to_list() == [1]


def test_missing_source_column_is_reported_not_crashed() -> None:
    # A delivery without the phone column: optional, so rows stay valid with a null phone.
    frame = _frame([BASE]).drop("LXDH")
    valid, rejected, _ = normalize_persons(frame, CTX).collect()
    assert rejected.height == 0
    assert valid["phone"].to_list() == [None]
    # Without the update time, the row cannot be ordered: required.
    frame = _frame([BASE]).drop("GXSJ")
    valid, rejected, _ = normalize_persons(frame, CTX).collect()
    assert rejected["reasons"].to_list() == [["source_updated_at.missing"]]


# --- accuracy against the demo city's ground truth ---------------------------------------

# The default dirt, with the rare kinds made common so that a small city has dozens of
# each (quarantine kinds are 0.1–0.2% by default: a 2000-resident city would have none).
HEAVY = PROFILES["default"].model_copy(
    update={
        "id_checksum": 0.02,
        "sex_mismatch": 0.02,
        "birth_mismatch": 0.02,
        "id_legacy_15": 0.1,
        "id_fullwidth": 0.05,
        "name_spaces": 0.05,
        "sex_unknown": 0.05,
        "text_noise": 0.1,
        "repeat": 0.05,
        "stale": 0.05,
    }
)
# The one known disagreement: an ID whose wrong check digit leaves it ending in "000"
# looks exactly like an 18-digit ID truncated by Excel (standards.md §1.3 step 7), and
# schemas.codes.citizen_id calls it excel_float; the simulator's truth says checksum.
AMBIGUOUS = {("id_number.checksum", "id_number.excel_float")}


def read_delivery_file(path: Path, encoding: str, tmp: Path) -> pl.LazyFrame:
    """A simulated delivery as the connectors hand it over: String columns + provenance."""
    if path.suffix == ".jsonl":
        lines = path.read_text(encoding="utf-8").splitlines()
        records = [json.loads(line)["record"] for line in lines if line]
        frame = pl.LazyFrame(records, schema=dict.fromkeys(records[0], pl.String))
    else:
        # Transcoded first, as the raw zone does (DuckDB/Polars do not read GBK).
        tmp.write_text(path.read_bytes().decode(encoding), encoding="utf-8")
        frame = scan_text_csv(tmp)
    return frame.with_row_index("_source_row", 1).with_columns(
        pl.col("_source_row").cast(pl.Int64), pl.lit(path.name).alias("_source")
    )


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city")
    generate(GenerateParams(residents=2000, seed=11, days=3, out=out, profile=HEAVY))
    return out


@pytest.mark.slow
def test_accuracy_against_the_simulated_city(city: Path, tmp_path: Path) -> None:
    manifest = json.loads((city / "manifest.json").read_text(encoding="utf-8"))
    encodings = {d["path"]: d["encoding"] for d in manifest["deliveries"]}
    truth = pl.read_parquet(city / "truth" / "person" / "rows" / "*.parquet")
    ctx = NormalizeContext(fields=CTX.fields, today=date(2026, 10, 4), person_key=KEY)
    steps = [build(ctx) for build in STEPS]
    # The derived columns (person_key) as the split computes them on valid rows.
    derived = [build(ctx).alias(column) for column, build in DERIVED.items()]
    canonical = [c for c in truth.columns if c in SCHEMA]
    normalizable = exact = 0
    mismatches, wrong_reasons = [], []
    for (delivery,), rows in truth.group_by("delivery"):
        frame = read_delivery_file(
            city / "deliveries" / delivery, encodings[f"deliveries/{delivery}"], tmp_path / "d.csv"
        )
        got = run_steps(begin(frame), steps).pipe(reason_lists).with_columns(derived).collect()
        joined = rows.with_columns((pl.col("row") + 1).alias("_source_row")).join(
            got, on="_source_row", suffix="_got", how="left"
        )
        assert joined.height == rows.height == got.height
        for r in joined.iter_rows(named=True):
            if r["outcome"] == "quarantine":
                pair = (*sorted(r["reasons"]), *sorted(r["_reasons"]))
                if sorted(r["reasons"]) != sorted(r["_reasons"]) and pair not in AMBIGUOUS:
                    wrong_reasons.append((delivery, r["row"], r["reasons"], r["_reasons"]))
                assert r["_reasons"], "every row the truth quarantines is rejected"
                continue
            normalizable += 1
            diff = {c: (r[c], r[f"{c}_got"]) for c in canonical if r[c] != r[f"{c}_got"]}
            key = hmac.new(KEY, r["id_number"].encode(), "sha256").hexdigest()
            if r["_reasons"] or r["person_key"] != key or diff:
                mismatches.append((delivery, r["row"], r["_reasons"], diff, r["dirt"]))
            else:
                exact += 1
        # Nothing unaccounted for, and the rejected rows are exactly the quarantined ones.
        valid, rejected, dups = normalize_persons(frame, ctx).collect()
        assert valid.height + rejected.height + dups.height == rows.height
        quarantined = set(rows.filter(pl.col("outcome") == "quarantine")["row"] + 1)
        assert set(rejected["_source_row"]) == quarantined
        # Within a delivery, each person's newest update is the one kept.
        newest = (
            joined.filter(pl.col("outcome") != "quarantine")
            .group_by("id_number")
            .agg(pl.col("source_updated_at").max())
        )
        kept = valid.select("id_number", "source_updated_at")
        assert_frame_equal(kept, newest, check_row_order=False)
    assert normalizable > 1500
    assert exact / normalizable >= 0.999, mismatches[:10]
    assert not wrong_reasons, wrong_reasons[:10]
