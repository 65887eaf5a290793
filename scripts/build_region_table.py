"""Build ``schemas/codes/data/gbt2260.csv`` from python-stdnum's ``stdnum/cn/loc.dat``.

Run from the repository root: ``uv run python scripts/build_region_table.py``. The output is
committed, so the pipeline never needs python-stdnum (a test-only dependency) at run time;
re-run this script when python-stdnum ships a newer ``loc.dat`` and review the diff.

``loc.dat`` (built by python-stdnum from the zh.wikipedia 行政区划代码 pages, CC BY-SA)
lists, per province, every county-level code with the years each name was in force::

    44 province="广东省"
      0102 county="[1983-2005]东山区"
      0111 county="[1983-1986]郊区,[1987-]白云区"

Successors (where a retired code's area went) come from two places, both written to
``region_successors.csv``:

- curated pairs, kept by hand in that file with their source (``basis``), which this script
  never changes;
- renames in place, derived here: a retired code and a current code in the same province
  with the same name stem (``增城市`` / ``增城区``) where the new code starts the year the
  old one ends, and no other current code has that stem. Those rows are regenerated on
  every run (``basis`` starts with ``derived``).
"""

from __future__ import annotations

import argparse
import csv
import re
from collections import defaultdict
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "schemas" / "codes" / "data"
DERIVED = "derived: renamed in place"
# Name suffixes that change when a county becomes a district or city; longest first.
_SUFFIXES = ("自治县", "自治旗", "特区", "林区", "县", "市", "区", "旗")
# Stems too generic to say two codes are the same place (市辖区, 郊区, 矿区, 城区 ...).
_GENERIC_STEMS = {"市辖", "郊", "矿", "城", "市", "县", "新", "特"}
_SEGMENT = re.compile(r"^(?:\[(\d{4})?-(\d{4})?\])?(.+)$")
# Province-level codes (GB/T 2260): must all be present whatever loc.dat holds.
PROVINCES = [
    "11",
    "12",
    "13",
    "14",
    "15",
    "21",
    "22",
    "23",
    "31",
    "32",
    "33",
    "34",
    "35",
    "36",
    "37",
    "41",
    "42",
    "43",
    "44",
    "45",
    "46",
    "50",
    "51",
    "52",
    "53",
    "54",
    "61",
    "62",
    "63",
    "64",
    "65",
    "71",
    "81",
    "82",
]


@dataclass
class Region:
    code: str
    name: str
    valid_from: int | None
    valid_to: int | None

    @property
    def current(self) -> bool:
        return self.valid_to is None


def parse_loc_dat(text: str) -> dict[str, Region]:
    """Every code of ``loc.dat`` with its latest name and the span of all its names."""
    regions: dict[str, Region] = {}
    province = ""
    province_names: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if not line.startswith(" "):
            province, _, rest = line.partition(" ")
            province_names[province] = rest.split('"')[1]
            continue
        suffix, _, rest = line.strip().partition(" ")
        value = rest.split('"')[1]
        spans = []
        for segment in value.split(","):
            match = _SEGMENT.match(segment.strip())
            if match is None:  # pragma: no cover - loc.dat is well formed
                msg = f"loc.dat: cannot read {segment!r} in line {line!r}"
                raise ValueError(msg)
            start, end, name = match.groups()
            spans.append((int(start) if start else None, int(end) if end else None, name))
        # An open start (no year) means "before the records begin"; an open end, "still in
        # force". The latest name is the one whose span ends last.
        latest = max(spans, key=lambda s: 9999 if s[1] is None else s[1])
        starts = [s[0] for s in spans]
        ends = [s[1] for s in spans]
        regions[province + suffix] = Region(
            code=province + suffix,
            name=latest[2],
            valid_from=None if None in starts else min(s for s in starts if s is not None),
            valid_to=None if None in ends else max(e for e in ends if e is not None),
        )
    for province, name in province_names.items():
        regions.setdefault(province + "0000", Region(province + "0000", name, None, None))
    missing = [p for p in PROVINCES if p + "0000" not in regions]
    if missing:
        msg = f"loc.dat lacks province-level codes {missing}; add them by hand"
        raise ValueError(msg)
    return regions


def level(code: str) -> str:
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "prefecture"
    return "county"


def parent(code: str, regions: dict[str, Region]) -> str:
    if code.endswith("0000"):
        return ""
    if code.endswith("00") or code[:4] + "00" not in regions:
        return code[:2] + "0000"
    return code[:4] + "00"


def stem(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def derive_renames(regions: dict[str, Region]) -> dict[str, str]:
    """Retired county-level code -> current code of the same place under a new name."""
    current_by_stem: dict[tuple[str, str], list[Region]] = defaultdict(list)
    for r in regions.values():
        if r.current and level(r.code) == "county":
            current_by_stem[(r.code[:2], stem(r.name))].append(r)
    renames = {}
    for r in regions.values():
        if r.current or level(r.code) != "county":
            continue
        key = (r.code[:2], stem(r.name))
        if key[1] in _GENERIC_STEMS or len(key[1]) < 2:
            continue
        candidates = current_by_stem.get(key, [])
        if len(candidates) == 1 and candidates[0].valid_from == r.valid_to:
            renames[r.code] = candidates[0].code
    return renames


def read_successors(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def build(loc_dat: str, successors_csv: Path, out_dir: Path) -> tuple[int, int, int]:
    regions = parse_loc_dat(loc_dat)
    curated = [row for row in read_successors(successors_csv) if row["basis"] != DERIVED]
    successor = {row["code"]: row["successor_code"] for row in curated}
    for row in curated:
        for key in ("code", "successor_code"):
            if row[key] not in regions:
                msg = f"region_successors.csv: {row[key]} is not in loc.dat"
                raise ValueError(msg)
    derived = {code: new for code, new in derive_renames(regions).items() if code not in successor}
    successor.update(derived)

    rows = curated + [
        {"code": code, "successor_code": new, "basis": DERIVED}
        for code, new in sorted(derived.items())
    ]
    rows.sort(key=lambda row: row["code"])
    with successors_csv.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, ["code", "successor_code", "basis"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)

    with (out_dir / "gbt2260.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(
            [
                "code",
                "name",
                "level",
                "parent_code",
                "valid_from_year",
                "valid_to_year",
                "successor_code",
            ]
        )
        for code in sorted(regions):
            r = regions[code]
            writer.writerow(
                [
                    code,
                    r.name,
                    level(code),
                    parent(code, regions),
                    "" if r.valid_from is None else r.valid_from,
                    "" if r.valid_to is None else r.valid_to,
                    successor.get(code, ""),
                ]
            )
    return len(regions), len(curated), len(derived)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=DATA)
    args = parser.parse_args()
    loc_dat = (resources.files("stdnum") / "cn" / "loc.dat").read_text(encoding="utf-8")
    n, curated, derived = build(loc_dat, args.out_dir / "region_successors.csv", args.out_dir)
    print(f"{n} codes; successors: {curated} curated, {derived} derived renames")


if __name__ == "__main__":
    main()
