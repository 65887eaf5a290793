"""One progress line for long command-line work: a description that follows the steps, a
bar once the total is known, and the time elapsed. Gone once the command prints its result.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from rich.console import Console


@contextmanager
def progress_line(
    console: Console, description: str
) -> Iterator[Callable[[str, int, int | None], None]]:
    """Show the line while the block runs; the block gets ``update(step, done, total)``
    (``total`` None: a pulse, for a step whose size is not known)."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(step: str, done: int, total: int | None) -> None:
            bar.update(task, description=step, completed=done, total=total)

        yield update
