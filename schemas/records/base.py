"""Base classes of the canonical records, and the column types the standard adds."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict


class LakeType:
    """Marks a Python type that maps to a specific lake column type."""

    def __init__(self, sql: str, polars: str) -> None:
        self.sql, self.polars = sql, polars

    def __repr__(self) -> str:
        return f"LakeType({self.sql!r})"


# WKB bytes in Python and Polars; a GEOMETRY column (WGS-84) in the lake.
Geometry = Annotated[bytes, LakeType("GEOMETRY", "Binary")]
# Raw records and other documents kept as received.
JsonText = Annotated[str, LakeType("JSON", "String")]
# Money in units of its currency: 18 digits, 2 decimals (fines in yuan, capital in CNY/USD).
Money = Annotated[Decimal, LakeType("DECIMAL(18,2)", "Decimal(18,2)")]


class CanonicalRecord(BaseModel):
    """A record of the data standard: one row of a lake table.

    Subclasses set the table they live in, their business key, Chinese label and the
    department that owns the data. Generators read these, never a second list.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    __table__: ClassVar[str]  # "core.person"
    __business_key__: ClassVar[tuple[str, ...]]
    __label__: ClassVar[str]  # 中文名称 of the dataset
    __owner__: ClassVar[str]  # department that owns the data
    # Core tables carry provenance columns and an SCD2 history table; meta tables do not.
    __history__: ClassVar[bool] = False
