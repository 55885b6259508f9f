"""The command table: every command of the command line, its options and its arguments, once.

Two readers build on it and nothing else describes a command:

- `styxy.cli.typed` builds the typer app from it, for `--help`, completion and usage errors;
- `styxy.cli.fast` parses plain words with it and runs the command without importing typer
  (typer, click and the app cost about 40 ms at every start; a whole `styxy allocate` may
  take 30), and hands anything it does not fully understand to typer.

Adding a command or an option is one entry here plus the parameter of the function that runs
it (`target`, "module:function"); `tests/cli/test_cli_table.py` checks that the two paths parse
every entry alike and that every target takes exactly the parameters its entry declares.

The entries are plain slotted classes, not dataclasses: this module is read at every start,
and `import dataclasses` alone (it imports `inspect`) costs more than the rest of it.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from collections.abc import Callable

# What a parameter holds; each kind has one converter below, which the fast path uses and
# the typer side mirrors with the click type `styxy.cli.typed` gives that kind.
TEXT = "text"
FLAG = "flag"
INT = "int"
PORT = "port"
PID = "pid"  # a process id: 1..MAX_PID
CHOICE = "choice"
WORDS = "words"  # an argument that takes every remaining word

MAX_PORT = 65535  # styxy.vocabulary's MAX_PORT and MAX_PID, repeated so that this module
MAX_PID = 4_194_304  # imports nothing (tests/cli/test_cli_table.py holds them equal)


class Option:
    """One option: its flags (`-s`, `--service-type`), the parameter it fills, its kind."""

    __slots__ = (
        "choices",
        "complete",
        "default",
        "dest",
        "flags",
        "help",
        "kind",
        "metavar",
        "required",
    )

    def __init__(
        self,
        dest: str,
        *flags: str,
        kind: str = TEXT,
        default: object = None,
        help: str | None = None,
        metavar: str | None = None,
        required: bool = False,
        choices: tuple[str, ...] = (),
        complete: str | None = None,
    ) -> None:
        self.dest = dest
        self.flags = flags
        self.kind = kind
        self.default = False if kind == FLAG else default
        self.help = help
        self.metavar = metavar
        self.required = required
        self.choices = choices
        self.complete = complete  # what the shell completes: SERVICE_TYPES or SETTINGS


class Argument:
    """One positional argument; a WORDS argument takes every remaining word."""

    __slots__ = ("complete", "default", "dest", "help", "kind", "metavar", "required")

    def __init__(
        self,
        dest: str,
        *,
        kind: str = TEXT,
        metavar: str | None = None,
        required: bool = True,
        default: object = None,
        complete: str | None = None,
        help: str | None = None,
    ) -> None:
        self.dest = dest
        self.kind = kind
        self.metavar = metavar
        self.required = required
        self.default = default
        self.complete = complete
        self.help = help


Param = Option | Argument


class Command:
    """A command: its words (`("config", "show")`), the function that runs it, its parameters.

    `lenient` commands (the hook handlers) accept unknown words and hand them to the target
    as `extra`; `loose` commands (`config set`) take unknown dash words as values; `trailing`
    commands (`run`) take the words after `--` as their WORDS argument. `lasting` commands
    keep running (a server, a child's supervisor): only they keep Python's cycle collector on
    the fast path (`styxy.cli.fast.run`).
    """

    __slots__ = ("help", "lasting", "lenient", "loose", "params", "target", "trailing", "words")

    def __init__(
        self,
        words: tuple[str, ...],
        target: str,
        help: str,
        *params: Param,
        lenient: bool = False,
        loose: bool = False,
        trailing: bool = False,
        lasting: bool = False,
    ) -> None:
        self.words = words
        self.target = target
        self.help = help
        self.params = params
        self.lenient = lenient
        self.loose = loose
        self.trailing = trailing
        self.lasting = lasting

    @property
    def name(self) -> str:
        return self.words[-1]


class Group:
    """Words that hold commands (`styxy config ...`, `styxy interceptor bpf ...`)."""

    __slots__ = ("help", "words")

    def __init__(self, words: tuple[str, ...], help: str) -> None:
        self.words = words
        self.help = help

    @property
    def name(self) -> str:
        return self.words[-1]


# What the shell completes (typer's completion, `styxy.cli.typed`): the document's service
# types and their aliases, or the settings keys of `config get|set`.
SERVICE_TYPES = "service-types"
SETTINGS = "settings"

# ---------------------------------------------------------------------------------------------
# Options several commands share: one definition each.

DOC = Option(
    "doc",
    "--doc",
    help="The document (default: $STYXY_DOC, ~/docs/CORE/PORT_MANAGEMENT.md).",
)
JSON = Option("json", "--json", kind=FLAG, help="One JSON object on stdout.")
# The command a command runs (`run`, `interceptor bpf exec`): every word after `--`.
COMMAND_WORDS = Argument("command", kind=WORDS, metavar="-- CMD [ARGS]...", required=False)
SERVICE_TYPE = Option("service_type", "-s", "--service-type", complete=SERVICE_TYPES)
INSTANCE_ID = Option("instance_id", "-i", "--instance-id")
NAME = Option("name", "-n", "--name")
PORT_OPTION = Option("port", "-p", "--port", kind=PORT)
PID_OPTION = Option("pid", "--pid", kind=PID, help="Holder process (default: the parent).")
YES = Option("yes", "--yes", kind=FLAG, help="Accept a proposed new range.")
NEW_TYPE = Option(
    "new_type",
    "--new-type",
    kind=FLAG,
    help="Add a range for a new service type even when its name is close to a known one.",
)
PROJECT = Option(
    "project",
    "--project",
    metavar="[DIR]",
    help="The project in DIR (default: the nearest styxy.toml above the current folder).",
)

# The root command's own options, before the subcommand. `-V` is eager: typer answers it.
ROOT_OPTIONS = (DOC, JSON)
ROOT_HELP = "Styxy: ends port conflicts on this machine."
ROOT_EPILOG = (
    "Exit codes: 0 success, 1 refused or failed, 2 usage error, 130 interrupted; "
    "check: 0 free, 1 in use, 2 cannot tell."
)

LEASES = "styxy.cli.leases"
PROJECTS = "styxy.cli.projects"
DOCUMENT = "styxy.cli.document"
SERVER = "styxy.cli.server"
PROXY = "styxy.cli.proxy"
AGENTS = "styxy.cli.agents"
SETTINGS_GROUP = "styxy.cli.settings"
INTERCEPTOR = "styxy.cli.interceptor"

# Each group after the one that holds it.
GROUPS = (
    Group(("config",), "Read and change settings and rules."),
    Group(("interceptor",), "The bind() interceptor (LD_PRELOAD)."),
    Group(
        ("interceptor", "bpf"),
        "The kernel bind program (cgroup BPF) for Go and static binaries.",
    ),
    Group(("hooks",), "Install styxy's hooks into an AI agent."),
    Group(("hook",), "The handlers an agent's hooks run (event JSON on stdin)."),
)

# In the order `styxy --help` lists them.
COMMANDS = (
    Command(
        ("allocate",),
        f"{LEASES}:allocate",
        "Allocate a port; stdout is the port alone, or JSON.",
        Option(
            "service_type",
            "-s",
            "--service-type",
            required=True,
            help="Service type, e.g. dev.",
            complete=SERVICE_TYPES,
        ),
        INSTANCE_ID,
        Option("name", "-n", "--name", default=""),
        Option("port", "-p", "--port", kind=PORT, help="Try this port first."),
        PID_OPTION,
        YES,
        NEW_TYPE,
        DOC,
        JSON,
    ),
    Command(
        ("release",),
        f"{LEASES}:release",
        "End a lease: LOCK_ID, -p PORT, -s TYPE [-i I] [-n N]; or -i I alone for all of I's.",
        Argument("lock_id", metavar="[LOCK_ID]", required=False),
        PORT_OPTION,
        SERVICE_TYPE,
        INSTANCE_ID,
        NAME,
        DOC,
        JSON,
    ),
    Command(
        ("list",),
        f"{LEASES}:list_leases",
        "Live leases (-s TYPE, -i INSTANCE: only those).",
        Option("verbose", "-v", "--verbose", kind=FLAG, help="Holder, command line, age, source."),
        Option(
            "service_type",
            "-s",
            "--service-type",
            help="Only this type's leases.",
            complete=SERVICE_TYPES,
        ),
        Option("instance_id", "-i", "--instance-id", help="Only this instance's leases."),
        DOC,
        JSON,
    ),
    Command(
        ("check",),
        f"{LEASES}:check",
        "Is PORT free? Exit 0 free, 1 in use, 2 when styxy cannot tell (as grep).",
        Argument("port", kind=PORT),
        DOC,
        JSON,
    ),
    Command(
        ("scan",),
        f"{LEASES}:scan",
        "Listeners in a port span, with their processes and leases.",
        Option("start", "--start", kind=PORT, default=1),
        Option("end", "--end", kind=PORT, default=MAX_PORT),
        DOC,
        JSON,
    ),
    Command(
        ("cleanup",),
        f"{LEASES}:cleanup",
        "Reap stale leases now and say which.",
        Option("dry_run", "--dry-run", kind=FLAG, help="Say what would go; change nothing."),
        DOC,
        JSON,
    ),
    Command(
        ("ranges",),
        f"{LEASES}:ranges",
        "Every range: type, span, instances, leased, listening and free ports, and a bar.",
        DOC,
        JSON,
    ),
    Command(
        ("use",),
        f"{LEASES}:use",
        "Port and holder of a running service (-p PORT, or -s TYPE / -n NAME [-i I]); exit 1 if none.",
        PORT_OPTION,
        SERVICE_TYPE,
        NAME,
        INSTANCE_ID,
        DOC,
        JSON,
    ),
    Command(
        ("env",),
        f"{PROJECTS}:env",
        "One port per service of styxy.toml: NAME_PORT and NAME_URL for each.",
        PROJECT,
        Option(
            "format_",
            "--format",
            kind=CHOICE,
            choices=("dotenv", "sh", "json"),
            help="dotenv (NAME=value, the default), sh (export lines) or json.",
        ),
        Option(
            "write",
            "--write",
            metavar="FILE",
            help="Put the variables in styxy's block of FILE (.env).",
        ),
        Option("release_", "--release", kind=FLAG, help="End the project's leases."),
        Option(
            "prune",
            "--prune",
            kind=FLAG,
            help="End the leases of every project whose folder is gone.",
        ),
        PID_OPTION,
        YES,
        NEW_TYPE,
        DOC,
        JSON,
    ),
    Command(
        ("run",),
        f"{PROJECTS}:run",
        "Run CMD with a port in $PORT (or a project's ports); release when CMD ends; exit with CMD's code.",
        SERVICE_TYPE,
        INSTANCE_ID,
        Option("name", "-n", "--name", default=""),
        Option("intercept", "--intercept", kind=FLAG, help="Preload the bind() interceptor."),
        Option("bpf", "--bpf", kind=FLAG, help="Run inside the kernel bind program's cgroup."),
        NEW_TYPE,
        PROJECT,
        DOC,
        # Only styxy's before `--` (errors as JSON); stdout is the child's. After `--` every
        # word, `--json` included, is the command's.
        JSON,
        COMMAND_WORDS,
        trailing=True,
        lasting=True,
    ),
    Command(
        ("validate",),
        f"{DOCUMENT}:validate",
        "Check documents; PATH:LINE: message per problem; exit 1 on any error.",
        Argument("files", kind=WORDS, metavar="[FILE]...", required=False),
        Option("strict", "--strict", kind=FLAG, help="Treat warnings as errors."),
        DOC,
        JSON,
    ),
    Command(
        ("iana",),
        f"{DOCUMENT}:iana",
        "IANA's assignments at PORT or for NAME; `iana import FILE_OR_URL` stores the registry.",
        Argument("query", metavar="PORT|NAME|import"),
        Argument("source", metavar="[FILE_OR_URL]", required=False),
        DOC,  # accepted as everywhere; the registry is not the document's
        JSON,
    ),
    Command(
        ("init",),
        f"{DOCUMENT}:init",
        "Write the default document.",
        Option("force", "--force", kind=FLAG, help="Replace an existing document."),
        DOC,
        JSON,
    ),
    Command(
        ("doctor",),
        f"{DOCUMENT}:doctor",
        "Paths, document health, leases, ephemeral range, interceptor status.",
        DOC,
        JSON,
    ),
    Command(
        ("serve",),
        f"{SERVER}:serve",
        "Serve the HTTP API and the dashboard on loopback (needs the extra 'server').",
        Option("port", "--port", kind=PORT, default=9876, help="The port to listen on."),
        Option("host", "--host", default="127.0.0.1", help="127.0.0.1, ::1 or localhost."),
        DOC,
        JSON,
        lasting=True,
    ),
    Command(
        ("proxy",),
        f"{PROXY}:proxy",
        "Serve every named lease at http://NAME.INSTANCE.localhost:PORT/ through Caddy.",
        Option("port", "--port", kind=PORT, default=1355, help="The port the proxy listens on."),
        Option("https", "--https", kind=FLAG, help="Serve HTTPS with Caddy's internal CA."),
        DOC,
        JSON,
        lasting=True,
    ),
    Command(
        ("url",),
        f"{PROXY}:url",
        "Print the URL of the running service NAME: http://NAME.INSTANCE.localhost:1355/.",
        Argument("name", metavar="NAME", help="The lease's name (-n of styxy run)."),
        INSTANCE_ID,
        Option(
            "direct",
            "--direct",
            kind=FLAG,
            help="Print http://localhost:PORT/ instead of the name's URL.",
        ),
        DOC,
        JSON,
    ),
    Command(
        ("mcp",),
        f"{AGENTS}:mcp",
        "Serve the Model Context Protocol on stdio (needs the extra 'agents').",
        DOC,
        # Accepted as everywhere: stdout is the protocol's JSON-RPC, and a refusal is one JSON
        # object.
        JSON,
        lasting=True,
    ),
    Command(
        ("config", "show"),
        f"{SETTINGS_GROUP}:show",
        "All settings.",
        DOC,
        JSON,
    ),
    Command(
        ("config", "get"),
        f"{SETTINGS_GROUP}:get",
        "One setting, e.g. auto-allocation.placement.",
        Argument("key", metavar="KEY", complete=SETTINGS),
        DOC,
        JSON,
    ),
    Command(
        ("config", "set"),
        f"{SETTINGS_GROUP}:set_",
        "Change a setting (KEY VALUE), or add a rule: auto-allocation-rule PATTERN [options].",
        Argument("key", metavar="KEY", complete=SETTINGS),
        Argument("value", metavar="VALUE"),
        Option("chunk_size", "--chunk-size", kind=INT),
        Option("placement", "--placement"),
        Option("preferred_range", "--preferred-range", kind=INT),
        DOC,
        JSON,
        # Negative numbers are values here (`lease-grace-seconds -5` must be refused for its
        # meaning, not mistaken for an option), so unknown dash words pass through as values.
        loose=True,
    ),
    Command(
        ("config", "unset"),
        f"{SETTINGS_GROUP}:unset",
        "Remove a rule: auto-allocation-rule PATTERN.",
        Argument("key", metavar="auto-allocation-rule"),
        Argument("pattern", metavar="PATTERN"),
        DOC,
        JSON,
    ),
    Command(
        ("config", "auto-allocation"),
        f"{SETTINGS_GROUP}:auto_allocation",
        "Settings, rules, auto-allocated ranges, recent audit lines.",
        DOC,
        JSON,
    ),
    Command(
        ("config", "undo-auto"),
        f"{SETTINGS_GROUP}:undo_auto",
        "Remove the newest auto-allocated range (or T's, or all).",
        SERVICE_TYPE,
        Option("all_ranges", "--all", kind=FLAG),
        Option("force", "--force", kind=FLAG, help="Also end live leases in the range."),
        DOC,
        JSON,
    ),
    Command(
        ("interceptor", "build"),
        f"{INTERCEPTOR}:build",
        "Compile the preload library with the system C compiler (or, --bpf, the BPF program).",
        Option("force", "--force", kind=FLAG, help="Rebuild even if present."),
        Option("bpf", "--bpf", kind=FLAG, help="Build the kernel bind program instead."),
        DOC,  # accepted as everywhere; the library is the user's, not the document's
        JSON,
    ),
    Command(
        ("interceptor", "path"),
        f"{INTERCEPTOR}:path",
        "Print the path of the built library.",
        DOC,
        JSON,
    ),
    Command(
        ("interceptor", "env"),
        f"{INTERCEPTOR}:env",
        "Print `export` lines for eval: LD_PRELOAD and STYXY_CACHE.",
        DOC,
        JSON,
    ),
    Command(
        ("interceptor", "dump"),
        f"{INTERCEPTOR}:dump",
        "Show the compiled cache in words.",
        DOC,
        JSON,
    ),
    Command(
        ("interceptor", "bpf", "attach"),
        f"{INTERCEPTOR}:bpf_attach",
        "Attach the bind programs to a cgroup (root, once); fill their maps.",
        Option("cgroup", "--cgroup", help="cgroup v2 folder (default <cgroup2>/styxy)."),
        Option("user", "--user", help="Who may update the maps (default: the sudo user)."),
        DOC,
        JSON,
    ),
    Command(
        ("interceptor", "bpf", "detach"),
        f"{INTERCEPTOR}:bpf_detach",
        "Detach the programs; remove their pins and the cgroup attach made.",
        DOC,
        JSON,
    ),
    Command(
        ("interceptor", "bpf", "status"),
        f"{INTERCEPTOR}:bpf_status",
        "What is attached where, how many binds it watched and moved, its last events.",
        DOC,
        JSON,
    ),
    Command(
        ("interceptor", "bpf", "exec"),
        f"{INTERCEPTOR}:bpf_exec",
        "Run CMD inside the attached cgroup, so its binds are moved off busy ports.",
        DOC,
        # Only styxy's before `--` (errors as JSON); stdout is the command's.
        JSON,
        COMMAND_WORDS,
        trailing=True,
        lasting=True,
    ),
    Command(
        ("hooks", "claude-code"),
        f"{AGENTS}:hooks_claude_code",
        "Print Claude Code's SessionStart/SessionEnd hooks as settings JSON, or install them.",
        Option(
            "interceptor",
            "--interceptor",
            kind=FLAG,
            help="Also export LD_PRELOAD and STYXY_CACHE to the session.",
        ),
        Option("install", "--install", kind=FLAG, help="Merge the hooks into a settings file."),
        Option(
            "uninstall",
            "--uninstall",
            kind=FLAG,
            help="Remove styxy's hooks, and only those, from a settings file.",
        ),
        Option(
            "scope",
            "--scope",
            default="project",
            help="project: .claude/settings.json, user: ~/.claude/settings.json, "
            "local: .claude/settings.local.json.",
        ),
        DOC,
        JSON,
    ),
    # Claude Code must never be blocked by a hook (exit 2 would), so the handlers accept and
    # ignore unknown words and turn every problem into a warning on stderr and exit 0.
    Command(
        ("hook", "session-start"),
        f"{AGENTS}:session_start",
        "SessionStart: export STYXY_INSTANCE_ID to $CLAUDE_ENV_FILE, print the context.",
        Option("interceptor", "--interceptor", kind=FLAG, help="Export the interceptor too."),
        DOC,
        JSON,  # the answer is JSON already
        lenient=True,
    ),
    Command(
        ("hook", "session-end"),
        f"{AGENTS}:session_end",
        "SessionEnd: end every lease of the session's instance id.",
        DOC,
        JSON,
        lenient=True,
    ),
)


def dests(command: Command) -> list[str]:
    """The parameters the target of `command` takes, in order (`extra` for lenient ones)."""
    return [param.dest for param in command.params] + (["extra"] if command.lenient else [])


def find(words: tuple[str, ...]) -> Command | None:
    return next((command for command in COMMANDS if command.words == words), None)


def target(command: Command) -> Callable[..., int | None]:
    """The function that runs `command`, imported only now."""
    import sys

    module, _, name = command.target.partition(":")
    __import__(module)  # rather than importlib, which imports warnings on the way
    function: Callable[..., int | None] = getattr(sys.modules[module], name)
    return function
