#!/usr/bin/env bash
# How much the history file grows per scan, for a daemon that scans a repo that mostly does not change.
#
#   bash benches/history_growth.sh
#
# Builds the release binary once, generates a synthetic repo (benches/gen_repo.py) committed to git, and
# measures the size of <state>/history.sqlite (after a WAL checkpoint) across:
#   changed    BENCH_SCANS scans, each after a commit that edits one overlay: every scan stores a full run,
#              which is what every scan cost before identical scans were folded into one run (migration 5)
#   unchanged  BENCH_SCANS scans of the same commit: each confirms the previous run
# and prints the growth per scan of both and their ratio.
#
# Environment:
#   BENCH_SERVICES=50   services generated (x4 kustomizations)
#   BENCH_SCANS=20      scans per measurement
#   BENCH_SEED=42       generator seed
#   BENCH_KEEP=1        keep the temp dir and print its path
#
# Requires: cargo, python3 (with its sqlite3 module), git, kubectl (or kustomize) on PATH.
set -euo pipefail

SERVICES=${BENCH_SERVICES:-50}
SCANS=${BENCH_SCANS:-20}
SEED=${BENCH_SEED:-42}

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PROJECT=$PWD
echo "== building (cargo build --release)" >&2
cargo build --release --quiet
BIN=$PROJECT/target/release/envparity

WORK=$(mktemp -d "${TMPDIR:-/tmp}/envparity-growth.XXXXXX")
if [[ ${BENCH_KEEP:-} == 1 ]]; then trap 'echo "kept $WORK" >&2' EXIT; else trap 'rm -rf "$WORK"' EXIT; fi
REPO=$WORK/repo
STATE=$WORK/state
echo "== generating $SERVICES services into $REPO" >&2
python3 "$PROJECT/benches/gen_repo.py" "$REPO" --services "$SERVICES" --seed "$SEED"
git -C "$REPO" init -q
git -C "$REPO" add -A
git -C "$REPO" -c user.name=bench -c user.email=bench@example.com commit -qm initial

size() {
  python3 - "$STATE/history.sqlite" <<'EOF'
import os, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
c.close()
print(os.path.getsize(sys.argv[1]))
EOF
}
scan() { "$BIN" scan --repo "$REPO" --state "$STATE" >/dev/null 2>"$WORK/stderr" || [[ $? == 1 ]]; }

scan
start=$(size)
# One overlay file edited per commit: a new commit and a changed metric, so each scan stores a full run.
overlay=$(cd "$REPO" && find apps -path '*overlays/dev/kustomization.yaml' | sort | head -1)
for i in $(seq 1 "$SCANS"); do
  printf '# bench edit %s\n' "$i" >>"$REPO/$overlay"
  git -C "$REPO" -c user.name=bench -c user.email=bench@example.com commit -qam "edit $i"
  scan
done
changed=$(size)
for _ in $(seq 1 "$SCANS"); do scan; done
unchanged=$(size)

per_changed=$(( (changed - start) / SCANS ))
per_unchanged=$(( (unchanged - changed) / SCANS ))
runs=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*), sum(repeats) from runs').fetchone())" "$STATE/history.sqlite")
echo "services=$SERVICES scans=$SCANS  (runs, repeats) = $runs"
echo "growth per scan that stores a full run (every scan before migration 5): $per_changed bytes"
echo "growth per unchanged scan (confirms the previous run):                   $per_unchanged bytes"
if (( per_unchanged > 0 )); then
  echo "ratio: $(( per_changed / per_unchanged ))x smaller"
else
  echo "ratio: unchanged scans did not grow the file at all"
fi
