#!/usr/bin/env bash
# Benchmark of `envparity backfill` over a generated git history.
#
#   bash benches/backfill.sh
#
# Builds the release binary once, generates a git repo (benches/gen_history.py: N commits over S services x
# base + dev/staging/production overlays; the first commit creates everything, each later one touches one or
# two services) in a temp dir, and runs, from a scratch cwd with its own empty --config:
#   first   `envparity backfill --repo REPO --state STATE` with an empty state dir (timed: wall, CPU, max RSS)
#   second  the same again: must record nothing (`0 recorded`, every commit already in history)
# and prints commits, kustomizations, naive renders (commits x kustomizations), the (commit, changed
# kustomization) pairs gen_history.py counted, the renders backfill reports, renders / pairs (target <= 2),
# naive / renders, and the wall time (target < 120 s on 2 cores).
# Fails when a backfill exits non-zero, its summary line cannot be parsed, the first run does not record every
# commit, or the second run records anything.
#
# Environment:
#   BENCH_COMMITS=300       commits generated
#   BENCH_SERVICES=50       services generated (x4 kustomizations)
#   BENCH_SEED=42           generator seed
#   BENCH_KEEP=1            keep the temp dir (repo, pairs.json, state, outputs) and print its path
#   BENCH_BIN=path         use this envparity binary instead of building one (e.g. while the checkout does not
#                           compile); reported as such
#   BENCH_COUNT_PROCS=1     count kustomize processes with a PATH shim around kubectl/kustomize (adds a little
#                           overhead per process; off by default)
#
# Requires: cargo, python3, git, kubectl (or kustomize) on PATH. Optional: /usr/bin/time (GNU time: CPU and
# max RSS), otherwise bash `time`. Creates nothing outside the temp dir except target/release.
set -euo pipefail

COMMITS=${BENCH_COMMITS:-300}
SERVICES=${BENCH_SERVICES:-50}
SEED=${BENCH_SEED:-42}

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PROJECT=$PWD

if [[ -n ${BENCH_BIN:-} ]]; then
  BIN=$(realpath "$BENCH_BIN")
  BUILT="BENCH_BIN=$BIN (not built by this script)"
else
  echo "== building (cargo build --release)" >&2
  cargo build --release --quiet
  BIN=$PROJECT/target/release/envparity
  # What was built (other work may change the checkout while the benchmark runs).
  BUILT="$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || echo ' (src modified)')"
