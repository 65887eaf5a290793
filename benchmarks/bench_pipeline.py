"""Benchmark: the full pipeline against DuckDB's own load (the floor) and against dlt.

One run, the same generated files: the population full export (UTF-8) and the
legal-entity monthly full export (GBK, GB18030 or UTF-8 with BOM) of a demo city.
Each approach runs on each file in a child process (this script with ``--approach``) in a
fresh temporary home, so its peak RSS is its own (``os.wait4`` returns the child's
``ru_maxrss``). Timings are taken inside the child around the work only (interpreter
start-up, imports and the untimed set-up, ``init_lake`` or an empty dlt pipeline, are
excluded), in wall seconds and in CPU seconds (user and system, every thread): a ratio
of wall times that moves from run to run while the CPU seconds do not is the machine.

Approaches:
    citybrain   pull_feed -> stage_delivery -> load_all (the DAG's tasks), DuckLake
    floor       encoding detection + streaming transcode to UTF-8 (Python codecs, when
                not UTF-8) + ``CREATE TABLE lake.core.bench_floor AS SELECT * FROM
                read_csv(..., all_varchar=true)`` into the same kind of DuckLake
    dlt_arrow   dlt resource yielding pyarrow tables (pyarrow.csv in batches) -> duckdb
    dlt_dicts   dlt resource yielding lists of dicts (csv.DictReader) -> duckdb

Targets (issue 4): citybrain >= 40% of the floor's rows/s end to end, faster than
dlt_arrow, >= 20x dlt_dicts, peak RSS < 4 GiB at 5M residents.

    uv run python benchmarks/bench_pipeline.py                       # 1M residents
    uv run python benchmarks/bench_pipeline.py --residents 5000000 --out /tmp/city_5m
    uv run python benchmarks/bench_pipeline.py --out DIR --approaches citybrain,floor
    uv run python benchmarks/bench_pipeline.py --runs 3     # medians, and each run's ratios

With ``--runs N`` every approach runs N times, interleaved (run 1 of each, then run 2 ...),
so that the machine's drift reaches every approach alike. The table shows the median run
of each approach, the ratio of the medians, and the range of each run's own ratio (its
rows/s against the floor's in the same run); peak RSS is the largest of the runs.
"""

from __future__ import annotations

import argparse
import codecs
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

APPROACHES = ("floor", "citybrain", "dlt_arrow", "dlt_dicts")
FILES = {
    # feed name -> glob of its full export under deliveries/
    "population": "population/gaj_rk_full_*.csv",
    "legal_entity": "legal_entity/scjg_sczt_full_*.csv",
}
CHUNK = 1 << 24  # 16 MiB
BATCH_ROWS = 100_000
GIB = 2**30


# --- the input -----------------------------------------------------------------------------


def ensure_city(out: Path, residents: int) -> float | None:
    """Generate the demo city into ``out`` unless it is already there; seconds taken."""
    if (out / "manifest.json").exists():
        return None
    from feeds.demo_city import GenerateParams, generate

    start = time.perf_counter()
    generate(GenerateParams(residents=residents, days=1, seed=1, out=out))
    return time.perf_counter() - start


def input_file(city: Path, feed: str) -> Path:
    found = sorted((city / "deliveries").glob(FILES[feed]))
    if not found:
        raise SystemExit(f"no {FILES[feed]} under {city / 'deliveries'}")
    return found[-1]


def detect_encoding(path: Path) -> str:
    """As feeds/connectors/files.py: a BOM means UTF-8; strict UTF-8; else GB18030."""
    with path.open("rb") as f:
        head = f.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")("strict")
        try:
            while chunk := f.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8"


