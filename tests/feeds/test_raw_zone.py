"""The raw zone: bytes as received, content-addressed, written atomically."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feeds import raw_zone
from feeds.delivery import RawDelivery
from feeds.raw_zone import DELIVERY_FILE, RawZone, combined_sha256
from schemas.errors import SourceUnavailable


@pytest.fixture
def zone(tmp_path: Path) -> RawZone:
    return RawZone(tmp_path / "raw")


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / "in" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _deliveries_on_disk(zone: RawZone) -> list[str]:
    folder = zone.resource_dir("geospatial", "boundaries")
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("_"))


def test_storing_the_same_bytes_twice_is_a_no_op(zone: RawZone, tmp_path: Path) -> None:
    data = b'{"type": "FeatureCollection", "features": []}'
    path = _file(tmp_path, "boundaries_20240301.geojson", data)
    first = zone.store_file("geospatial", "boundaries", path, format="geojson")
    again = zone.store_file("geospatial", "boundaries", path, format="geojson")
    assert again == first  # same sha, same batch id, same received_at
    assert first.sha256 == hashlib.sha256(data).hexdigest()
    assert _deliveries_on_disk(zone) == [first.sha256]
    assert first.raw_paths[0].read_bytes() == data
    assert not list((zone.resource_dir("geospatial", "boundaries") / "_staging").iterdir())


def test_hashing_streams_in_chunks(
    zone: RawZone, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(raw_zone, "CHUNK_SIZE", 1000)
    data = os.urandom(25_001)
    reads: list[int] = []
    real_open = Path.open

    def spying_open(self: Path, mode: str = "r", *args: object, **kwargs: object):
        handle = real_open(self, mode, *args, **kwargs)  # type: ignore[arg-type]
        if self.name == "big.bin" and "r" in mode:
            read = handle.read
            handle.read = lambda n=-1: reads.append(n) or read(n)  # type: ignore[method-assign]
        return handle

    path = _file(tmp_path, "big.bin", data)
    monkeypatch.setattr(Path, "open", spying_open)
    stored = zone.store_file("geospatial", "boundaries", path, format="geojson")
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert reads and all(0 < n <= 1000 for n in reads)  # never read whole


def test_a_failure_while_staging_leaves_nothing_behind(zone: RawZone, tmp_path: Path) -> None:
    path = _file(tmp_path, "boundaries_20240301.geojson", b"{}")
    with pytest.raises(RuntimeError), zone.stage("geospatial", "boundaries") as staged:
        sha, _ = staged.copy_in(path)
        raise RuntimeError("crash before commit")
    assert zone.find("geospatial", "boundaries", sha) is None
    assert _deliveries_on_disk(zone) == []
    assert not list((zone.resource_dir("geospatial", "boundaries") / "_staging").iterdir())


def test_two_writers_of_the_same_content_end_with_one_delivery(
    zone: RawZone, tmp_path: Path
) -> None:
    path = _file(tmp_path, "boundaries_20240301.geojson", b"{}")
    first = zone.stage("geospatial", "boundaries")
    second = zone.stage("geospatial", "boundaries")
    with first, second:
        sha, _ = first.copy_in(path)
        second.copy_in(path)

        def delivery(tag: str) -> RawDelivery:
            return RawDelivery(
                feed="geospatial",
                resource="boundaries",
                sha256=sha,
                source=tag,
                raw_paths=(first.final_dir(sha) / path.name,),
                format="geojson",
                received_at=datetime.now(UTC),
            )

        won = first.commit(delivery("first"))
        lost = second.commit(delivery("second"))
    assert won.source == lost.source == "first"
    assert _deliveries_on_disk(zone) == [sha]


def test_a_damaged_delivery_folder_is_replaced(zone: RawZone, tmp_path: Path) -> None:
    path = _file(tmp_path, "boundaries_20240301.geojson", b"{}")
    sha = hashlib.sha256(b"{}").hexdigest()
    damaged = zone.delivery_dir("geospatial", "boundaries", sha)
    damaged.mkdir(parents=True)
    (damaged / "leftover").write_bytes(b"?")
    stored = zone.store_file("geospatial", "boundaries", path, format="geojson")
    assert (damaged / DELIVERY_FILE).exists() and not (damaged / "leftover").exists()
    assert stored.raw_paths[0].read_bytes() == b"{}"


def test_a_moved_zone_still_points_at_its_files(zone: RawZone, tmp_path: Path) -> None:
    path = _file(tmp_path, "boundaries_20240301.geojson", b"{}")
    stored = zone.store_file("geospatial", "boundaries", path, format="geojson")
    shutil.move(zone.root, tmp_path / "elsewhere")
    moved = RawZone(tmp_path / "elsewhere").find("geospatial", "boundaries", stored.sha256)
    assert moved is not None and moved.raw_paths[0].read_bytes() == b"{}"


def test_stale_staging_folders_are_swept(zone: RawZone, tmp_path: Path) -> None:
    with zone.stage("geospatial", "boundaries") as staged:
        staged.dir.joinpath("half").write_bytes(b"x")
        staged._done = True  # as if the process died: nobody removes it
    old = time.time() - 2 * 24 * 3600
    os.utime(staged.dir, (old, old))
    with zone.stage("geospatial", "boundaries"):
        assert not staged.dir.exists()


def test_inflight_pages_survive_a_crash_and_finish_as_one_delivery(zone: RawZone) -> None:
    key = ["population", "persons", "http://x/api", "", "http_page", 5]
    bodies = [b'{"page": 1}', b'{"page": 2}', b'{"page": 3}']
    with zone.inflight("population", "persons", key) as flight:
        flight.begin({"page": 1})
        flight.add_page(bodies[0], {"url": "u1"}, {"page": 2})
        flight.add_page(bodies[1], {"url": "u2"}, {"page": 3})
        # A crash after page 3's line reached the manifest but before the state did.
        with (flight.dir / raw_zone.PAGES_FILE).open("ab") as manifest:
            manifest.write(b'{"file": "page-000003.json", "sha256": "00", "url": "u3"}\n')

    with zone.inflight("population", "persons", key) as flight:
        assert flight.resumed and flight.state is not None and flight.state["page"] == 3
        assert [e["url"] for e in flight.page_entries()] == ["u1", "u2"]  # cut back
        flight.add_page(bodies[2], {"url": "u3"}, {"page": 4})
        delivery = flight.finish(
            lambda sha, paths: RawDelivery(
                feed="population",
                resource="persons",
                sha256=sha,
                source="http://x/api",
                raw_paths=paths,
                format="json_pages",
                received_at=datetime.now(UTC),
            )
        )
    expected = combined_sha256([hashlib.sha256(b).hexdigest() for b in bodies])
    assert delivery.sha256 == expected
    assert [p.read_bytes() for p in delivery.raw_paths] == bodies
    manifest = delivery.raw_paths[0].parent / raw_zone.PAGES_FILE
    assert [json.loads(line)["url"] for line in manifest.read_text().splitlines()] == [
        "u1",
        "u2",
        "u3",
    ]
    assert not (delivery.raw_paths[0].parent / "state.json").exists()


def test_one_pull_per_query_at_a_time(zone: RawZone) -> None:
    key = ["credit", "penalties", "http://x/api", "", "http_cursor", 5]
    with (
        zone.inflight("credit", "penalties", key),
        pytest.raises(SourceUnavailable, match="another pull"),
        zone.inflight("credit", "penalties", key),
    ):
        pass


def test_a_large_copy_goes_to_disk_while_it_is_made(
    zone: RawZone, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy's pages are sent to the disk range by range as it grows, each range whole
    in the file when sent, so that the closing fsync waits only for the last stretch."""
    monkeypatch.setattr(raw_zone, "CHUNK_SIZE", 1000)
    monkeypatch.setattr(raw_zone, "WRITEBACK_BYTES", 4000)
    sent: list[tuple[int, int]] = []
    real_start = raw_zone.start_writeback

    def recording_start(fd: int, offset: int, length: int) -> bool:
        assert os.fstat(fd).st_size >= offset + length  # flushed out of Python's buffer
        sent.append((offset, length))
        return real_start(fd, offset, length)

    monkeypatch.setattr(raw_zone, "start_writeback", recording_start)
    data = os.urandom(25_001)
    stored = zone.store_file(
        "geospatial", "boundaries", _file(tmp_path, "big.bin", data), format="geojson"
    )
    assert stored.raw_paths[0].read_bytes() == data
    assert sent == [
        (0, 4000),
        (4000, 4000),
        (8000, 4000),
        (12000, 4000),
        (16000, 4000),
        (20000, 4000),
    ]


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="posix_fadvise is POSIX's")
def test_the_delivery_read_is_handed_back_to_the_kernel_as_it_is_copied(
    zone: RawZone, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The source's pages are given back range by range as they are copied, then the rest:
    the next task reads the raw zone's copy, never the source again."""
    monkeypatch.setattr(raw_zone, "CHUNK_SIZE", 1000)
    monkeypatch.setattr(raw_zone, "RELEASE_BYTES", 4000)
    released: dict[str, list[tuple[int, int]]] = {}
    real_fadvise = os.posix_fadvise

    def recording_fadvise(fd: int, offset: int, length: int, advice: int) -> None:
        assert advice == os.POSIX_FADV_DONTNEED
        name = Path(os.readlink(f"/proc/self/fd/{fd}")).name
        released.setdefault(name, []).append((offset, length))
        real_fadvise(fd, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", recording_fadvise)
    data = os.urandom(10_500)
    source = _file(tmp_path, "big.bin", data)
    stored = zone.store_file("geospatial", "boundaries", source, format="geojson")
    assert stored.raw_paths[0].read_bytes() == data  # the copy is whole
    assert source.read_bytes() == data  # and the source untouched
    # 0 as the length: to the end of the file.
    assert released == {"big.bin": [(0, 4000), (4000, 4000), (8000, 0)]}


@pytest.mark.skipif(sys.platform != "linux", reason="sync_file_range is Linux's")
def test_writeback_is_started_by_the_kernel_on_linux(tmp_path: Path) -> None:
    # A binding that silently did nothing would leave every fsync as slow as before.
    with (tmp_path / "f.bin").open("wb") as handle:
        handle.write(bytes(8192))
        handle.flush()
        assert raw_zone.start_writeback(handle.fileno(), 0, 8192) is True
