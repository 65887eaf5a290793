"""Throughput of the vectorized code checks against python-stdnum's per-row validation.

Run: ``uv run python benchmarks/bench_codes.py [--rows 5000000] [--stdnum-rows 50000]``

Generates deterministic citizen IDs and credit codes with the dirt of the feeds (checksum
errors, lowercase, full-width digits, inner spaces, 15-digit legacy IDs, Excel floats,
letter-prefixed credit codes, ``O`` for ``0``), times ``check_citizen_id`` and
``check_uscc`` over ``--rows`` values each (lazy, the way transforms run them), and
python-stdnum's ``is_valid`` over the first ``--stdnum-rows`` of the same values in the
same process. Prints rows, wall seconds, rows/s, the speed-up over stdnum (wall clock:
Polars may use every core, stdnum one), CPU seconds and the speed-up per CPU-second
(the fairer figure when other processes share the machine). Both Polars engines are timed:
the streaming engine works in cache-sized morsels on all cores. Timings are the best of
``--repeat`` runs; there are no assertions: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Callable
from datetime import date, timedelta

import polars as pl
from stdnum.cn import ric, uscc

from schemas.codes.citizen_id import check_citizen_id, citizen_id_check_digit
from schemas.codes.credit_code import USCC_ALPHABET, check_uscc, uscc_check_char

POOL = 200_000  # distinct generated values, sampled with replacement up to --rows
FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


def citizen_id_pool(rng: random.Random) -> list[str]:
    regions = ["440103", "440104", "440105", "440106", "440111", "440112", "440102", "110105"]
    out = []
    for _ in range(POOL):
        born = date(1930, 1, 1) + timedelta(days=rng.randrange(32_000))
        body = f"{rng.choice(regions)}{born:%Y%m%d}{rng.randrange(1000):03d}"
        number = body + citizen_id_check_digit(body)
        dirt = rng.random()
        if dirt < 0.05:  # a wrong digit
            i = rng.randrange(17)
            number = number[:i] + str((int(number[i]) + 1) % 10) + number[i + 1 :]
        elif dirt < 0.07:
            number = number.lower()
        elif dirt < 0.08:
            number = number.translate(FULL_WIDTH)
        elif dirt < 0.09:
            number = f"{number[:6]} {number[6:14]} {number[14:]}"
        elif dirt < 0.10:
            number = number[:6] + number[8:17]  # 15-digit legacy
        elif dirt < 0.105:
            number = f"{int(number[:17]) / 10:.5E}".replace("E+", "E+1")  # Excel float
        out.append(number)
    return out


def credit_code_pool(rng: random.Random) -> list[str]:
    out = []
    for _ in range(POOL):
        head = rng.choice(["91", "91", "91", "92", "93", "12", "52", "N2", "Y1"])
        body = head + "440106" + "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
        code = body + uscc_check_char(body)
        dirt = rng.random()
        if dirt < 0.05:  # a wrong check character
            code = code[:17] + USCC_ALPHABET[(USCC_ALPHABET.index(code[17]) + 1) % 31]
        elif dirt < 0.07:
            code = code.lower()
        elif dirt < 0.08:
            code = code.replace("0", "O", 1)
        out.append(code)
    return out


def best_of(repeat: int, run: Callable[[], object]) -> tuple[float, float]:
    """Best wall-clock and process CPU seconds of ``repeat`` runs (CPU time shows the work
    done when other processes share the cores)."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--stdnum-rows", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engine", choices=["in-memory", "streaming", "both"], default="both")
    parser.add_argument("--seed", type=int, default=20261122)
    args = parser.parse_args()
    engines = ["in-memory", "streaming"] if args.engine == "both" else [args.engine]

    rng = random.Random(args.seed)
    today = date(2026, 11, 22)
    cases = {
        "citizen_id": (
            citizen_id_pool(rng),
            lambda e: check_citizen_id(e, today=today),
            ric.is_valid,
        ),
        "uscc": (credit_code_pool(rng), check_uscc, uscc.is_valid),
    }
    print(
        f"polars {pl.__version__}, {os.cpu_count()} CPUs, {pl.thread_pool_size()} Polars threads, "
        f"best of {args.repeat}, load average {os.getloadavg()[0]:.1f}"
    )
    header = (
        f"{'check':<11} {'implementation':<27} {'rows':>10} {'wall s':>7} {'rows/s':>11} "
        f"{'vs stdnum':>9} {'cpu s':>6} {'per cpu-s':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, (pool, check, stdnum_is_valid) in cases.items():
        values = pl.Series("x", pool).sample(args.rows, with_replacement=True, seed=args.seed)
        frame = pl.DataFrame({"x": values}).rechunk()
        plan = frame.lazy().select(check(pl.col("x")))
        sample = values.head(args.stdnum_rows).to_list()
        stdnum_wall, stdnum_cpu = best_of(
            args.repeat, lambda sample=sample, f=stdnum_is_valid: [f(v) for v in sample]
        )
        stdnum_rate, stdnum_cpu_rate = len(sample) / stdnum_wall, len(sample) / stdnum_cpu
        for engine in engines:
            wall, cpu = best_of(args.repeat, lambda plan=plan, e=engine: plan.collect(engine=e))
            rate = args.rows / wall
            print(
                f"{name:<11} {'Polars, ' + engine:<27} {args.rows:>10,} {wall:>7.2f} {rate:>11,.0f} "
                f"{rate / stdnum_rate:>8.0f}x {cpu:>6.2f} "
                f"{args.rows / cpu / stdnum_cpu_rate:>8.0f}x"
            )
        print(
            f"{'':<11} {'python-stdnum is_valid':<27} {len(sample):>10,} {stdnum_wall:>7.2f} "
            f"{stdnum_rate:>11,.0f} {1:>8.0f}x {stdnum_cpu:>6.2f} {1:>8.0f}x"
        )
        reasons = plan.collect().unnest("x")["reason"].value_counts(sort=True)
        print(
            f"{'':<11} reasons: "
            + ", ".join(f"{r or 'valid'} {n:,}" for r, n in reasons.iter_rows())
        )


if __name__ == "__main__":
    main()