def transcode(src: Path, dst: Path, encoding: str) -> None:
    """Streaming decode of ``src`` into UTF-8 ``dst`` with Python's codecs."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    with src.open("rb") as fin, dst.open("wb") as fout:
        while True:
            chunk = fin.read(CHUNK)
            fout.write(decoder.decode(chunk, final=not chunk).encode("utf-8"))
            if not chunk:
                break


# --- the approaches (each runs in its own child process) -----------------------------------


def cpu_seconds() -> float:
    """CPU time of this process and its finished children so far, user and system: every
    thread of the engines the approaches run on, and dlt's worker processes."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_citybrain(feed: str, path: Path, home: Path) -> dict[str, Any]:
    # citybrain first, as its command line and DAG files import it: it sets Polars'
    # allocator for batch work (citybrain.ALLOCATOR_CONF), which Polars reads at import.
    import citybrain  # noqa: F401

    # The modules the tasks import lazily are imported here, outside the timer, as every
    # approach's libraries are (the floor's duckdb, dlt and pyarrow).
    import feeds.connectors  # noqa: F401
    import transforms  # noqa: F401
    import warehouse.directory
    import warehouse.load  # noqa: F401
    from citybrain.tasks import load_all, pull_feed, stage_delivery
    from schemas.settings import Settings
    from warehouse.lake import init_lake

    settings = Settings(home=home)
    init_lake(settings)
    # The file drop reads only files with their .ok marker: link the one file (and its
    # marker) into a folder of its own, so nothing else in the exchange folder is pulled.
    drop = home / "drop"
    drop.mkdir()
    for p in (path, path.with_name(path.name + ".ok")):
        if p.exists():
            os.link(p, drop / p.name)
    t0, c0 = time.perf_counter(), cpu_seconds()
    deliveries = pull_feed(feed, str(drop), settings=settings)
    t1 = time.perf_counter()
    staged = [stage_delivery(d, settings=settings) for d in deliveries]
    t2 = time.perf_counter()
    loaded = load_all(staged, settings=settings)
    t3, c3 = time.perf_counter(), cpu_seconds()
    rows_in = sum(s["rows_in"] for s in staged)
    return {
        "rows": rows_in,
        "seconds": t3 - t0,
        "cpu": c3 - c0,
        "stages": {"pull": t1 - t0, "stage": t2 - t1, "load": t3 - t2},
        "detail": {
            "deliveries": len(deliveries),
            "encoding": [d.get("encoding") for d in deliveries],
            "valid": sum(s["rows_valid"] for s in staged),
            "rejected": sum(s["rows_rejected"] for s in staged),
            "duplicate": sum(s["rows_duplicate"] for s in staged),
            "load": loaded,
        },
    }


def run_floor(feed: str, path: Path, home: Path) -> dict[str, Any]:
    from schemas.settings import Settings
    from warehouse.lake import attach, init_lake

    settings = Settings(home=home)
    init_lake(settings)
    t0, c0 = time.perf_counter(), cpu_seconds()
    encoding = detect_encoding(path)
    text = path
    if encoding == "gb18030":
        text = home / f"{path.stem}.utf-8{path.suffix}"
        transcode(path, text, encoding)
    t1 = time.perf_counter()
    con = attach(settings)
    try:
        con.execute(
            "CREATE TABLE lake.core.bench_floor AS SELECT * FROM read_csv(?, all_varchar=true)",
            [str(text)],
        )
        rows = con.execute("SELECT count(*) FROM lake.core.bench_floor").fetchone()[0]
    finally:
        con.close()
    t2, c2 = time.perf_counter(), cpu_seconds()
    return {
        "rows": rows,
        "seconds": t2 - t0,
        "cpu": c2 - c0,
        "stages": {"detect+transcode": t1 - t0, "read_csv+write": t2 - t1},
        "detail": {"encoding": encoding},
    }


def _dlt_pipeline(name: str, home: Path) -> Any:
    import dlt

    return dlt.pipeline(
        pipeline_name=name,
        pipelines_dir=str(home / "dlt_pipelines"),
        destination=dlt.destinations.duckdb(str(home / f"{name}.duckdb")),
        dataset_name="bench",
        progress=None,
    )


def _dlt_rows(home: Path, name: str) -> int:
    import duckdb

    with duckdb.connect(str(home / f"{name}.duckdb"), read_only=True) as con:
        return con.execute("SELECT count(*) FROM bench.rows").fetchone()[0]


