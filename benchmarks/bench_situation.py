"""Benchmark: every query the situation page makes, governed vs plain DuckDB.

A demo city (default 1M residents) is generated with the simulator, loaded with the task
functions the DAGs run (``citybrain.tasks.ingest`` per feed; the APIs from the loopback
feed server) and its marts built (``citybrain.marts.build_marts_task``). The lake is kept
under ``--cache`` and reused when it was built for the same size and seed.

Then each page query (``warehouse/serve/sql/*.sql``, filters bound as the page binds them)
runs ``--runs`` times, city-wide and for one district (the most populous), two ways:

    governed   warehouse.governed.run_query as role ``public`` (parse, policy, masking
               rewrite, locked read-only connection, audit row): what the page pays
    direct     the same SQL text on one open DuckDB connection to the lake

and the table shows median and p95 in milliseconds and their ratio (the governance
overhead). The target (issue 5): every situation query under 300 ms at the median, 1M
residents.

    uv run python benchmarks/bench_situation.py                       # 1M residents
    uv run python benchmarks/bench_situation.py --residents 200000 --runs 20
    uv run python benchmarks/bench_situation.py --write-docs          # refresh docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
SECTION_START = "<!-- bench_situation: start -->"
SECTION_END = "<!-- bench_situation: end -->"
TARGET_MS = 300.0
FILE_FEEDS = ("geospatial", "population", "legal_entity", "licence")
API_FEEDS = ("population", "credit")

if TYPE_CHECKING:
    from collections.abc import Callable

    from schemas.settings import Settings


# --- the lake ---------------------------------------------------------------------------------


def ensure_lake(home: Path, residents: int, days: int, seed: int) -> dict[str, Any]:
    """Build the city's lake and marts under ``home`` unless already built; what it took."""
    marker = home / "bench_situation.json"
    wanted = {"residents": residents, "days": days, "seed": seed}
    if marker.exists():
        built = json.loads(marker.read_text())
        if built.get("params") == wanted:
            print(f"reusing the lake in {home} (built {built['built_at']})", flush=True)
            return built
        raise SystemExit(
            f"{home} holds a lake built for {built.get('params')}, not {wanted}: "
            "choose another --cache or remove it"
        )
    os.environ["CITYBRAIN_HOME"] = str(home)
    from citybrain import tasks
    from citybrain.marts import build_marts_task
    from feeds.demo_city import GenerateParams, generate
    from feeds.demo_city.server import serve
    from schemas.settings import get_settings
    from warehouse.lake import init_lake

    settings = get_settings()
    city = home / "demo_city"
    seconds: dict[str, float] = {}
    manifest = city / "manifest.json"
    generated = json.loads(manifest.read_text())["params"] if manifest.exists() else {}
    if all(generated.get(key) == value for key, value in wanted.items()):
        print(f"reusing the generated city in {city}", flush=True)
    else:
        print(f"generating a city of {residents:,} residents...", flush=True)
        started = time.perf_counter()
        generate(GenerateParams(residents=residents, days=days, seed=seed, out=city))
        seconds["generate"] = time.perf_counter() - started
    started = time.perf_counter()
    init_lake(settings)
    with serve(city, port=0) as server:
        for feed in FILE_FEEDS:
            print(f"loading {feed} (file drop)...", flush=True)
            tasks.ingest(feed, str(city / "deliveries" / feed), settings=settings)
        for feed in API_FEEDS:
            print(f"loading {feed} (API)...", flush=True)
            tasks.ingest(feed, server.url, settings=settings)
    seconds["load"] = time.perf_counter() - started
    print("building the marts...", flush=True)
    mark = time.perf_counter()
    build_marts_task(settings)
    seconds["marts"] = time.perf_counter() - mark
    built = {
        "params": wanted,
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    marker.write_text(json.dumps(built, indent=2))
    return built


# --- timing ---------------------------------------------------------------------------------


def timed(fn: Callable[[], Any], runs: int) -> list[float]:
    fn()  # warm: first reads of the catalog and Parquet footers
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def p95(values: list[float]) -> float:
    """The 95th percentile (nearest rank).

    >>> p95([float(i) for i in range(1, 21)])
    19.0
    """
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


def page_queries(district: str, months: tuple[Any, Any]) -> list[tuple[str, str, str]]:
    """``(query, scope, sql)`` for every query the page makes, city-wide and for one district."""
    from warehouse.serve.situation import (
        FILTERED,
        PANEL_QUERIES,
        SHAPE_TOLERANCE_DEGREES,
        SituationFilter,
        situation_sql,
    )

    first, last = months
    city = SituationFilter(month_from=first, month_to=last)
    one = city.model_copy(update={"district_code": district})
    out = []
    for names in PANEL_QUERIES.values():
        for name in names:
            if name in FILTERED:
                out.append((name, "city", situation_sql(name, city)))
                out.append((name, district, situation_sql(name, one)))
            else:
                out.append((name, "city", situation_sql(name)))
    out.append(
        (
            "district_shapes",
            "city",
            situation_sql("district_shapes", tolerance=SHAPE_TOLERANCE_DEGREES),
        )
    )
    return out


def measure(settings: Settings, runs: int) -> list[dict[str, Any]]:
    from warehouse.lake import attach
    from warehouse.serve import situation

    con = attach(settings, read_only=True, spatial=True)
    direct = situation.direct_runner(con, settings.lake_name)
    governed = situation.governed_runner(settings)
    default = situation.default_filter(governed)
    districts = situation.districts(governed)
    busiest = max(districts, key=lambda d: (d["total"] or 0, d["district_code"]))
    rows = []
    for name, scope, sql in page_queries(
        busiest["district_code"], (default.month_from, default.month_to)
    ):
        plain = timed(lambda sql=sql: direct(sql), runs)
        # Boundaries are not a mart: the page reads them directly (the public role reads
        # marts only), so they have no governed figure.
        through = None if name == "district_shapes" else timed(lambda sql=sql: governed(sql), runs)
        answer = direct(sql)
        rows.append(
            {
                "query": name,
                "scope": scope,
                "rows": len(answer.rows),
                "governed_median": statistics.median(through) if through else None,
                "governed_p95": p95(through) if through else None,
                "direct_median": statistics.median(plain),
                "direct_p95": p95(plain),
            }
        )
        print(f"  {name:22} {scope:8} done", flush=True)
    con.close()
    return rows


# --- output ---------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        "| query | scope | rows | governed median ms | governed p95 ms | direct median ms "
        "| direct p95 ms | governed / direct |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ratio = (
            f"{r['governed_median'] / r['direct_median']:.1f}x"
            if r["governed_median"] is not None and r["direct_median"] > 0
            else "—"
        )
        median = _ms(r["governed_median"])
        if r["governed_median"] is not None and r["governed_median"] >= TARGET_MS:
            median = f"**{median}**"
        lines.append(
            f"| {r['query']} | {r['scope']} | {r['rows']:,} | {median} | "
            f"{_ms(r['governed_p95'])} | {_ms(r['direct_median'])} | {_ms(r['direct_p95'])} "
            f"| {ratio} |"
        )
    governed = [r["governed_median"] for r in rows if r["governed_median"] is not None]
    over = [
        r for r in rows if r["governed_median"] is not None and r["governed_median"] >= TARGET_MS
    ]
    verdict = (
        f"Every governed query answers under {TARGET_MS:.0f} ms at the median "
        f"(slowest {max(governed):,.1f} ms)."
        if not over
        else f"{len(over)} of {len(governed)} governed queries miss the {TARGET_MS:.0f} ms "
        f"median target (in bold)."
    )
    return "\n".join(lines) + "\n\n" + verdict + "\n"


