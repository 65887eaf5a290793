"""`citybrain ingest FEED --source ...`: one feed end to end, without Airflow."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table

from citybrain.progress import progress_line
from schemas.errors import CitybrainError


def run_ingest(feed: str, source: str | None, since: str | None) -> int:
    from citybrain.tasks import ingest

    console = Console()
    try:
        # A large delivery's normalize fills the bar a chunk at a time (the pull counted
        # its rows).
        with progress_line(console, f"ingest {feed}") as progress:
            results = ingest(feed, source, since=since, progress=progress)
    except CitybrainError as exc:
        console.print(f"[red]ingest {feed} failed:[/] {exc}")
        return 1
    if not results:
        console.print(f"Nothing new for {feed}: every delivery is already in the lake.")
        return 0
    table = Table(title=f"ingest {feed}", box=box.SIMPLE_HEAVY)
    # On a narrow terminal the batch id folds; the status and the counts stay whole.
    table.add_column("batch", overflow="fold")
    table.add_column("status", no_wrap=True, min_width=len("skipped_duplicate"))
    for col in ("rows in", "loaded", "quarantined", "duplicate"):
        table.add_column(col, justify="right", no_wrap=True)
    for r in results:
        table.add_row(
            r["batch_id"],
            r["status"],
            f"{r['rows_in']:,}",
            f"{r['rows_loaded']:,}",
            f"{r['rows_quarantined']:,}",
            f"{r['rows_duplicate']:,}",
        )
    console.print(table)
    return 0