def run_dlt_arrow(feed: str, path: Path, home: Path) -> dict[str, Any]:
    import csv

    import dlt
    import pyarrow as pa
    from pyarrow import csv as pacsv

    pipeline = _dlt_pipeline("arrow", home)
    t0, c0 = time.perf_counter(), cpu_seconds()
    encoding = detect_encoding(path)

    @dlt.resource(name="rows", write_disposition="replace")
    def rows() -> Any:
        with path.open("rb") as f:
            header = f.readline().decode(encoding).lstrip("\ufeff").rstrip("\r\n")
        columns = next(csv.reader([header]))
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(
                encoding="utf8" if encoding == "utf-8" else encoding, block_size=64 << 20
            ),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(columns, pa.string())),
        )
        for batch in reader:
            yield pa.Table.from_batches([batch])

    info = pipeline.run(rows())
    t1, c1 = time.perf_counter(), cpu_seconds()
    return {
        "rows": _dlt_rows(home, "arrow"),
        "seconds": t1 - t0,
        "cpu": c1 - c0,
        "stages": {},
        "detail": {"encoding": encoding, "loads": len(info.loads_ids)},
    }


def run_dlt_dicts(feed: str, path: Path, home: Path) -> dict[str, Any]:
    import csv

    import dlt

    pipeline = _dlt_pipeline("dicts", home)
    t0, c0 = time.perf_counter(), cpu_seconds()
    encoding = detect_encoding(path)

    @dlt.resource(name="rows", write_disposition="replace")
    def rows() -> Any:
        # Lists of dicts (pages), the generous form of dlt's common usage; every column
        # a string, as the others read them.
        with path.open(encoding=encoding, newline="") as f:
            page: list[dict[str, str]] = []
            for record in csv.DictReader(f):
                page.append(record)
                if len(page) >= 10_000:
                    yield page
                    page = []
            if page:
                yield page

    info = pipeline.run(rows())
    t1, c1 = time.perf_counter(), cpu_seconds()
    return {
        "rows": _dlt_rows(home, "dicts"),
        "seconds": t1 - t0,
        "cpu": c1 - c0,
        "stages": {},
        "detail": {"encoding": encoding, "loads": len(info.loads_ids)},
    }


RUNNERS = {
    "citybrain": run_citybrain,
    "floor": run_floor,
    "dlt_arrow": run_dlt_arrow,
    "dlt_dicts": run_dlt_dicts,
}


def child(approach: str, feed: str, path: Path, home: Path) -> None:
    result = RUNNERS[approach](feed, path, home)
    print("BENCH_RESULT " + json.dumps(result, default=str), flush=True)


# --- the parent ----------------------------------------------------------------------------


def cache(path: Path) -> None:
    """Read ``path`` into the page cache, outside every timer: each approach starts with its
    input cached, as a file just delivered is. (citybrain's pull hands a delivery's pages
    back to the kernel once it has copied them, so the approach after it would otherwise
    read the file from the disk.)"""
    buffer = bytearray(16 << 20)
    with path.open("rb", buffering=0) as handle:
        while handle.readinto(buffer):
            pass


