#!/usr/bin/env bash
# scripts/test.sh [ARGS...]: the test command (README.md; .ci/run runs exactly this).
#
# Installs what the tests need and is missing (scripts/deps.sh: kubectl, git with git daemon and git
# http-backend, python3, openssl, procps, chromium, aiosmtpd), then runs the whole suite, once, with the fail
# points compiled in (the `failpoints` feature: the crash and panic tests need them):
#
#   cargo test --locked --features failpoints [ARGS...]
#
# ARGS go to cargo test, e.g. `bash scripts/test.sh history::` for one module.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
exec cargo test --locked --features failpoints "$@"
