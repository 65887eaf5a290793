"""Reference data the normalizers borrow from the lake itself."""

from __future__ import annotations

from schemas.errors import LakeError
from schemas.settings import Settings
from warehouse.lake import attach, use_lake
from warehouse.sql import load_sql


def authority_directory(settings: Settings) -> dict[str, str]:
    """Authority name -> credit code, from credit decisions and licence issuers in the lake.

    Older credit sub-systems send the authority's name only; the current generation and
    the licence feed name the same authorities with their codes. Empty before a first load.
    """
    try:
        con = attach(settings, read_only=True)
    except LakeError:
        return {}
    try:
        con.execute(use_lake(settings))
        return dict(con.execute(load_sql("authority_directory")).fetchall())
    finally:
        con.close()
