"""`python -m styxy` and the `styxy` console script."""

from __future__ import annotations


def main() -> int:
    from styxy.cli.boundary import main_entry

    return main_entry()


if __name__ == "__main__":
    raise SystemExit(main())
