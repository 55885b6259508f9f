"""Where the kernel bind program's maps are pinned, and whether they are (SPEC section 16).

Apart from `bpfmaps` (the bpf() system call, ctypes, struct layouts) on purpose: every commit
asks `attached()`, and with nothing attached that question must cost one stat() and import
nothing (`styxy allocate`'s hot path, SPEC section 21).
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

PIN_ROOT = Path("/run/styxy/bpf")


def pin_root() -> Path:
    """`$STYXY_BPF_ROOT` (tests), else /run/styxy/bpf: a bpffs that vanishes at reboot as the
    attached programs do."""
    return Path(os.environ.get("STYXY_BPF_ROOT") or PIN_ROOT)


def pin_folder(cache_path: Path) -> Path:
    """The pin folder of the maps that mirror the cache at `cache_path`."""
    return pin_root() / f"{zlib.crc32(str(cache_path).encode()):08x}"


def attached(cache_path: Path) -> bool:
    """One stat(): the whole cost of the kernel half when nothing is attached."""
    try:
        os.stat(pin_folder(cache_path))
    except OSError:
        return False
    return True
