"""`python -m styxy` and the `styxy` console script."""

from __future__ import annotations


def main() -> int:
    from styxy.cli import run

    return run()


if __name__ == "__main__":
    raise SystemExit(main())
