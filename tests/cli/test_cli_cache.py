"""The compiled cache styxy writes in every transaction matches the document and the leases."""

from __future__ import annotations

import zlib

from netutil import first_free

from styxy.store import cache


def test_cache_holds_the_rows_the_live_leases_and_the_document_stamp(styxy):
    dev = styxy("allocate", "-s", "dev", "-i", "a", "--json").json()
    outside = first_free(range(23456, 23500))
    other = styxy("allocate", "-s", "api", "-p", str(outside), "--json").json()
    view = cache.read(styxy.sidecar / "cache.bin")
    doc_bytes = styxy.doc.read_bytes()
    assert (view.doc_crc, view.doc_size) == (zlib.crc32(doc_bytes), len(doc_bytes))
    names = [r.name for r in view.ranges]
    assert names[:3] == ["dev", "monitoring", "ui"] and names[-1] == "ai" and len(names) == 17
    assert [r.single for r in view.ranges if r.name == "ai"] == [True]
    assert sorted((x.port, x.range_index) for x in view.leases) == sorted(
        [(dev["port"], names.index("dev")), (other["port"], 0xFFFF)]
    )
    assert ("api", "*uvicorn*") in view.detect
    generation = view.generation
    styxy("release", dev["lockId"])
    again = cache.read(styxy.sidecar / "cache.bin")
    assert again.generation == generation + 1
    assert [x.port for x in again.leases] == [other["port"]]


def test_a_hand_edit_of_the_document_is_picked_up_by_the_next_command(styxy):
    styxy("allocate", "-s", "dev", "-i", "a")
    text = styxy.doc.read_text().replace("| proxy | 8100 | 8199 |", "| proxy | 8100 | 8149 |")
    styxy.doc.write_text(text)
    styxy("cleanup")
    view = cache.read(styxy.sidecar / "cache.bin")
    assert [(r.start, r.end) for r in view.ranges if r.name == "proxy"] == [(8100, 8149)]
    assert view.doc_crc == zlib.crc32(text.encode())