def docs_section(table: str, meta: dict[str, Any]) -> str:
    p = meta["params"]
    built = meta["built"]["seconds"]
    took = ", ".join(
        f"{step} {built[step]:,.0f} s" for step in ("generate", "load", "marts") if step in built
    )
    about = (
        f"A demo city of {p['residents']:,} residents ({p['days']} days of increments, seed "
        f"{p['seed']}) loaded with the task functions and its marts built "
        f"({took}; the lake is reused when cached). Each query the page makes "
        f"(`warehouse/serve/sql/`), {p['runs']} runs after one warm-up, city-wide and for the "
        "most populous district: *governed* is `warehouse.governed.run_query` as role "
        "`public` (parse, policy, masking rewrite, the locked read-only connection, one "
        "audit row committed per query), *direct* "
        "the same SQL on one open DuckDB connection. District shapes are read directly by "
        f"the page (boundaries are not a mart). Run of {meta['ran_at']}, load average "
        f"{meta['load']}:"
    )
    return (
        f"{SECTION_START}\n"
        "## The situation page's queries: governed vs plain DuckDB (issue 5)\n\n"
        "```bash\n"
        f"uv run python benchmarks/bench_situation.py --residents {p['residents']} "
        f"--runs {p['runs']} --write-docs\n"
        "```\n\n"
        f"{textwrap.fill(about, width=90)}\n\n"
        f"{table}"
        f"{SECTION_END}\n"
    )


def write_docs(section: str) -> None:
    text = DOCS.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(SECTION_START) + r".*?" + re.escape(SECTION_END) + r"\n?", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOCS.write_text(text, encoding="utf-8")
    print(f"wrote the figures into {DOCS.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--runs", type=int, default=20, help="timed runs per query (>= 20)")
    parser.add_argument(
        "--cache",
        type=Path,
        default=ROOT / ".citybrain" / "bench",
        help="folder keeping the built lakes between runs",
    )
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)

    home = (args.cache / f"situation-{args.residents}").resolve()
    home.mkdir(parents=True, exist_ok=True)
    built = ensure_lake(home, args.residents, args.days, args.seed)
    os.environ["CITYBRAIN_HOME"] = str(home)
    from schemas.settings import get_settings

    settings = get_settings()
    print(f"timing every page query, {args.runs} runs each...", flush=True)
    load_before = os.getloadavg()[0]
    rows = measure(settings, args.runs)
    load_after = os.getloadavg()[0]
    meta = {
        "params": {
            "residents": args.residents,
            "days": args.days,
            "seed": args.seed,
            "runs": args.runs,
        },
        "built": built,
        "ran_at": datetime.now(UTC).strftime("%Y-%m-%d"),
        "load": f"{load_before:.1f} at the start, {load_after:.1f} at the end",
        "python": platform.python_version(),
    }
    table = markdown(rows, meta)
    print()
    print(table)
    if args.write_docs:
        write_docs(docs_section(table, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
