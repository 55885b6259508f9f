"""The server and the command line allocate at the same time: one lock, no port twice."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

from server_support import Server
from support import Styxy, styxy_command

CLIENTS = 20


def test_http_clients_and_command_line_allocators_never_share_a_port(
    styxy: Styxy, tmp_path: Path
) -> None:
    server = Server(styxy, tmp_path / "serve.log")
    try:
        answers: list[tuple[int, dict[str, object]]] = []
        gate = threading.Barrier(CLIENTS + 1)

        def http_client(index: int) -> None:
            gate.wait()
            kind = ("dev", "api", "ai")[index % 3]
            answer = server.request(
                "POST", "/allocate", {"service_type": kind, "instance_id": f"http-{index}"}
            )
            answers.append((answer.status, answer.json()))

        threads = [threading.Thread(target=http_client, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        gate.wait()
        processes = [
            subprocess.Popen(
                [*styxy_command(), "--doc", str(styxy.doc), "allocate", "-s",
                 ("dev", "api", "ai")[i % 3], "-i", f"cli-{i}", "--json"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=styxy.env,
            )
            for i in range(CLIENTS)
        ]
        outputs = [p.communicate(timeout=120) for p in processes]
        for thread in threads:
            thread.join(timeout=120)

        assert [p.returncode for p in processes] == [0] * CLIENTS, outputs
        assert all("Traceback" not in err for _, err in outputs)
        assert sorted(status for status, _ in answers) == [200] * CLIENTS, answers
        import json

        given = [body for _, body in answers] + [json.loads(out) for out, _ in outputs]
        # `ai` is single-instance: every request of it shares the one lease.
        ai = [x for x in given if x["serviceType"] == "ai"]
        assert len({x["port"] for x in ai}) == 1
        assert sum(1 for x in ai if not x["existing"]) == 1
        others = [x for x in given if x["serviceType"] != "ai"]
        assert len({x["port"] for x in others}) == len(others)
        assert not {x["port"] for x in ai} & {x["port"] for x in others}

        # The server's own lease of its port is listed too (SPEC 17).
        listed = [
            x for x in styxy("list", "--json").json()["leases"] if x["serviceType"] != "coordination"
        ]
        assert len(listed) == len(others) + 1
        assert len({x["port"] for x in listed}) == len(listed)
        assert sorted(x["source"] for x in listed if x["serviceType"] != "ai") == sorted(
            ["api"] * sum(1 for x in others if str(x["instanceId"]).startswith("http"))
            + ["cli"] * sum(1 for x in others if str(x["instanceId"]).startswith("cli"))
        )
        validate = styxy("validate")
        assert validate.code == 0, validate.err
    finally:
        server.stop()
