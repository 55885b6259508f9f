"""The HTTP API against its own OpenAPI document, by Schemathesis: generated requests, valid
and invalid, to a real `styxy serve` on loopback. No answer is a 5xx, and every answer is one
the document declares (status, content type, body schema, headers).

The example count is bounded so the whole run stays well under a minute on CI.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from server_support import *  # Server, and the module fixtures cli and server

from styxy.server.openapi import document
from styxy.server.routes import ENDPOINTS

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


# The document the server serves at /openapi.json, built from the same route table (the first
# test holds them equal); loaded here because the test parameters are made at collection.
schema = schemathesis.openapi.from_dict(document(ENDPOINTS))


def test_the_served_document_is_the_one_tested(server: Server) -> None:
    answer = server.request("GET", "/openapi.json")
    assert answer.status == 200
    assert answer.json() == json.loads(json.dumps(document(ENDPOINTS)))


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_5xx_and_no_answer_outside_the_document(case: Any, server: Server) -> None:
    case.call_and_validate(
        base_url=f"http://127.0.0.1:{server.port}",
        headers={"Authorization": f"Bearer {server.token}"},
        checks=CHECKS,
        timeout=30,
    )
