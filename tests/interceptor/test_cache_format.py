"""styxy.store.cache: the writer and reader of docs/CACHE_FORMAT.md, the journal, the dump."""

from __future__ import annotations

import os
import stat
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from styxy.errors import CacheError
from styxy.store import cache
from styxy.store.cache import CacheLease, CacheRange

RANGES = [CacheRange("dev", 3000, 3099, False), CacheRange("ai", 11400, 11499, True)]
LEASES = [CacheLease(3000, 4242, 0), CacheLease(9999, 7, cache.NO_RANGE)]
DETECT = [("dev", "*vite*"), ("api", "*manage.py runserver*")]


def sample(**overrides: object) -> bytes:
    args: dict[str, object] = {
        "ranges": RANGES,
        "leases": LEASES,
        "detect": DETECT,
        "meta": b'{"a": 1}',
        "doc_crc": 0xCAFEBABE,
        "doc_size": 1234,
        "generation": 42,
    }
    args.update(overrides)
    return cache.encode(**args)  # type: ignore[arg-type]


def recrc(data: bytearray) -> bytes:
    struct.pack_into("<I", data, 36, zlib.crc32(bytes(data[64:])))
    struct.pack_into("<I", data, 60, zlib.crc32(bytes(data[:60])))
    return bytes(data)


def test_layout_matches_the_format_document() -> None:
    data = sample()
    assert len(data) == 64 + 2 * 72 + 2 * 16 + 2 * 256 + 8
    assert data[:8] == b"STYXYCCH"
    head = struct.unpack_from("<HHHHHHIIIIIQIIII", data, 8)
    major, minor, hsize, rsize, lsize, dsize, rc, lc, dc, meta, pcrc, gen, dcrc, dsz, res, hcrc = (
        head
    )
    assert (major, minor, hsize, rsize, lsize, dsize) == (1, 0, 64, 72, 16, 256)
    assert (rc, lc, dc, meta) == (2, 2, 2, 8)
    assert pcrc == zlib.crc32(data[64:])
    assert (gen, dcrc, dsz, res) == (42, 0xCAFEBABE, 1234, 0)
    assert hcrc == zlib.crc32(data[:60])
    # ranges: name u8[64], start u16, end u16, flags u32
    assert data[64:67] == b"dev" and data[67:128] == bytes(61)
    assert struct.unpack_from("<HHI", data, 128) == (3000, 3099, 0)
    assert struct.unpack_from("<HHI", data, 64 + 72 + 64) == (11400, 11499, 1)
    # leases: port u16, range_index u16, pid u32, reserved u64
    assert struct.unpack_from("<HHIQ", data, 208) == (3000, 0, 4242, 0)
    assert struct.unpack_from("<HHIQ", data, 224) == (9999, 0xFFFF, 7, 0)
    # detect: service_type u8[64], glob u8[192]
    assert data[240:243] == b"dev" and data[304:310] == b"*vite*" and data[310:496] == bytes(186)
    assert data[-8:] == b'{"a": 1}'


def test_round_trip() -> None:
    view = cache.decode(sample())
    assert view == cache.CacheView(
        generation=42,
        doc_crc=0xCAFEBABE,
        doc_size=1234,
        ranges=tuple(RANGES),
        leases=tuple(LEASES),
        detect=tuple(DETECT),
        meta=b'{"a": 1}',
    )


def test_future_minor_and_larger_entries_are_read() -> None:
    """A later minor may grow entries; the reader uses the sizes from the header."""
    old = cache.decode(sample())
    data = bytearray(sample(leases=[], detect=[], meta=b""))
    ranges = b"".join(data[64 + i * 72 : 64 + (i + 1) * 72] + b"\xee" * 8 for i in range(2))
    grown = bytearray(data[:64]) + bytearray(8) + ranges  # header 72, ranges 80
    struct.pack_into("<HHH", grown, 10, 7, 72, 80)
    view = cache.decode(recrc_at(grown, 72))
    assert view.ranges == old.ranges


def recrc_at(data: bytearray, header_size: int) -> bytes:
    struct.pack_into("<I", data, 36, zlib.crc32(bytes(data[header_size:])))
    struct.pack_into("<I", data, 60, zlib.crc32(bytes(data[:60])))
    return bytes(data)


