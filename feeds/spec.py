"""Typed, frozen feed specs: what a feed is, where it comes from, how its fields map.

A new feed is a schema, a mapping and a spec — no new pipeline code, no new DAG file: the
DAGs, the ingest command and the freshness checks are all generated from ``FEEDS``.

>>> FEEDS["population"].owner
'市公安局'
>>> [r.table for r in FEEDS["credit"].resources]
['core.credit_penalty', 'core.credit_permit', 'core.credit_list']
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.errors import SpecError
from schemas.records import table

FeedName = Literal["population", "legal_entity", "geospatial", "credit", "licence"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpPageTransport(_Frozen):
    """JSON API paged by page number (the population API)."""

    kind: Literal["http_page"] = "http_page"
    path: str  # appended to the configured base URL
    auth: Literal["bearer", "api_key"] = "bearer"
    since_param: str = "updated_since"
    page_param: str = "page"
    page_size_param: str = "page_size"
    page_size: int = 500
    records_path: tuple[str, ...] = ("data", "records")
    ok_path: tuple[str, ...] = ("code",)  # HTTP 200 with code != ok_value is an error
    ok_value: int | bool = 0


class HttpCursorTransport(_Frozen):
    """JSON API paged by an opaque cursor (the credit API)."""

    kind: Literal["http_cursor"] = "http_cursor"
    path: str
    auth: Literal["bearer", "api_key"] = "api_key"
    since_param: str = "since"
    cursor_param: str = "cursor"
    limit_param: str = "limit"
    limit: int = 500
    records_path: tuple[str, ...] = ("result", "items")
    next_cursor_path: tuple[str, ...] = ("result", "next_cursor")
    ok_path: tuple[str, ...] = ("success",)
    ok_value: int | bool = True


class FileDropTransport(_Frozen):
    """Files in an exchange folder, complete only once ``<file>.ok`` exists beside them."""

    kind: Literal["file_drop"] = "file_drop"
    patterns: tuple[str, ...]  # glob patterns, e.g. "scjg_sczt_*.csv"
    format: Literal["csv", "xlsx", "geojson"]
    encodings: tuple[str, ...] = ("utf-8",)  # tried in order; BOM wins
    sheet: str | None = None  # xlsx sheet name
    marker_suffix: str = ".ok"


Transport = Annotated[
    HttpPageTransport | HttpCursorTransport | FileDropTransport, Field(discriminator="kind")
]


class Derived(NamedTuple):
    """A column the transforms (or the loader) compute from other columns, and how."""

    sources: tuple[str, ...]  # columns of the same table, or "schema.table.column"
    how: str  # in a phrase, for the catalog's lineage


class ResourceSpec(_Frozen):
    """One stream of records of a feed, landing in one core table."""

    name: str
    table: str  # qualified lake table, e.g. core.person
    transports: tuple[Transport, ...]
    # canonical column -> source field names the department uses, newest generation first
    fields: dict[str, tuple[str, ...]]
    cursor_field: str | None = None  # source field the incremental cursor follows
    # canonical column that orders versions of a key (newest wins); None: the delivery's
    # receipt time orders them (later delivery wins)
    updated_at: str | None = None
    # columns the transforms compute from others (person_key from id_number, ...): what
    # from and how, so the catalog's lineage reaches the department's fields through them
    derived: dict[str, Derived] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _columns_exist(self) -> ResourceSpec:
        model = table(self.table)
        unknown = sorted((set(self.fields) | set(self.derived)) - set(model.model_fields))
        if unknown:
            msg = (
                f"resource {self.name}: mapped columns {unknown} are not columns of "
                f"{self.table}; expected some of {sorted(model.model_fields)}"
            )
            raise ValueError(msg)  # pydantic reports it as a ValidationError
        required = {n for n, f in model.model_fields.items() if f.is_required()}
        unmapped = sorted(required - set(self.fields) - set(self.derived))
        if unmapped:
            msg = (
                f"resource {self.name}: required columns {unmapped} of {self.table} are "
                "neither mapped from a source field nor derived; map or derive them"
            )
            raise ValueError(msg)
        return self

    @property
    def business_key(self) -> tuple[str, ...]:
        return table(self.table).__business_key__

    def source_fields(self) -> set[str]:
        """Every source field name this resource understands, all generations."""
        return {name for names in self.fields.values() for name in names}


class FeedSpec(_Frozen):
    """A feed: one department's data, its resources, schedule and freshness promise."""

    name: FeedName
    label: str  # Chinese name of the feed
    owner: str  # owner department
    resources: tuple[ResourceSpec, ...]
    schedule: str  # cron or Airflow preset, in the city's time zone
    freshness_sla: timedelta  # data older than this is stale on the situation page

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(r.table for r in self.resources)