fi
[[ -x $BIN ]] || { echo "no binary at $BIN" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/envparity-backfill.XXXXXX")
if [[ ${BENCH_KEEP:-} == 1 ]]; then
  trap 'echo "kept $WORK" >&2' EXIT
else
  trap 'rm -rf "$WORK"' EXIT
fi
GEN=$WORK/gen       # gen/repo, gen/pairs.json
REPO=$GEN/repo
STATE=$WORK/state
CWD=$WORK/cwd       # scratch cwd: no stray config.toml / .envparity gets picked up
mkdir -p "$CWD"
: >"$WORK/config.toml"   # built-in defaults (layout detected: apps/{service}/overlays/{env})

echo "== generating $COMMITS commits over $SERVICES services into $REPO" >&2
python3 "$PROJECT/benches/gen_history.py" "$GEN" --commits "$COMMITS" --services "$SERVICES" --seed "$SEED"
# pairs.json fields, one per line: kustomizations naive pairs distinct_inputs
mapfile -t P < <(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("kustomizations", "naive", "pairs", "distinct_inputs"):
    print(d[k])' "$GEN/pairs.json")
NK=${P[0]} NAIVE=${P[1]} PAIRS=${P[2]} DISTINCT=${P[3]}

# Which kustomize envparity will use: standalone `kustomize` first, then `kubectl kustomize`.
if command -v kustomize >/dev/null; then
  KVERSION="kustomize $(kustomize version 2>&1 | head -1)"
else
  command -v kubectl >/dev/null || { echo "neither kustomize nor kubectl on PATH" >&2; exit 1; }
  KVERSION="kubectl kustomize $(kubectl version --client 2>&1 | sed -n 's/^Kustomize Version: //p')"
fi

# Optional PATH shim: logs one line per kustomize process, then runs the real one.
if [[ ${BENCH_COUNT_PROCS:-} == 1 ]]; then
  mkdir -p "$WORK/shim"
  for tool in kubectl kustomize; do
    real=$(command -v "$tool" || true)
    [[ -n $real ]] || continue
    printf '#!/bin/sh\necho "$$ %s $*" >>"%s/procs.log"\nexec "%s" "$@"\n' "$tool" "$WORK" "$real" >"$WORK/shim/$tool"
    chmod +x "$WORK/shim/$tool"
  done
  export PATH=$WORK/shim:$PATH
fi

# run_backfill NAME: runs one backfill; stdout -> NAME.out, stderr -> NAME.err, timing -> NAME.time
# ("wall user sys maxrss_kb"; maxrss "?" without GNU time). Fails the benchmark when backfill exits non-zero.
if /usr/bin/time -v true >/dev/null 2>&1; then TIMER="/usr/bin/time -v"; else TIMER="bash time"; fi
run_backfill() {
  local name=$1 rc=0
  echo "== backfill ($name)" >&2
  : >"$WORK/procs.log"
  if [[ $TIMER == "bash time" ]]; then
    local TIMEFORMAT='%R %U %S ?'
    { time (cd "$CWD" && "$BIN" backfill --config "$WORK/config.toml" --repo "$REPO" --state "$STATE" \
        >"$WORK/$name.out" 2>"$WORK/$name.err") ; } 2>"$WORK/$name.time" || rc=$?
  else
    (cd "$CWD" && /usr/bin/time -v -o "$WORK/$name.tv" \
      "$BIN" backfill --config "$WORK/config.toml" --repo "$REPO" --state "$STATE" \
      >"$WORK/$name.out" 2>"$WORK/$name.err") || rc=$?
    awk -F': ' '
      /Elapsed \(wall clock\)/ { n = split($2, t, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + t[i] }
      /User time/ { u = $2 } /System time/ { s = $2 } /Maximum resident set size/ { m = $2 }
      END { printf "%s %s %s %s\n", w, u, s, m }' "$WORK/$name.tv" >"$WORK/$name.time"
  fi
  if [[ $rc != 0 ]]; then
    echo "!! backfill ($name) exited $rc" >&2
    cat "$WORK/$name.out" >&2; tail -n 40 "$WORK/$name.err" >&2
    exit 1
  fi
  cat "$WORK/$name.out" >&2
  wc -l <"$WORK/procs.log" | tr -d ' ' >"$WORK/$name.procs"
}
# parse NAME: "walked recorded skipped renders naive" from the summary line, or fails.
parse() {
  local line
  line=$(grep -E '^backfill: ' "$WORK/$1.out" || true)
  [[ $line =~ ^backfill:\ ([0-9]+)\ commit\(s\)\ walked,\ ([0-9]+)\ recorded,\ ([0-9]+)\ already\ in\ history\;\ ([0-9]+)\ overlay\ render\(s\)\ \(rendering\ every\ overlay\ at\ every\ recorded\ commit:\ ([0-9]+)\) ]] \
    || { echo "!! cannot parse the summary of backfill ($1): '$line'" >&2; exit 1; }
  echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]} ${BASH_REMATCH[3]} ${BASH_REMATCH[4]} ${BASH_REMATCH[5]}"
}

run_backfill first
read -r WALKED RECORDED SKIPPED RENDERS BF_NAIVE < <(parse first)
read -r WALL USER SYS RSS <"$WORK/first.time"
run_backfill second
read -r WALKED2 RECORDED2 SKIPPED2 RENDERS2 _ < <(parse second)
read -r WALL2 USER2 SYS2 _ <"$WORK/second.time"

OK=1
[[ $WALKED == "$COMMITS" && $RECORDED == "$COMMITS" && $SKIPPED == 0 ]] \
  || { echo "!! first backfill: expected $COMMITS walked and recorded, 0 skipped" >&2; OK=0; }
[[ $RECORDED2 == 0 && $SKIPPED2 == "$WALKED2" && $WALKED2 == "$COMMITS" ]] \
  || { echo "!! second backfill not idempotent: $RECORDED2 recorded, $SKIPPED2 already in history" >&2; OK=0; }
[[ $BF_NAIVE == "$NAIVE" ]] || echo "!! note: backfill's naive count $BF_NAIVE != commits x kustomizations $NAIVE" >&2

echo
echo "envparity backfill benchmark"
echo "  built      $BUILT"
echo "  nproc      $(nproc)"
echo "  kustomize  $KVERSION"
echo "  repo       $COMMITS commits, $SERVICES services, $NK kustomizations (seed $SEED)"
echo "  timer      $TIMER"
echo
awk -v c="$COMMITS" -v k="$NK" -v n="$NAIVE" -v p="$PAIRS" -v d="$DISTINCT" -v r="$RENDERS" \
    -v w="$WALL" -v u="$USER" -v s="$SYS" -v m="$RSS" -v w2="$WALL2" -v u2="$USER2" -v s2="$SYS2" \
    -v r2="$RENDERS2" -v rec2="$RECORDED2" -v sk2="$SKIPPED2" \
    -v pr="$(cat "$WORK/first.procs")" -v counting="${BENCH_COUNT_PROCS:-0}" 'BEGIN {
  printf "  %-34s %10s\n", "commits", c
  printf "  %-34s %10s\n", "kustomizations (services x 4)", k
  printf "  %-34s %10s\n", "naive renders (commits x kust.)", n
  printf "  %-34s %10s\n", "(commit, changed kust.) pairs", p
  printf "  %-34s %10s\n", "distinct inputs (cache minimum)", d
  printf "  %-34s %10s\n", "actual renders", r
  if (counting == 1) printf "  %-34s %10s\n", "kustomize processes", pr
  printf "  %-34s %10.2f   (target <= 2)     %s\n", "renders / pairs", r / p, (r / p <= 2 ? "ok" : "MISSED")
  printf "  %-34s %9.1fx\n", "naive / renders", n / r
  printf "  %-34s %9.1fs   (target < 120 s on 2 cores)  %s\n", "first backfill wall", w, (w < 120 ? "ok" : "MISSED")
  printf "  %-34s %9.1fs   (user %.1f + sys %.1f; max RSS %s kB)\n", "first backfill CPU", u + s, u, s, m
  printf "  %-34s %9.2fs\n", "first backfill wall per commit", w / c
  printf "  %-34s %9.1fs   (%s recorded, %s already in history, %s renders; CPU %.1fs)\n", \
    "second backfill wall", w2, rec2, sk2, r2, u2 + s2
}'
[[ $OK == 1 ]] || exit 1
