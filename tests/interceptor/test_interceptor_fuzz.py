"""The C parser under the replay driver (ASan + UBSan): seed corpus, mutations, and a
differential check that it accepts exactly what styxy.store.cache.decode accepts."""

from __future__ import annotations

import fnmatch
import random
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
from interceptor_support import *  # the pytest fixtures: built, ports, workdir, cache_file
from interceptor_support import ROOT, Built

from styxy.errors import CacheError
from styxy.store import cache

FUZZ_DIR = ROOT / "interceptor" / "fuzz"


def python_verdict(data: bytes) -> str:
    try:
        view = cache.decode(data)
    except CacheError:
        return "err"
    return f"ok {view.generation} {len(view.ranges)} {len(view.leases)} {len(view.detect)}"


def c_verdicts(built: Built, inputs: list[bytes], tmp_path: Path) -> list[str]:
    records = tmp_path / "records.bin"
    records.write_bytes(b"".join(struct.pack("<I", len(d)) + d for d in inputs))
    result = subprocess.run(
        [built.helper("styxy-fuzz-replay"), "--records", str(records)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == ""  # no sanitizer report
    return [line if line.startswith("ok") else "err" for line in result.stdout.splitlines()]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    subprocess.run([sys.executable, str(FUZZ_DIR / "make_corpus.py"), str(out)], check=True)
    return out


def test_committed_corpus_is_what_the_script_writes(corpus: Path) -> None:
    committed = FUZZ_DIR / "corpus"
    assert sorted(p.name for p in committed.iterdir()) == sorted(p.name for p in corpus.iterdir())
    for path in corpus.iterdir():
        assert (committed / path.name).read_bytes() == path.read_bytes(), path.name


def test_replay_the_seed_corpus(built: Built, corpus: Path) -> None:
    result = subprocess.run(
        [built.helper("styxy-fuzz-replay"), str(corpus)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    verdicts = {
        Path(line.split()[0]).name: line.split(" ", 1)[1] for line in result.stdout.splitlines()
    }
    assert len(verdicts) == len(list(corpus.iterdir()))
    for name, verdict in verdicts.items():
        expected = python_verdict((corpus / name).read_bytes())
        assert (verdict if verdict.startswith("ok") else "err") == expected, name
    assert verdicts["default.bin"] == "ok 7 3 2 4"
    assert verdicts["miss-bad-major.bin"] == "err 5"


def mutate(rng: random.Random, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(7)
        if choice == 0 and data:  # flip a bit
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        elif choice == 1 and data:  # truncate
            del data[rng.randrange(len(data)) :]
        elif choice == 2:  # insert bytes
            i = rng.randrange(len(data) + 1)
            data[i:i] = rng.randbytes(rng.randint(1, 16))
        elif choice == 3 and len(data) >= 64:  # set a header field to an edge value
            offset = rng.choice([8, 10, 12, 14, 16, 18, 20, 24, 28, 32])
            width = 2 if offset < 20 else 4
            value = rng.choice([0, 1, 2, 63, 64, 71, 72, 255, 256, 0xFFFF, 0xFFFFFFFF, 0x80000000])
            data[offset : offset + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(
                width, "little"
            )
        elif choice == 4 and len(data) > 64:  # overwrite payload bytes
            i = rng.randrange(64, len(data))
            data[i] = rng.choice([0, 0x20, 0x7F, 0x80, 0xFF, ord("-")])
        elif choice == 5:  # append junk
            data += rng.randbytes(rng.randint(1, 300))
    if rng.random() < 0.7 and len(data) >= 64:
        # Make the checksums right again, so the entry checks behind them are reached.
        header_size = int.from_bytes(data[12:14], "little")
        if header_size <= len(data):
            struct.pack_into("<I", data, 36, zlib.crc32(bytes(data[header_size:])))
        struct.pack_into("<I", data, 60, zlib.crc32(bytes(data[:60])))
    return bytes(data)


def test_mutations_agree_with_the_python_reader(built: Built, corpus: Path, tmp_path: Path) -> None:
    rng = random.Random(20240601)
    seeds = [p.read_bytes() for p in sorted(corpus.iterdir())]
    inputs = [mutate(rng, rng.choice(seeds)) for _ in range(4000)]
    inputs += [seed[:n] for seed in seeds[:3] for n in range(len(seed) + 1)]
    expected = [python_verdict(d) for d in inputs]
    assert c_verdicts(built, inputs, tmp_path) == expected
    accepted = sum(v.startswith("ok") for v in expected)
    assert 100 < accepted < len(inputs) - 1000  # both paths really exercised


def test_glob_matcher_agrees_with_fnmatchcase(built: Built, tmp_path: Path) -> None:
    rng = random.Random(7)
    alphabet = "ab-*?[]!c "
    pairs = [("*next dev*", "node /x/next dev --port 3000"), ("*[u]vicorn*", "uvicorn app:app")]
    pairs += [("[!a]x", "bx"), ("[a-c]", "b"), ("[]a]", "]"), ("[z-a]", "m"), ("a[", "a[")]
    for _ in range(3000):
        pattern = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
        text = "".join(rng.choice("abc-[]! ") for _ in range(rng.randint(0, 10)))
        pairs.append((pattern, text))
    source = tmp_path / "globs.tsv"
    source.write_text("".join(f"{p}\t{t}\n" for p, t in pairs))
    result = subprocess.run(
        [built.helper("styxy-fuzz-replay"), "--globs", str(source)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    got = result.stdout.split()
    want = ["1" if fnmatch.fnmatchcase(t, p) else "0" for p, t in pairs]
    mismatches = [pairs[i] for i in range(len(pairs)) if got[i] != want[i]]
    assert mismatches == []


def _glob_pattern(rng: random.Random, elements: int) -> tuple[str, str]:
    """A pattern of `elements` elements and a text that matches it about half the time."""
    parts, text = [], []
    for _ in range(elements):
        kind = rng.choice(["a", "b", "?", "*", "[ab]", "[!a]", "[a-b]"])
        parts.append(kind)
        if kind == "*":
            text.append("".join(rng.choice("ab") for _ in range(rng.randint(0, 3))))
        elif kind in ("?", "[!a]"):
            text.append("b")
        elif kind in ("[ab]", "[a-b]"):
            text.append(rng.choice("ab"))
        else:
            text.append(kind)
    sample = "".join(text)
    if rng.random() < 0.5:  # a near miss: one character changed
        at = rng.randrange(len(sample)) if sample else 0
        sample = sample[:at] + rng.choice("abc") + sample[at + 1 :]
    return "".join(parts)[:120], sample


def test_long_globs_agree_with_fnmatchcase(built: Built, tmp_path: Path) -> None:
    """Patterns up to the 120 bytes `styxy validate` allows: past the matcher's first 64 states."""
    rng = random.Random(11)
    pairs = [_glob_pattern(rng, rng.randint(50, 120)) for _ in range(600)]
    pairs += [("*" + "a" * 119, "a" * 500), ("a" * 120, "a" * 120), ("?" * 120, "b" * 120)]
    source = tmp_path / "long.tsv"
    source.write_text("".join(f"{p}\t{t}\n" for p, t in pairs))
    result = subprocess.run(
        [built.helper("styxy-fuzz-replay"), "--globs", str(source)],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    want = ["1" if fnmatch.fnmatchcase(t, p) else "0" for p, t in pairs]
    assert result.stdout.split() == want
    assert 100 < want.count("1") < len(want) - 100  # both answers really exercised


def _replay_seconds(built: Built, source: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [built.helper("styxy-fuzz-replay"), "--globs", str(source)],
        capture_output=True, check=True, timeout=300,
    )  # fmt: skip
    return time.perf_counter() - started


def test_glob_matching_is_linear_in_the_command_line(built: Built, tmp_path: Path) -> None:
    """A backtracking matcher retries the whole pattern at every character of a command line
    that nearly matches it everywhere: 119 `a` after a star against 4,095 `a` and a `b`.
    Matched by the automaton, that costs about what a two-character glob does."""
    text = "a" * 4095 + "b"
    hostile = tmp_path / "hostile.tsv"
    hostile.write_text(f"*{'a' * 119}\t{text}\n" * 2000)
    simple = tmp_path / "simple.tsv"
    simple.write_text(f"*c\t{text}\n" * 2000)
    _replay_seconds(built, simple)  # warm the page cache and the loader
    ratio = min(_replay_seconds(built, hostile) / _replay_seconds(built, simple) for _ in range(3))
    assert ratio < 5, ratio
