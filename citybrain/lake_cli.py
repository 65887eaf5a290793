"""``citybrain lake init|status`` and ``citybrain catalog``.

DuckDB, sqlglot and the models are imported inside the commands: ``citybrain --help``
must answer at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from schemas.errors import CitybrainError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.tree import Tree

    from schemas.generate import Column
    from schemas.records.base import CanonicalRecord
    from warehouse.lineage import (
        Catalog,
        CatalogTable,
        Edge,
        Freshness,
        LineageNode,
        TableLineage,
    )
    from warehouse.status import LakeStatus

app = typer.Typer(
    help="Create the lake from the data standard and see what it holds.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
console = Console()
err_console = Console(stderr=True)

FORMATS = ("table", "markdown", "json")


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
        table.add_column("share", no_wrap=True)
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
            cells += [code_cell(model, col), meta.open_level, meta.share_level, masking]
        if width >= _WIDER:
            cells.append(meta.description)
        table.add_row(*cells)
    return table


def _freshness_cell(fresh: Freshness) -> str:
    if fresh.last_loaded_at is None:
        return "[yellow]never loaded[/]"
    if fresh.is_stale is None:
        return "no SLA known"
    return "[bold red]STALE[/]" if fresh.is_stale else "[green]fresh[/]"


def _freshness_table(feeds: Sequence[Freshness]) -> Table:
    table = Table(
        title="数据时效 Freshness (last load against the feed's SLA)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("feed", no_wrap=True)
    table.add_column("last load (UTC)", no_wrap=True)
    table.add_column("age h", justify="right", no_wrap=True)
    table.add_column("SLA h", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for fresh in feeds:
        last = fresh.last_loaded_at
        table.add_row(
            fresh.feed,
            last.strftime("%Y-%m-%d %H:%M") if last else "—",
            f"{fresh.lag_hours:,.1f}" if fresh.lag_hours is not None else "—",
            f"{fresh.freshness_sla_hours:,.0f}" if fresh.freshness_sla_hours is not None else "—",
            _freshness_cell(fresh),
        )
    return table


def _freshness_caption(entry: CatalogTable) -> str:
    if not entry.feeds:
        return ""
    parts = []
    known = {f.feed: f for f in entry.freshness}
    for feed in entry.feeds:
        fresh = known.get(feed)
        if fresh is None or fresh.last_loaded_at is None:
            parts.append(f"{feed} never loaded")
            continue
        state = {None: "", True: ", STALE", False: ", fresh"}[fresh.is_stale]
        parts.append(f"{feed} {fresh.lag_hours:,.1f} h ago{state}")
    return "\nfrom feeds 数据来源: " + "; ".join(parts)


def _markdown_catalog(result: Catalog, models: Sequence[type[CanonicalRecord]]) -> str:
    from schemas.generate import data_dictionary_markdown

    dictionary = data_dictionary_markdown(models, overrides=_overrides())
    lines = [dictionary, "## 数据时效 Freshness", ""]
    if result.feeds:
        lines += ["| feed | last load (UTC) | age h | SLA h | stale |", "|---|---|---|---|---|"]
        for fresh in result.feeds:
            lines.append(
                f"| {fresh.feed} | {fresh.last_loaded_at or '—'} | "
                f"{fresh.lag_hours if fresh.lag_hours is not None else '—'} | "
                f"{fresh.freshness_sla_hours if fresh.freshness_sla_hours is not None else '—'} | "
                f"{ {True: 'yes', False: 'no', None: '—'}[fresh.is_stale] } |"
            )
    lines += [f"- {note}" for note in result.notes]
    return "\n".join(lines) + "\n"


def _overrides() -> dict[str, str]:
    from schemas.settings import get_settings

    return get_settings().security_level_overrides


def _source_text(node: LineageNode, *, markup: bool) -> str:
    def dim(text: str) -> str:
        return f"[dim]{escape(text)}[/]" if markup else text

    label = f" {node.label}" if node.label and node.label != node.column else ""
    if node.kind == "feed_field":
        where = f"{node.department or ''} {node.feed}/{node.resource}".strip()
        older = " (older or other name)" if node.rank else ""
        name = f"[bold]{escape(node.column)}[/]" if markup else f"`{node.column}`"
        return f"{where} field {name}{older}{label}"
    if node.kind == "computed":
        return f"computed: {node.column} " + dim(f"[{_short(node.transform)}]")
    name = f"{node.table}.{node.column}"
    name = f"[cyan]{escape(name)}[/]" if markup else f"`{name}`"
    return f"{name}{label} " + dim(f"[{_short(node.transform)}]")


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _no_sources(column: str) -> str:
    if column.startswith("_"):
        return "kept by the pipeline (provenance)"
    return "no lineage known"


def _lineage_rich(tree: TableLineage) -> Tree:
    from rich.tree import Tree

    root = Tree(
        f"[bold]{escape(tree.table)}[/] — {tree.label}  [dim](each column ← its sources)[/]"
    )

    def add(branch: Tree, nodes: Sequence[LineageNode]) -> None:
        for node in nodes:
            add(branch.add("← " + _source_text(node, markup=True)), node.sources)

    for column in tree.columns:
        branch = root.add(f"[bold]{escape(column.column)}[/] {column.label}")
        if not column.sources:
            branch.add(f"[dim]{_no_sources(column.column)}[/]")
        add(branch, column.sources)
    return root


def _lineage_markdown(tree: TableLineage) -> str:
    lines = [f"# Lineage of {tree.table} — {tree.label}", ""]

    def add(nodes: Sequence[LineageNode], depth: int) -> None:
        for node in nodes:
            lines.append("  " * depth + "- ← " + _source_text(node, markup=False))
            add(node.sources, depth + 1)

    for column in tree.columns:
        lines.append(f"- `{column.column}` {column.label}")
        if not column.sources:
            lines.append(f"  - {_no_sources(column.column)}")
        add(column.sources, 1)
    return "\n".join(lines) + "\n"


def _live_edges(notes: list[str]) -> list[Edge] | None:
    from citybrain.lineage import lineage_edges

    try:
        return lineage_edges()
    except CitybrainError as exc:
        notes.append(f"lineage of the mart SQL files failed, showing the recorded one: {exc}")
        return None


def _refresh(fmt: str) -> None:
    from citybrain.lineage import record_lineage
    from schemas.settings import get_settings

    try:
        report = record_lineage(get_settings())
    except CitybrainError as exc:
        raise _fail(exc) from exc
    # Keep stdout clean for JSON and Markdown: they may be redirected into files.
    out = console if fmt == "table" else err_console
    if report.changed:
        out.print(
            f"Recorded {report.rows:,} lineage edges in meta.lineage: "
            f"{report.feed_field_edges:,} from department fields, {report.mart_edges:,} "
            f"from {len(report.marts)} mart SQL files.",
            highlight=False,
        )
    else:
        out.print(
            f"meta.lineage already holds these {report.rows:,} edges; nothing written.",
            highlight=False,
        )


def _print_lineage(fmt: str, name: str) -> None:
    from warehouse.lineage import lineage_tree

    notes: list[str] = []
    edges = _live_edges(notes)
    if edges is None:
        raise _fail(CitybrainError(notes[0]))
    try:
        tree = lineage_tree(name, edges)
    except KeyError as exc:
        err_console.print(f"[bold red]Error:[/] {exc.args[0]}", highlight=False)
        raise typer.Exit(2) from exc
    if fmt == "json":
        typer.echo(tree.model_dump_json(indent=2))
    elif fmt == "markdown":
        typer.echo(_lineage_markdown(tree))
    else:
        console.print(_lineage_rich(tree), highlight=False)


def catalog_command(
    fmt: str = "table",
    table: str | None = None,
    *,
    lineage: str | None = None,
    refresh: bool = False,
) -> None:
    """Print the catalog: the data dictionary with freshness, or one table's lineage.

    ``fmt`` is ``table`` (rich tables), ``markdown`` or ``json``; ``table`` limits it to
    one lake table, e.g. ``core.person``. ``lineage`` prints the tree of a table's columns
    back to the departments' fields instead; ``refresh`` first records the lineage in
    ``meta.lineage`` (for the HTTP catalog).
    """
    from citybrain.lineage import feed_slas_hours
    from schemas.settings import get_settings
    from warehouse.lineage import build_catalog, read_lake_state

    if fmt not in FORMATS:
        err_console.print(
            f"[bold red]Error:[/] format {fmt!r}: expected one of {', '.join(FORMATS)}"
        )
        raise typer.Exit(2)
    models = _models(table)
    if refresh:
        _refresh(fmt)
    if lineage is not None:
        _print_lineage(fmt, lineage)
        return

    settings = get_settings()
    state = read_lake_state(settings)
    notes = [n for n in state.notes if "lineage" not in n]
    edges = _live_edges(notes)
    if edges is not None:
        state = state.model_copy(update={"edges": tuple(edges), "notes": tuple(notes)})
    result = build_catalog(
        models,
        state,
        overrides=settings.security_level_overrides,
        fallback_slas=feed_slas_hours(),
    )
    if fmt == "json":
        typer.echo(result.model_dump_json(indent=2))
        return
    if fmt == "markdown":
        # Plain text, so it can be redirected into docs/ as is.
        typer.echo(_markdown_catalog(result, models))
        return
    _print_catalog(result, models, settings.security_level_overrides, whole=table is None)


def _models(table: str | None) -> list[type[CanonicalRecord]]:
    from schemas.records import TABLES
    from schemas.records import table as model_of

    if table is None:
        return list(TABLES)
    try:
        return [model_of(table)]
    except KeyError as exc:
        err_console.print(f"[bold red]Error:[/] {exc.args[0]}", highlight=False)
        raise typer.Exit(2) from exc


def _print_catalog(
    result: Catalog,
    models: Sequence[type[CanonicalRecord]],
    overrides: dict[str, str],
    *,
    whole: bool,
) -> None:
    from schemas.generate import table_columns

    console.print("[bold]数据目录 Data catalog[/]")
    width = console.width
    if whole and result.feeds:
        console.print()
        console.print(_freshness_table(result.feeds))
    by_name = {entry.name: entry for entry in result.tables}
    for model in models:
        console.print()
        dictionary = _dictionary_table(model, table_columns(model), overrides, width)
        dictionary.caption = (dictionary.caption or "") + _freshness_caption(
            by_name[model.__table__]
        )
        console.print(dictionary)
    for note in result.notes:
        console.print(f"[dim]Note: {escape(note)}[/]", highlight=False)
    if width < _WIDER:
        console.print(
            f"[dim]Some attributes are hidden below {_WIDER} columns: widen the terminal, "
            "or use --format markdown for all of them.[/]"
        )
    console.print(
        "[dim]Lineage of a table's columns back to the departments' fields: "
        "citybrain catalog --lineage mart.population_by_area[/]"
    )
