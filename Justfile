# Everyday tasks. `just` comes with the [test] extra (the rust-just package).

venv := ".venv"
py := venv / "bin/python"

default:
    @just --list

# Create the development environment (editable install with the test extra).
setup:
    test -x {{py}} || python3 -m venv {{venv}}
    {{py}} -m pip install -q -e ".[test]"

# The whole test suite.
test *args: setup
    {{py}} -m pytest {{args}}

# Formatting and meaning of the shipped document, plus the static checks.
lint: setup
    {{venv}}/bin/mdformat --check README.md docs
    {{venv}}/bin/styxy validate docs/CORE/PORT_MANAGEMENT.md
    {{venv}}/bin/ruff check styxy tests bench
    {{venv}}/bin/mypy styxy
    make -s -B -C interceptor strict OUT="$(mktemp -d)"

# A tour on a throw-away copy of the default document.
demo: setup
    #!/usr/bin/env bash
    set -euo pipefail
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    export STYXY_DOC="$tmp/PORT_MANAGEMENT.md"
    s="$PWD/{{venv}}/bin/styxy"
    $s init
    $s allocate -s dev -i demo
    cd "$(dirname "$STYXY_DOC")"
    git init -q && git add PORT_MANAGEMENT.md
    git -c user.name=demo -c user.email=demo@example.invalid commit -qm "port map"
    $s allocate -s ai -i first --json
    $s allocate -s ai -i second
    $s allocate -s grafana -i main
    $s list -v
    git --no-pager diff
    $s config undo-auto --force
    git --no-pager diff --stat

# Benchmarks (not tests): each prints ratios measured side by side in one run.
bench: setup
    for b in bench/bench_*.py; do echo "== $b"; {{py}} "$b"; done

# Build the preload library in the checkout (`styxy interceptor build` is the user's way).
interceptor:
    make -C interceptor

# Fuzz the interceptor's cache parser with libFuzzer (needs clang: apt-get install clang).
fuzz seconds="60":
    make -C interceptor fuzz OUT=fuzz/out FUZZ_SECONDS={{seconds}}

# Rebuild the IANA index shipped in the wheel (default registry: ../shared/data; --registry FILE_OR_URL).
iana-index *args: setup
    {{py}} docs/references/make_iana_index.py {{args}}

# Rewrite the fuzz seed corpus with the Python cache writer.
fuzz-corpus: setup
    {{py}} interceptor/fuzz/make_corpus.py
