#!/usr/bin/env bash
# Benchmark of `envparity report` (the static site) over a large generated history.
#
#   bash benches/report.sh
#
# Builds the release binary, generates the history with the `report_history` cargo bench (benches/
# report_history.rs: 500 services x dev/staging/production x 365 daily scan runs, written with
# History::record, deterministic), then renders the whole site N times from a scratch cwd with an empty
# --config and an empty --repo dir:
#   envparity report --config EMPTY --repo EMPTY_DIR --state STATE --out WORK/site
# each under GNU `/usr/bin/time -v`, each run into a new directory (WORK/site-I): nothing is deleted between
# runs, because on ext4 without a journal (this VM's root fs) creating thousands of files within a minute or
# so of deleting thousands is ~12% slower (the inode allocator skips recently deleted inodes one by one,
# `recently_deleted` in the kernel profile). It prints the wall seconds (median and range), CPU, the max
# peak RSS over the runs, the site's file count and size, nproc, the load average, and PASS/MISS against the
# target: the whole site in under 10 s (median wall) on 2 cores.
# Fails when generation or a render fails, or when the report's file count differs from the files on disk.
#
# Environment:
#   REPORT_BENCH_SERVICES=500  services generated
#   REPORT_BENCH_DAYS=365      daily runs generated
#   REPORT_BENCH_SEED=42       generator seed
#   REPORT_BENCH_RUNS=3        timed renders
#   REPORT_BENCH_STATE=dir     state dir holding history.sqlite (default: in the temp dir); with
#   REPORT_BENCH_REUSE=1       an existing STATE/history.sqlite is reused (generation skipped): e.g.
#                              REPORT_BENCH_STATE=target/report-bench REPORT_BENCH_REUSE=1 bash benches/report.sh
#   REPORT_BENCH_BIN=path      use this envparity binary instead of building one
#   REPORT_BENCH_KEEP=1        keep the temp dir (site, time logs) and print its path
#
# Requires: cargo and GNU time at /usr/bin/time (installed with `apt-get install -y time` when missing and
# apt-get is available; the benchmark fails otherwise). Creates nothing outside the temp dir except
# target/release (and REPORT_BENCH_STATE when given).
set -euo pipefail

SERVICES=${REPORT_BENCH_SERVICES:-500}
DAYS=${REPORT_BENCH_DAYS:-365}
SEED=${REPORT_BENCH_SEED:-42}
RUNS=${REPORT_BENCH_RUNS:-3}
TARGET_S=10

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PROJECT=$PWD

if [[ ! -x /usr/bin/time ]]; then
  echo "== /usr/bin/time missing: installing GNU time (apt-get install -y time)" >&2
  SUDO=""
  [[ $(id -u) == 0 ]] || SUDO="sudo"
  $SUDO apt-get install -y time >&2 || { $SUDO apt-get update >&2 && $SUDO apt-get install -y time >&2; } \
    || { echo "cannot install GNU time; install it (package 'time') and rerun" >&2; exit 1; }
fi
/usr/bin/time -v true >/dev/null 2>&1 || { echo "/usr/bin/time is not GNU time (-v unsupported)" >&2; exit 1; }

if [[ -n ${REPORT_BENCH_BIN:-} ]]; then
  BIN=$(realpath "$REPORT_BENCH_BIN")
  BUILT="REPORT_BENCH_BIN=$BIN (not built by this script)"
else
  echo "== building (cargo build --release)" >&2
  cargo build --release --quiet
  BIN=$PROJECT/target/release/envparity
  # What was built (other work may change the checkout while the benchmark runs).
  BUILT="$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src templates Cargo.toml Cargo.lock 2>/dev/null || echo ' (src modified)')"
