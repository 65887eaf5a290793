"""The ``citybrain`` command.

Heavy modules (polars, duckdb, pyarrow, airflow) are imported inside the commands that
need them, so ``citybrain --help`` answers at once.
"""

from __future__ import annotations

import typer

from citybrain import demo_city_cli, lake_cli, marts, quarantine_cli

app = typer.Typer(
    name="citybrain",
    help=(
        "City data brain (数据大脑): pull the five base feeds, normalize them against one "
        "data standard, keep them in a DuckLake lake.\n\n"
        "Start with `citybrain demo`, then `citybrain lake status` and `citybrain catalog`."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)
app.add_typer(lake_cli.app, name="lake", help="Create the lake and see its state.")
app.add_typer(
    demo_city_cli.app,
    name="demo-city",
    help="The demo city: generate departments' deliveries, serve its APIs on loopback.",
)

app.add_typer(
    quarantine_cli.app,
    name="quarantine",
    help="Rows that could not be loaded: list, show, replay after a fix.",
)
app.add_typer(
    marts.app,
    name="marts",
    help="The situation marts (态势感知): score new batches, rebuild the marts.",
)


@app.command()
def ingest(
    feed: str = typer.Argument(
        ..., help="population, legal_entity, geospatial, credit or licence."
    ),
    source: str | None = typer.Option(
        None, "--source", "-s", help="Folder (file drop), file, or API base URL."
    ),
    since: str | None = typer.Option(
        None, help="Pull from this ISO date/time; default: the feed's watermark."
    ),
) -> None:
    """Pull, normalize and load one feed — the same task functions as its Airflow DAG."""
    from citybrain.ingest_cli import run_ingest

    raise typer.Exit(run_ingest(feed, source, since))


@app.command()
def up(
    port: int = typer.Option(8080, help="Port of the Airflow UI on 127.0.0.1."),
) -> None:
    """Start Airflow (UI, scheduler, DAG processor) on loopback with citybrain's DAGs."""
    from citybrain.up import run_up

    run_up(port)


@app.command()
def serve(
    port: int | None = typer.Option(
        None, help="Port on 127.0.0.1; default CITYBRAIN_SERVE_PORT (8600)."
    ),
) -> None:
    """Serve the situation page (态势感知), governed SQL and the catalog on loopback."""
    from citybrain.serve_cli import run_serve

    raise typer.Exit(run_serve(port))


@app.command()
def catalog(
    fmt: str = typer.Option(
        "table",
        "--format",
        "-f",
        help="table (readable), markdown (for docs) or json (for scripts).",
    ),
    table: str | None = typer.Option(
        None, "--table", "-t", help="Only this table, e.g. core.person."
    ),
    lineage: str | None = typer.Option(
        None,
        "--lineage",
        "-l",
        help="Trace each column of this table back to the departments' fields, "
        "e.g. mart.population_by_area.",
    ),
    refresh: bool = typer.Option(
        False,
        "--refresh",
        help="First record the lineage of the feed specs and mart SQL in meta.lineage "
        "(what the HTTP catalog shows).",
    ),
) -> None:
    """The catalog: every table and column with its Chinese label, governance, freshness and lineage."""
    lake_cli.catalog_command(fmt, table, lineage=lineage, refresh=refresh)


@app.command()
def sql(
    query: str = typer.Argument(
        ...,
        help='One SELECT, e.g. "SELECT * FROM mart.alerts"; - reads it from stdin; or the '
        "word tokens.",
    ),
    role: str = typer.Option(
        "analyst", "--role", "-r", help="public, analyst, district_analyst, steward, admin."
    ),
    district: str | None = typer.Option(
        None, "--district", "-d", help="6-digit district code (role district_analyst)."
    ),
    dialect: str | None = typer.Option(
        None, help="Write in mysql, postgres, oracle or hive SQL; translated to DuckDB."
    ),
    fmt: str = typer.Option("table", "--format", "-f", help="table, csv or json."),
    max_rows: int | None = typer.Option(
        None, "--max-rows", "-n", help="At most this many rows (never above the role's limit)."
    ),
    rotate: list[str] = typer.Option(
        [], "--rotate", help="With `sql tokens`: issue a new token to this principal."
    ),
) -> None:
    """Governed SQL: masked and scoped by role, audited. `citybrain sql tokens` prints the
    HTTP endpoint's tokens (each shown once, when issued)."""
    from citybrain.sql_cli import run_sql, show_tokens

    if query.strip().lower() == "tokens":
        raise typer.Exit(show_tokens(rotate))
    raise typer.Exit(run_sql(query, role, district, dialect, fmt, max_rows))


@app.command()
def check(
    code_type: str = typer.Argument(
        ..., help="citizen_id, uscc, region_code, industry_code, licence_id, phone ..."
    ),
    values: list[str] = typer.Argument(..., help="Values to check, as a department sent them."),
) -> None:
    """Check values against a standard code type and show the normalized value or the reason."""
    from citybrain.check_cli import check_values

    raise typer.Exit(check_values(code_type, values))


@app.command()
def demo(
    residents: int = typer.Option(20_000, help="Residents of the demo city."),
    days: int = typer.Option(3, help="Days of increments after the initial full load."),
    seed: int = typer.Option(42, help="Seed: the same seed gives the same city."),
) -> None:
    """The main job: build the lake, generate the demo city, run every feed DAG through Airflow."""
    from citybrain.demo import run_demo

    run_demo(residents=residents, days=days, seed=seed)


if __name__ == "__main__":
    app()
