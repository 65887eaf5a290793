"""地理空间 — areas and standard addresses (owner: 市规划和自然资源局)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from schemas.records.base import CanonicalRecord, Geometry
from schemas.standard import std

SourceCRS = Literal["WGS84", "CGCS2000", "GCJ02", "BD09"]


class Area(CanonicalRecord):
    """A district, street or grid polygon (`core.area`)."""

    __table__: ClassVar[str] = "core.area"
    __business_key__: ClassVar[tuple[str, ...]] = ("area_code",)
    __label__: ClassVar[str] = "行政区划与网格"
    __owner__: ClassVar[str] = "市规划和自然资源局"
    __history__: ClassVar[bool] = True

    area_code: str = std(
        "区划代码", "6-digit district, 9-digit street or longer grid code.", business_key=True
    )
    name: str = std("名称", "Name of the area.")
    level: Literal["district", "street", "grid"] = std("层级", "district, street or grid.")
    parent_code: str | None = std("上级区划代码", "Code of the enclosing area.", default=None)
    geometry: Geometry = std("边界", "Polygon or multipolygon, WGS-84 (CGCS2000 treated as such).")


class AddressPoint(CanonicalRecord):
    """A standard address or point of interest (`core.address_point`)."""

    __table__: ClassVar[str] = "core.address_point"
    __business_key__: ClassVar[tuple[str, ...]] = ("address_code",)
    __label__: ClassVar[str] = "标准地址"
    __owner__: ClassVar[str] = "市规划和自然资源局"
    __history__: ClassVar[bool] = True

    address_code: str = std("地址编码", "The bureau's address code.", business_key=True)
    address: str = std("标准地址", "Standard address text.")
    address_type: str | None = std("地址类型", "住宅, 商业, 公共设施 or 工业.", default=None)
    lon: float = std("经度", "WGS-84 longitude, converted from the source CRS.")
    lat: float = std("纬度", "WGS-84 latitude, converted from the source CRS.")
    source_crs: SourceCRS = std("坐标系", "CRS the department delivered the point in.")
    source_lon: float | None = std(
        "原始经度", "Longitude as delivered, before conversion.", default=None
    )
    source_lat: float | None = std(
        "原始纬度", "Latitude as delivered, before conversion.", default=None
    )
    region_code: str | None = std(
        "所属区县代码", "County-level code, current.", default=None, code="region_code"
    )
    street_code: str | None = std(
        "所属街道代码",
        "9-digit street code, by polygon containment when not delivered.",
        default=None,
        code="street_code",
    )
    grid_code: str | None = std("所属网格代码", "Grid containing the point.", default=None)
    h3_r9: str | None = std("H3 r9 单元", "H3 cell at resolution 9 (about 0.1 km²).", default=None)
    source_updated_at: datetime | None = std("更新时间", "更新时间 as delivered.", default=None)
