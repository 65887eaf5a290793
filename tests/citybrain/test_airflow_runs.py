"""Real Airflow runs of the feed DAGs against a temporary lake and the loopback feed server.

This is the demo's own path (`citybrain demo`): `airflow dags test` in a subprocess with
citybrain's Airflow environment, so DAG parsing, task mapping, XCom of pointers and the
lake_writer pool are all exercised for real.
"""

from __future__ import annotations

import pytest

from citybrain import airflow_env
from citybrain.demo import DEMO_ORDER
from schemas.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    from feeds.demo_city import GenerateParams, generate

    home = tmp_path_factory.mktemp("home")
    out = home / "demo_city"
    generate(GenerateParams(residents=600, days=1, seed=3, out=out))
    return home, out


def _batches(settings: Settings) -> list[tuple]:
    from warehouse.lake import attach

    con = attach(settings, read_only=True)
    try:
        return con.execute(
            "SELECT feed, status, rows_in, rows_loaded, rows_quarantined, rows_duplicate "
            "FROM lake.meta.batches ORDER BY started_at"
        ).fetchall()
    finally:
        con.close()


def test_every_feed_dag_runs_in_airflow_and_every_batch_reconciles(city, monkeypatch) -> None:
    from feeds.demo_city.server import serve
    from warehouse.lake import init_lake

    home, out = city
    monkeypatch.setenv("CITYBRAIN_HOME", str(home))
    settings = Settings()
    init_lake(settings)
    with serve(out, port=0) as server:
        env = airflow_env.environment(
            settings,
            extra={
                "CITYBRAIN_POPULATION_API_URL": server.url,
                "CITYBRAIN_CREDIT_API_URL": server.url,
            },
        )
        airflow_env.prepare(settings, env=env)
        for feed in DEMO_ORDER:
            run = airflow_env.airflow(
                settings, "dags", "test", f"feed_{feed}", env=env, check=False
            )
            assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        first = _batches(settings)
        # A second run pulls from the watermarks: nothing new may be loaded twice.
        again = airflow_env.airflow(
            settings, "dags", "test", "feed_population", env=env, check=False
        )
        assert again.returncode == 0, again.stderr[-3000:]
    rows = _batches(settings)

    fed = {r[0] for r in first}
    assert fed == set(DEMO_ORDER)
    for feed_name, status, rows_in, loaded, quarantined, duplicate in rows:
        assert status in {"loaded", "skipped_duplicate"}, (feed_name, status)
        assert rows_in == loaded + quarantined + duplicate, feed_name
    assert sum(r[3] for r in rows[len(first) :]) == 0  # the re-run loaded nothing new
    assert any(r[3] > 0 for r in first if r[0] == "population")

    # The marts DAG (scheduled on the feeds' Assets) runs on what the feeds loaded.
    from warehouse.lake import attach

    marts = airflow_env.airflow(settings, "dags", "test", "citybrain_marts", env=env, check=False)
    assert marts.returncode == 0, marts.stdout[-3000:] + marts.stderr[-3000:]
    con = attach(settings, read_only=True)
    try:
        scored = con.execute("SELECT count(DISTINCT batch_id) FROM lake.mart.quality_scorecard")
        assert scored.fetchone()[0] == sum(r[1] == "loaded" for r in rows)
    finally:
        con.close()

    # What `citybrain demo` prints comes from the same ledger.
    from citybrain.demo import summary_rows

    summary = {r["feed"]: r for r in summary_rows(settings)}
    assert set(summary) == set(DEMO_ORDER)
    assert all(r["reconciles"] for r in summary.values())
    for feed in DEMO_ORDER:
        in_ledger = [r for r in rows if r[0] == feed]
        assert summary[feed]["rows_in"] == sum(r[2] for r in in_ledger)
