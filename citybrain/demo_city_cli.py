"""``citybrain demo-city``: generate the demo city's deliveries (and serve its APIs).

The commands only parse options and draw; the work is :func:`feeds.demo_city.generate`.
Polars and the simulator are imported inside the command, so ``--help`` answers at once.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from citybrain.progress import progress_line

app = typer.Typer(
    help="The demo city: departments' deliveries, ground truth, and its feed server.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
console = Console()

PROFILES = ("default", "clean")


@app.callback()
def main() -> None:
    """The demo city: departments' deliveries, ground truth, and its feed server."""


def _summary(manifest: dict[str, Any], out: Path) -> Table:
    files: dict[str, int] = defaultdict(int)
    rows: dict[str, int] = defaultdict(int)
    unmarked: dict[str, int] = defaultdict(int)
    for d in manifest["deliveries"]:
        files[d["feed"]] += 1
        rows[d["feed"]] += d["rows"]
        unmarked[d["feed"]] += d["kind"] != "api" and not d["marker"]
    table = Table(title=f"Demo city deliveries in {out}", box=box.SIMPLE_HEAVY)
    table.add_column("feed")
    table.add_column("files", justify="right")
    table.add_column("rows", justify="right")
    table.add_column("without .ok", justify="right")
    for feed in sorted(files):
        table.add_row(feed, f"{files[feed]:,}", f"{rows[feed]:,}", str(unmarked[feed] or ""))
    table.add_section()
    for t in manifest["truth"]:
        if t["kind"] == "rows":
            table.add_row(
                f"[dim]truth/{t['table']}[/]", f"[dim]{t['files']}[/]", f"[dim]{t['rows']:,}[/]", ""
            )
    return table


@app.command()
def generate(
    residents: Annotated[int, typer.Option(help="Residents of the city (at least 100).")] = 20_000,
    seed: Annotated[int, typer.Option(help="The same seed gives the same bytes.")] = 42,
    days: Annotated[int, typer.Option(help="Days of increments after the initial full loads.")] = 7,
    out: Annotated[
        Path | None,
        typer.Option(help="Output folder \\(default: $CITYBRAIN_HOME/demo_city)."),
    ] = None,
    profile: Annotated[
        str, typer.Option(help="Dirt: default (like real exports) or clean (none).")
    ] = "default",
    start: Annotated[
        str, typer.Option(help="First day of the run (the initial full loads), YYYY-MM-DD.")
    ] = "2026-10-01",
) -> None:
    """Simulate the city: every department's deliveries, the ground truth, a manifest."""
    from feeds.demo_city import PROFILES as DIRT_PROFILES
    from feeds.demo_city import GenerateParams
    from feeds.demo_city import generate as run
    from schemas.settings import get_settings

    if profile not in PROFILES:
        raise typer.BadParameter(f"expected one of {', '.join(PROFILES)}", param_hint="--profile")
    try:
        first_day = date.fromisoformat(start)
    except ValueError as exc:
        raise typer.BadParameter("expected YYYY-MM-DD", param_hint="--start") from exc
    target = out or get_settings().home / "demo_city"
    params = GenerateParams(
        residents=residents,
        seed=seed,
        days=days,
        out=target,
        start=first_day,
        profile=DIRT_PROFILES[profile],
    )
    with progress_line(console, "generating") as progress:
        manifest = run(params, progress=progress)
    console.print(_summary(manifest, target))
    console.print(f"Manifest: {target / 'manifest.json'}   Ground truth: {target / 'truth'}")


@app.command()
def serve(
    data: Annotated[
        Path | None,
        typer.Option(help="The simulator's output folder (default: $CITYBRAIN_HOME/demo_city)."),
    ] = None,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8765,
    faults: Annotated[
        str, typer.Option(help="none, demo, a JSON file or inline JSON of fault rates.")
    ] = "none",
    seed: Annotated[int | None, typer.Option(help="Seed of the faults.")] = None,
) -> None:
    """Serve the population and credit APIs on loopback, as the departments do (Ctrl-C stops)."""
    from feeds.demo_city.server import load_faults, run
    from schemas.settings import get_settings

    chosen = load_faults(faults)
    if seed is not None:
        chosen = chosen.model_copy(update={"seed": seed})
    run(data or get_settings().home / "demo_city", port=port, faults=chosen)
