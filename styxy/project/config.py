"""`styxy.toml`: the services a project declares, checked before anything is allocated.

Every mistake is a `PATH:LINE: message` diagnostic (a `DocumentError`), all of them at once,
sorted by line, so a user fixes the file in one pass. Nothing is written on a refusal.
"""

from __future__ import annotations

import re

from styxy import names
from styxy.errors import Diagnostic, DocumentError, InvalidValueError
from styxy.records import record
from styxy.refusals import shown
from styxy.vocabulary import MAX_PORT

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    import tomllib
    from typing import Any

    from styxy.project.tomlmap import KeyPath

CONFIG_NAME = "styxy.toml"
TOP_KEYS = ("services",)
SERVICE_KEYS = ("type", "env", "port")
# What `env` may name (SPEC section 18): `eval "$(styxy env)"` runs in a cloned repository,
# so its styxy.toml may only set variables that hold a port or a URL, upper case, in the form
# every shell, docker compose and dotenv loader accepts...
VARIABLE = re.compile(r"[A-Z][A-Z0-9_]*")
SUFFIXES = ("_PORT", "_URL")
# ...and never one that changes how programs run: the dynamic loader, shells, interpreters,
# package managers' indexes and proxies, git, and styxy's and Claude Code's own variables.
DENIED_NAMES = frozenset(
    ("PATH", "ENV", "BASH_ENV", "NODE_OPTIONS", "IFS", "CDPATH", "PS4", "SHELLOPTS", "HOME",
     "SHELL", "USER", "LOGNAME", "PWD", "OLDPWD", "TERM", "LANG", "LANGUAGE", "TZ", "HOSTNAME",
     "DISPLAY", "TMPDIR", "PROMPT_COMMAND", "EDITOR", "VISUAL", "PAGER", "HTTP_PROXY",
     "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS",
     "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
)  # fmt: skip
DENIED_PREFIXES = (
    "LD_", "DYLD_", "PYTHON", "NODE_", "NPM_", "YARN_", "PIP_", "UV_", "POETRY_", "CONDA_",
    "GIT_", "BASH_", "ZSH_", "PERL", "RUBY", "GEM_", "BUNDLE_", "CARGO_", "RUSTUP_", "GOPROXY",
    "DOCKER_", "SSH_", "LC_", "STYXY_", "CLAUDE_",
)  # fmt: skip


def variable_problem(name: str) -> str | None:
    """Why `name` may not be a service's variable, or None when it may."""
    if not VARIABLE.fullmatch(name):
        return (
            "is not a valid variable name; use upper-case letters, digits and _, starting with "
            "a letter and ending in _PORT or _URL"
        )
    if name in DENIED_NAMES or name.startswith(DENIED_PREFIXES):
        return (
            "would change how programs run (the loader, a shell, an interpreter or a tool "
            "reads it)"
        )
    if not name.endswith(SUFFIXES):
        return "must end in _PORT or _URL, after a name of the service's own"
    return None


_LONG_NUMBER = re.compile(r"[0-9_]{4000}")
_SYNTAX = re.compile(r"^(?P<msg>.*?) \(at line (?P<line>\d+), column (?P<col>\d+)\)$")


@record
class Service:
    name: str
    service_type: str
    port_variable: str
    url_variable: str
    line: int
    # `port = N`: tried first, as `allocate --port N` does; another port when it is taken.
    port: int | None = None

    @property
    def public_variable(self) -> str:
        """`WEB_PORT` -> `WEB_PUBLIC_URL`: the service's name behind `styxy proxy`."""
        return public_variable(self.port_variable)


@record
class ProjectConfig:
    path: str
    services: tuple[Service, ...]


def url_variable(port_variable: str) -> str:
    """`WEB_PORT` -> `WEB_URL`; a name without the `_PORT` ending gets `_URL` appended."""
    if port_variable.endswith("_PORT") and len(port_variable) > len("_PORT"):
        return port_variable[: -len("_PORT")] + "_URL"
    return port_variable + "_URL"


def public_variable(port_variable: str) -> str:
    """`WEB_PORT` -> `WEB_PUBLIC_URL`; a name without the `_PORT` ending gets `_PUBLIC_URL`."""
    return url_variable(port_variable)[: -len("_URL")] + "_PUBLIC_URL"


def parse(data: bytes, path: str) -> ProjectConfig:
    """The services of a `styxy.toml` whose bytes are `data`; `path` is how messages name it."""
    # Imported here: `styxy env` takes the services from the memo while the file is unchanged
    # (styxy.project.memo), and tomllib with the typing it imports costs about 6 ms.
    import tomllib

    from styxy.project.tomlmap import key_lines

    text = _decode(data, path)
    try:
        body = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DocumentError([_syntax_error(exc, text, path)]) from None
    except RecursionError:
        # tomllib nests by recursion: `a = [[[[...` a few thousand deep exhausts the stack.
        raise DocumentError([Diagnostic(path, 1, "the file nests arrays or tables too deeply to read")]) from None
    except ValueError:
        # tomllib's one other ValueError: an integer longer than Python converts (4,300
        # digits). No line comes with it; the first line that holds such a run of digits.
        line = next(
            (n for n, row in enumerate(text.split("\n"), 1) if _LONG_NUMBER.search(row)), 1
        )
        raise DocumentError(
            [Diagnostic(path, line, "a number too long to read (over 4,300 digits)")]
        ) from None
    checker = _Checker(path, key_lines(text))
    services = checker.services(body)
    if checker.problems:
        raise DocumentError(sorted(checker.problems, key=lambda d: d.line))
    return ProjectConfig(path, services)


def _shown_int(value: int) -> str:
    """An integer for a message: its first digits and its length when it is long.

    tomllib reads `0x...`, `0o...` and `0b...` of any length (Python's 4,300-digit limit is for
    decimal only), so one may have too many digits for str() to write at all.
    """
    try:
        return names.shown_digits(str(value))
    except ValueError:
        return "of more than 4,300 digits"


def _decode(data: bytes, path: str) -> str:
    try:
        # utf-8-sig: an editor's byte order mark is accepted, as for the document.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DocumentError([Diagnostic(path, line, "styxy.toml is not UTF-8 text")]) from None


def _syntax_error(exc: tomllib.TOMLDecodeError, text: str, path: str) -> Diagnostic:
    message = str(exc)
    found = _SYNTAX.match(message)
    if found:
        detail = f"{found['msg']} (column {found['col']})"
        return Diagnostic(path, int(found["line"]), f"invalid TOML: {detail}")
    detail = message.replace(" (at end of document)", " at the end of the file")
    return Diagnostic(path, max(1, len(text.rstrip("\n").split("\n"))), f"invalid TOML: {detail}")


class _Checker:
    """Walks the parsed file, collecting every problem with the line it sits on."""

    def __init__(self, path: str, lines: dict[KeyPath, int]) -> None:
        self.path = path
        self.lines = lines
        self.problems: list[Diagnostic] = []

    def problem(self, where: KeyPath, message: str) -> None:
        self.problems.append(Diagnostic(self.path, self.line(where), message))

    def line(self, where: KeyPath) -> int:
        from styxy.project.tomlmap import line_of

        return line_of(self.lines, where)

    def services(self, body: dict[str, Any]) -> tuple[Service, ...]:
        unknown = [key for key in body if key not in TOP_KEYS]
        for key in unknown:
            self.problem((key,), _unknown(key, TOP_KEYS, "at the top level"))
        table = body.get("services")
        if table is None and unknown:
            return ()  # `[servces.web]`: the misspelling is the one problem to report
        if table is None:
            self.problem(
                (), 'no [services] declared; add [services.NAME] with type = "SERVICE_TYPE"'
            )
            return ()
        if not isinstance(table, dict):
            self.problem(
                ("services",), f"services must be a table of [services.NAME], not {_kind(table)}"
            )
            return ()
        if not table:
            self.problem(
                ("services",),
                'no services declared; add [services.NAME] with type = "SERVICE_TYPE"',
            )
        found = [self.service(name, value) for name, value in table.items()]
        services = tuple(item for item in found if item is not None)
        self.clashes(services)
        return services

    def service(self, name: str, value: Any) -> Service | None:
        where = ("services", name)
        label = f"[services.{_key_text(name)}]"
        if not isinstance(value, dict):
            self.problem(
                where,
                f'services.{_key_text(name)} must be a table with type = "...", not {_kind(value)}',
            )
            return None
        unknown = [key for key in value if key not in SERVICE_KEYS]
        for key in unknown:
            self.problem((*where, key), _unknown(key, SERVICE_KEYS, f"in {label}"))
        if unknown and "type" not in value:
            return None  # `tpye = "dev"`: saying "no type" too would only repeat the typo
        service_type = self.service_type(where, label, value.get("type"))
        variable = self.variable(where, name, label, value.get("env"))
        port = self.port(where, label, value)
        if service_type is None or variable is None or port is False:
            return None
        if not self.service_name(where, name):
            return None
        return Service(
            name,
            service_type,
            variable,
            url_variable(variable),
            self.line(where),
            None if port is True else port,
        )

    def port(self, where: KeyPath, label: str, value: dict[str, Any]) -> int | bool:
        """The preferred port; True when none is given, False when the one given is refused."""
        if "port" not in value:
            return True
        port = value["port"]
        # bool first: `port = true` is an int to isinstance, and no port.
        if isinstance(port, bool) or not isinstance(port, int):
            self.problem((*where, "port"), f"{label} port must be an integer, not {_kind(port)}")
            return False
        if not 1 <= port <= MAX_PORT:
            self.problem(
                (*where, "port"),
                f"{label} port {_shown_int(port)} is not a port from 1 to {MAX_PORT}",
            )
            return False
        return port

    def service_type(self, where: KeyPath, label: str, value: Any) -> str | None:
        if value is None:
            self.problem(where, f'{label} has no type; add type = "SERVICE_TYPE" (e.g. "dev")')
            return None
        if not isinstance(value, str):
            self.problem((*where, "type"), f"{label} type must be a string, not {_kind(value)}")
            return None
        try:
            return names.check_service_type(value)
        except InvalidValueError as exc:
            self.problem((*where, "type"), f"{label} {exc.message.rstrip('.')}")
            return None

    def variable(self, where: KeyPath, name: str, label: str, value: Any) -> str | None:
        if value is None:
            derived = name.upper() + "_PORT"
            problem = variable_problem(derived) or variable_problem(url_variable(derived))
            if problem is None:
                return derived
            hint = "set env to a name of its own"
            if not VARIABLE.fullmatch(derived):
                problem = "is not a valid variable name"
                hint = "use letters, digits and _ in the name, or set env"
            self.problem(
                where,
                f"service name {name!r} would make the variable {derived!r}, which {problem}; "
                f"{hint}",
            )
            return None
        if not isinstance(value, str):
            self.problem((*where, "env"), f"{label} env must be a string, not {_kind(value)}")
            return None
        for variable in (value, url_variable(value)):
            problem = variable_problem(variable)
            if problem is None:
                continue
            text = f"{label} env {shown(value)} {problem}"
            if variable != value:
                text = f"{label} env {shown(value)} makes {shown(variable)}, which {problem}"
            if problem.startswith("would change"):
                example = name.upper().replace("-", "_").replace(".", "_") + "_PORT"
                if variable_problem(example) is not None:
                    example = "APP_PORT"
                text += f"; name the service's own variable instead, such as {example!r}"
            self.problem((*where, "env"), text)
            return None
        return value

    def service_name(self, where: KeyPath, name: str) -> bool:
        # The name is the identity's third part: it must pass the same rule as `-n NAME`.
        try:
            names.check_identity_part("service name", name)
        except InvalidValueError as exc:
            self.problem(where, exc.message.rstrip("."))
            return False
        if not name:
            self.problem(where, "a service name cannot be empty")
            return False
        return True

    def clashes(self, services: tuple[Service, ...]) -> None:
        owner: dict[str, Service] = {}
        for service in services:
            for variable in (
                service.port_variable,
                service.url_variable,
                service.public_variable,
            ):
                first = owner.setdefault(variable, service)
                if first is service:
                    continue
                # One message per service: its URL variable clashes whenever its port one does.
                self.problem(
                    ("services", service.name, "env"),
                    f"[services.{_key_text(service.name)}] exports {variable}, which "
                    f"[services.{_key_text(first.name)}] (line {first.line}) exports too; "
                    "set env to another name",
                )
                break


def _unknown(key: str, known: tuple[str, ...], where: str) -> str:
    import difflib

    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f"unknown key {key!r} {where}; did you mean {close[0]!r}?"
    if len(known) == 1:
        return f"unknown key {key!r} {where}; the only key there is {known[0]!r}"
    return f"unknown key {key!r} {where}; the known keys are {', '.join(map(repr, known))}"


def _key_text(name: str) -> str:
    """A key as it would be written in a header: bare when it can be, quoted otherwise."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else '"' + name.replace('"', '\\"') + '"'


def _kind(value: Any) -> str:
    """The TOML word for a value's type, for messages such as `must be a string, not ...`."""
    from datetime import date, datetime, time

    # bool before int: True is an int to isinstance.
    kinds: tuple[tuple[type | tuple[type, ...], str], ...] = (
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a float"),
        (str, "a string"),
        (list, "an array"),
        (dict, "a table"),
        ((datetime, date, time), "a date or time"),
    )
    for kind, word in kinds:
        if isinstance(value, kind):
            return word
    return type(value).__name__