def _f(*names: str) -> tuple[str, ...]:
    return names


POPULATION = FeedSpec(
    name="population",
    label="人口",
    owner="市公安局",
    schedule="0 2 * * *",
    freshness_sla=timedelta(days=1, hours=6),
    resources=(
        ResourceSpec(
            name="persons",
            table="core.person",
            transports=(
                FileDropTransport(patterns=("gaj_rk_full_*.csv",), format="csv"),
                HttpPageTransport(path="/api/v1/population/persons"),
            ),
            cursor_field="GXSJ",
            updated_at="source_updated_at",
            derived={
                "person_key": Derived(
                    ("id_number",), "keyed HMAC-SHA256 of the normalized ID number"
                ),
                "residence_region_code": Derived(
                    ("residence_street_code",),
                    "county part of the street code, retired codes mapped",
                ),
            },
            fields={
                "id_number": _f("GMSFHM"),
                "name": _f("XM"),
                "sex_code": _f("XBDM"),
                "birth_date": _f("CSRQ"),
                "ethnicity_code": _f("MZDM"),
                "hukou_region_code": _f("HJDZ_XZQHDM"),
                "hukou_address": _f("HJDZ"),
                "residence_street_code": _f("JZDZ_XZQHDM"),
                "residence_address": _f("JZDZ"),
                "population_type": _f("RKLX"),
                "phone": _f("LXDH"),
                "is_deceased": _f("SWBS"),
                "source_updated_at": _f("GXSJ"),
            },
        ),
    ),
)

LEGAL_ENTITY = FeedSpec(
    name="legal_entity",
    label="法人",
    owner="市市场监督管理局",
    schedule="0 3 * * *",
    freshness_sla=timedelta(days=2),
    resources=(
        ResourceSpec(
            name="entities",
            table="core.legal_entity",
            transports=(
                FileDropTransport(
                    patterns=("scjg_sczt_*.csv",),
                    format="csv",
                    # GBK most months; GB18030 (a superset) some; UTF-8 with BOM others.
                    encodings=("utf-8-sig", "gb18030"),
                ),
            ),
            cursor_field="核准日期",
            updated_at="approved_date",
            derived={
                "industry_section": Derived(
                    ("industry_code",), "GB/T 4754 section letter of the industry code"
                ),
                "capital_currency": Derived(
                    ("registered_capital",), "currency written in 注册资本 (万元人民币, 万美元 ...)"
                ),
                "status_raw": Derived(
                    ("status",), "the bureau's own wording of 登记状态, kept as delivered"
                ),
            },
            fields={
                "uscc": _f("统一社会信用代码"),
                "registration_number": _f("注册号"),
                "name": _f("企业名称"),
                "entity_type": _f("企业类型"),
                "legal_rep_name": _f("法定代表人"),
                "legal_rep_id_number": _f("法定代表人证件号码"),
                "registered_capital": _f("注册资本"),
                "established_date": _f("成立日期"),
                "term_from": _f("营业期限自"),
                "term_to": _f("营业期限至"),
                "approved_date": _f("核准日期"),
                "deregistered_date": _f("注销日期"),
                "revoked_date": _f("吊销日期"),
                "registration_authority": _f("登记机关"),
                "status": _f("登记状态"),
                "address": _f("住所"),
                "region_code": _f("住所所在行政区划"),
                "industry_code": _f("行业代码"),
                "business_scope": _f("经营范围"),
            },
        ),
    ),
)

