"""Projects and running commands: `styxy env` and `styxy run`.

Plain functions: `styxy.cli.table` declares their options (see `styxy.cli.leases`).
"""

from __future__ import annotations

from styxy import output
from styxy.cli.common import emit, notify, terminal_confirm


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


def env(
    project: str | None,
    format_: str | None,
    write: str | None,
    release_: bool,
    prune: bool,
    pid: int | None,
    yes: bool,
    new_type: bool,
    doc: str | None,
    json: bool,
) -> None:
    """One port per service of styxy.toml: NAME_PORT and NAME_URL for each."""
    import styxy.project as project_module
    from styxy.project import envfile
    from styxy.project.files import shown

    if prune:
        given = (project, write, format_, pid)
        if release_ or any(value is not None for value in given):
            from styxy.errors import UsageError

            raise UsageError(
                "--prune looks at every project styxy knows; it takes no --project, --release, "
                "--write, --format or --pid."
            )
        _prune(doc, json)
        return
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
        confirm=terminal_confirm(),
        new_type=new_type,
        doc=doc,
        notify=notify,
    )
    if found.written is not None and not json:
        done = "wrote" if found.write_outcome == "written" else "unchanged:"
        output.note(f"{done} {shown(found.written)} ({len(found.variables)} variables)")
    if json or format_ == "json":
        output.as_json(found.to_json())
    elif format_ == "sh":
        output.result("\n".join(envfile.sh_lines(found.variables)))
    elif format_ == "dotenv" or write is None:
        output.result("\n".join(envfile.dotenv_lines(found.variables)))


def _release_project(project: str | None, doc: str | None, json: bool) -> None:
    import styxy.project as project_module

    ended = project_module.release(project or None, doc=doc, notify=notify)
    if not ended.released and not json:
        output.note(f"project {ended.project_id} holds no leases.")
    lines = [f"released {x.name} ({x.serviceType}) port {x.port}" for x in ended.released]
    emit(json, ended.to_json(), "\n".join(lines))


def _prune(doc: str | None, json: bool) -> None:
    import styxy.project as project_module

    pruned = project_module.prune(doc=doc, notify=notify)
    if not pruned and not json:
        output.note("every project styxy knows still has its folder; nothing to prune.")
    lines = []
    for item in pruned:
        ports = ", ".join(f"{x.name} ({x.serviceType}) port {x.port}" for x in item.released)
        lines.append(f"pruned {item.project_id} ({item.root}): {ports or 'no leases'}")
    emit(json, {"pruned": [item.to_json() for item in pruned]}, "\n".join(lines))


def run(
    service_type: str | None,
    instance_id: str | None,
    name: str,
    intercept: bool,
    bpf: bool,
    new_type: bool,
    project: str | None,
    doc: str | None,
    json: bool,
    command: list[str],
) -> int:
    """Run CMD with a port in $PORT (or a project's ports); release when CMD ends; exit with CMD's code."""
    from styxy.errors import UsageError

    if project is not None:
        if service_type is not None or instance_id is not None or name or intercept or new_type:
            raise UsageError(
                "--project runs with the project's own services; it takes no -s, -i, -n, "
                "--intercept or --new-type."
            )
        import styxy.project as project_module

        return project_module.run(project or None, command, doc=doc, notify=notify)
    if service_type is None:
        raise UsageError("give -s TYPE, or --project [DIR] to run with a project's ports.")
    from styxy.api import runner

    return runner.run(
        service_type,
        command,
        instance_id=instance_id,
        name=name,
        intercept=intercept,
        bpf=bpf,
        new_type=new_type,
        doc=doc,
        notify=notify,
    )
