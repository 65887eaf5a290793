"""The marts task: record the feeds' SLAs, score new batches, rebuild the situation marts.

``citybrain_marts`` (Airflow), ``citybrain marts build`` and the demo all call
:func:`build_marts_task`. ``warehouse`` may not import ``feeds``, so the SLAs of the
``FeedSpec`` registry reach the lake from here, as rows of ``meta.feed_slas``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from schemas.settings import Settings, get_settings

if TYPE_CHECKING:
    from warehouse.marts import FeedSla

app = typer.Typer(no_args_is_help=True)


def feed_slas() -> list[FeedSla]:
    """Every feed's department, schedule and freshness SLA (hours), from its spec."""
    from feeds.spec import FEEDS
    from warehouse.marts import FeedSla

    return [
        FeedSla(
            feed=spec.name,
            department=spec.owner,
            schedule=spec.schedule,
            freshness_sla_hours=spec.freshness_sla.total_seconds() / 3600,
        )
        for spec in FEEDS.values()
    ]


def record_feed_slas(settings: Settings | None = None) -> list[str]:
    """Write the registry's SLAs to ``meta.feed_slas``; return the feeds that changed."""
    from warehouse.lake import attach
    from warehouse.marts import write_feed_slas

    settings = settings or get_settings()
    con = attach(settings)
    try:
        return write_feed_slas(con, settings, feed_slas())
    finally:
        con.close()


def build_marts_task(settings: Settings | None = None) -> dict[str, Any]:
    """Record SLAs, score new batches and rebuild every mart; return the counts (JSON-able).

    Creates any mart or meta table the lake lacks first (a lake made before the marts).
    """
    from warehouse.lake import attach, init_lake
    from warehouse.marts import build, write_feed_slas

    settings = settings or get_settings()
    con = attach(settings)
    try:
        init_lake(settings, con=con)
        changed = write_feed_slas(con, settings, feed_slas())
        result = build(con, settings)
    finally:
        con.close()
    return {
        "slas_changed": changed,
        "batches_scored": result.batches_scored,
        "marts": {f"mart.{name}": rows for name, rows in result.rows.items()},
    }


@app.command("build")
def build_command() -> None:
    """Score new batches and rebuild every situation mart in one transaction."""
    from rich.console import Console
    from rich.table import Table

    from schemas.errors import CitybrainError

    console = Console()
    try:
        counts = build_marts_task()
    except CitybrainError as exc:
        console.print(f"[red]marts not built:[/] {exc}")
        raise typer.Exit(1) from exc
    table = Table(title="Situation marts (态势感知)")
    table.add_column("mart")
    table.add_column("rows", justify="right")
    for name, rows in counts["marts"].items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    console.print(
        f"Batches scored for quality: {counts['batches_scored']}; "
        f"SLAs recorded: {', '.join(counts['slas_changed']) or 'unchanged'}."
    )
