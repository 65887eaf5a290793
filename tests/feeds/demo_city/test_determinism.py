"""Same seed, same bytes; another seed, another city."""

from __future__ import annotations

import hashlib
from pathlib import Path


def _digests(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(make_city, tmp_path: Path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    manifests = [
        make_city(out, seed=seed, days=5, residents=1_500)
        for out, seed in ((a, 11), (b, 11), (c, 12))
    ]
    first, second, other = _digests(a), _digests(b), _digests(c)
    assert first == second
    # The manifest differs only in the folder it names.
    assert (a / "manifest.json").read_text().replace(str(a), "") == (
        b / "manifest.json"
    ).read_text().replace(str(b), "")
    assert len(first) > 30 and any(p.startswith("truth/") for p in first)
    changed = {p for p in first if first[p] != other.get(p)}
    # The map and the authorities are the city's, not the seed's; every other delivery
    # with records differs.
    of_city = ("boundaries", "authorities")
    with_records = {
        d["path"]
        for d in manifests[0]["deliveries"]
        if d["rows"] and not any(n in d["path"] for n in of_city)
    }
    assert with_records <= changed
    assert {p for p in first if p.startswith("truth/") and "/area/" not in p} <= changed
    assert not any(n in p for n in (*of_city, "/area/") for p in changed)
