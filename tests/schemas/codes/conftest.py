"""Fixtures for the code-check tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import polars as pl
import pytest

Check = Callable[[pl.Expr], pl.Expr]
RunCheck = Callable[[Check, Sequence[str | None]], list[dict[str, Any]]]


def _run_check(check: Check, values: Sequence[str | None]) -> list[dict[str, Any]]:
    frame = pl.DataFrame({"x": list(values)}, schema={"x": pl.String})
    return frame.select(check(pl.col("x")).alias("out"))["out"].to_list()


@pytest.fixture
def run_check() -> RunCheck:
    """Run a check over a few values (eager, like the doctests); one dict per value."""
    return _run_check
