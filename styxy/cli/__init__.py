"""The command line: `app` holds the typer commands, `boundary` turns errors into exit codes."""
