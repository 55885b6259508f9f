"""Write the fuzz seed corpus with the Python writer (styxy.store.cache.encode).

Usage: python interceptor/fuzz/make_corpus.py [OUT_DIR]   (default: interceptor/fuzz/corpus)

The seeds are valid caches of varied shapes plus a few near misses, so a fuzzer starts from
inputs that pass the CRC checks and reaches the entry checks quickly.
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from styxy.store.cache import CacheLease, CacheRange, encode


def _ranges(count: int) -> list[CacheRange]:
    return [
        CacheRange(f"type-{i}", 3000 + i * 100, 3000 + i * 100 + 99, i % 3 == 2)
        for i in range(count)
    ]


def valid_seeds() -> dict[str, bytes]:
    default_ranges = [
        CacheRange("dev", 3000, 3099, False),
        CacheRange("api", 8000, 8099, False),
        CacheRange("ai", 11400, 11499, True),
    ]
    detect = [("dev", "*vite*"), ("dev", "*next dev*"), ("api", "*uvicorn*"), ("api", "*[Ff]lask*")]
    seeds = {
        "empty-tables": encode(
            ranges=[], leases=[], detect=[], meta=b"", doc_crc=0, doc_size=0, generation=0
        ),
        "default": encode(
            ranges=default_ranges,
            leases=[CacheLease(3000, 4242, 0), CacheLease(9999, 1, 0xFFFF)],
            detect=detect,
            meta=b'{"preferred": {"dev": [3000, 3001]}}',
            doc_crc=0xDEADBEEF,
            doc_size=4096,
            generation=7,
        ),
        "many-ranges": encode(
            ranges=_ranges(60),
            leases=[CacheLease(3000 + i, 100 + i, i // 100) for i in range(0, 6000, 97)],
            detect=[(f"type-{i}", f"*tool{i}?[a-z]*") for i in range(20)],
            meta=b"{}",
            doc_crc=1,
            doc_size=2,
            generation=2**63,
        ),
        "long-names": _longest_glob(
            encode(
                ranges=[CacheRange("x" * 63, 1, 65535, True)],
                leases=[CacheLease(65535, 0xFFFFFFFF, 0)],
                detect=[("y" * 63, "*" + "g" * 118 + "*")],
                meta=b"\xff" * 100,
                doc_crc=0xFFFFFFFF,
                doc_size=0xFFFFFFFF,
                generation=2**64 - 1,
            )
        ),
    }
    return seeds


def _longest_glob(data: bytes) -> bytes:
    """The seed with its glob grown to the field's 191 bytes: the writer stops at 120 (what
    `styxy validate` allows), but the C reader must parse a full field all the same."""
    short = b"*" + b"g" * 118 + b"*"
    at = data.index(short)
    edited = bytearray(data)
    edited[at : at + 191] = b"*" + b"g" * 189 + b"*"
    return _recrc(edited)


def _recrc(data: bytearray) -> bytes:
    """Fix both CRCs after an edit, so the seed fails on the field that was edited."""
    header_size = struct.unpack_from("<H", data, 12)[0]
    if len(data) >= header_size:
        struct.pack_into("<I", data, 36, zlib.crc32(bytes(data[header_size:])))
    struct.pack_into("<I", data, 60, zlib.crc32(bytes(data[:60])))
    return bytes(data)


def near_misses(base: bytes) -> dict[str, bytes]:
    """Files that are wrong in one field each, CRCs made right again."""

    def edit(offset: int, fmt: str, value: int) -> bytes:
        data = bytearray(base)
        struct.pack_into(fmt, data, offset, value)
        return _recrc(data)

    bigger = bytearray(base)
    struct.pack_into("<H", bigger, 12, 80)  # header_size 80 without the bytes: length mismatch
    return {
        "bad-major": edit(8, "<H", 2),
        "future-minor": edit(10, "<H", 9),
        "small-range-size": edit(14, "<H", 71),
        "range-start-after-end": edit(64 + 64, "<H", 9000),
        "range-start-zero": edit(64 + 64, "<H", 0),
        "lease-bad-index": edit(64 + 3 * 72 + 2, "<H", 3),
        "header-size-mismatch": _recrc(bigger),
        "truncated": base[: len(base) // 2],
        "bad-payload-crc": base[:-1] + bytes([base[-1] ^ 1]),
    }


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent / "corpus"
    out.mkdir(parents=True, exist_ok=True)
    seeds = valid_seeds()
    seeds.update({f"miss-{k}": v for k, v in near_misses(seeds["default"]).items()})
    for name, data in seeds.items():
        (out / f"{name}.bin").write_bytes(data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
