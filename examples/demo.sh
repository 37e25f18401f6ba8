#!/usr/bin/env bash
# The quick start with history: builds the demo repository (examples/make-demo-repo.sh: nine months of dated
# commits telling the inventory OOM story), backfills it into a fresh state directory, and renders the report
# site into reports/ (with live drift from the dumps in examples/live/). Open reports/index.html afterwards.
#
# It first installs what it needs and is missing (scripts/deps.sh --demo: kubectl, git).
#
#   bash examples/demo.sh            # runs target/release/envparity, built (or brought up to date) first
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --demo
bin=target/release/envparity
# Always through cargo: a no-op when the binary is up to date, and never a stale binary from older sources.
cargo build --release --locked --quiet
work=.envparity/demo
rm -rf "$work"
mkdir -p "$work"
bash examples/make-demo-repo.sh "$work/repo" >/dev/null
"$bin" backfill --config config.toml --repo "$work/repo" --state "$work/state"
# Today's scan also reads the clusters: config.toml points live.dir at the dumps in examples/live/.
"$bin" scan --config config.toml --repo "$work/repo" --state "$work/state"
"$bin" report --config config.toml --repo "$work/repo" --state "$work/state" --out reports
"$bin" history --config config.toml --repo "$work/repo" --state "$work/state" --service inventory-service | sed -n '1,8p'
echo "open reports/index.html"
