"""Files written past the page cache: the staged parts and the load's versions file.

Both are written once, whole, by one task, and read by another task or by the lake's
queries later: keeping their pages cached while they are written buys nothing, and on a
virtual machine every fresh page-cache page is dear. On this project's 2-core VMs, whose
balloon reports freed memory to the host, writing 1 GB through the page cache cost 1.4 to
2.9 s of system time, and the same gigabyte written with ``O_DIRECT`` 0.1 s (0.6 s wall).
The 5M-resident population export stages 1.2 GB of parts and loads a 1 GB versions file:
written this way, its pipeline took 0.79 to 0.90x the time, four pairs out of four
(``docs/benchmarks.md``).

:class:`UncachedFile` is the file object Polars' ``sink_parquet`` writes into. The bytes
Polars hands it are gathered in one page-aligned buffer and written a block at a time with
``O_DIRECT``; the last block is padded to the alignment and the file truncated back to its
size. Where the file system refuses ``O_DIRECT`` (tmpfs, some network file systems) or the
platform has none, the same class writes through the page cache as any file does.

The raw zone's copy of a delivery is not written this way: the normalize task reads it
right after, and reading it back from the disk cost as much as caching it (measured: the
pull 1.8x slower, the stage no faster).
"""

from __future__ import annotations

import errno
import fcntl
import io
import mmap
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["ALIGNMENT", "BLOCK_SIZE", "UncachedFile"]

#: ``O_DIRECT`` wants buffers, offsets and lengths aligned to the device's logical block
#: (512 or 4096 bytes): 4096 suits both.
ALIGNMENT = 4096
#: Bytes gathered before each write: large enough that the device, not the calls, sets
#: the pace; small enough to stay in the caches of one core.
BLOCK_SIZE = 4 << 20
_DIRECT = getattr(os, "O_DIRECT", 0)


class UncachedFile(io.RawIOBase):
    """A new binary file, written past the page cache where the file system allows it.

    Use it as a context manager, or close it: the last block is written on close.

    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp) / "out.bin"
    ...     with UncachedFile(path) as file:
    ...         _ = file.write(b"x" * 5000)
    ...         _ = file.write(b"yz")
    ...     data = path.read_bytes()
    >>> len(data), data[-3:]
    (5002, b'xyz')
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.name = str(path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        self._fd = -1
        if _DIRECT:
            try:
                self._fd = os.open(path, flags | _DIRECT, 0o644)
            except OSError as exc:
                if exc.errno != errno.EINVAL:  # EINVAL: this file system has no O_DIRECT
                    raise
        #: Whether the bytes go past the page cache (False: the file system refused).
        self.direct = self._fd >= 0
        if not self.direct:
            self._fd = os.open(path, flags, 0o644)
        self._buffer = mmap.mmap(-1, BLOCK_SIZE)  # anonymous maps are page-aligned
        self._view = memoryview(self._buffer)
        self._filled = 0
        self._size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        """Take all of ``data``; full blocks are written as they fill."""
        source = memoryview(data).cast("B")
        taken = 0
        while taken < len(source):
            n = min(BLOCK_SIZE - self._filled, len(source) - taken)
            self._view[self._filled : self._filled + n] = source[taken : taken + n]
            self._filled += n
            taken += n
            if self._filled == BLOCK_SIZE:
                self._write_block(BLOCK_SIZE)
        self._size += taken
        return taken

    def _write_block(self, length: int) -> None:
        written = 0
        while written < length:
            try:
                written += os.write(self._fd, self._view[written:length])
            except OSError as exc:
                # A file system may take the flag at open and refuse the writes (or a
                # short write left an unaligned rest): go on through the page cache.
                if exc.errno != errno.EINVAL or not self.direct:
                    raise
                flags = fcntl.fcntl(self._fd, fcntl.F_GETFL)
                fcntl.fcntl(self._fd, fcntl.F_SETFL, flags & ~_DIRECT)
                self.direct = False
        self._filled = 0

    def close(self) -> None:
        """Write the last block (padded, then cut back to the file's size) and close."""
        if self.closed:
            return
        try:
            if self._filled:
                tail = self._filled
                padded = -(-tail // ALIGNMENT) * ALIGNMENT if self.direct else tail
                self._view[tail:padded] = bytes(padded - tail)
                self._write_block(padded)
                if padded != tail:
                    os.ftruncate(self._fd, self._size)
        finally:
            os.close(self._fd)
            self._view.release()
            self._buffer.close()
            super().close()
