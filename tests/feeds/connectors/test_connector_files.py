"""File drops: markers, encodings written with Python's codecs, XLSX, GeoJSON."""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import random
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from feeds import raw_zone
from feeds.connectors.files import list_files, pull_files
from feeds.connectors.read import read_delivery, read_in_chunks
from feeds.delivery import RawDelivery
from feeds.raw_zone import RawZone, Staging
from feeds.spec import FEEDS, FileDropTransport
from schemas.errors import ContractViolation, SourceUnavailable, TerminalError

LEGAL = FEEDS["legal_entity"]
ENTITIES = LEGAL.resources[0]
ENTITY_DROP = ENTITIES.transports[0]
LICENCE = FEEDS["licence"]
LICENCES = LICENCE.resources[0]
LICENCE_DROP = LICENCES.transports[0]
GEO = FEEDS["geospatial"]
BOUNDARIES = GEO.resources[0]
BOUNDARY_DROP = BOUNDARIES.transports[0]
assert isinstance(ENTITY_DROP, FileDropTransport)
assert isinstance(LICENCE_DROP, FileDropTransport)
assert isinstance(BOUNDARY_DROP, FileDropTransport)

HEADER = ["统一社会信用代码", "注册号", "企业名称", "注册资本", "经营范围", "核准日期"]
# Leading zeros, full-width brackets, an empty field, a null spelling, a quoted comma and
# a line break inside a quoted field: what real exports hold.
ROWS = [
    [
        "91440101MA5CXXXX0X",
        "",
        "广州市天河区某某科技有限公司",
        "500万元人民币",
        "软件开发",
        "20210305",
    ],
    [
        "0012",
        "440106000012345",
        "广州（南沙）贸易有限公司",
        "100万美元",
        "批发,零售",
        "2021年3月5日",
    ],
    [
        "91440101MA5CYYYY1Y",
        "NULL",
        "越秀区某某餐饮店",
        "5000000元",
        "餐饮服务\n食品销售",
        "2021/3/5",
    ],
]
# Characters GBK cannot encode and only GB18030 (four-byte sequences) can: a CJK
# Extension B character in a name (𠮷, U+20BB7) and an Extension A one (䶮, U+4DAE).
RARE_ROW = ["91440101MA5CZZZZ2Z", "", "广州𠮷祥䶮记有限公司", "无", "-", "2021.03.05"]


def _csv(rows: list[list[str]]) -> str:
    return _lines(rows, "\r\n", last_eol=True)


