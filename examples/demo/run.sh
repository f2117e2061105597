#!/usr/bin/env bash
# Build and serve the linkrag demo with no network access.
#
#   examples/demo/run.sh                 # build, then serve on 127.0.0.1:7860
#   examples/demo/run.sh --port 8080     # extra arguments go to `linkrag serve`
#
# PYTHON picks the interpreter (default python3). LINKRAG picks the CLI command; by default
# `linkrag` when it is on PATH, else the CLI is run straight from this checkout.
# LINKRAG_DATA overrides the data folder (default: examples/demo/data).
set -euo pipefail

DEMO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "${DEMO_DIR}/../.." && pwd)"
CONFIG="${DEMO_DIR}/config.yaml"
DATA_DIR="${LINKRAG_DATA:-${DEMO_DIR}/data}"
WARC="${DATA_DIR}/demo-site.warc.gz"
PYTHON="${PYTHON:-python3}"

linkrag() {
    if [[ -n "${LINKRAG:-}" ]]; then
        ${LINKRAG} "$@"
    elif type -P linkrag >/dev/null; then
        command linkrag "$@"
    else
        PYTHONPATH="${REPO_DIR}${PYTHONPATH:+:${PYTHONPATH}}" "${PYTHON}" -c \
            'import sys; sys.argv[0] = "linkrag"; from ui.cli import main; sys.exit(main())' "$@"
    fi
}

mkdir -p "${DATA_DIR}"
"${PYTHON}" "${DEMO_DIR}/make_warc.py" "${WARC}"
linkrag --config "${CONFIG}" build --replay "${WARC}"
linkrag --config "${CONFIG}" status
linkrag --config "${CONFIG}" serve "$@"
