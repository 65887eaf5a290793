"""`citybrain demo` / `make demo`: the whole system on the embedded defaults, in minutes.

1. initialise the lake; 2. generate the demo city's deliveries (skipped when the same
city is already there); 3. start its feed server on loopback; 4. run every feed DAG through
Airflow (real runs in Airflow's metadata DB, visible later in `citybrain up`);
5. print per feed what came in and how it ended; 6. build the situation marts through
Airflow (``citybrain_marts``) and record the catalog's lineage; 7. show three governed
queries as an analyst sees them, and where the situation page answers.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from feeds.spec import FEEDS
from schemas.settings import Settings, get_settings

console = Console()

# Boundaries before anything is placed on the map; credit last, because its older records
# name authorities that the licence feed's issuers identify by credit code.
DEMO_ORDER = ("geospatial", "population", "legal_entity", "licence", "credit")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _generate(settings: Settings, residents: int, days: int, seed: int) -> Path:
    from feeds.demo_city import GenerateParams, generate

    out = settings.home / "demo_city"
    manifest = out / "manifest.json"
    wanted = {"residents": residents, "days": days, "seed": seed}
    if manifest.exists():
        params = json.loads(manifest.read_text()).get("params", {})
        if all(params.get(k) == v for k, v in wanted.items()):
            console.print(f"[dim]Demo city already generated in {out} (same seed and size).[/]")
            return out
    with console.status(f"Generating a city of {residents:,} residents and {days} days..."):
        generate(GenerateParams(residents=residents, days=days, seed=seed, out=out))
    console.print(f"Generated the demo city in {out}")
    return out


def _airflow_env(settings: Settings, api_url: str) -> dict[str, str]:
    from citybrain import airflow_env

    env = airflow_env.environment(
        settings,
        extra={
            "CITYBRAIN_POPULATION_API_URL": api_url,
            "CITYBRAIN_CREDIT_API_URL": api_url,
        },
    )
    with console.status("Preparing Airflow (metadata database, lake_writer pool)..."):
        airflow_env.prepare(settings, env=env)
    return env


def _run_dag(settings: Settings, dag_id: str, env: dict[str, str]) -> bool:
    """``airflow dags test DAG_ID``: one real run in Airflow's metadata database."""
    from citybrain import airflow_env

    started = time.perf_counter()
    with console.status(f"Airflow: running DAG {dag_id}..."):
        result = airflow_env.airflow(settings, "dags", "test", dag_id, env=env, check=False)
    seconds = time.perf_counter() - started
    state = "[green]success[/]" if result.returncode == 0 else "[red]failed[/]"
    console.print(f"  {dag_id}: {state} in {seconds:.1f} s")
    if result.returncode != 0:
        log = settings.home / "airflow" / f"demo-{dag_id}.log"
        log.write_text(result.stdout + result.stderr)
        console.print(f"    [red]see {log}[/] — the last lines:")
        console.print("    " + "\n    ".join((result.stdout + result.stderr).splitlines()[-8:]))
    return result.returncode == 0


def summary_rows(settings: Settings) -> list[dict[str, Any]]:
    """Per feed: batches and rows in/loaded/quarantined/duplicate, top reasons, freshness."""
    from warehouse.lake import attach, use_lake
    from warehouse.sql import load_sql

    con = attach(settings, read_only=True)
    try:
        con.execute(use_lake(settings))
        cur = con.execute(load_sql("demo_summary"))
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()


def summary_table(rows: list[dict[str, Any]]) -> Table:
    """The per-feed counts of :func:`summary_rows` as a table that fits 80 columns.

    (Collapsed padding: with a space either side of every cell, an 80-column terminal cut
    the headers to ``quaran…`` and ``duplica…``.)
    """
    table = Table(
        title="What the lake received, per feed", box=box.SIMPLE_HEAVY, collapse_padding=True
    )
    table.add_column("feed", no_wrap=True)
    for col in ("batches", "rows in", "loaded", "quarantined", "duplicate"):
        table.add_column(col, justify="right")
    table.add_column("ok", justify="center")
    table.add_column("fresh", justify="center")
    for row in rows:
        spec = FEEDS[row["feed"]]
        sla_hours = spec.freshness_sla.total_seconds() / 3600
        fresh = row["age_hours"] is not None and row["age_hours"] <= sla_hours
        table.add_row(
            row["feed"],
            str(row["batches"]),
            f"{row['rows_in']:,}",
            f"{row['rows_loaded']:,}",
            f"{row['rows_quarantined']:,}",
            f"{row['rows_duplicate']:,}",
            "[green]yes[/]" if row["reconciles"] else "[red]NO[/]",
            "[green]yes[/]" if fresh else "[yellow]stale[/]",
        )
    return table


