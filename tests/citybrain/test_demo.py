"""The demo's per-feed summary: readable on an 80-column terminal."""

from __future__ import annotations

from rich.console import Console

from citybrain.demo import summary_table


def _row(feed: str, **counts: object) -> dict[str, object]:
    return {
        "feed": feed,
        "batches": 2,
        "rows_in": 20_233,
        "rows_loaded": 19_962,
        "rows_quarantined": 77,
        "rows_duplicate": 194,
        "reconciles": True,
        "age_hours": 1.0,
        "top_reasons": "id_number.checksum (30)",
        **counts,
    }


def _render(rows: list[dict[str, object]], width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(summary_table(rows))
    return console.export_text()


def test_every_header_and_count_is_whole_at_80_columns() -> None:
    text = _render([_row("legal_entity"), _row("population", rows_in=5_050_096)], 80)
    header = next(line for line in text.splitlines() if line.split()[:1] == ["feed"])
    assert header.split() == [
        "feed",
        "batches",
        "rows",
        "in",
        "loaded",
        "quarantined",
        "duplicate",
        "ok",
        "fresh",
    ]
    assert "…" not in text
    assert "5,050,096" in text and "legal_entity" in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_a_batch_that_does_not_reconcile_or_a_stale_feed_says_so() -> None:
    text = _render([_row("credit", reconciles=False, age_hours=24 * 30)], 120)
    line = next(line for line in text.splitlines() if line.split()[:1] == ["credit"])
    assert line.split()[-2:] == ["NO", "stale"]