GEOSPATIAL = FeedSpec(
    name="geospatial",
    label="地理空间",
    owner="市规划和自然资源局",
    schedule="0 4 * * *",
    freshness_sla=timedelta(days=7),
    resources=(
        ResourceSpec(
            name="boundaries",
            table="core.area",
            transports=(FileDropTransport(patterns=("boundaries_*.geojson",), format="geojson"),),
            fields={
                "area_code": _f("code"),
                "name": _f("name"),
                "level": _f("level"),
                "parent_code": _f("parent_code"),
                "geometry": _f("geometry"),
            },
        ),
        ResourceSpec(
            name="addresses",
            table="core.address_point",
            transports=(FileDropTransport(patterns=("address_*.csv",), format="csv"),),
            cursor_field="更新时间",
            updated_at="source_updated_at",
            derived={
                "lon": Derived(
                    ("source_lon", "source_lat", "source_crs"),
                    "converted to WGS-84 from GCJ-02/BD-09",
                ),
                "lat": Derived(
                    ("source_lon", "source_lat", "source_crs"),
                    "converted to WGS-84 from GCJ-02/BD-09",
                ),
                "region_code": Derived(
                    ("street_code", "lon", "lat", "core.area.geometry"),
                    "county of 所属区划代码, else of the district polygon containing the point",
                ),
                "grid_code": Derived(
                    ("lon", "lat", "core.area.geometry"),
                    "grid polygon containing the point (loader)",
                ),
                "h3_r9": Derived(("lon", "lat"), "H3 cell (resolution 9) of the WGS-84 point"),
            },
            fields={
                "address_code": _f("地址编码"),
                "address": _f("标准地址"),
                "street_code": _f("所属区划代码"),
                "source_lon": _f("经度"),
                "source_lat": _f("纬度"),
                "source_crs": _f("坐标系"),
                "address_type": _f("地址类型"),
                "source_updated_at": _f("更新时间"),
            },
        ),
    ),
)

