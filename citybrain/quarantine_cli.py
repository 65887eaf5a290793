"""``citybrain quarantine list|show|replay``: the rows that could not be loaded.

The work is :mod:`warehouse.quarantine`; this module parses options, looks up the feed's
spec (field mapping, table) that ``warehouse`` may not import, and draws. DuckDB, Polars
and the specs are imported inside the commands so that ``--help`` answers at once.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table

from schemas.errors import CitybrainError

if TYPE_CHECKING:
    from feeds.spec import ResourceSpec
    from warehouse.quarantine import QuarantinedRow, QuarantineListing, ReplayResult

app = typer.Typer(
    help="Rows that could not be loaded: list them, see why, replay them after a fix.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
console = Console()
err_console = Console(stderr=True)


def _fail(exc: Exception) -> typer.Exit:
    err_console.print(f"[bold red]Error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _resources(feed_name: str) -> tuple[ResourceSpec, ...]:
    from feeds.spec import feed

    return feed(feed_name).resources


def _table_of(feed_name: str, batch_id: str | None, resource: str | None = None) -> str | None:
    """The core table a feed's resource or batch loads, to explain reasons precisely; None
    if unsure."""
    from feeds.spec import FEEDS
    from warehouse.load.staging import batch_prefix

    spec = FEEDS.get(feed_name)
    if spec is None:
        return None
    if len(spec.resources) == 1:
        return spec.resources[0].table
    for res in spec.resources:
        if res.name == resource or (
            batch_id and batch_id.startswith(batch_prefix(feed_name, res.name))
        ):
            return res.table
    return None


def _reasons_table(listing: QuarantineListing) -> Table:
    table = Table(title="By reason", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("reason")
    table.add_column("rows", justify="right")
    table.add_column("unresolved", justify="right")
    table.add_column("what it means")
    for r in listing.reasons:
        table.add_row(r.reason, f"{r.rows:,}", f"{r.unresolved:,}", r.explanation or "")
    return table


def _rows_table(listing: QuarantineListing) -> Table:
    shown = len(listing.rows)
    title = f"Rows ({shown:,} of {listing.total:,}, newest first)"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    # The source (a long path or URL) is left to `show`, which has the room for it.
    for name in ("resource", "batch", "row", "reasons", "quarantined", "resolved by"):
        table.add_column(name, justify="right" if name == "row" else "left", overflow="fold")
    for row in listing.rows:
        table.add_row(
            row.resource or "",
            row.batch_id,
            str(row.source_row),
            ", ".join(row.reasons),
            _when(row.quarantined_at),
            row.resolved_batch_id or "",
        )
    return table


@app.command("list")
def list_command(
    feed: Annotated[str | None, typer.Option("--feed", "-f", help="Only this feed.")] = None,
    resource: Annotated[
        str | None,
        typer.Option("--resource", help="Only this resource (persons, penalties, addresses ...)."),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option(
            "--reason", "-r", help="A reason code (id_number.checksum) or a field (id_number)."
        ),
    ] = None,
    batch: Annotated[str | None, typer.Option("--batch", "-b", help="Only this batch.")] = None,
    include_resolved: Annotated[
        bool, typer.Option("--all", help="Include rows a replay has already loaded.")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Rows to show.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")] = False,
) -> None:
    """List quarantined rows and how many carry each reason (unresolved only by default)."""
    from schemas.settings import get_settings
    from warehouse.quarantine import list_quarantine

    try:
        listing = list_quarantine(
            get_settings(),
            feed=feed,
            resource=resource,
            reason=reason,
            batch_id=batch,
            unresolved_only=not include_resolved,
            limit=limit,
            table=_table_of(feed, batch, resource) if feed else None,
        )
    except CitybrainError as exc:
        raise _fail(exc) from exc
    if as_json:
        console.print_json(listing.model_dump_json())
        return
    if listing.total == 0:
        which = "unresolved " if not include_resolved else ""
        console.print(f"No {which}quarantined rows match.")
        return
    console.print(_reasons_table(listing))
    console.print(_rows_table(listing))
    console.print(
        "[dim]`citybrain quarantine show BATCH ROW` shows a row's raw record and reasons.[/]"
    )


def _detail(row: QuarantinedRow) -> Group:
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column(overflow="fold")
    for label, value in (
        ("feed", row.feed),
        ("resource", row.resource or ""),
        ("batch", row.batch_id),
        ("source", row.source),
        ("source row", str(row.source_row)),
        ("quarantined", _when(row.quarantined_at)),
        (
            "resolved",
            f"{_when(row.resolved_at)} by {row.resolved_batch_id}" if row.resolved_at else "no",
        ),
    ):
        facts.add_row(label, value)
    reasons = Table(box=box.SIMPLE_HEAD)
    reasons.add_column("reason")
    reasons.add_column("field")
    reasons.add_column("what it means")
    for r in row.explained:
        reasons.add_row(r.code, r.field, r.explanation or "[dim](no explanation recorded)[/]")
    raw = row.raw_record
    text = json.dumps(raw, ensure_ascii=False, indent=2) if isinstance(raw, dict) else str(raw)
    record = Panel(Syntax(text, "json", word_wrap=True), title="raw record (as received)")
    return Group(facts, reasons, record)


@app.command()
def show(
    batch: Annotated[str, typer.Argument(help="Batch id of the row.")],
    row: Annotated[int, typer.Argument(help="Its row number in the source.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")] = False,
) -> None:
    """Show one quarantined row: its raw record and each reason in plain language."""
    from schemas.settings import get_settings
    from warehouse.quarantine import show_quarantined

    feed_name = batch.split("-", 1)[0]
    try:
        found = show_quarantined(get_settings(), batch, row, table=_table_of(feed_name, batch))
    except CitybrainError as exc:
        raise _fail(exc) from exc
    if as_json:
        console.print_json(found.model_dump_json())
        return
    console.print(_detail(found))


def _rows(n: int) -> str:
    return f"{n:,} row" if n == 1 else f"{n:,} rows"


def _replay_line(result: ReplayResult) -> str:
    where = f"{result.feed}/{result.resource}"
    if result.status == "nothing_to_replay":
        return f"{where}: no unresolved quarantined rows."
    line = (
        f"{where}: replayed {_rows(result.replayed)}: {result.resolved:,} now pass, "
        f"{result.still_failing:,} still fail"
    )
    if result.reasons_changed:
        line += f" ({result.reasons_changed:,} with new reasons)"
    if result.load is not None:
        load = result.load
        line += (
            f". Batch {load.batch_id}: {load.rows_loaded:,} loaded, "
            f"{load.rows_duplicate:,} duplicate"
        )
    return line + "."


@app.command()
def replay(
    feed: Annotated[
        str, typer.Argument(help="population, legal_entity, geospatial, credit or licence.")
    ],
    resource: Annotated[
        str | None, typer.Option("--resource", help="Only this resource of the feed.")
    ] = None,
    batch: Annotated[
        str | None, typer.Option("--batch", "-b", help="Only rows of this batch.")
    ] = None,
    today: Annotated[
        str | None,
        typer.Option(help="Judge rows as of this date (YYYY-MM-DD); default: their delivery's."),
    ] = None,
) -> None:
    """Re-normalize a feed's unresolved quarantined rows with the current code and load those
    that now pass (after a mapping or standard fix). Rows still failing stay, with the
    reasons the current code gives."""
    from citybrain.keys import person_key
    from schemas.settings import get_settings
    from warehouse.quarantine import replay as replay_rows

    settings = get_settings()
    try:
        resources = [r for r in _resources(feed) if resource in (None, r.name)]
        if not resources:
            names = ", ".join(r.name for r in _resources(feed))
            raise typer.BadParameter(f"feed {feed} has no resource {resource!r}; it has {names}")
        as_of = date.fromisoformat(today) if today else None
        key = person_key(settings)
        for res in resources:
            result = replay_rows(
                settings,
                feed,
                res.table,
                res.fields,
                resource=res.name,
                updated_at=res.updated_at,
                person_key=key,
                today=as_of,
                batch_id=batch,
            )
            console.print(_replay_line(result), highlight=False)
    except CitybrainError as exc:
        raise _fail(exc) from exc