def run_child(approach: str, feed: str, path: Path, work: Path) -> dict[str, Any]:
    cache(path)
    home = Path(tempfile.mkdtemp(prefix=f"{approach}_{feed}_", dir=work))
    env = {
        **os.environ,
        "CITYBRAIN_HOME": str(home),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        # dlt's default snake_case naming turns every Chinese column name into "x" (a
        # collision it refuses): keep the names as they are.
        "SCHEMA__NAMING": "direct",
        "DLT_DATA_DIR": str(home / "dlt_data"),
        "DLT_PROJECT_DIR": str(home),
    }
    cmd = [sys.executable, __file__, "--approach", approach, "--feed", feed, "--file", str(path)]
    cmd += ["--home", str(home)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out = proc.stdout.read() if proc.stdout else ""
    lines = [ln for ln in out.splitlines() if ln.startswith("BENCH_RESULT ")]
    if status != 0 or not lines:
        shutil.rmtree(home, ignore_errors=True)
        return {"approach": approach, "feed": feed, "error": f"exit status {status}"}
    result = json.loads(lines[-1].removeprefix("BENCH_RESULT "))
    result.update(
        approach=approach,
        feed=feed,
        wall=wall,
        peak_rss=usage.ru_maxrss * 1024,  # Linux reports KiB
    )
    shutil.rmtree(home, ignore_errors=True)
    return result


def _rate(r: dict[str, Any]) -> float:
    return r["rows"] / r["seconds"]


def summarize(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per feed and approach: its median run (by seconds), with ``runs`` (how many
    succeeded), ``peak_rss`` (the largest), ``errors``, and ``x_floor`` / ``x_floor_runs``:
    rows/s against the floor's, at the medians and run by run (each run against the floor
    of the same run).

    >>> rs = [{"feed": "f", "approach": a, "run": k, "rows": 100, "seconds": s,
    ...        "peak_rss": 1, "stages": {}, "detail": {}}
    ...       for k, (fl, cb) in enumerate([(1.0, 4.0), (2.0, 5.0), (1.0, 2.0)])
    ...       for a, s in (("floor", fl), ("citybrain", cb))]
    >>> cb = summarize(rs)[1]
    >>> cb["seconds"], cb["runs"], cb["x_floor"], cb["x_floor_runs"]
    (4.0, 3, 0.25, [0.25, 0.4, 0.5])
    """
    keys = list(dict.fromkeys((r["feed"], r["approach"]) for r in results))
    floors = {
        (r["feed"], r.get("run", 0)): r
        for r in results
        if r["approach"] == "floor" and "error" not in r
    }
    rows: list[dict[str, Any]] = []
    for feed, approach in keys:
        mine = [r for r in results if (r["feed"], r["approach"]) == (feed, approach)]
        ok = sorted((r for r in mine if "error" not in r), key=lambda r: r["seconds"])
        errors = [r["error"] for r in mine if "error" in r]
        if not ok:
            rows.append({"feed": feed, "approach": approach, "error": "; ".join(errors)})
            continue
        median = ok[(len(ok) - 1) // 2]  # the lower middle: a real run's stages
        each = [
            _rate(r) / _rate(floors[(feed, r.get("run", 0))])
            for r in sorted(ok, key=lambda r: r.get("run", 0))
            if (feed, r.get("run", 0)) in floors
        ]
        rows.append(
            {
                **median,
                "runs": len(ok),
                "errors": errors,
                "peak_rss": max(r["peak_rss"] for r in ok),
                "x_floor_runs": [round(x, 2) for x in each],
            }
        )
    floor = {r["feed"]: r for r in rows if r["approach"] == "floor" and "error" not in r}
    for r in rows:
        if "error" not in r and r["feed"] in floor:
            r["x_floor"] = round(_rate(r) / _rate(floor[r["feed"]]), 2)
    return rows


def _range(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}" if len(values) > 1 else ""


def print_table(summary: list[dict[str, Any]], residents: int) -> None:
    header = (
        f"{'feed':<13} {'approach':<10} {'rows':>11} {'seconds':>8} {'CPU s':>7} "
        f"{'rows/s':>11} {'x floor':>8} {'run by run':>10} {'peak RSS MiB':>13}  stages (s)"
    )
    print(header)
    print("-" * len(header))
    for r in summary:
        if "error" in r:
            print(f"{r['feed']:<13} {r['approach']:<10} FAILED: {r['error']}")
            continue
        ratio = r.get("x_floor", float("nan"))
        stages = " ".join(f"{k}={v:.2f}" for k, v in r["stages"].items())
        spread = _range(r["x_floor_runs"]) if r["approach"] != "floor" else ""
        print(
            f"{r['feed']:<13} {r['approach']:<10} {r['rows']:>11,} {r['seconds']:>8.2f} "
            f"{r.get('cpu', float('nan')):>7.1f} {_rate(r):>11,.0f} {ratio:>8.2f} {spread:>10} "
            f"{r['peak_rss'] / 2**20:>13,.0f}  {stages}"
        )
    runs = max((r.get("runs", 1) for r in summary), default=1)
    if runs > 1:
        print(
            f"(the median of {runs} runs, the faster middle one when even; peak RSS: the "
            "largest; stages and CPU s: the median run's; run by run: each run against its "
            "own floor)"
        )
    for r in summary:
        if r.get("errors"):
            print(f"{r['approach']} {r['feed']}: {len(r['errors'])} run(s) failed: {r['errors']}")
    print()
    for r in summary:
        if r["approach"] == "citybrain" and "error" not in r:
            d = r["detail"]
            print(
                f"citybrain {r['feed']}: encoding {d['encoding']}, valid {d['valid']:,}, "
                f"rejected {d['rejected']:,}, duplicate {d['duplicate']:,}"
            )
        elif "error" not in r and r["approach"] != "citybrain":
            print(f"{r['approach']} {r['feed']}: encoding {r['detail'].get('encoding')}")
    print()
    print_targets(summary, residents)


def print_targets(summary: list[dict[str, Any]], residents: int) -> None:
    by = {(r["feed"], r["approach"]): r for r in summary if "error" not in r}

    def rate(feed: str, approach: str) -> float | None:
        r = by.get((feed, approach))
        return _rate(r) if r else None

    print("targets (issue 4), at the medians")
    for feed in FILES:
        cb = rate(feed, "citybrain")
        if cb is None:
            continue
        checks = []
        if (fl := rate(feed, "floor")) is not None:
            checks.append(("citybrain >= 40% of floor rows/s", cb / fl, 0.40, "x floor"))
        if (ar := rate(feed, "dlt_arrow")) is not None:
            checks.append(("citybrain faster than dlt_arrow", cb / ar, 1.0, "x dlt_arrow"))
        if (di := rate(feed, "dlt_dicts")) is not None:
            checks.append(("citybrain >= 20x dlt_dicts", cb / di, 20.0, "x dlt_dicts"))
        for label, value, target, unit in checks:
            verdict = "PASS" if value >= target else "FAIL"
            print(f"  {feed:<13} {label:<36} {value:>8.2f} {unit:<12} {verdict}")
    peak = max((r["peak_rss"] for r in by.values() if r["approach"] == "citybrain"), default=0)
    if peak:
        verdict = "PASS" if peak < 4 * GIB else "FAIL"
        if residents < 5_000_000:
            verdict += f" (measured at {residents:,} residents; the target is at 5M)"
        print(f"  citybrain peak RSS < 4 GiB: {peak / GIB:.2f} GiB {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=None, help="the generated city (reused)")
    parser.add_argument("--approaches", default=",".join(APPROACHES))
    parser.add_argument("--feeds", default=",".join(FILES))
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (temp dir)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--runs", type=int, default=1, help="runs of each approach (medians)")
    # Child mode
    parser.add_argument("--approach", choices=APPROACHES, help=argparse.SUPPRESS)
    parser.add_argument("--feed", help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.approach:
        child(args.approach, args.feed, args.file, args.home)
        return

    city = args.out or Path(tempfile.gettempdir()) / f"citybrain_bench_city_{args.residents}"
    generated = ensure_city(city, args.residents)
    work = Path(tempfile.mkdtemp(prefix="bench_pipeline_", dir=args.work))
    print(f"cpus: {os.cpu_count()}  city: {city}  residents: {args.residents:,}")
    if generated is not None:
        print(f"generated the city in {generated:.0f} s")
    results = []
    for feed in args.feeds.split(","):
        path = input_file(city, feed)
        print(f"{feed}: {path.name} ({path.stat().st_size / 2**20:,.0f} MiB)", flush=True)
        for run in range(args.runs):
            for approach in args.approaches.split(","):
                r = {**run_child(approach, feed, path, work), "run": run}
                done = f"{r['seconds']:.1f} s" if "error" not in r else r["error"]
                label = f"run {run + 1}/{args.runs} " if args.runs > 1 else ""
                print(f"  {label}{approach}: {done}", flush=True)
                results.append(r)
    print()
    summary = summarize(results)
    print_table(summary, args.residents)
    if args.json:
        out = {"runs": results, "summary": summary}
        args.json.write_text(json.dumps(out, indent=2, default=str), encoding="utf-8")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
