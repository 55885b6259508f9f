"""Well-known developer ports: where popular tools listen by default, registered or not.

IANA's registry says who may claim a port; it does not say where a laptop's PostgreSQL, Chrome
DevTools or Ollama will actually turn up. This list does. A range that covers one of these
ports is asking for a clash with that tool, unless the range is *for* that tool: each entry
names the service types (and families, the part of a type before its first '-') it is about.
`database` is about 5432, `ai` about 11434, `test` about Chrome's 9222-9229.

Chosen by three tests: the tool is common on developer machines, it listens on the port by
default (not after configuration), and the port is not already covered by a shipped default
row of another kind (SPEC section 3 fixes those rows; see docs/references/IANA_PORT_REGISTRY.md
for the ports left out on that account, such as Prometheus's 9090).

Pure data and two small functions: no I/O, cheap to import.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from styxy.records import record


@record
class DevPort:
    low: int
    high: int
    tool: str  # as a person would name it in a warning: "Chrome DevTools"
    about: frozenset[str]  # service types or families this port belongs to


def _entry(ports: str, tool: str, about: str) -> DevPort:
    low, _, high = ports.partition("-")
    return DevPort(int(low), int(high or low), tool, frozenset(about.split()))


DEV_PORTS: tuple[DevPort, ...] = (
    _entry("1433", "Microsoft SQL Server", "database db mssql sqlserver"),
    _entry("1521", "Oracle Database", "database db oracle"),
    _entry("2181", "ZooKeeper", "coordination zookeeper kafka messaging"),
    _entry("2375-2376", "Docker daemon API", "docker infrastructure"),
    _entry("2379-2380", "etcd", "etcd coordination infrastructure"),
    _entry("3000", "Node.js and React dev servers, Grafana", "dev web frontend grafana"),
    _entry("3306", "MySQL", "database db mysql mariadb"),
    _entry("4222", "NATS", "nats messaging broker queue"),
    _entry("4317", "OpenTelemetry OTLP/gRPC", "otel opentelemetry monitoring tracing collector"),
    _entry("4318", "OpenTelemetry OTLP/HTTP", "otel opentelemetry monitoring tracing collector"),
    _entry("5173", "Vite dev server", "dev web frontend vite"),
    _entry("5432", "PostgreSQL", "database db postgres postgresql"),
    _entry("5672", "RabbitMQ (AMQP)", "rabbitmq amqp messaging broker queue"),
    _entry("6379", "Redis", "redis valkey cache infrastructure"),
    _entry("6443", "Kubernetes API server", "kubernetes k8s infrastructure"),
    _entry("8080", "HTTP alternate (Tomcat, Jenkins, dev proxies)", "web http api proxy dev"),
    _entry("8888", "Jupyter", "jupyter notebook ai"),
    _entry("9092", "Kafka", "kafka messaging broker queue"),
    _entry("9222-9229", "Chrome DevTools and Node.js inspector", "test debug browser devtools"),
    _entry("9411", "Zipkin", "zipkin tracing monitoring"),
    _entry("11211", "memcached", "memcached cache infrastructure"),
    _entry("11434", "Ollama", "ai ollama llm"),
    _entry("15672", "RabbitMQ management UI", "rabbitmq amqp messaging broker queue"),
    _entry("16686", "Jaeger UI", "jaeger tracing monitoring"),
    _entry("27017", "MongoDB", "database db mongo mongodb"),
    _entry("35729", "LiveReload", "dev build livereload"),
)

# Sorted single ports and the entry of each, for bisect: the list is small, but placement asks
# about many windows.
_PORTS: tuple[int, ...] = tuple(p for e in DEV_PORTS for p in range(e.low, e.high + 1))
_ENTRY_AT: dict[int, DevPort] = {p: e for e in DEV_PORTS for p in range(e.low, e.high + 1)}


def family(service_type: str) -> str:
    return service_type.split("-", 1)[0]


def is_about(entry: DevPort, service_type: str) -> bool:
    """Whether a row of `service_type` is meant for the tool at `entry` (its name or family)."""
    return service_type in entry.about or family(service_type) in entry.about


def covered(start: int, end: int) -> tuple[DevPort, ...]:
    """The entries with a port in [start, end], each once, lowest first."""
    ports = _PORTS[bisect_left(_PORTS, start) : bisect_right(_PORTS, end)]
    return tuple(dict.fromkeys(_ENTRY_AT[p] for p in ports))


def foreign_ports(service_type: str) -> tuple[int, ...]:
    """Sorted curated ports a range of `service_type` should stay off (those it is not about)."""
    return tuple(p for p in _PORTS if not is_about(_ENTRY_AT[p], service_type))


def at(port: int) -> DevPort | None:
    return _ENTRY_AT.get(port)
