"""A real DuckLake lake in a temporary folder with a few known people and entities.

Module-scoped: building and filling the lake takes about a second, and every governed
query only reads it (plus appends to meta.query_audit, which the tests look up by id).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from sqlglot import exp

from schemas.settings import Settings
from warehouse.governed import close_connections
from warehouse.governed.rewrite import lake_tables
from warehouse.lake import attach, init_lake

if TYPE_CHECKING:
    from collections.abc import Iterator

    import duckdb

TIANHE, YUEXIU = "440106", "440104"
LOADED = datetime(2026, 11, 1, 8, 0, 0)


def citizen_id(first17: str) -> str:
    """GB 11643 check character appended (weights 2^(17-i) mod 11)."""
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17))
    return first17 + "10X98765432"[total % 11]


ID_ZHANG = "11010519491231002X"  # the standard's own example; lives in 天河
ID_OUYANG = citizen_id("44010619900101123")  # 天河
ID_LI = citizen_id("44010419851111456")  # 越秀: outside the district analyst's district
ID_WANG = citizen_id("44010619700505789")  # legal representative, 天河
ID_ZHAO = citizen_id("44010419660606321")  # legal representative, 越秀

PEOPLE = [
    # id_number, name, phone, district, address
    (ID_ZHANG, "张三", "13812341234", TIANHE, "广州市天河区石牌街道天河路1号2栋301房"),
    (ID_OUYANG, "欧阳娜娜", "13998765432", TIANHE, "广州市天河区冼村街道花城大道8号1栋1201房"),
    (ID_LI, "李四", "020-87654321", YUEXIU, "广州市越秀区北京街道中山五路3号4栋502房"),
]
REPS = [(ID_WANG, "王五"), (ID_ZHAO, "赵六")]

USCC_TIANHE = "914401067083397125"
USCC_YUEXIU = "91440104MA5CXXXX1X"

SECRETS: tuple[str, ...] = tuple(
    [p[0] for p in PEOPLE]
    + [p[1] for p in PEOPLE]
    + [p[2] for p in PEOPLE]
    + [r[0] for r in REPS]
    + [r[1] for r in REPS]
)
"""Raw values that must never come back to a masked role, in any form."""


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    columns = [c.name for c in lake_tables()[table].columns]
    provenance = {
        "_version_at": LOADED,
        "_feed": "test",
        "_batch_id": "test-batch",
        "_source": "conftest",
        "_source_row": 1,
        "_record_hash": "h",
        "_loaded_at": LOADED,
    }
    statement = exp.insert(
        exp.values([tuple(exp.Placeholder() for _ in columns)]),
        exp.to_table(f"lake.{table}"),
        columns=columns,
    ).sql(dialect="duckdb")
    con.executemany(statement, [[{**provenance, **row}.get(c) for c in columns] for row in rows])


def _person(id_number: str, name: str, phone: str, district: str, address: str) -> dict:
    return {
        "id_number": id_number,
        "person_key": "k-" + id_number[-6:],
        "name": name,
        "sex_code": "1",
        "birth_date": date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14])),
        "ethnicity_code": "01",
        "hukou_region_code": district,
        "hukou_address": address,
        "residence_region_code": district,
        "residence_street_code": district + "001",
        "residence_address": address,
        "population_type": "registered",
        "phone": phone,
        "is_deceased": False,
        "source_updated_at": LOADED,
    }


def fill(con: duckdb.DuckDBPyConnection) -> None:
    """The known city: three residents, two entities, penalties and licences on both."""
    _insert(con, "core.person", [_person(*p) for p in PEOPLE])
    _insert(
        con,
        "core.legal_entity",
        [
            {
                "uscc": USCC_TIANHE,
                "name": "广州天河示例科技有限公司",
                "legal_rep_name": REPS[0][1],
                "legal_rep_id_number": REPS[0][0],
                "industry_code": "I6510",
                "industry_section": "I",
                "status": "ACTIVE",
                "region_code": TIANHE,
            },
            {
                "uscc": USCC_YUEXIU,
                "name": "广州越秀示例餐饮有限公司",
                "legal_rep_name": REPS[1][1],
                "legal_rep_id_number": REPS[1][0],
                "industry_code": "H6210",
                "industry_section": "H",
                "status": "REVOKED",
                "region_code": YUEXIU,
            },
        ],
    )
    _insert(
        con,
        "core.credit_penalty",
        [
            {
                "decision_no": "穗天市监罚〔2026〕1号",
                "authority_code": "11440106007500000X",
                "subject_name": "张三",
                "subject_category": "自然人",
                "subject_code": ID_ZHANG,
                "subject_code_type": "citizen_id",
                "penalty_types": ["罚款"],
                "fine_amount": Decimal("500.00"),
                "decision_date": date(2026, 3, 1),
            },
            {
                "decision_no": "穗越市监罚〔2026〕2号",
                "authority_code": "11440104007500000X",
                "subject_name": "广州越秀示例餐饮有限公司",
                "subject_category": "法人及非法人组织",
                "subject_code": USCC_YUEXIU,
                "subject_code_type": "uscc",
                "penalty_types": ["警告", "罚款"],
                "fine_amount": Decimal("20000.00"),
                "decision_date": date(2026, 4, 2),
            },
        ],
    )
    _insert(
        con,
        "core.licence",
        [
            {
                "certificate_id": "1.2.156.3005.2.11100000000013338W032.114401060075000001.1.001.A",
                "licence_type_code": "11100000000013338W032",
                "licence_name": "建筑施工特种作业人员操作资格证书",
                "holder_name": "欧阳娜娜",
                "holder_code": ID_OUYANG,
                "holder_code_type": "citizen_id",
                "is_perpetual": False,
                "status": "VALID",
                "region_code": TIANHE,
            },
            {
                "certificate_id": "1.2.156.3005.2.11100000000013338W011.114401040075000002.2.001.B",
                "licence_type_code": "11100000000013338W011",
                "licence_name": "食品经营许可证",
                "holder_name": "广州越秀示例餐饮有限公司",
                "holder_code": USCC_YUEXIU,
                "holder_code_type": "uscc",
                "is_perpetual": False,
                "status": "VALID",
                "region_code": YUEXIU,
            },
        ],
    )


def fill_alerts(con: duckdb.DuckDBPyConnection) -> None:
    """One alert about a person (masked for public) and one about an entity (readable)."""
    common = {"severity": "high", "detail": "test", "detected_at": LOADED}
    _insert(
        con,
        "mart.alerts",
        [
            {
                **common,
                "alert_type": "deceased_holds_licence",
                "subject_code": ID_OUYANG,
                "subject_name": "欧阳娜娜",
                "subject_kind": "person",
                "district_code": TIANHE,
                "related_id": "cert-1",
            },
            {
                **common,
                "alert_type": "inactive_entity_with_valid_licence",
                "subject_code": USCC_YUEXIU,
                "subject_name": "广州越秀示例餐饮有限公司",
                "subject_kind": "entity",
                "district_code": YUEXIU,
                "related_id": "cert-2",
            },
        ],
    )


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings of a filled lake; nothing is taken from the developer's environment."""
    home = tmp_path_factory.mktemp("governed") / "home"
    settings = Settings(
        home=home, roles_file=None, lake_catalog=None, lake_data_path=None, lake_name="lake"
    )
    init_lake(settings)
    con = attach(settings)
    try:
        fill(con)
        fill_alerts(con)
    finally:
        con.close()
    yield settings
    close_connections()


@pytest.fixture(scope="module")
def audit_reader(lake: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A plain read-only attach to look rows up in meta.query_audit."""
    con = attach(lake, read_only=True)
    yield con
    con.close()


def audit_row(
    con: duckdb.DuckDBPyConnection,
    query_id: str | None = None,
    sql: str | None = None,
    principal: str | None = None,
) -> dict:
    """The newest audit row of one query: by id, or by its exact SQL and/or principal."""
    conditions = [
        exp.column(name).eq(value)
        for name, value in (("query_id", query_id), ("sql", sql), ("principal", principal))
        if value is not None
    ]
    query = (
        exp.select("*")
        .from_("lake.meta.query_audit")
        .where(*conditions)
        .order_by(exp.column("at", quoted=True).desc())
        .limit(1)
    )
    cursor = con.cursor()
    try:
        cursor.execute(query.sql(dialect="duckdb"))
        names = [d[0] for d in cursor.description]
        row = cursor.fetchone()
    finally:
        cursor.close()
    assert row is not None, f"no audit row for {query_id or sql or principal!r}"
    return dict(zip(names, row, strict=True))
