"""Projects and running commands: `styxy env` and `styxy run`."""

# No `from __future__ import annotations` here, on purpose: typer reads every command's
# annotations at start-up, and string annotations would cost an eval and a compile each.

import sys
from enum import StrEnum

import typer

from styxy import output
from styxy.cli import prompt
from styxy.cli.common import (
    PID,
    DocOption,
    JsonOption,
    NewTypeOption,
    complete_service_type,
    doc_of,
    emit,
    notify,
    wants_json,
)

commands = typer.Typer()


ProjectOption = typer.Option(
    None,
    "--project",
    metavar="[DIR]",
    help="The project in DIR (default: the nearest styxy.toml above the current folder).",
)


def project_default(argv: list[str]) -> list[str]:
    """`--project` without DIR (at the end, or before `--` or an option) means "find it".

    typer has no options with an optional value, so an empty DIR stands for the project
    around the current folder. Only words before the first `--` are looked at: the child's
    command is never touched.
    """
    words = list(argv)
    stop = words.index("--") if "--" in words else len(words)
    command = next((i for i, word in enumerate(words[:stop]) if word in ("env", "run")), stop)
    for index in range(stop - 1, command, -1):
        if words[index] == "--project" and (index + 1 >= stop or words[index + 1].startswith("-")):
            words.insert(index + 1, "")
    return words


class EnvFormat(StrEnum):
    dotenv = "dotenv"
    sh = "sh"
    json = "json"


@commands.command("env")
def env_command(
    project: str | None = ProjectOption,
    format_: EnvFormat | None = typer.Option(
        None, "--format", help="dotenv (NAME=value, the default), sh (export lines) or json."
    ),
    write: str | None = typer.Option(
        None, "--write", metavar="FILE", help="Put the variables in styxy's block of FILE (.env)."
    ),
    release_: bool = typer.Option(False, "--release", help="End the project's leases."),
    pid: int | None = typer.Option(
        None, "--pid", click_type=PID, help="Holder process (default: the parent)."
    ),
    yes: bool = typer.Option(False, "--yes", help="Accept a proposed new range."),
    new_type: bool = NewTypeOption,
    doc: str | None = DocOption,
    json: bool = JsonOption,
) -> None:
    """One port per service of styxy.toml: NAME_PORT and NAME_URL for each."""
    import styxy.project as project_module
    from styxy.project import envfile
    from styxy.project.files import shown

    if release_:
        if write is not None or format_ is not None or pid is not None:
            from styxy.errors import UsageError

            raise UsageError(
                "--release ends the project's leases; it takes no --write, --format or --pid."
            )
        _release_project(project, doc, json)
        return
    found = project_module.env(
        project or None,
        write=write,
        pid=pid,
        yes=yes,
        confirm=prompt.confirm if sys.stdin.isatty() else None,
        new_type=new_type,
        doc=doc_of(doc),
        notify=notify,
    )
    if found.written is not None and not wants_json(json):
        done = "wrote" if found.write_outcome == "written" else "unchanged:"
        output.note(f"{done} {shown(found.written)} ({len(found.variables)} variables)")
    if wants_json(json) or format_ is EnvFormat.json:
        output.as_json(found.to_json())
    elif format_ is EnvFormat.sh:
        output.result("\n".join(envfile.sh_lines(found.variables)))
    elif format_ is EnvFormat.dotenv or write is None:
        output.result("\n".join(envfile.dotenv_lines(found.variables)))


def _release_project(project: str | None, doc: str | None, json: bool) -> None:
    import styxy.project as project_module

    ended = project_module.release(project or None, doc=doc_of(doc), notify=notify)
    if not ended.released and not wants_json(json):
        output.note(f"project {ended.project_id} holds no leases.")
    lines = [f"released {x.name} ({x.serviceType}) port {x.port}" for x in ended.released]
    emit(json, ended.to_json(), "\n".join(lines))


@commands.command("run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run_command(
    service_type: str | None = typer.Option(
        None, "-s", "--service-type", autocompletion=complete_service_type
    ),
    instance_id: str | None = typer.Option(None, "-i", "--instance-id"),
    name: str = typer.Option("", "-n", "--name"),
    intercept: bool = typer.Option(False, "--intercept", help="Preload the bind() interceptor."),
    bpf: bool = typer.Option(False, "--bpf", help="Run inside the kernel bind program's cgroup."),
    new_type: bool = NewTypeOption,
    project: str | None = ProjectOption,
    doc: str | None = DocOption,
    # Only styxy's before `--` (errors as JSON); stdout is the child's. After `--` every word,
    # `--json` included, is the command's.
    json: bool = JsonOption,
    command: list[str] = typer.Argument(None, metavar="-- CMD [ARGS]..."),
) -> None:
    """Run CMD with a port in $PORT (or a project's ports); release when CMD ends; exit with CMD's code."""
    from styxy.api import runner
    from styxy.errors import UsageError

    if project is not None:
        if service_type is not None or instance_id is not None or name or intercept or new_type:
            raise UsageError(
                "--project runs with the project's own services; it takes no -s, -i, -n, "
                "--intercept or --new-type."
            )
        import styxy.project as project_module

        raise typer.Exit(
            project_module.run(project or None, command or [], doc=doc_of(doc), notify=notify)
        )
    if service_type is None:
        raise UsageError("give -s TYPE, or --project [DIR] to run with a project's ports.")
    code = runner.run(
        service_type,
        command or [],
        instance_id=instance_id,
        name=name,
        intercept=intercept,
        bpf=bpf,
        new_type=new_type,
        doc=doc_of(doc),
        notify=notify,
    )
    raise typer.Exit(code)