def edited(offset: int, fmt: str, value: int) -> bytes:
    data = bytearray(sample())
    struct.pack_into(fmt, data, offset, value)
    return recrc(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The cache is truncated: 0 bytes, less than a header."),
        (sample()[:63], "The cache is truncated: 63 bytes, less than a header."),
        (b"X" + sample()[1:], "The file is not a styxy cache (bad magic)."),
        (sample()[:59] + b"\x01" + sample()[60:], "The cache header is corrupt (CRC mismatch)."),
        (edited(8, "<H", 2), "The cache has version 2.0; this styxy reads 1.x."),
        (edited(12, "<H", 63), "The cache declares entry sizes smaller than the format allows."),
        (edited(18, "<H", 255), "The cache declares entry sizes smaller than the format allows."),
        (edited(32, "<I", 9), "The cache is 760 bytes but its header says 761."),
        (sample() + b"\0", "The cache is 761 bytes but its header says 760."),
        (sample()[:-1] + b"]", "The cache payload is corrupt (CRC mismatch)."),
        (edited(64 + 64, "<H", 3100), "Range 0 of the cache has an invalid span 3100-3099."),
        (edited(64 + 64, "<H", 0), "Range 0 of the cache has an invalid span 0-3099."),
        (edited(64, "<B", 0), "Range 0 of the cache has an invalid name."),
        (edited(65, "<B", 0x20), "Range 0 of the cache has an invalid name."),
        (edited(208, "<H", 0), "Lease 0 of the cache has port 0."),
        (edited(210, "<H", 2), "Lease 0 of the cache points at a range that does not exist."),
        (edited(240, "<B", 0x80), "Detect entry 0 of the cache has an invalid service type."),
        (edited(304, "<B", 0), "Detect entry 0 of the cache has an invalid glob."),
    ],
)
def test_decode_refuses_with_one_sentence(data: bytes, message: str) -> None:
    with pytest.raises(CacheError) as info:
        cache.decode(data)
    assert str(info.value) == message


def test_full_width_name_without_nul_is_refused() -> None:
    data = bytearray(sample())
    data[64:128] = b"n" * 64
    with pytest.raises(CacheError, match="Range 0 of the cache has an invalid name."):
        cache.decode(recrc(data))


def test_every_truncation_is_refused() -> None:
    data = sample()
    for length in range(len(data)):
        with pytest.raises(CacheError):
            cache.decode(data[:length])


def test_encode_refuses_what_the_layout_cannot_hold() -> None:
    with pytest.raises(CacheError, match="names must be 1 to 63 printable characters"):
        sample(ranges=[CacheRange("x" * 64, 1, 2, False)])
    with pytest.raises(CacheError, match="names must be 1 to 63 printable characters"):
        sample(ranges=[CacheRange("has space", 1, 2, False)])
    with pytest.raises(CacheError, match="names must be ASCII"):
        sample(ranges=[CacheRange("dév", 1, 2, False)])
    with pytest.raises(CacheError, match="bad ports"):
        sample(ranges=[CacheRange("dev", 10, 9, False)])
    with pytest.raises(CacheError, match="range index 5 does not exist"):
        sample(leases=[CacheLease(3000, 1, 5)])
    with pytest.raises(CacheError, match="bad port"):
        sample(leases=[CacheLease(0, 1, 0)])
    with pytest.raises(CacheError, match="exceed 4 MiB"):
        sample(meta=b"x" * (4 * 1024 * 1024))


def test_detect_entries_that_do_not_fit_are_left_out() -> None:
    view = cache.decode(
        sample(
            detect=[
                ("dev", "g" * 120),
                ("dev", "g" * 121),  # past what `styxy validate` allows (SPEC section 18)
                ("dev", "g" * 192),
                ("bad name", "*x*"),
                ("api", ""),
                ("dév", "*x*"),
            ]
        )
    )
    assert view.detect == (("dev", "g" * 120),)


def test_at_most_256_detect_entries_are_written() -> None:
    view = cache.decode(sample(detect=[("dev", f"*{n}*") for n in range(300)]))
    assert view.detect == tuple(("dev", f"*{n}*") for n in range(256))


def test_largest_file_is_accepted_and_one_more_byte_refused() -> None:
    base = len(sample(meta=b""))
    room = 4 * 1024 * 1024 - base
    assert len(sample(meta=b"m" * room)) == 4 * 1024 * 1024
    assert cache.decode(sample(meta=b"m" * room)).meta == b"m" * room
    with pytest.raises(CacheError, match="exceed 4 MiB"):
        sample(meta=b"m" * (room + 1))
    with pytest.raises(CacheError, match="The cache is larger than 4 MiB."):
        cache.decode(sample(meta=b"m" * room) + b"x")


names = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,62}", fullmatch=True)
spans = st.tuples(st.integers(1, 65535), st.integers(0, 65534)).map(
    lambda t: (t[0], min(65535, t[0] + t[1]))
)


@st.composite
def caches(draw: st.DrawFn) -> dict[str, object]:
    ranges = [
        CacheRange(draw(names), start, end, draw(st.booleans()))
        for start, end in draw(st.lists(spans, max_size=8))
    ]
    index = st.sampled_from([cache.NO_RANGE, *range(len(ranges))])
    leases = draw(
        st.lists(
            st.builds(CacheLease, st.integers(1, 65535), st.integers(0, 2**32 - 1), index),
            max_size=8,
        )
    )
    glob = st.text(st.characters(min_codepoint=1, max_codepoint=0x7E), min_size=1, max_size=120)
    return {
        "ranges": ranges,
        "leases": leases,
        "detect": draw(st.lists(st.tuples(names, glob), max_size=5)),
        "meta": draw(st.binary(max_size=64)),
        "doc_crc": draw(st.integers(0, 2**32 - 1)),
        "doc_size": draw(st.integers(0, 2**32 - 1)),
        "generation": draw(st.integers(0, 2**64 - 1)),
    }


