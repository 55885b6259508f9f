"""Host names from leases (`styxy.api.urls`), the Caddy config built from them, and
`styxy url NAME`, which every front end answers alike."""

from __future__ import annotations

import os

import pytest

from styxy.api import urls
from styxy.proxy import config
from styxy.store.leases import Lease


def lease(name: str, instance: str, port: int, created: float = 1.0, kind: str = "dev") -> Lease:
    return Lease(f"id{port}", port, kind, instance, name, 1, None, created, "run")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("web", "web"),
        ("Web_UI", "web-ui"),
        ("my.app-3f2a9c1d", "my-app-3f2a9c1d"),
        ("claude-0f1e@host", "claude-0f1e-host"),
        ("--", None),
        ("", None),
        ("a" * 80, "a" * 63),
    ],
)
def test_a_name_becomes_one_dns_label(text, expected):
    assert urls.label(text) == expected


def test_short_names_exist_only_while_one_instance_has_the_name():
    found = urls.routes(
        [
            lease("web", "feature", 3001),
            lease("web", "main", 3002),
            lease("api", "feature", 8001),
            lease("", "feature", 3003),  # no name, no route
            lease("caddy", "default", 1355, kind="proxy"),  # the proxy's own
        ]
    )
    assert [(r.host, r.port, r.short) for r in found] == [
        ("api.feature.localhost", 8001, False),
        ("api.localhost", 8001, True),
        ("web.feature.localhost", 3001, False),
        ("web.main.localhost", 3002, False),
    ]


def test_two_leases_with_one_host_give_it_to_the_older():
    found = urls.routes(
        [lease("web", "feature", 8001, created=5.0, kind="api"), lease("Web", "feature", 3001, created=2.0)]
    )
    assert [(r.host, r.port) for r in found] == [("web.feature.localhost", 3001), ("web.localhost", 3001)]


def test_the_running_proxy_is_read_from_its_lease():
    assert urls.running_proxy([lease("web", "a", 3001)]) is None
    https = urls.running_proxy([lease("caddy-https", "default", 8443, kind="proxy")])
    assert https == urls.Proxy(8443, https=True)
    assert https.url("web.a.localhost") == "https://web.a.localhost:8443/"


def test_the_plain_config_turns_automatic_https_off_and_speaks_h2c():
    route = urls.routes([lease("web", "feature", 3001)])
    built = config.build(
        admin="127.0.0.1:8100", proxy=urls.Proxy(1355, False), listen=("127.0.0.1",), routes=route
    )
    assert built["admin"] == {"listen": "127.0.0.1:8100", "config": {"persist": False}}
    server = built["apps"]["http"]["servers"]["styxy"]
    assert server["listen"] == ["127.0.0.1:1355"]
    assert server["automatic_https"] == {"disable": True}
    assert server["protocols"] == ["h1", "h2", "h2c"]
    assert server["routes"][0] == {
        "match": [{"host": ["web.feature.localhost"]}],
        "handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": "localhost:3001"}]}],
        "terminal": True,
    }
    assert server["routes"][-1]["handle"][0]["status_code"] == 404
    assert "tls" not in built["apps"]


def test_the_https_config_uses_the_internal_issuer_and_installs_no_trust():
    built = config.build(
        admin="127.0.0.1:8100", proxy=urls.Proxy(1355, True), listen=("127.0.0.1", "[::1]"), routes=()
    )
    server = built["apps"]["http"]["servers"]["styxy"]
    assert server["listen"] == ["127.0.0.1:1355", "[::1]:1355"]
    assert server["automatic_https"] == {"disable_redirects": True}
    assert built["apps"]["tls"]["automation"]["policies"] == [
        {"issuers": [{"module": "internal"}], "on_demand": True}
    ]
    assert built["apps"]["pki"] == {"certificate_authorities": {"local": {"install_trust": False}}}


# ---------------------------------------------------------------------------- styxy url


def allocate(styxy, name: str, instance: str) -> int:
    done = styxy("allocate", "-s", "dev", "-n", name, "-i", instance, "--pid", str(os.getpid()))
    assert done.code == 0, done.err
    return int(done.out)


def test_url_prints_the_names_url_and_says_when_no_proxy_runs(styxy):
    port = allocate(styxy, "web", "feature")
    done = styxy("url", "web")
    assert done.code == 0
    assert done.out == "http://web.feature.localhost:1355/\n"
    assert done.err == (
        "styxy: no styxy proxy runs, so this name does not answer yet; start one with "
        f"`styxy proxy`, or use http://localhost:{port}/ (its port can change)\n"
    )
    assert styxy("url", "web", "--direct").out == f"http://localhost:{port}/\n"
    assert styxy("url", "web", "--json").json() == {
        "name": "web",
        "instanceId": "feature",
        "serviceType": "dev",
        "port": port,
        "url": "http://web.feature.localhost:1355/",
        "directUrl": f"http://localhost:{port}/",
        "proxied": False,
    }


def test_url_uses_the_running_proxys_port(styxy):
    allocate(styxy, "web", "feature")
    done = styxy("allocate", "-s", "proxy", "-n", "caddy", "-p", "21999", "--pid", str(os.getpid()))
    assert done.code == 0
    url = styxy("url", "web")
    assert (url.out, url.err) == ("http://web.feature.localhost:21999/\n", "")


def test_url_chooses_among_instances(styxy):
    allocate(styxy, "web", "feature")
    allocate(styxy, "web", "main")
    both = styxy("url", "web")
    assert both.code == 1
    assert both.err == (
        "styxy: 'web' runs in several instances (feature, main); choose one with -i INSTANCE.\n"
    )
    assert styxy("url", "web", "-i", "main").out == "http://web.main.localhost:1355/\n"
    # The session's own instance is preferred, as `allocate` would use it.
    mine = styxy("url", "web", env={"STYXY_INSTANCE_ID": "feature"})
    assert mine.out == "http://web.feature.localhost:1355/\n"


def test_url_of_nothing_running_is_one_sentence(styxy):
    done = styxy("url", "web")
    assert (done.code, done.out) == (1, "")
    assert done.err == (
        "styxy: nothing named 'web' is running; start it with: styxy run -s TYPE -n web -- CMD.\n"
    )
    allocate(styxy, "web", "feature")
    other = styxy("url", "web", "-i", "main", "--json")
    assert other.code == 1
    assert other.json() == {
        "error": "nothing named 'web' is running in instance 'main'; start it with: styxy run "
        "-s TYPE -n web -- CMD.",
        "code": 1,
    }
