"""Build the IANA index that ships inside styxy (`styxy/system/data/iana-index.json.gz`).

Usage (from anywhere; paths default to the checkout this script lives in):

    python docs/references/make_iana_index.py [--registry PATH] [OUTPUT]

It reads IANA's registry (the copy in `../shared/data` beside the checkout by default, or any
file or URL `styxy iana import` takes) with the importer `styxy iana import` uses, and writes
the same compact index, gzipped and stamped with the registry's date. Lookups use it when the
user has imported nothing (`styxy iana 8000` says `irdmi` out of the box);
tests/iana/test_iana_shipped.py rebuilds it from the same registry and compares the JSON, so
the shipped file can never drift from the registry it names.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    # Run straight from a checkout, without installing styxy.
    sys.path.insert(0, str(ROOT))

from styxy.api.iana_import import shipped_index_bytes  # noqa: E402
from styxy.system.iana import SHIPPED_INDEX  # noqa: E402

REGISTRY_NAME = "iana-service-names-port-numbers.xml"
# ../shared/data beside the checkout (CI, the main checkout); a worktree sits one level deeper.
REGISTRY_CANDIDATES = (
    ROOT.parent / "shared" / "data" / REGISTRY_NAME,
    ROOT.parent.parent / "shared" / "data" / REGISTRY_NAME,
)


def find_registry() -> Path | None:
    return next((path for path in REGISTRY_CANDIDATES if path.is_file()), None)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", type=Path, default=SHIPPED_INDEX)
    parser.add_argument("--registry", default=find_registry())
    args = parser.parse_args(argv)
    if args.registry is None:
        parser.error(f"no registry copy at {' or '.join(map(str, REGISTRY_CANDIDATES))}")
    data = shipped_index_bytes(str(args.registry))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(data)
    print(f"wrote {args.output} ({len(data)} bytes) from {args.registry}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