@settings(max_examples=200, deadline=None)
@given(caches())
def test_any_encodable_cache_decodes_to_itself(args: dict[str, object]) -> None:
    view = cache.decode(cache.encode(**args))  # type: ignore[arg-type]
    assert view.ranges == tuple(args["ranges"])  # type: ignore[arg-type]
    assert view.leases == tuple(args["leases"])  # type: ignore[arg-type]
    assert view.detect == tuple(args["detect"])  # type: ignore[arg-type]
    assert (view.meta, view.doc_crc, view.doc_size, view.generation) == (
        args["meta"],
        args["doc_crc"],
        args["doc_size"],
        args["generation"],
    )


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_raise_anything_but_cache_error(data: bytes) -> None:
    try:
        cache.decode(data)
    except CacheError:
        pass


# ----------------------------------------------------------------------------- files


def test_write_atomic_then_read(tmp_path: Path) -> None:
    path = tmp_path / "cache.bin"
    cache.write_atomic(path, sample())
    cache.write_atomic(path, sample(generation=43))
    assert cache.read(path).generation == 43
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.bin"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_write_atomic_leaves_no_temporary_file_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "cache.bin"
    cache.write_atomic(path, sample())
    with pytest.raises(TypeError):
        cache.write_atomic(path, 12)  # type: ignore[arg-type]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.bin"]
    assert cache.read(path).generation == 42


def test_read_refuses_missing_directory_fifo_and_large_files(tmp_path: Path) -> None:
    with pytest.raises(CacheError, match=r"The cache .*nope\.bin does not exist\."):
        cache.read(tmp_path / "nope.bin")
    with pytest.raises(CacheError, match="is a directory, not a regular file"):
        cache.read(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(CacheError, match="is a FIFO, not a regular file"):
        cache.read(fifo)  # must not hang waiting for a writer
    big = tmp_path / "big"
    big.write_bytes(b"\0" * (4 * 1024 * 1024 + 1))
    with pytest.raises(CacheError, match="is larger than 4 MiB"):
        cache.read(big)
    corrupt = tmp_path / "corrupt"
    corrupt.write_bytes(sample()[:100])
    with pytest.raises(CacheError, match="The cache is 100 bytes but its header says 760."):
        cache.read(corrupt)


# ----------------------------------------------------------------------------- journal


def test_journal_path_is_beside_the_cache(tmp_path: Path) -> None:
    assert cache.journal_path(tmp_path / ".styxy" / "cache.bin") == tmp_path / ".styxy" / "journal"


def test_read_journal_skips_lines_that_do_not_parse(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    journal.write_bytes(
        b"1 3001 4242 8000 dev 1700000000\n"
        b"garbage\n"
        b"2 3002 4242 8000 dev 1700000000\n"  # unknown version
        b"1 70000 4242 8000 dev 1700000000\n"  # port out of range
        b"1 3003 0 8000 dev 1700000000\n"  # pid 0
        b"1 3004 4242 8000 dev nan\n"
        b"1 3005 4242 8000 dev 1700000000 extra\n"
        b"1 3006 99 9000 api 1700000001.5\n"
        b"1 3007 4242 80"  # torn last line
    )
    assert cache.read_journal(journal) == [
        cache.JournalEntry(3001, 4242, 8000, "dev", 1700000000.0),
        cache.JournalEntry(3006, 99, 9000, "api", 1700000001.5),
    ]
    assert cache.read_journal(tmp_path / "missing") == []


def test_describe_names_everything() -> None:
    text = cache.describe(cache.decode(sample()))
    assert text.splitlines() == [
        "generation 42",
        "document   crc32 cafebabe, 1234 bytes",
        "ranges     2",
        "  [0]   dev                   3000-3099  multi",
        "  [1]   ai                   11400-11499 single",
        "leases     2",
        "  port  3000  pid 4242     dev",
        "  port  9999  pid 7        (no range)",
        "detect     2",
        "  dev                  *vite*",
        "  api                  *manage.py runserver*",
        "meta       8 bytes",
    ]


def test_module_imports_nothing_heavy() -> None:
    import subprocess
    import sys

    code = (
        "import sys; before = set(sys.modules); import styxy.store.cache; "
        "print(sorted(set(sys.modules) - before))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout
    loaded = eval(out)  # a list literal of module names
    assert not {"json", "typer", "platformdirs", "subprocess", "tempfile", "yaml"} & set(loaded)
