"""Benchmark: how long the demo city takes to generate, and its peak memory.

Each size runs in a child process, so its peak RSS is its own (``os.wait4`` returns the
child's ``ru_maxrss``). Targets (issue 3): 1M residents in under 2 minutes on 2 cores;
20M residents under 6 GiB peak RSS.

    uv run python benchmarks/bench_demo_city.py                 # 100k and 1M
    uv run python benchmarks/bench_demo_city.py --sizes 20000000 --days 1
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import sys
from pathlib import Path
from feeds.demo_city import GenerateParams, generate
generate(GenerateParams(residents=int(sys.argv[1]), seed=1, days=int(sys.argv[2]), out=Path(sys.argv[3])))
"""


def run(residents: int, days: int, out: Path) -> dict[str, float]:
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(residents), str(days), str(out)])
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"generation of {residents:,} residents failed (status {status})")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {
        "residents": residents,
        "days": days,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": usage.ru_maxrss / 1024,  # Linux reports KiB
        "files": len(manifest["deliveries"]),
        "rows": sum(d["rows"] for d in manifest["deliveries"]),
        "output_mib": size / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated residents")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None, help="work folder (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated cities")
    args = parser.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="bench_demo_city_"))
    print(f"cpus: {os.cpu_count()}  work: {work}")
    header = f"{'residents':>11} {'days':>4} {'wall s':>8} {'cpu s':>8} {'peak RSS MiB':>13} {'files':>6} {'rows':>12} {'output MiB':>11}"
    print(header)
    for residents in (int(s) for s in args.sizes.split(",")):
        out = work / f"city_{residents}"
        r = run(residents, args.days, out)
        print(
            f"{r['residents']:>11,} {r['days']:>4} {r['wall_s']:>8.1f} {r['cpu_s']:>8.1f} "
            f"{r['peak_rss_mib']:>13,.0f} {r['files']:>6} {r['rows']:>12,} {r['output_mib']:>11,.0f}"
        )
        if not args.keep:
            shutil.rmtree(out)
    if not args.keep and args.out is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
