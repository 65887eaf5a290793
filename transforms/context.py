"""What a normalization needs besides the frame: mapping, clock and keys.

Passed explicitly (never read from the environment inside a step), so a step's result
depends only on its inputs — the same delivery normalizes the same way on every re-run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class NormalizeContext:
    """Inputs of a normalization other than the delivery's rows."""

    # canonical column -> the department's field names, newest generation first
    fields: Mapping[str, Sequence[str]]
    # "today" for plausibility checks (future birth dates ...): the delivery's date,
    # not the wall clock, so a replay next year judges rows as they were judged then.
    today: date
    # HMAC key for person_key (DESIGN.md decision 7); from configuration, never code.
    person_key: bytes = field(repr=False, default=b"")
    # authority name (or former name) -> its credit code, for older credit records that
    # carry only the name: the configured directory merged with the lake's known
    # authorities (warehouse.directory); looked up by a join, names normalized on both
    # sides (transforms.credit.normalize_authority_name). Empty is fine.
    authority_codes: Mapping[str, str] = field(default_factory=dict)
