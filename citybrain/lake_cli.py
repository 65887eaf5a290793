"""``citybrain lake init|status`` and ``citybrain catalog``.

DuckDB, sqlglot and the models are imported inside the commands: ``citybrain --help``
must answer at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from schemas.errors import CitybrainError

if TYPE_CHECKING:
    from schemas.generate import Column
    from schemas.records.base import CanonicalRecord
    from warehouse.status import LakeStatus

app = typer.Typer(
    help="Create the lake from the data standard and see what it holds.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
console = Console()
err_console = Console(stderr=True)

FORMATS = ("table", "markdown")


def _fail(exc: CitybrainError) -> typer.Exit:
    err_console.print(f"[bold red]Error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


@app.command()
def init() -> None:
    """Create the schemas core, mart, meta and every table of the data standard.

    Safe to run again: when the lake already matches the standard nothing is written.
    A table whose columns differ from its model stops here with the migration to write.
    """
    from schemas.settings import get_settings
    from warehouse.lake import init_lake, redact

    settings = get_settings()
    try:
        report = init_lake(settings)
    except CitybrainError as exc:
        raise _fail(exc) from exc
    where = redact(settings.catalog)
    if not report.changed:
        console.print(
            f"The lake at {where} already matches the data standard "
            f"({len(report.tables)} tables); nothing to do."
        )
        return
    if report.created_schemas:
        console.print(f"Created schemas: {', '.join(report.created_schemas)}.")
    if report.created_tables:
        console.print(f"Created {len(report.created_tables)} tables:")
        for name in report.created_tables:
            console.print(f"  {name}")
    if report.relabelled:
        console.print(f"Refreshed the Chinese labels of: {', '.join(report.relabelled)}.")
    console.print(f"The lake at {where} is ready (snapshot {report.snapshot_id}).")


def _status_table(status: LakeStatus) -> Table:
    table = Table(title="Tables", title_justify="left", show_edge=False)
    table.add_column("table")
    table.add_column("中文名")
    table.add_column("rows", justify="right")
    for row in status.tables:
        name = row.name if row.in_standard else f"{row.name} [dim](not in the standard)[/]"
        table.add_row(name, row.label or "", f"{row.rows:,}")
    for name in status.missing_tables:
        table.add_row(f"[yellow]{name}[/]", "", "[yellow]missing[/]")
    return table


@app.command()
def status(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the status as JSON (for scripts).")
    ] = False,
) -> None:
    """Show the lake: catalog, data path, tables with row counts, snapshots, files."""
    from schemas.settings import get_settings
    from warehouse.status import lake_status

    try:
        result = lake_status(get_settings())
    except CitybrainError as exc:
        raise _fail(exc) from exc
    if as_json:
        console.print_json(result.model_dump_json())
        return
    console.print(result.summary, highlight=False)
    kind = {"sqlite": "SQLite file", "postgres": "PostgreSQL"}.get(result.catalog_kind)
    console.print(f"  Catalog:   {result.catalog} ({kind})", highlight=False)
    console.print(
        f"  Data:      {result.data_path} ({result.data_files:,} files, "
        f"{_size(result.data_bytes)})",
        highlight=False,
    )
    if result.snapshots:
        latest = result.latest_snapshot_at
        when = latest.strftime("%Y-%m-%d %H:%M:%S %Z") if latest else "?"
        console.print(
            f"  Snapshots: {result.snapshots:,}, latest #{result.latest_snapshot_id} at {when}",
            highlight=False,
        )
    if result.tables or (result.missing_tables and result.snapshots):
        console.print()
        console.print(_status_table(result))


_PI_SHORT = {"none": "", "pi": "PI", "sensitive_pi": "敏感"}
# Attributes shown from this terminal width up; narrower terminals get the essentials.
_WIDE, _WIDER = 120, 170


def _dictionary_table(
    model: type[CanonicalRecord], columns: list[Column], overrides: dict[str, str], width: int
) -> Table:
    from schemas.generate import code_cell, security_level, table_name

    key = ", ".join(model.__business_key__)
    caption = f"owner 数据责任部门: {model.__owner__} · business key 业务主键: {key}"
    if model.__history__:
        caption += f" · history: {table_name(model, history=True)}"
    table = Table(
        title=f"{model.__table__} — {model.__label__}",
        title_justify="left",
        caption=caption,
        caption_justify="left",
        box=box.SIMPLE_HEAD,  # no vertical rules: room for the names at 80 columns
        collapse_padding=True,
        pad_edge=False,
    )
    table.add_column("column", no_wrap=True)
    table.add_column("中文名", no_wrap=True)
    table.add_column("type", no_wrap=True)
    table.add_column("req", no_wrap=True)
    table.add_column("level", no_wrap=True)
    table.add_column("PI", no_wrap=True)
    if width >= _WIDE:
        table.add_column("code / standard")
        table.add_column("open", no_wrap=True)
        table.add_column("masking", no_wrap=True)
    if width >= _WIDER:
        table.add_column("description", ratio=1)
    for col in columns:
        meta = col.standard
        cells = [
            col.name,
            meta.label,
            col.sql_type,
            "" if col.nullable else "yes",
            security_level(model, col, overrides),
            _PI_SHORT[meta.pi],
        ]
        if width >= _WIDE:
            masking = "" if meta.masking == "none" else meta.masking
            cells += [code_cell(model, col), meta.open_level, masking]
        if width >= _WIDER:
            cells.append(meta.description)
        table.add_row(*cells)
    return table


def catalog_command(fmt: str = "table", table: str | None = None) -> None:
    """Print the data dictionary as rich tables (``table``) or Markdown (``markdown``).

    ``table`` limits it to one lake table, e.g. ``core.person``.
    """
    from schemas.generate import data_dictionary_markdown, table_columns
    from schemas.records import TABLES
    from schemas.records import table as model_of
    from schemas.settings import get_settings

    if fmt not in FORMATS:
        err_console.print(
            f"[bold red]Error:[/] format {fmt!r}: expected one of {', '.join(FORMATS)}"
        )
        raise typer.Exit(2)
    if table is None:
        models = list(TABLES)
    else:
        try:
            models = [model_of(table)]
        except KeyError as exc:
            err_console.print(f"[bold red]Error:[/] {exc.args[0]}", highlight=False)
            raise typer.Exit(2) from exc
    overrides = get_settings().security_level_overrides
    if fmt == "markdown":
        # Plain text, so it can be redirected into docs/ as is.
        typer.echo(data_dictionary_markdown(models, overrides=overrides))
        return
    console.print("[bold]数据字典 Data dictionary[/]")
    width = console.width
    for model in models:
        console.print()
        console.print(_dictionary_table(model, table_columns(model), overrides, width))
    if width < _WIDER:
        console.print(
            f"[dim]Some attributes are hidden below {_WIDER} columns: widen the terminal, "
            "or use --format markdown for all of them.[/]"
        )
