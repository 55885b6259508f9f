"""docs/integrations/http-api.md's curl examples, run as written against `styxy serve`.

The server runs on the default document in a private HOME, so `~/docs/CORE/.styxy/token` is
the path the page shows; only the port is a free one instead of 9876.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from server_support import Server, free_port
from support import DEFAULT_DOC, ROOT, Styxy

PAGE = ROOT / "docs" / "integrations" / "http-api.md"


def curl_block() -> list[str]:
    text = PAGE.read_text(encoding="utf-8")
    start = text.index("```shell\nTOKEN=$(cat ")
    block = text[start:].split("\n", 1)[1].split("\n```\n", 1)[0]
    return block.splitlines()


def test_the_curl_examples_answer_as_the_page_says(tmp_path: Path) -> None:
    home = tmp_path / "home"
    doc = home / "docs" / "CORE" / "PORT_MANAGEMENT.md"
    doc.parent.mkdir(parents=True)
    shutil.copyfile(DEFAULT_DOC, doc)
    cli = Styxy(doc, home)
    port = free_port()
    server = Server(cli, tmp_path / "serve.log", port=port)
    try:
        lines = [line.replace("9876", str(port)) for line in curl_block()]
        assert lines[0] == "TOKEN=$(cat ~/docs/CORE/.styxy/token)"
        token = subprocess.run(
            ["bash", "-c", f"{lines[0]} && printf %s \"$TOKEN\""],
            capture_output=True, text=True, env=cli.env, check=True,
        ).stdout
        assert token == server.token
        outputs: list[str] = []
        lock_id = ""
        for line in lines[1:]:
            run = subprocess.run(
                ["bash", "-c", line.replace("LOCK_ID", lock_id)],
                capture_output=True, text=True, env={**cli.env, "TOKEN": token}, timeout=60,
            )
            assert run.returncode == 0, (line, run.stderr)
            outputs.append(run.stdout)
            if "/allocate" in line and "-d " in line:
                lock_id = json.loads(run.stdout)["lockId"]
        status, refused, allocated, listed, checked, ranges, audit, ended, spec = outputs
        assert json.loads(status) == {"status": "ok", "version": "0.1.0"}
        assert refused == "401\n"
        made = json.loads(allocated)
        assert (made["serviceType"], made["name"], made["port"]) == ("dev", "web", 3000)
        # Beside the one made, the server's own lease of its port, held by the server.
        leases = {x["lockId"]: x for x in json.loads(listed)["leases"]}
        assert set(leases) - {lock_id} == {
            x["lockId"] for x in leases.values() if (x["serviceType"], x["name"]) == ("coordination", "serve")
        }
        assert lock_id in leases and len(leases) == 2
        found = json.loads(checked)
        assert (found["port"], found["free"], found["lease"]["lockId"]) == (3000, False, lock_id)
        assert json.loads(ranges)["ranges"][0]["serviceType"] == "dev"
        assert json.loads(audit) == {"audit": []}
        assert json.loads(ended)["lockId"] == lock_id
        assert json.loads(spec)["openapi"] == "3.1.0"
    finally:
        server.stop()
    assert cli("list", "--json").json() == {"leases": []}
