"""The command line's typer app: the command table (`styxy.cli.table`) built into typer
commands (`styxy.cli.typed`), each run by the same function the fast path runs."""

from styxy.cli import fast, typed

app = typed.build(fast.run)
