"""Static SQL of the governed query service, one statement per ``.sql`` file.

>>> "meta.query_audit" in load_sql("insert_query_audit")
True
"""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def load_sql(name: str) -> str:
    """The text of ``warehouse/governed/sql/<name>.sql``."""
    return (resources.files(__name__) / f"{name}.sql").read_text(encoding="utf-8")