CREDIT = FeedSpec(
    name="credit",
    label="社会信用",
    owner="市发展改革委（信用办）",
    schedule="30 2 * * *",
    freshness_sla=timedelta(days=1, hours=6),
    resources=(
        ResourceSpec(
            name="penalties",
            table="core.credit_penalty",
            transports=(HttpCursorTransport(path="/api/credit/penalties"),),
            derived={
                "subject_code_type": Derived(
                    ("subject_code", "subject_category"), "USCC or citizen ID, judged from the code"
                ),
            },
            # Current CF_* codes first, then the older sub-system's names (standards.md §6).
            fields={
                "decision_no": _f("CF_WSH"),
                "authority_code": _f("CF_CFJGDM", "CF_XZJGDM"),
                "authority_name": _f("CF_CFJG", "CF_XZJG"),
                "subject_name": _f("CF_XDR_MC", "CF_XDR"),
                "subject_category": _f("CF_XDR_LB"),
                "subject_code": _f("CF_XDR_SHXYM", "CF_XDR_ZJHM", "CF_XDR_SFZ"),
                "violation_type": _f("CF_WFXW", "CF_AJMC"),
                "facts": _f("CF_SY"),
                "basis": _f("CF_YJ"),
                "penalty_types": _f("CF_CFLB", "CF_CFLB1", "CF_CFLB2"),
                "content": _f("CF_NR", "CF_JG"),
                "fine_amount": _f("CF_NR_FK"),
                "decision_date": _f("CF_JDRQ"),
                "publish_until": _f("CF_GSJZQ"),
                "data_source_name": _f("CF_SJLY"),
                "data_source_code": _f("CF_SJLYDM"),
            },
        ),
        ResourceSpec(
            name="permits",
            table="core.credit_permit",
            transports=(HttpCursorTransport(path="/api/credit/permits"),),
            derived={
                "subject_code_type": Derived(
                    ("subject_code", "subject_category"), "USCC or citizen ID, judged from the code"
                ),
            },
            fields={
                "decision_no": _f("XK_WSH"),
                "authority_code": _f("XK_XKJGDM", "XK_XZJGDM"),
                "authority_name": _f("XK_XKJG", "XK_XZJG"),
                "subject_name": _f("XK_XDR_MC", "XK_XDR"),
                "subject_category": _f("XK_XDR_LB"),
                "subject_code": _f("XK_XDR_SHXYM", "XK_XDR_ZJHM", "XK_XDR_SFZ"),
                "permit_name": _f("XK_XKZS", "XK_XMMC"),
                "permit_number": _f("XK_XKBH"),
                "permit_category": _f("XK_XKLB", "XK_SPLB"),
                "content": _f("XK_NR"),
                "decision_date": _f("XK_JDRQ"),
                "valid_from": _f("XK_YXQZ"),
                "valid_to": _f("XK_YXQZI", "XK_JZQ"),
                "status": _f("XK_ZT"),
            },
        ),
        ResourceSpec(
            name="lists",
            table="core.credit_list",
            transports=(HttpCursorTransport(path="/api/credit/lists"),),
            derived={
                "list_name": Derived(
                    ("list_type",), "the list's own name as delivered (list_type keeps black/red)"
                ),
            },
            fields={
                name: (name,)
                for name in (
                    "subject_name",
                    "subject_code",
                    "list_type",
                    "listing_authority",
                    "basis_doc",
                    "listed_at",
                    "expires_at",
                    "removed_at",
                )
            },
        ),
    ),
)

LICENCE = FeedSpec(
    name="licence",
    label="电子证照",
    owner="市政务服务数据管理局",
    schedule="0 5 1 * *",
    freshness_sla=timedelta(days=35),
    resources=(
        ResourceSpec(
            name="licences",
            table="core.licence",
            transports=(
                FileDropTransport(patterns=("dzzz_*.xlsx",), format="xlsx", sheet="证照信息"),
            ),
            cursor_field="颁证日期",
            derived={
                "is_perpetual": Derived(
                    ("valid_to",), "true when 有效期截止 is 长期, 9999-12-31 or empty"
                ),
            },
            fields={
                "certificate_id": _f("证照标识"),
                "licence_type_code": _f("证照类型代码"),
                "licence_name": _f("证照名称"),
                "licence_number": _f("证照编号"),
                "holder_name": _f("持证主体"),
                "holder_code": _f("持证主体代码"),
                "holder_code_type": _f("持证主体代码类型"),
                "issuer_name": _f("颁证单位"),
                "issuer_code": _f("颁证单位代码"),
                "issue_date": _f("颁证日期"),
                "valid_from": _f("有效期起始"),
                "valid_to": _f("有效期截止"),
                "status": _f("证照状态"),
                "region_code": _f("所属区划"),
                "version": _f("版本号"),
                "predecessor_id": _f("关联证照标识"),
            },
        ),
    ),
)

FEEDS: dict[str, FeedSpec] = {
    spec.name: spec for spec in (POPULATION, LEGAL_ENTITY, GEOSPATIAL, CREDIT, LICENCE)
}


def feed(name: str) -> FeedSpec:
    """The spec of a feed by name, with a message that lists the known feeds."""
    try:
        return FEEDS[name]
    except KeyError:
        msg = f"unknown feed {name!r}; expected one of {', '.join(FEEDS)}"
        raise SpecError(msg) from None
