"""Issue 4, "Must show": accuracy of every feed against the demo city's ground truth.

A small city (deterministic seed) goes through ``citybrain.tasks.ingest`` for every feed,
file drops from its folder and the APIs from the real loopback feed server; then
``scripts/check_accuracy.py`` compares the lake with ``truth/``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from schemas.settings import Settings
from tests.support import ingest_demo_city

ROOT = Path(__file__).resolve().parent.parent


def _check_module():
    spec = importlib.util.spec_from_file_location(
        "check_accuracy", ROOT / "scripts" / "check_accuracy.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.integration
def test_every_feed_matches_the_ground_truth(tmp_path: Path, settings: Settings) -> None:
    from feeds.demo_city import GenerateParams, generate
    from warehouse.lake import attach

    # Where `citybrain demo` puts it: the default configuration then finds the credit
    # office's directory of authorities (CITYBRAIN_AUTHORITY_DIRECTORY's default).
    city = settings.home / "demo_city"
    generate(GenerateParams(residents=2000, days=2, seed=42, out=city))
    assert settings.authority_directory == city / "deliveries" / "credit" / "authorities.csv"
    ingest_demo_city(settings, city)

    check = _check_module()
    report = check.check_accuracy(settings, city / "truth")
    check.print_report(report)  # shown by pytest on failure

    # Zero rows unaccounted for: every batch reconciles, every delivered row is in one.
    assert report.unreconciled_batches == []
    assert {t: r.unaccounted for t, r in report.tables.items() if r.unaccounted} == {}
    # Every row that cannot be normalized is quarantined with the right reason
    # (excel_float for a checksum-bad ID ending 000 is the documented ambiguity).
    wrong = {
        t: (r.quarantine_expected, r.quarantine_right, r.quarantine_ambiguous)
        for t, r in report.tables.items()
        if not r.quarantine_ok
    }
    assert wrong == {}, "(expected, right reason, excel_float ambiguity) per table"
    # At least 99.9% of normalizable rows end with exactly the true canonical values.
    assert report.normalizable > 10_000
    per_table = {t: round(100 * r.accuracy, 3) for t, r in report.tables.items()}
    assert report.accuracy >= 0.999, per_table
    # Per table too where a table is large enough for 0.1% to be a row: small tables
    # (a 2,000-resident city has ~20 penalties) are judged by the overall figure.
    large = {t: r.accuracy for t, r in report.tables.items() if r.normalizable >= 1000}
    assert all(a >= 0.999 for a in large.values()), per_table
    # Older-generation credit records name their authority only; the published directory
    # resolves every one the truth knows, also authorities the lake never saw by code.
    credit = ("credit_penalty", "credit_permit")
    assert {t: report.tables[t].missing for t in credit} == dict.fromkeys(credit, 0)
    con = attach(settings, read_only=True)
    try:
        missing = con.execute(
            "SELECT count(*) FROM lake.meta.quarantine "
            "WHERE list_contains(reasons, 'authority_code.missing')"
        ).fetchone()
    finally:
        con.close()
    assert missing == (0,)
