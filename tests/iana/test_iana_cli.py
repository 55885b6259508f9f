"""`styxy iana import`, `styxy iana PORT|NAME` and `styxy check`, through the real command."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

from iana_support import SAMPLE_CSV, http_server, send, shared_registry
from support import styxy_command

POSTGRES_TCP = {
    "service": "postgresql",
    "protocol": "tcp",
    "port": 5432,
    "lastPort": 5432,
    "description": "PostgreSQL Database",
    "category": "user",
}
POSTGRES_UDP = {**POSTGRES_TCP, "protocol": "udp"}
POSTGRES_DEV = {"tool": "PostgreSQL", "port": 5432, "lastPort": 5432, "about": ["database", "db", "postgres", "postgresql"]}


def index_of(styxy) -> Path:
    return styxy.home / "styxy-data" / "iana-index.json"


def test_out_of_the_box_a_lookup_reads_the_shipped_index(styxy):
    done = styxy("iana", "5432")
    assert (done.code, done.err) == (0, "")
    assert done.out == (
        "port 5432: User Ports 1024-49151\n"
        "postgresql  5432/tcp  user  PostgreSQL Database\n"
        "postgresql  5432/udp  user  PostgreSQL Database\n"
        "well-known developer port 5432: PostgreSQL (about: database, db, postgres, postgresql)\n"
        "source: IANA's registry of 2024-03-18 (shipped with styxy)\n"
    )


def test_without_the_shipped_index_a_lookup_reads_etc_services(styxy, tmp_path):
    # /etc/services comes from netbase; CI installs it. Its postgresql line has a comment.
    done = styxy("iana", "5432", env={"STYXY_SHIPPED_IANA": str(tmp_path / "gone.json.gz")})
    assert (done.code, done.err) == (0, "")
    assert done.out == (
        "port 5432: User Ports 1024-49151\n"
        "postgresql  5432/tcp  user  PostgreSQL Database\n"
        "well-known developer port 5432: PostgreSQL (about: database, db, postgres, postgresql)\n"
        "source: /etc/services\n"
    )


def test_another_services_file_and_none_at_all(styxy, tmp_path):
    services = tmp_path / "services"
    services.write_text("web\t8123/tcp\t\t# A test service\n")
    no_index = {"STYXY_SHIPPED_IANA": str(tmp_path / "gone.json.gz")}
    found = styxy("iana", "web", "--json", env={**no_index, "STYXY_SERVICES": str(services)}).json()
    assert found["assignments"] == [
        {"service": "web", "protocol": "tcp", "port": 8123, "lastPort": 8123, "description": "A test service", "category": "user"}
    ]
    assert found["source"] == {"kind": "services", "path": str(services), "updated": "", "origin": ""}
    missing = {**no_index, "STYXY_SERVICES": str(tmp_path / "nothing")}
    done = styxy("iana", "postgresql", env=missing)
    assert (done.code, done.out) == (1, "")
    assert done.err == (
        "styxy: no registry data to look 'postgresql' up in: import IANA's registry with `styxy iana "
        "import https://www.iana.org/assignments/service-names-port-numbers/service-names-port-numbers.xml`, "
        "or install /etc/services (netbase).\n"
    )
    port = styxy("iana", "49160", "--json", env=missing).json()
    assert (port["category"], port["assignments"], port["source"]["kind"]) == ("dynamic", [], "none")


def test_import_the_registry_then_look_up_ports_and_names(styxy):
    registry = shared_registry()
    done = styxy("iana", "import", str(registry))
    assert done.code == 0, done.err
    index = index_of(styxy)
    assert done.out == f"imported 11716 assignments from IANA's XML registry of 2024-03-18 into {index}\n"
    assert index.stat().st_size < 1_000_000  # compact: the XML is 3.8 MB

    found = styxy("iana", "5432", "--json").json()
    assert found == {
        "query": "5432",
        "port": 5432,
        "category": "user",
        "assignments": [POSTGRES_TCP, POSTGRES_UDP],
        "developerPorts": [POSTGRES_DEV],
        "source": {"kind": "index", "path": str(index), "updated": "2024-03-18", "origin": str(registry)},
    }
    human = styxy("iana", "5432").out
    assert human.splitlines()[1:3] == [
        "postgresql  5432/tcp  user  PostgreSQL Database",
        "postgresql  5432/udp  user  PostgreSQL Database",
    ]
    assert human.endswith("source: IANA's registry of 2024-03-18 (imported)\n")
    # Names are case-insensitive (RFC 6335); a record may cover a span of ports.
    assert styxy("iana", "PostgreSQL", "--json").json()["assignments"] == [POSTGRES_TCP, POSTGRES_UDP]
    assert styxy("iana", "x11").out.splitlines()[0] == "x11  6000-6063/tcp  user  X Window System"
    http = styxy("iana", "80", "--json").json()
    assert (http["category"], http["assignments"][0]["service"]) == ("system", "http")
    chrome = styxy("iana", "9222").out
    assert "teamcoherence  9222/tcp  user  QSC Team Coherence" in chrome
    assert "well-known developer port 9222-9229: Chrome DevTools and Node.js inspector" in chrome
    nothing = styxy("iana", "49160")
    assert nothing.out.splitlines()[:2] == ["port 49160: Dynamic and/or Private Ports 49152-65535", "no IANA assignment"]


def test_a_lookup_reads_the_index_not_the_xml(styxy, tmp_path):
    copy = tmp_path / "registry.xml"
    shutil.copyfile(shared_registry(), copy)
    assert styxy("iana", "import", str(copy)).code == 0
    copy.unlink()
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "styxy", "iana", "5432"],
        capture_output=True, text=True, env=styxy.env, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "postgresql  5432/tcp" in done.stdout
    modules = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert not {"xml", "xml.parsers.expat", "pyexpat", "csv", "gzip", "urllib.request"} & modules, sorted(modules & {"xml", "pyexpat", "csv", "gzip", "urllib.request"})


def test_the_csv_imports_and_a_later_import_replaces_it(styxy):
    done = styxy("iana", "import", str(SAMPLE_CSV), "--json")
    assert done.code == 0, done.err
    first = done.json()
    assert (first["format"], first["updated"], first["records"], first["replaced"]) == ("csv", "2023-05-10", 9, "")
    assert first["origin"] == str(SAMPLE_CSV)
    assert styxy("iana", "redis", "--json").json()["assignments"] == [
        {"service": "redis", "protocol": "tcp", "port": 6379, "lastPort": 6379,
         "description": "An advanced key-value cache and store", "category": "user"}
    ]
    again = styxy("iana", "import", str(shared_registry()), "--json").json()
    assert (again["format"], again["updated"], again["replaced"]) == ("xml", "2024-03-18", "2023-05-10")


def test_a_refused_import_keeps_the_previous_index(styxy, tmp_path):
    assert styxy("iana", "import", str(SAMPLE_CSV)).code == 0
    index = index_of(styxy)
    before = index.read_bytes()
    truncated = tmp_path / "truncated.xml"
    truncated.write_bytes(shared_registry().read_bytes()[:1_000_000])
    html = tmp_path / "page.html"
    html.write_text("<!doctype html><html><body>Moved</body></html>\n")
    text = tmp_path / "notes.txt"
    text.write_text("postgresql is on 5432\n")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # nobody writes to it: reading it would hang
    cases = {
        str(fifo): f"styxy: {fifo} is not a regular file.\n",
        str(truncated): f"styxy: {truncated} was refused: the XML is incomplete or malformed (unclosed token, line 35179).\n",
        str(html): f"styxy: {html} is neither IANA's XML nor its CSV registry.\n",
        str(text): f"styxy: {text} is neither IANA's XML nor its CSV registry.\n",
        str(tmp_path): f"styxy: {tmp_path} is a folder, not a registry file.\n",
        "ftp://example.org/x.xml": "styxy: only http:// and https:// URLs can be imported, not 'ftp://example.org/x.xml'.\n",
    }
    for source, message in cases.items():
        done = styxy("iana", "import", source)
        assert (done.code, done.out, done.err) == (1, "", message), source
        assert index.read_bytes() == before
    usage = styxy("iana", "import")
    assert usage.code == 2 and usage.err.count("\n") == 1
    assert index.read_bytes() == before


def test_import_downloads_from_a_local_http_server(styxy):
    xml = shared_registry().read_bytes()
    with http_server(send(gzip.compress(xml))) as url:
        done = styxy("iana", "import", f"{url}/service-names-port-numbers.xml", "--json")
    assert done.code == 0, done.err
    assert (done.json()["origin"], done.json()["updated"]) == (f"{url}/service-names-port-numbers.xml", "2024-03-18")
    before = index_of(styxy).read_bytes()
    with http_server(send(b"no such page", status=404)) as url:
        missing = styxy("iana", "import", f"{url}/x.xml")
    assert (missing.code, missing.err) == (1, f"styxy: could not download {url}/x.xml: HTTP 404 Not Found.\n")
    # The server promises the whole registry and closes the connection half-way.
    with http_server(send(xml[: len(xml) // 2], length=len(xml))) as url:
        cut = styxy("iana", "import", f"{url}/x.xml")
    assert (cut.code, cut.err) == (
        1,
        f"styxy: could not download {url}/x.xml: the connection closed after {len(xml) // 2} of {len(xml)} bytes.\n",
    )
    assert index_of(styxy).read_bytes() == before


def test_a_damaged_index_is_said_plainly(styxy):
    index = index_of(styxy)
    index.parent.mkdir(parents=True)
    index.write_text('{"styxyIanaIndex": 1, "records": [["x"]]}')
    done = styxy("iana", "5432")
    assert (done.code, done.err) == (
        1, f"styxy: the IANA index {index} is damaged; run `styxy iana import FILE_OR_URL` again.\n"
    )


def test_bad_queries_get_one_sentence(styxy):
    # A port outside 1..65535 is a usage error, as on every command (`check 70000` too).
    done = styxy("iana", "70000")
    assert (done.code, done.err) == (2, "styxy: PORT must be a port number from 1 to 65535, not 70000.\n")
    assert styxy("iana", "a b").err == (
        "styxy: 'a b' is neither a port (1-65535) nor a service name (up to 63 characters without spaces).\n"
    )
    assert styxy("iana", "5432", "extra").code == 2


def test_check_names_the_assignment(styxy):
    assert styxy("iana", "import", str(SAMPLE_CSV)).code == 0
    done = styxy("check", "5432", "--json")
    assert done.json()["iana"] == [POSTGRES_TCP, POSTGRES_UDP]
    assert done.json()["serviceType"] == "database"
    human = styxy("check", "5432").out.splitlines()
    assert human[-1] == "assigned by IANA to postgresql (tcp, udp): PostgreSQL Database"
    unassigned = styxy("check", "11434", "--json").json()
    assert unassigned["iana"] == []
    assert not any(line.startswith("assigned by IANA") for line in styxy("check", "11434").out.splitlines())


def test_check_and_validate_still_answer_with_a_damaged_index(styxy):
    index = index_of(styxy)
    index.parent.mkdir(parents=True)
    index.write_text("not json")
    done = styxy("check", "11434", "--json")
    assert done.json()["iana"] == [] and done.json()["port"] == 11434
    assert f"the IANA index {index} is damaged" in done.err
    assert styxy("validate", "--strict").code == 0


def test_concurrent_imports_leave_one_whole_index(styxy):
    argv = [*styxy_command(), "iana", "import"]
    procs = [
        subprocess.Popen([*argv, str(source)], env=styxy.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for source in (SAMPLE_CSV, shared_registry(), SAMPLE_CSV)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0]
    found = styxy("iana", "5432", "--json").json()["source"]
    assert (found["kind"], found["updated"]) in {("index", "2023-05-10"), ("index", "2024-03-18")}
    leftovers = [p.name for p in index_of(styxy).parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
