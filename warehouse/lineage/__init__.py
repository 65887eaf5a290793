"""The catalog and its column-level lineage, along the data flow:

- :mod:`~warehouse.lineage.sql`: sqlglot lineage of each mart's SQL back to the core and
  meta columns it reads (and history tables to their tables);
- :mod:`~warehouse.lineage.store`: ``meta.lineage`` written and read back, with each
  feed's last load and SLA (``citybrain`` adds the edges on to the feed fields, which this
  room may not import);
- :mod:`~warehouse.lineage.catalog`: the catalog of the data standard with governance and
  freshness;
- :mod:`~warehouse.lineage.tree`: one table's columns with their sources as a tree.

:mod:`~warehouse.lineage.edges` holds the :class:`Edge` they share.
"""

from __future__ import annotations

from warehouse.lineage.catalog import (
    Catalog,
    CatalogColumn,
    CatalogTable,
    Freshness,
    build_catalog,
    catalog,
    freshness,
    upstream_feeds,
)
from warehouse.lineage.edges import COMPUTED, Edge
from warehouse.lineage.sql import (
    history_edges,
    lake_schema,
    mart_lineage,
    mart_sql_files,
    output_columns,
    sql_lineage,
)
from warehouse.lineage.store import LakeState, read_lake_edges, read_lake_state, replace_lineage
from warehouse.lineage.tree import ColumnLineage, LineageNode, TableLineage, lineage_tree

__all__ = [
    "COMPUTED",
    "Catalog",
    "CatalogColumn",
    "CatalogTable",
    "ColumnLineage",
    "Edge",
    "Freshness",
    "LakeState",
    "LineageNode",
    "TableLineage",
    "build_catalog",
    "catalog",
    "freshness",
    "history_edges",
    "lake_schema",
    "lineage_tree",
    "mart_lineage",
    "mart_sql_files",
    "output_columns",
    "read_lake_edges",
    "read_lake_state",
    "replace_lineage",
    "sql_lineage",
    "upstream_feeds",
]
