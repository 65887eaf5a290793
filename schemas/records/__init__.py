"""The canonical records of the data standard, one model per lake table.

``TABLES`` is the registry every generator reads: adding a table is adding a model here.
"""

from __future__ import annotations

from schemas.records.base import CanonicalRecord, Geometry, JsonText, LakeType, Money
from schemas.records.credit import CreditListEntry, CreditPenalty, CreditPermit
from schemas.records.geospatial import AddressPoint, Area
from schemas.records.legal_entity import LegalEntity
from schemas.records.licence import Licence
from schemas.records.lineage import LineageEdge
from schemas.records.mart import (
    Alert,
    EntitiesByArea,
    EntityRegistrationsMonthly,
    FeedFreshness,
    LicencesByArea,
    PenaltiesMonthly,
    PopulationByArea,
    PopulationMonthly,
    QualityScore,
)
from schemas.records.meta import Batch, Delivery, QuarantineRow, QueryAudit, Watermark
from schemas.records.population import Person
from schemas.records.quality import FeedSla, QualityResult

TABLES: tuple[type[CanonicalRecord], ...] = (
    Person,
    LegalEntity,
    Area,
    AddressPoint,
    CreditPenalty,
    CreditPermit,
    CreditListEntry,
    Licence,
    Delivery,
    Batch,
    QuarantineRow,
    Watermark,
    QueryAudit,
    QualityResult,
    FeedSla,
    LineageEdge,
    PopulationByArea,
    PopulationMonthly,
    EntitiesByArea,
    EntityRegistrationsMonthly,
    LicencesByArea,
    PenaltiesMonthly,
    Alert,
    FeedFreshness,
    QualityScore,
)


def table(name: str) -> type[CanonicalRecord]:
    """The model of a lake table, by its qualified name.

    >>> table("core.person").__label__
    '人口基础信息'
    """
    for model in TABLES:
        if model.__table__ == name:
            return model
    known = ", ".join(m.__table__ for m in TABLES)
    msg = f"no table {name!r} in the data standard; known tables: {known}"
    raise KeyError(msg)


__all__ = [
    "TABLES",
    "AddressPoint",
    "Alert",
    "Area",
    "Batch",
    "CanonicalRecord",
    "CreditListEntry",
    "CreditPenalty",
    "CreditPermit",
    "Delivery",
    "EntitiesByArea",
    "EntityRegistrationsMonthly",
    "FeedFreshness",
    "FeedSla",
    "Geometry",
    "JsonText",
    "LakeType",
    "LegalEntity",
    "Licence",
    "LicencesByArea",
    "LineageEdge",
    "Money",
    "PenaltiesMonthly",
    "Person",
    "PopulationByArea",
    "PopulationMonthly",
    "QualityResult",
    "QualityScore",
    "QuarantineRow",
    "QueryAudit",
    "Watermark",
    "table",
]
