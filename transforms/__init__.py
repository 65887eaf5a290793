"""Normalize: pure LazyFrame steps from a department's rows to the data standard.

``normalizer(table)`` finds the function for a lake table; each returns a
:class:`transforms.batch.NormalizedBatch`. Modules are imported on demand so that
importing ``transforms`` stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

    from transforms.batch import NormalizedBatch
    from transforms.context import NormalizeContext

    Normalizer = Callable[[pl.LazyFrame, NormalizeContext], NormalizedBatch]

# lake table -> "module:function"
NORMALIZERS: dict[str, str] = {
    "core.person": "transforms.population:normalize_persons",
    "core.legal_entity": "transforms.legal_entity:normalize_entities",
    "core.area": "transforms.geospatial:normalize_boundaries",
    "core.address_point": "transforms.geospatial:normalize_addresses",
    "core.credit_penalty": "transforms.credit:normalize_penalties",
    "core.credit_permit": "transforms.credit:normalize_permits",
    "core.credit_list": "transforms.credit:normalize_lists",
    "core.licence": "transforms.licence:normalize_licences",
}


def normalizer(table: str) -> Normalizer:
    """The normalization function of a lake table."""
    try:
        target = NORMALIZERS[table]
    except KeyError:
        msg = f"no normalizer for table {table!r}; expected one of {', '.join(NORMALIZERS)}"
        raise KeyError(msg) from None
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)
