"""The shipped default document is exactly what SPEC section 3 describes, and mdformat-clean."""

from __future__ import annotations

import shutil
import subprocess
import sys

from support import DEFAULT_DOC, FIXTURES

from styxy.document import parse
from styxy.document.model import AutoAllocation, Rule

SPEC_ROWS = [
    ("dev", 3000, 3099, "multi", (3000, 3001, 3002, 3003), "Frontend development servers (React, Next.js, Vite)"),
    ("monitoring", 3100, 3199, "multi", (3100, 3101, 3102, 3103), "Development monitoring and metrics"),
    ("ui", 4000, 4099, "multi", (4000, 4001, 4002, 4003), "Emulator UIs and admin panels"),
    ("docs", 4100, 4199, "multi", (4100, 4101, 4102, 4103), "Documentation servers (MkDocs, Docusaurus, Sphinx)"),
    ("hub", 4400, 4499, "multi", (4400, 4401, 4402, 4403), "Emulator coordination hubs"),
    ("functions", 5000, 5099, "multi", (5001, 5002, 5003, 5004), "Serverless functions and emulators"),
    ("database", 5430, 5499, "multi", (5430, 5431, 5432, 5433), "PostgreSQL, MySQL and other databases"),
    ("storybook", 6006, 6029, "multi", (6006, 6007, 6008, 6009), "Storybook component servers"),
    ("infrastructure", 6370, 6399, "multi", (6370, 6371, 6372, 6373), "Redis, caches, background services"),
    ("api", 8000, 8099, "multi", (8000, 8001, 8002, 8003), "API servers and backends (FastAPI, Express)"),
    ("proxy", 8100, 8199, "multi", (8100, 8101, 8102, 8103), "Development proxies"),
    ("build", 8200, 8299, "multi", (8200, 8201, 8202, 8203), "Build tools and bundlers"),
    ("messaging", 9050, 9098, "multi", (9050, 9051, 9052, 9053), "Message brokers (Kafka, RabbitMQ)"),
    ("auth", 9099, 9199, "multi", (9099, 9100, 9101, 9102), "Authentication services and emulators"),
    ("test", 9200, 9299, "multi", (9200, 9201, 9202, 9203), "Browser testing and debugging tools"),
    ("coordination", 9870, 9899, "multi", (9870, 9871, 9872, 9873), "Service coordination"),
    ("ai", 11400, 11499, "single", (11430, 11431, 11432, 11433), "AI inference servers, LLMs, RAG, embeddings"),
]


def test_the_default_document_holds_the_spec_table_and_settings():
    document = parse(DEFAULT_DOC.read_text(), str(DEFAULT_DOC)).document
    rows = [(r.service_type, r.start, r.end, r.instances, r.preferred, r.description) for r in document.ranges]
    assert rows == SPEC_ROWS
    settings = document.settings
    assert settings.auto_allocation == AutoAllocation()  # every default of SPEC section 3
    assert [(r.pattern, r.chunk_size, r.placement, r.preferred_range_start) for r in settings.rules] == [
        ("monitoring-*", 20, "smart", 9000),
        ("database-*", 5, None, 5400),
    ]
    assert all(isinstance(r, Rule) for r in settings.rules)
    assert settings.lease_grace_seconds == 300
    assert set(settings.detect) <= {r[0] for r in SPEC_ROWS} and "dev" in settings.detect
    # SPEC 22: the dev servers that ignore PORT, each with the argument that names its port.
    assert [(f.pattern, f.arguments) for f in settings.run_flags] == [
        ("*astro dev*", ("--port", "{port}")),
        ("*nuxi dev*", ("--port", "{port}")),
        ("*next dev*", ("-p", "{port}")),
        ("*vite", ("--port", "{port}", "--strictPort")),
        ("*vite --*", ("--port", "{port}", "--strictPort")),
        ("*vite dev*", ("--port", "{port}", "--strictPort")),
        ("*vite preview*", ("--port", "{port}", "--strictPort")),
        ("*manage.py runserver*", ("127.0.0.1:{port}",)),
        ("*flask run*", ("--port", "{port}")),
        ("*uvicorn *", ("--port", "{port}")),
        ("*gunicorn *", ("--bind", "127.0.0.1:{port}")),
        ("*hugo server*", ("--port", "{port}")),
        ("*jekyll serve*", ("--port", "{port}")),
        ("*mkdocs serve*", ("--dev-addr", "127.0.0.1:{port}")),
    ]
    assert document.audit == ()


def test_the_default_document_passes_mdformat_check_with_compact_tables(tmp_path):
    # In a folder without the repository's .mdformat.toml: the flags alone must be enough.
    copy = tmp_path / "PORT_MANAGEMENT.md"
    shutil.copyfile(DEFAULT_DOC, copy)
    done = subprocess.run(
        [sys.executable, "-m", "mdformat", "--check", "--compact-tables", "--extensions", "gfm",
         "--extensions", "frontmatter", str(copy)],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_the_canonical_fixture_is_the_default_document():
    assert (FIXTURES / "canonical.md").read_bytes() == DEFAULT_DOC.read_bytes()
