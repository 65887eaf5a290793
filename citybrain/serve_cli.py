"""``citybrain serve``: the situation page, governed SQL and the catalog on 127.0.0.1.

Loopback only: the process holds a read path into the lake and token-checked SQL; exposing
it beyond the machine is a reverse proxy's job (TLS, the bureau's single sign-on).
"""

from __future__ import annotations

from rich.console import Console

from schemas.errors import CitybrainError
from schemas.settings import get_settings

HOST = "127.0.0.1"


def page_url(port: int) -> str:
    """Where the situation page answers.

    >>> page_url(8600)
    'http://127.0.0.1:8600/'
    """
    return f"http://{HOST}:{port}/"


def run_serve(port: int | None = None) -> int:
    """Serve until Ctrl-C; returns the exit code."""
    import uvicorn

    from warehouse.lake import lake_exists
    from warehouse.serve.app import create_app

    console = Console()
    err = Console(stderr=True)
    try:
        settings = get_settings()
    except CitybrainError as exc:
        err.print(f"[bold red]Error:[/] {exc}", highlight=False, soft_wrap=True)
        return 1
    port = port or settings.serve_port
    if lake_exists(settings) is False:
        err.print(
            f"[yellow]No lake under {settings.home} yet:[/] the page will say so until "
            "`citybrain demo` (or `citybrain lake init` and the feeds) has run.",
            highlight=False,
        )
    console.print(
        f"Situation page 态势感知: [bold]{page_url(port)}[/]   governed SQL: POST "
        f"{page_url(port)}api/sql   catalog: {page_url(port)}catalog   (Ctrl-C stops it)",
        highlight=False,
    )
    uvicorn.run(create_app(settings), host=HOST, port=port, log_level="warning")
    return 0
