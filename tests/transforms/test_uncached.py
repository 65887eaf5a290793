"""UncachedFile: the bytes written are the file's, and they stay out of the page cache."""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import random
from pathlib import Path

import polars as pl
import pytest

from transforms import uncached
from transforms.uncached import ALIGNMENT, BLOCK_SIZE, UncachedFile


def _write(path: Path, data: bytes, piece: int) -> UncachedFile:
    with UncachedFile(path) as file:
        for start in range(0, len(data), piece):
            assert file.write(data[start : start + piece]) == len(data[start : start + piece])
    return file


def _has_o_direct(folder: Path) -> bool:
    try:
        os.close(os.open(folder / "probe", os.O_WRONLY | os.O_CREAT | os.O_DIRECT))
    except (AttributeError, OSError):
        return False
    return True


def resident_pages(path: Path) -> tuple[int, int]:
    """(pages of ``path`` in the page cache, pages in all), as ``mincore`` reports them."""
    size = path.stat().st_size
    pages = -(-size // mmap.PAGESIZE)
    libc = ctypes.CDLL(None, use_errno=True)
    with path.open("rb") as handle:
        # A private map is writable, which ctypes needs for the address; nothing is written,
        # so every page mincore sees is the file's own page-cache page or none.
        mapped = mmap.mmap(handle.fileno(), size, access=mmap.ACCESS_COPY)
        try:
            start = ctypes.c_char.from_buffer(mapped)
            vector = (ctypes.c_ubyte * pages)()
            found = libc.mincore(ctypes.c_void_p(ctypes.addressof(start)), size, vector)
            assert found == 0, os.strerror(ctypes.get_errno())
            del start
        finally:
            mapped.close()
    return sum(v & 1 for v in vector), pages


@pytest.mark.parametrize(
    "size",
    [
        0,
        1,
        ALIGNMENT - 1,
        ALIGNMENT,
        ALIGNMENT + 1,
        BLOCK_SIZE,
        BLOCK_SIZE + 1,
        2 * BLOCK_SIZE + 12_345,
    ],
)
@pytest.mark.parametrize("piece", [7_777, 3 * BLOCK_SIZE])
def test_the_file_holds_exactly_the_bytes_written(tmp_path, size: int, piece: int) -> None:
    data = random.Random(size).randbytes(size)
    path = tmp_path / "out.bin"
    _write(path, data, piece)
    assert path.stat().st_size == size
    assert path.read_bytes() == data


def test_the_bytes_bypass_the_page_cache(tmp_path) -> None:
    data = random.Random(1).randbytes(3 * BLOCK_SIZE + 100)
    cached = tmp_path / "cached.bin"
    cached.write_bytes(data)
    in_cache, pages = resident_pages(cached)
    assert in_cache >= pages * 0.9, "mincore sees a file just written through the cache"

    if not _has_o_direct(tmp_path):
        pytest.skip(f"the file system under {tmp_path} has no O_DIRECT")
    path = tmp_path / "uncached.bin"
    assert _write(path, data, 1 << 16).direct
    in_cache, pages = resident_pages(path)
    assert in_cache <= 1, f"{in_cache} of {pages} pages in the page cache"
    assert path.read_bytes() == data


def test_a_file_system_without_o_direct_gets_an_ordinary_file(tmp_path, monkeypatch) -> None:
    real_open = os.open

    def no_direct(path: Path, flags: int, mode: int = 0o777) -> int:
        if flags & uncached._DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")  # what tmpfs said before Linux 6.6
        return real_open(path, flags, mode)

    monkeypatch.setattr(uncached.os, "open", no_direct)
    data = random.Random(2).randbytes(BLOCK_SIZE + 5)
    file = _write(tmp_path / "out.bin", data, 10_000)
    assert not file.direct
    assert (tmp_path / "out.bin").read_bytes() == data


def test_writes_the_file_system_refuses_go_on_through_the_cache(tmp_path, monkeypatch) -> None:
    real_write = os.write
    refused = []

    def refuse_first_direct_write(fd: int, data: memoryview) -> int:
        if not refused:
            refused.append(len(data))
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, data)

    monkeypatch.setattr(uncached.os, "write", refuse_first_direct_write)
    data = random.Random(3).randbytes(BLOCK_SIZE + ALIGNMENT + 3)
    file = _write(tmp_path / "out.bin", data, 1 << 20)
    assert refused and not file.direct
    assert (tmp_path / "out.bin").read_bytes() == data


def test_polars_sinks_parquet_into_it(tmp_path) -> None:
    frame = pl.DataFrame({"k": [f"key-{i}" for i in range(200_000)], "v": range(200_000)})
    with UncachedFile(tmp_path / "part.parquet") as file:
        frame.lazy().sink_parquet(file, compression="uncompressed")
    assert pl.read_parquet(tmp_path / "part.parquet").equals(frame)
