"""Numbers and nesting in requests are bounded (SPEC sections 17 and 18): 10^400, 5,000 digits,
NaN and JSON nested beyond 64 levels are a 400 with one sentence, never a 500 or a hang."""

from __future__ import annotations

import pytest
from server_support import *  # Server, and the module fixtures cli and server
from support import Styxy

HUGE = "1" + "0" * 5000


@pytest.mark.parametrize(
    ("body", "sentence"),
    [
        (f'{{"service_type": "dev", "pid": {HUGE}}}'.encode(),
         "the body is not valid JSON (an integer longer than 20 digits)."),
        (f'{{"service_type": "dev", "preferred_port": {HUGE}}}'.encode(),
         "the body is not valid JSON (an integer longer than 20 digits)."),
        (b'{"service_type": "dev", "pid": 1' + b"0" * 400 + b"}",
         "the body is not valid JSON (an integer longer than 20 digits)."),
        (b'{"service_type": "dev", "pid": 1000000000000000}',
         "pid must be a process id from 1 to 4194304, not 1000000000000000."),
        (b'{"service_type": "dev", "pid": NaN}',
         "the body is not valid JSON (NaN is not a number JSON allows)."),
        (b'{"service_type": "dev", "pid": 1e400}',
         "pid must be a process id from 1 to 4194304, not Infinity."),
        (b'{"service_type": "dev", "x": ' + b"[" * 65 + b"]" * 65 + b"}",
         "the body is nested deeper than 64 levels."),
        (b"[" * 60000, "the body is nested deeper than 64 levels."),
    ],
    ids=["pid-5001-digits", "port-5001-digits", "pid-10^400", "pid-past-pid_max", "NaN", "1e400",
         "65-levels", "60000-brackets"],
)  # fmt: skip
def test_an_unbounded_number_or_nesting_is_a_400_and_changes_nothing(
    server: Server, cli: Styxy, body: bytes, sentence: str
) -> None:
    before = cli.snapshot()
    answer = server.request("POST", "/allocate", raw=body)
    assert (answer.status, answer.json()) == (400, {"error": sentence, "code": 2}), answer.body
    assert cli.snapshot() == before


def test_sixty_four_levels_are_still_read(server: Server) -> None:
    body = b'{"service_type": "dev", "x": ' + b"[" * 63 + b"]" * 63 + b"}"
    answer = server.request("POST", "/allocate", raw=body)
    # Read, and refused for what it says, not for how deep it is.
    assert answer.status == 400
    assert answer.json()["error"].startswith("unknown parameter 'x'")


def test_a_port_of_five_thousand_digits_in_the_path_is_a_400(server: Server) -> None:
    answer = server.request("GET", f"/check/{HUGE}")
    assert (answer.status, answer.json()) == (
        400,
        {
            "error": "port must be a port number from 1 to 65535, not "
            f"'{'1' + '0' * 39}...'.",
            "code": 2,
        },
    )
    assert server.request("GET", "/status").status == 200


@pytest.mark.parametrize(
    ("path", "sentence"),
    [
        ("/allocations?verbos=1",
         "unknown parameter 'verbos'; the parameters are verbose."),
        ("/audit?limit=5", "unknown parameter 'limit'; there are no parameters here."),
        ("/status?x=1", "unknown parameter 'x'; there are no parameters here."),
        ("/allocations?verbose=ture",
         "verbose must be one of 1, true, yes, 0, false, no, not 'ture'."),
        ("/allocations?verbose=1&verbose=0", "verbose is given more than once; give it once."),
    ],
)  # fmt: skip
def test_a_query_parameter_a_route_does_not_read_is_a_400(
    server: Server, path: str, sentence: str
) -> None:
    # As a body's unknown field is: a typo in ?verbose= no longer passes in silence.
    answer = server.request("GET", path)
    assert (answer.status, answer.json()) == (400, {"error": sentence, "code": 2}), answer.body
    assert server.request("GET", "/allocations?verbose=1").status == 200
    assert server.request("GET", "/?utm_source=x").status == 200  # the page takes any query
