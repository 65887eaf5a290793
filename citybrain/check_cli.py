"""`citybrain check`: try the standard's vectorized checks on a few values by hand."""

from __future__ import annotations

import polars as pl
from rich.console import Console
from rich.table import Table

from schemas.codes import CHECKS, REASONS


def check_values(code_type: str, values: list[str]) -> int:
    """Print one row per value; return the exit code (1 when any value fails)."""
    console = Console()
    if code_type not in CHECKS:
        console.print(
            f"[red]Unknown code type {code_type!r}.[/red] Known: {', '.join(sorted(CHECKS))}"
        )
        return 2
    out = (
        pl.DataFrame({"input": values}, schema={"input": pl.String})
        .with_columns(CHECKS[code_type](pl.col("input")).alias("checked"))
        .unnest("checked")
    )
    table = Table(title=f"{code_type} check", show_lines=False)
    for name in out.columns:
        table.add_column(name)
    explain = REASONS.get(code_type, {})
    for row in out.iter_rows(named=True):
        cells = []
        for name, value in row.items():
            text = "" if value is None else str(value)
            if name == "reason" and value is not None:
                text = f"[red]{value}[/red] {explain.get(value, '')}"
            cells.append(text)
        table.add_row(*cells)
    console.print(table)
    return 1 if out["reason"].is_not_null().any() else 0