fi
[[ -x $BIN ]] || { echo "no binary at $BIN" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/envparity-report.XXXXXX")
if [[ ${REPORT_BENCH_KEEP:-} == 1 ]]; then
  trap 'echo "kept $WORK" >&2' EXIT
else
  trap 'rm -rf "$WORK"' EXIT
fi
if [[ -n ${REPORT_BENCH_STATE:-} ]]; then
  mkdir -p "$REPORT_BENCH_STATE"
  STATE=$(realpath "$REPORT_BENCH_STATE")
else
  STATE=$WORK/state
fi
DB=$STATE/history.sqlite
REPO=$WORK/repo     # `report` needs an existing --repo directory; it reads nothing from it
CWD=$WORK/cwd       # scratch cwd: no stray config.toml / .envparity gets picked up
mkdir -p "$REPO" "$CWD" "$STATE"
: >"$WORK/config.toml"   # built-in defaults

echo "== generating the history ($SERVICES services x 3 envs x $DAYS days) into $DB" >&2
REPORT_BENCH_DB=$DB REPORT_BENCH_SERVICES=$SERVICES REPORT_BENCH_DAYS=$DAYS REPORT_BENCH_SEED=$SEED \
  cargo bench --quiet --bench report_history | tee "$WORK/gen.out"
DB_MIB=$(du -m "$DB" | cut -f1)

# render I: one timed `envparity report` into WORK/site-I; "wall user sys maxrss_kb" -> WORK/I.time.
render() {
  local i=$1 rc=0
  echo "== render $i/$RUNS" >&2
  (cd "$CWD" && /usr/bin/time -v -o "$WORK/$i.tv" \
    "$BIN" report --config "$WORK/config.toml" --repo "$REPO" --state "$STATE" --out "$WORK/site-$i" \
    >"$WORK/$i.out" 2>"$WORK/$i.err") || rc=$?
  if [[ $rc != 0 ]]; then
    echo "!! render $i exited $rc" >&2
    cat "$WORK/$i.out" >&2; tail -n 40 "$WORK/$i.err" >&2
    exit 1
  fi
  cat "$WORK/$i.out" >&2
  awk -F': ' '
    /Elapsed \(wall clock\)/ { n = split($2, t, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + t[i] }
    /User time/ { u = $2 } /System time/ { s = $2 } /Maximum resident set size/ { m = $2 }
    END { printf "%s %s %s %s\n", w, u, s, m }' "$WORK/$i.tv" >"$WORK/$i.time"
}

sync
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq 1 "$RUNS"); do render "$i"; done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
SITE=$WORK/site-$RUNS

REPORTED=$(sed -nE 's/^report: ([0-9]+) files written.*/\1/p' "$WORK/$RUNS.out")
FILES=$(find "$SITE" -type f | wc -l)
BYTES=$(find "$SITE" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
SVGS=$(find "$SITE" -type f -name '*.svg' | wc -l)
PAGES=$(find "$SITE" -type f -name '*.html' | wc -l)
[[ $REPORTED == "$FILES" ]] || { echo "!! report says $REPORTED files, $FILES on disk" >&2; exit 1; }

echo
echo "envparity report benchmark"
echo "  built      $BUILT"
echo "  nproc      $(nproc)   (target is for 2 cores)"
echo "  load avg   $LOAD_BEFORE before the renders (includes the generation), $LOAD_AFTER after"
echo "  history    $SERVICES services x 3 envs x $DAYS daily runs (seed $SEED), $DB_MIB MiB"
sed -n 's/^  \([a-z_ ]*[a-z]\)  */\1 /p' "$WORK/gen.out" | grep -v '^size' | paste -sd ',' | sed 's/,/, /g; s/^/  rows       /'
grep -E '^report_history: generated' "$WORK/gen.out" | sed 's/^report_history: /  gen        /' || echo "  gen        reused (REPORT_BENCH_REUSE=1)"
echo "  timer      /usr/bin/time -v, $RUNS runs"
echo
cat "$WORK"/[0-9]*.time | awk -v files="$FILES" -v bytes="$BYTES" -v svgs="$SVGS" -v pages="$PAGES" \
    -v target="$TARGET_S" '
  { w[NR] = $1; cpu[NR] = $2 + $3; if ($4 > m) m = $4 }
  END {
    n = NR
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (w[j] < w[i]) { t = w[i]; w[i] = w[j]; w[j] = t }
    med = (n % 2) ? w[(n + 1) / 2] : (w[n / 2] + w[n / 2 + 1]) / 2
    c = 0; for (i = 1; i <= n; i++) c += cpu[i]
    printf "  %-26s %8.2f s   (range %.2f-%.2f s)\n", "wall, median", med, w[1], w[n]
    printf "  %-26s %8.2f s   (user + sys, mean)\n", "CPU", c / n
    printf "  %-26s %8.1f MiB\n", "peak RSS, max", m / 1024
    printf "  %-26s %8d     (%d HTML pages, %d SVG charts)\n", "site files", files, pages, svgs
    printf "  %-26s %8.1f MiB\n", "site size", bytes / 1048576
    printf "  %-26s %8s     (median wall < %d s on 2 cores)\n", "target", (med < target ? "PASS" : "MISS"), target
  }'