def _drop(folder: Path, name: str, data: bytes, *, marker: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    if marker:
        (folder / f"{name}.ok").write_bytes(b"")
    return path


def _expected(rows: list[list[str]], source: Path) -> pl.DataFrame:
    columns = {name: [row[i] for row in rows] for i, name in enumerate(HEADER)}
    return pl.DataFrame(
        {**columns, "_source": [str(source)] * len(rows), "_source_row": range(1, len(rows) + 1)},
        schema={**dict.fromkeys(HEADER, pl.String), "_source": pl.String, "_source_row": pl.Int64},
    )


@pytest.fixture
def zone(tmp_path: Path) -> RawZone:
    return RawZone(tmp_path / "raw")


def _pull(zone: RawZone, source: Path, **kwargs: object) -> list[RawDelivery]:
    return pull_files(LEGAL, ENTITIES, ENTITY_DROP, source, zone=zone, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("codec", "rows", "detected"),
    [
        pytest.param("gbk", ROWS, "gb18030", id="gbk"),
        pytest.param("gb18030", [*ROWS, RARE_ROW], "gb18030", id="gb18030-beyond-gbk"),
        pytest.param("utf-8-sig", [*ROWS, RARE_ROW], "utf-8-sig", id="utf-8-bom"),
        pytest.param("utf-8", [*ROWS, RARE_ROW], "utf-8", id="utf-8"),
    ],
)
def test_encodings_read_back_equal(
    codec: str, rows: list[list[str]], detected: str, zone: RawZone, tmp_path: Path
) -> None:
    data = _csv(rows).encode(codec)
    if codec.startswith("gb"):
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")  # the fixture really is not UTF-8
    if codec == "gb18030":
        with pytest.raises(UnicodeEncodeError):
            "𠮷".encode("gbk")  # and really needs GB18030
    source = _drop(tmp_path / "drop", "scjg_sczt_20240301.csv", data)

    (raw,) = _pull(zone, tmp_path / "drop")

    assert raw.encoding == detected
    assert raw.sha256 == hashlib.sha256(data).hexdigest()
    assert raw.raw_paths[0].read_bytes() == data  # kept exactly as received
    assert (raw.text_path is not None) == codec.startswith("gb")
    assert raw.lines == len(rows) + 2  # header + rows + the line break inside a field
    assert raw.rows_hint == len(rows)
    assert any("1 line breaks inside quoted fields" in n for n in raw.notes)
    assert_frame_equal(read_delivery(raw).collect(), _expected(rows, source))


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="posix_fadvise is POSIX's")
def test_a_gbk_delivery_is_read_once_from_the_drop_and_once_from_the_raw_zone(
    zone: RawZone, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stage reads the UTF-8 copy: the source's pages and then the raw copy's are given
    # back to the kernel, each whole, as they are read (feeds.raw_zone.ReadOnce).
    released: list[Path] = []
    real_fadvise = os.posix_fadvise

    def recording_fadvise(fd: int, offset: int, length: int, advice: int) -> None:
        if advice == os.POSIX_FADV_DONTNEED and length == 0:
            released.append(Path(os.readlink(f"/proc/self/fd/{fd}")))
        real_fadvise(fd, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", recording_fadvise)
    source = _drop(tmp_path / "drop", "scjg_sczt_20240301.csv", _csv(ROWS).encode("gbk"))

    (raw,) = _pull(zone, tmp_path / "drop")

    assert raw.text_path is not None
    assert [p.name for p in released] == [source.name, raw.raw_paths[0].name]
    assert released[0] == source
    assert_frame_equal(read_delivery(raw).collect(), _expected(ROWS, source))


def test_multibyte_characters_split_across_chunks_decode_intact(
    zone: RawZone, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 7-byte chunks: every 2- and 4-byte GB18030 sequence straddles a boundary somewhere.
    monkeypatch.setattr(raw_zone, "CHUNK_SIZE", 7)
    rows = [RARE_ROW, *ROWS] * 40
    data = _csv(rows).encode("gb18030")
    source = _drop(tmp_path / "drop", "scjg_sczt_20240301.csv", data)
    (raw,) = _pull(zone, tmp_path / "drop")
    assert raw.sha256 == hashlib.sha256(data).hexdigest()
    assert_frame_equal(read_delivery(raw).collect(), _expected(rows, source))


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7])
def test_utf8_split_across_chunks_is_still_utf8(
    chunk: int, zone: RawZone, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every 2-, 3- and 4-byte UTF-8 character straddles a chunk boundary somewhere.
    monkeypatch.setattr(raw_zone, "CHUNK_SIZE", chunk)
    rows = [RARE_ROW, *ROWS] * 3
    data = _csv(rows).encode("utf-8")
    source = _drop(tmp_path / "drop", "scjg_sczt_20240301.csv", data)
    (raw,) = _pull(zone, tmp_path / "drop")
    assert (raw.encoding, raw.text_path, raw.lines) == ("utf-8", None, len(rows) + 4)
    assert_frame_equal(read_delivery(raw).collect(), _expected(rows, source))


def test_the_utf8_check_agrees_with_pythons_strict_decoder() -> None:
    # The probe checks chunks with a fast validator and asks Python only when it refuses;
    # what a lax validator lets through (surrogates, overlong forms, code points past
    # U+10FFFF, a character cut off at the end) must be refused exactly as Python does.
    from feeds.connectors.files import _TextProbe

    rng = random.Random(20261001)
    good = ["a", ",", "\n", "广", "𠮷", "é", "\U0010ffff", "\ufffe", "\x00"]
    bad = [
        b"\xed\xa0\x80",  # a UTF-16 surrogate
        b"\xc0\xaf",  # an overlong "/"
        b"\xe0\x80\xaf",
        b"\xf4\x90\x80\x80",  # past U+10FFFF
        b"\xf5\x80\x80\x80",
        b"\x80",
        b"\xff",
        b"\xe5\xb9",  # the start of 广 alone
        b"\xf0\xa0\xae",  # the start of 𠮷 alone
        b"\xe5A",  # a lead byte followed by ASCII
        b"\xc3",
    ]
    refused = 0
    for _ in range(3000):
        data = "".join(rng.choice(good) for _ in range(rng.randint(0, 24))).encode()
        if rng.random() < 0.5:
            at = rng.randint(0, len(data))
            data = data[:at] + rng.choice(bad) + data[at:]
        if rng.random() < 0.2:
            data = data[: rng.randint(0, len(data))]
        probe = _TextProbe()
        size = rng.randint(1, 9)
        for start in range(0, len(data), size):
            probe.feed(data[start : start + size])
        probe.close()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            refused += 1
            assert not probe.valid_utf8, data
            assert f"near byte {exc.start}" in probe.error or "end of the file" in probe.error
        else:
            assert probe.valid_utf8, (data, probe.error)
        assert probe.lines == len(data.splitlines())
    assert 1000 < refused < 2000  # both kinds were tried, many times


def test_the_utf8_copy_is_on_disk_before_the_delivery_is_recorded(
    zone: RawZone, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stage reads the UTF-8 copy, not the raw bytes: after a crash a recorded delivery
    # must not point at a copy that never reached the disk.
    synced: list[str] = []
    fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(Path(os.readlink(f"/proc/self/fd/{fd}")).name)
        fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    _drop(tmp_path / "drop", "scjg_sczt_20240301.csv", _csv(ROWS).encode("gbk"))
    (raw,) = _pull(zone, tmp_path / "drop")
    assert raw.text_path is not None
    names = [n if not n.startswith(".delivery.json") else "delivery.json" for n in synced]
    assert names.index(raw.raw_paths[0].name) < names.index("delivery.json")
    assert names.index(raw.text_path.name) < names.index("delivery.json")


def test_the_utf8_copy_goes_to_disk_while_it_is_made(
    zone: RawZone, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As the raw copy does (raw_zone.EarlyWriteback): its closing fsync then waits for
    # the last stretch only.
    monkeypatch.setattr(raw_zone, "CHUNK_SIZE", 500)
    monkeypatch.setattr(raw_zone, "WRITEBACK_BYTES", 2000)
    sent: dict[str, list[tuple[int, int]]] = {}

    def recording_start(fd: int, offset: int, length: int) -> bool:
        name = Path(os.readlink(f"/proc/self/fd/{fd}")).name
        sent.setdefault(name, []).append((offset, length))
        return True

    monkeypatch.setattr(raw_zone, "start_writeback", recording_start)
    _drop(tmp_path / "drop", "scjg_sczt_20240301.csv", _csv(ROWS * 200).encode("gbk"))
    (raw,) = _pull(zone, tmp_path / "drop")
    assert raw.text_path is not None
    ranges = sent[raw.text_path.name]
    assert len(ranges) >= 5
    # Contiguous from the start, never beyond what the copy holds.
    assert [offset for offset, _ in ranges] == [0, *itertools.accumulate(n for _, n in ranges[:-1])]
    assert sum(n for _, n in ranges) <= raw.text_path.stat().st_size


def test_bytes_no_encoding_decodes_fail_with_place_and_spare_the_good_files(
    zone: RawZone, tmp_path: Path
) -> None:
    good = _csv(ROWS).encode("gbk")
    bad = _csv(ROWS[:1]).encode("gbk") + b"0012,\x80\xff,x,y,z,w\r\n"
    _drop(tmp_path / "drop", "scjg_sczt_20240301.csv", good)
    _drop(tmp_path / "drop", "scjg_sczt_20240302.csv", bad)
    with pytest.raises(ContractViolation) as caught:
        _pull(zone, tmp_path / "drop")
    message = str(caught.value)
    assert "scjg_sczt_20240302.csv" in message and "line 3" in message and "near byte" in message
    assert "the other 1 files were stored" in message
    assert len(zone.deliveries("legal_entity", "entities")) == 1


def test_a_utf16_file_is_refused_not_misread(zone: RawZone, tmp_path: Path) -> None:
    _drop(tmp_path / "drop", "scjg_sczt_20240301.csv", _csv(ROWS).encode("utf-16"))
    with pytest.raises(ContractViolation, match="UTF-16"):
        _pull(zone, tmp_path / "drop")


def test_a_ragged_line_is_refused_not_silently_cut(zone: RawZone, tmp_path: Path) -> None:
    data = _csv(ROWS) + "a,b,c,d,e,f,g,h\r\n"
    _drop(tmp_path / "drop", "scjg_sczt_20240301.csv", data.encode("utf-8"))
    with pytest.raises(ContractViolation, match="more fields"):
        _pull(zone, tmp_path / "drop")


def test_a_file_without_its_marker_waits_for_it(
    zone: RawZone, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "drop"
    path = _drop(folder, "scjg_sczt_20240301.csv", _csv(ROWS).encode("gbk"), marker=False)
    with caplog.at_level(logging.INFO, logger="feeds.connectors.files"):
        assert _pull(zone, folder) == []
    assert "scjg_sczt_20240301.csv.ok" in caplog.text and "still being written" in caplog.text
    assert zone.deliveries("legal_entity", "entities") == []

    (folder / "scjg_sczt_20240301.csv.ok").write_bytes(b"")
    (raw,) = _pull(zone, folder)
    assert raw.source == str(path)


def test_only_files_matching_the_patterns_are_listed(tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    _drop(folder, "scjg_sczt_20240301.csv", b"x")
    _drop(folder, "scjg_sczt_20240302.csv", b"x", marker=False)
    _drop(folder, "dzzz_202403.xlsx", b"x")
    _drop(folder, "notes.txt", b"x")
    ready, pending = list_files(folder, ENTITY_DROP)
    assert [p.name for p in ready] == ["scjg_sczt_20240301.csv"]
    assert [p.name for p in pending] == ["scjg_sczt_20240302.csv"]


def test_storing_twice_is_a_no_op_and_does_not_read_the_file_again(
    zone: RawZone, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "drop"
    _drop(folder, "scjg_sczt_20240301.csv", _csv(ROWS).encode("gbk"))
    first = _pull(zone, folder)

    def no_read(*args: object, **kwargs: object) -> None:
        raise AssertionError("an unchanged file was read again")

    monkeypatch.setattr(Staging, "copy_in", no_read)
    assert _pull(zone, folder) == first
    monkeypatch.undo()

    # The same bytes under another name are the same delivery (content-addressed).
    _drop(folder, "scjg_sczt_20240309.csv", _csv(ROWS).encode("gbk"))
    again = _pull(zone, folder)
    assert again == [first[0], first[0]]
    # Changed content under the old name is a new delivery.
    _drop(folder, "scjg_sczt_20240301.csv", _csv(ROWS[:2]).encode("gbk"))
    changed = _pull(zone, folder)
    assert changed[0].sha256 != first[0].sha256 and changed[0].rows_hint == 2
    assert len(zone.deliveries("legal_entity", "entities")) == 2


def test_since_skips_files_dated_before_it(zone: RawZone, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    for i, name in enumerate(
        ["scjg_sczt_20240301.csv", "scjg_sczt_20240305.csv", "scjg_sczt_full_202403.csv"]
    ):
        _drop(folder, name, _csv(ROWS[: i + 1]).encode("utf-8"))
    taken = _pull(zone, folder, since="2024-03-04T08:00:00")
    # The monthly full export of March is not before March: kept.
    assert [Path(d.source).name for d in taken] == [
        "scjg_sczt_20240305.csv",
        "scjg_sczt_full_202403.csv",
    ]
    assert [d.cursor_max for d in taken] == ["2024-03-05", "2024-03-01"]


def test_one_file_as_the_source(zone: RawZone, tmp_path: Path) -> None:
    path = _drop(tmp_path / "drop", "scjg_sczt_20240301.csv", _csv(ROWS).encode("utf-8"))
    (raw,) = _pull(zone, path)
    assert raw.source == str(path)
    other = _drop(tmp_path / "drop", "dzzz_202403.xlsx", b"x")
    with pytest.raises(ContractViolation, match=r"scjg_sczt_\*\.csv"):
        _pull(zone, other)
    with pytest.raises(SourceUnavailable, match="mounted"):
        _pull(zone, tmp_path / "nowhere")


def _many_rows(n: int, seed: int) -> list[list[str]]:
    """Rows of every shape a one-record-per-line export holds: quoted commas and quotes,
    empty fields, null spellings, CJK text, and now and then a short row."""
    rng = random.Random(seed)
    cells = ["", "无", "NULL", "软件开发", "批发,零售", '说"明"', "广州（南沙）", " 12 ", "x"]
    rows = []
    for i in range(n):
        row = [f"91440101MA{i:08d}", *(rng.choice(cells) for _ in HEADER[1:])]
        rows.append(row[: rng.randint(2, len(HEADER))] if rng.random() < 0.03 else row)
    return rows


def _lines(rows: list[list[str]], eol: str, *, last_eol: bool) -> str:
    """The header and rows as CSV text, fields quoted where they must be."""

    def cell(value: str) -> str:
        quoted = any(c in value for c in ',"\n')
        return '"' + value.replace('"', '""') + '"' if quoted else value

    text = eol.join(",".join(cell(v) for v in row) for row in [HEADER, *rows])
    return text + eol if last_eol else text


@pytest.mark.parametrize("codec", ["utf-8", "utf-8-sig", "gbk"])
@pytest.mark.parametrize(
    ("eol", "last_eol"),
    [("\r\n", True), ("\n", True), ("\n", False)],
    ids=["crlf", "lf", "no-last-lf"],
)
@pytest.mark.parametrize("rows_per_chunk", [1, 37, 250, 10_000])
def test_chunks_read_once_hold_what_the_whole_file_holds(
    codec: str, eol: str, last_eol: bool, rows_per_chunk: int, zone: RawZone, tmp_path: Path
) -> None:
    rows = _many_rows(500, seed=len(codec) + rows_per_chunk)
    data = _lines(rows, eol, last_eol=last_eol).encode(codec)
    _drop(tmp_path / "drop", "scjg_sczt_20240301.csv", data)
    (raw,) = _pull(zone, tmp_path / "drop")
    assert raw.rows_hint == len(rows) and raw.lines == len(rows) + 1

    chunks = read_in_chunks(raw)
    assert chunks is not None
    read = list(chunks(rows_per_chunk))

    whole = read_delivery(raw).collect()
    assert_frame_equal(pl.concat(read), whole)
    # As many chunks as slices would make, of about the rows asked for (spans of equal
    # bytes: two cuts can fall in one line when a chunk is a line or two, and are one).
    slices = -(-len(rows) // rows_per_chunk)
    assert len(read) == slices if rows_per_chunk > 1 else 0 < len(read) <= slices
    assert all(abs(c.height - rows_per_chunk) <= rows_per_chunk // 4 + 2 for c in read[:-1])
    assert read[-1].height <= rows_per_chunk + rows_per_chunk // 4 + 2


def test_a_raw_copy_cut_short_after_the_pull_is_an_error_not_fewer_rows(
    zone: RawZone, tmp_path: Path
) -> None:
    rows = _many_rows(300, seed=1)
    _drop(
        tmp_path / "drop",
        "scjg_sczt_20240301.csv",
        _lines(rows, "\n", last_eol=True).encode("utf-8"),
    )
    (raw,) = _pull(zone, tmp_path / "drop")
    chunks = read_in_chunks(raw)
    assert chunks is not None
    reading = chunks(100)
    first = next(reading)
    stored = raw.raw_paths[0]
    os.truncate(stored, stored.stat().st_size - 1000)
    with pytest.raises(TerminalError, match="pull the delivery again"):
        list(reading)
    assert first.height < len(rows)


def test_no_chunks_read_once_where_a_field_holds_a_line_break(
    zone: RawZone, tmp_path: Path
) -> None:
    # ROWS has a line break inside a quoted field: a line end does not always end a record,
    # so the file can only be read in slices of its whole scan.
    _drop(tmp_path / "drop", "scjg_sczt_20240301.csv", _csv(ROWS).encode("utf-8"))
    (raw,) = _pull(zone, tmp_path / "drop")
    assert raw.lines == raw.rows_hint + 2  # type: ignore[operator]
    assert read_in_chunks(raw) is None
    assert read_in_chunks(raw.model_copy(update={"rows_hint": None})) is None


# --- XLSX ------------------------------------------------------------------------------

XLSX_HEADER = ["证照标识", "证照名称", "持证主体代码类型", "颁证日期", "有效期截止", "所属区划"]


def _workbook(path: Path, *, title: bool, sheet: str = "证照信息") -> None:
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.title = sheet
    if title:
        ws.append(["广州市电子证照信息导出（2024年3月）"])
    ws.append(XLSX_HEADER)
    ws.append(
        [
            "1.2.156.3005.2.11100000000013127D001.0001.001.K",
            "营业执照",
            "001",
            44260,
            "长期",
            440103,
        ]
    )
    ws.append(
        [
            "1.2.156.3005.2.11100000000013127D001.0002.001.M",
            "食品经营许可证",
            "111",
            datetime(2021, 3, 5),
            datetime(2026, 3, 4),
            "440104",
        ]
    )
    ws.append([None] * len(XLSX_HEADER))  # an empty row inside the data
    ws.append(
        [
            "1.2.156.3005.2.11100000000013127D001.0003.001.P",
            "道路运输经营许可证",
            "001",
            "2021年3月5日",
            46000.5,
            None,
        ]
    )
    book.save(path)


@pytest.mark.parametrize("title", [False, True], ids=["header-in-row-1", "title-row-above"])
def test_xlsx_header_found_and_cells_kept_as_text(
    title: bool, zone: RawZone, tmp_path: Path
) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    path = folder / "dzzz_202403.xlsx"
    _workbook(path, title=title)
    (folder / "dzzz_202403.xlsx.ok").write_bytes(b"")

    (raw,) = pull_files(LICENCE, LICENCES, LICENCE_DROP, folder, zone=zone)

    assert raw.format == "xlsx" and raw.rows_hint == 3 and raw.cursor_max == "2024-03-01"
    assert any("header on sheet row 2" in n and "2024年3月" in n for n in raw.notes) == title
    expected = pl.DataFrame(
        {
            "证照标识": [
                f"1.2.156.3005.2.11100000000013127D001.000{i}.001.{c}"
                for i, c in ((1, "K"), (2, "M"), (3, "P"))
            ],
            "证照名称": ["营业执照", "食品经营许可证", "道路运输经营许可证"],
            "持证主体代码类型": ["001", "111", "001"],
            # a serial stays a serial; a date cell becomes ISO text; text stays text
            "颁证日期": ["44260", "2021-03-05 00:00:00", "2021年3月5日"],
            "有效期截止": ["长期", "2026-03-04 00:00:00", "46000.5"],
            "所属区划": ["440103", "440104", None],
            "_source": [str(path)] * 3,
            "_source_row": [1, 2, 4],  # the empty row keeps its number, not its place
        },
        schema_overrides={"_source_row": pl.Int64},
    )
    assert_frame_equal(read_delivery(raw).collect(), expected)


def test_xlsx_without_the_contract_sheet_names_the_sheets(zone: RawZone, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    _workbook(folder / "dzzz_202403.xlsx", title=False, sheet="Sheet1")
    (folder / "dzzz_202403.xlsx.ok").write_bytes(b"")
    with pytest.raises(ContractViolation, match=r"Sheet1.*证照信息"):
        pull_files(LICENCE, LICENCES, LICENCE_DROP, folder, zone=zone)


# --- GeoJSON ---------------------------------------------------------------------------


def test_geojson_features_become_rows_with_geometry_text(zone: RawZone, tmp_path: Path) -> None:
    square = {
        "type": "Polygon",
        "coordinates": [[[113.3, 23.1], [113.4, 23.1], [113.4, 23.2], [113.3, 23.1]]],
    }
    point = {"type": "Point", "coordinates": [113.32, 23.12]}
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "code": 440106,
                    "name": "天河区",
                    "level": "district",
                    "parent_code": None,
                },
                "geometry": square,
            },
            {
                "type": "Feature",
                "properties": {
                    "code": "440106001",
                    "name": "五山街道",
                    "level": "street",
                    "parent_code": "440106",
                },
                "geometry": point,
            },
            {
                "type": "Feature",
                "properties": {"code": "440106001001", "name": "网格一", "level": "grid"},
                "geometry": None,
            },
        ],
    }
    folder = tmp_path / "drop"
    path = _drop(
        folder, "boundaries_20240301.geojson", json.dumps(collection, ensure_ascii=False).encode()
    )

    (raw,) = pull_files(GEO, BOUNDARIES, BOUNDARY_DROP, folder, zone=zone)
    frame = read_delivery(raw).collect()

    assert raw.rows_hint == 3
    assert frame.columns == [
        "code",
        "name",
        "level",
        "parent_code",
        "geometry",
        "_source",
        "_source_row",
    ]
    assert frame["code"].to_list() == ["440106", "440106001", "440106001001"]
    assert frame["parent_code"].to_list() == [None, "440106", None]
    assert [None if g is None else json.loads(g) for g in frame["geometry"]] == [
        square,
        point,
        None,
    ]
    assert frame["_source"].to_list() == [str(path)] * 3
    assert frame["_source_row"].to_list() == [1, 2, 3]


def test_geojson_that_is_not_a_feature_collection_is_refused(zone: RawZone, tmp_path: Path) -> None:
    _drop(tmp_path / "drop", "boundaries_20240301.geojson", b'{"type": "Feature"}')
    with pytest.raises(ContractViolation, match="FeatureCollection"):
        pull_files(GEO, BOUNDARIES, BOUNDARY_DROP, tmp_path / "drop", zone=zone)