def print_summary(settings: Settings) -> None:
    rows = summary_rows(settings)
    table = summary_table(rows)
    console.print(table)
    console.print(
        "[bold]Top quarantine reasons[/] (rows held in meta.quarantine with their raw record):"
    )
    for row in rows:
        console.print(f"  {row['feed']:<13} {row['top_reasons'] or '—'}")


def run_demo(*, residents: int, days: int, seed: int) -> None:
    from feeds.demo_city.server import Faults, serve
    from warehouse.lake import init_lake

    settings = get_settings()
    console.rule("[bold]citybrain demo")
    report = init_lake(settings)
    what = f"created {len(report.created_tables)} tables" if report.changed else "already there"
    console.print(f"Lake ready at {settings.catalog} ({what}, {len(report.tables)} tables)")
    out = _generate(settings, residents, days, seed)

    port = _free_port()
    # Modest faults on: the pull must retry through 429s, 503s and truncated pages.
    with serve(out, port=port, faults=Faults(seed=seed, rate_429=0.03, rate_503=0.02)) as server:
        console.print(f"Feed server on {server.url} (population and credit APIs)")
        env = _airflow_env(settings, server.url)
        for name in DEMO_ORDER:
            _run_dag(settings, f"feed_{name}", env)
    print_summary(settings)
    # The marts DAG is scheduled on the feeds' Assets; `dags test` runs it here, once,
    # after every feed has landed (a scheduler would run it after each feed).
    marts_built = _run_dag(settings, MARTS_DAG, env)
    if marts_built:
        from citybrain.lineage import record_lineage

        record_lineage(settings)
        print_governed_examples(settings)
    from citybrain.serve_cli import page_url

    console.print(
        f"\nSituation page 态势感知: [bold]{page_url(settings.serve_port)}[/] — start it with "
        "[bold]make up[/] (with the Airflow UI) or [bold]uv run citybrain serve[/]."
        '\nNext: [bold]uv run citybrain sql "SELECT ..." --role analyst[/], '
        "[bold]uv run citybrain catalog --lineage mart.population_by_area[/], "
        "[bold]uv run citybrain quarantine list[/].",
        highlight=False,
    )


MARTS_DAG = "citybrain_marts"

#: What an analyst asks first: shown with the analyst's masking, as `citybrain sql` would.
EXAMPLE_QUERIES: tuple[tuple[str, str], ...] = (
    (
        "Population by district (registered / floating)",
        "SELECT area_name, registered, floating, total FROM mart.population_by_area "
        "WHERE area_level = 'district' ORDER BY total DESC LIMIT 5",
    ),
    (
        "Cross-department alerts by kind",
        "SELECT alert_type, count(*) AS alerts FROM mart.alerts "
        "GROUP BY alert_type ORDER BY alerts DESC",
    ),
    (
        "Personal data, as the analyst role sees it (masked by its classification)",
        "SELECT name, id_number, phone, residence_street_code FROM core.person "
        "ORDER BY person_key LIMIT 3",
    ),
)


def print_governed_examples(settings: Settings) -> None:
    """Run :data:`EXAMPLE_QUERIES` through the governed layer as ``analyst`` and print them."""
    from schemas.errors import CitybrainError
    from warehouse.governed import principal_for, run_query

    analyst = principal_for("analyst", "demo-analyst", settings=settings)
    console.print(
        "\n[bold]Three governed queries[/] (role analyst; each one is in meta.query_audit):"
    )
    for title, sql in EXAMPLE_QUERIES:
        try:
            result = run_query(sql, analyst, settings=settings)
        except CitybrainError as exc:
            console.print(f"[red]{title}: {exc}[/]")
            continue
        table = Table(title=title, caption=sql, box=box.SIMPLE, caption_justify="left")
        for column in result.columns:
            masked = " (masked)" if column in result.masked_columns else ""
            table.add_column(column + masked, overflow="fold")
        for row in result.rows:
            table.add_row(*[f"{v:,}" if isinstance(v, int) else str(v) for v in row])
        console.print(table)
