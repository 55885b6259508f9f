"""The key-line scanner: every way TOML can name a key lands on the line that names it."""

from __future__ import annotations

import tomllib

from styxy.project.tomlmap import key_lines, line_of

TEXT = """\
# comment [services.not_a_header]
[services . "web.app"]
type = 'dev'
'env' = "X_PORT"
[ services.api ]  # spaced
  type = "api"
notes = '''
[services.fake]
fake = 1
'''
services.db.type = "database"
[[services.jobs]]
type = "dev"
"""


def test_every_key_maps_to_its_line():
    tomllib.loads(TEXT)  # the scanner only ever sees files tomllib accepted
    lines = key_lines(TEXT)
    assert lines[("services", "web.app")] == 2
    assert lines[("services", "web.app", "type")] == 3
    assert lines[("services", "web.app", "env")] == 4
    assert lines[("services", "api")] == 5
    assert lines[("services", "api", "type")] == 6
    assert lines[("services", "api", "notes")] == 7
    assert ("services", "fake") not in lines and ("services", "not_a_header") not in lines
    assert lines[("services", "api", "services", "db", "type")] == 11
    assert lines[("services", "jobs", "type")] == 13
    assert lines[("services",)] == 2


def test_line_of_falls_back_to_the_nearest_named_prefix():
    lines = key_lines('[services]\nweb = { type = "dev", extra = 1 }\n')
    assert line_of(lines, ("services", "web", "extra")) == 2
    assert line_of(lines, ("nowhere",)) == 1
