"""``citybrain sql "SELECT ..."``: governed SQL from the command line; ``citybrain sql tokens``.

The CLI is a trusted local caller: it names its role (``--role``, default ``analyst``)
instead of presenting a token, and is audited under ``cli:<user>``. DuckDB, sqlglot and
the lake are imported inside the functions: ``citybrain --help`` must answer at once.
"""

from __future__ import annotations

import csv
import getpass
import io
import json
import sys
from typing import TYPE_CHECKING, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from schemas.errors import AccessDenied, CitybrainError, QueryRefused

if TYPE_CHECKING:
    from warehouse.governed import QueryResult

FORMATS = ("table", "csv", "json")

console = Console()
err_console = Console(stderr=True)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    return str(value)


def render(result: QueryResult, fmt: str) -> str | Table:
    """The result as a rich table, CSV text or JSON text."""
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([[_text(v) for v in row] for row in result.rows])
        return out.getvalue()
    if fmt == "json":
        from warehouse.serve.sql_routes import json_value

        return json.dumps(
            {
                "columns": result.columns,
                "rows": [[json_value(v) for v in row] for row in result.rows],
                "masked_columns": result.masked_columns,
                "truncated": result.truncated,
                "elapsed_ms": round(result.elapsed_ms, 2),
            },
            ensure_ascii=False,
            indent=2,
        )
    notes = [f"{len(result.rows):,} row(s) in {result.elapsed_ms:,.0f} ms"]
    if result.masked_columns:
        notes.append("masked (*): " + ", ".join(result.masked_columns))
    if result.truncated:
        notes.append("truncated at the row limit (--max-rows)")
    table = Table(box=box.SIMPLE_HEAVY, caption="; ".join(notes), caption_justify="left")
    masked = set(result.masked_columns)
    for name in result.columns:
        table.add_column(f"{name} *" if name in masked else name, overflow="fold")
    for row in result.rows:
        table.add_row(*(_text(v) for v in row))
    return table


def run_sql(
    query: str,
    role: str,
    district: str | None,
    dialect: str | None,
    fmt: str,
    max_rows: int | None,
) -> int:
    """Run one governed query and print it; the exit code (0 answered, 2 refused, 1 error)."""
    from warehouse.governed import principal_for, run_query

    if query.strip() == "-":
        query = sys.stdin.read()
    if fmt not in FORMATS:
        err_console.print(f"[red]--format must be one of {', '.join(FORMATS)}, not {fmt!r}[/]")
        return 2
    try:
        principal = principal_for(role, f"cli:{getpass.getuser()}", district)
        result = run_query(query, principal, dialect=dialect, max_rows=max_rows)
    except QueryRefused as exc:
        err_console.print(
            f"[bold red]Refused[/] ({exc.reason}): {exc.message}", highlight=False, soft_wrap=True
        )
        return 2
    except AccessDenied as exc:
        err_console.print(f"[bold red]Denied:[/] {exc}", highlight=False, soft_wrap=True)
        return 2
    except CitybrainError as exc:
        err_console.print(f"[bold red]Error:[/] {exc}", highlight=False, soft_wrap=True)
        return 1
    out = render(result, fmt)
    if isinstance(out, str):
        # Plain print: rich would wrap long CSV/JSON lines and read [brackets] as markup.
        typer.echo(out.rstrip("\n"))
    else:
        console.print(out)
    return 0


def show_tokens(rotate: list[str]) -> int:
    """Issue missing (or rotated) tokens of the configured principals and print them once."""
    from schemas.settings import get_settings
    from warehouse.governed import issue_tokens, load_policy, token_status

    settings = get_settings()
    try:
        policy = load_policy(settings)
        issued = issue_tokens(settings, rotate=rotate, policy=policy)
        status = token_status(settings, policy)
    except CitybrainError as exc:
        err_console.print(f"[bold red]Error:[/] {exc}", highlight=False, soft_wrap=True)
        return 1
    table = Table(
        box=box.SIMPLE_HEAVY,
        caption=(
            "Tokens are shown once, when issued; only their SHA-256 is kept. Lost one? "
            "`citybrain sql tokens --rotate NAME`."
        ),
        caption_justify="left",
    )
    for col in ("principal", "role", "district", "token"):
        table.add_column(col, overflow="fold")
    for name, config in sorted(policy.principals.items()):
        when = (status[name] or "never")[:16].replace("T", " ")
        token = issued.get(name) or f"(issued {when})"
        table.add_row(name, config.role, config.district_code or "", token)
    console.print(table)
    return 0
