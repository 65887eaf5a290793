"""The examples in warehouse/ docstrings run (pytest collects doctests only under testpaths)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "warehouse.extensions",
    "warehouse.frames",
    "warehouse.lake",
    "warehouse.retry",
    "warehouse.sql",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    result = doctest.testmod(module, optionflags=flags, verbose=False)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
