#!/usr/bin/env bash
# Benchmark of `envparity check` against the sequential `kubectl kustomize` loop it replaces.
#
#   bash benches/scan.sh
#
# Builds the release binary once, generates a synthetic repo (benches/gen_repo.py: N services x base +
# dev/staging/production overlays) in a temp dir, and reports the median wall time of:
#   loop      every base and overlay rendered by `kubectl kustomize DIR >/dev/null`, sequentially
#   cold      `envparity check --format json` with an empty render cache (state dir deleted before each run)
#   warm      the same with the cache fully populated (every render a hit)
#   one-edit  the same after one overlay patch file changed (exactly one miss)
# Every envparity run must exit 0 or 1 (1 = blocking findings, expected here); exit 2 (something could not be
# rendered) fails the benchmark and prints the JSON `errors`. The cache hits/misses of every run are checked
# (cold: all misses; warm: no miss; one-edit: exactly one miss).
#
# Environment:
#   BENCH_RUNS=3          repetitions of each measurement
#   BENCH_LOOP_RUNS=$BENCH_RUNS  repetitions of the (slow) loop baseline
#   BENCH_SERVICES=100    services generated (x4 kustomizations)
#   BENCH_SEED=42         generator seed
#   BENCH_KEEP=1          keep the temp dir (repo, state, last JSON/stderr) and print its path
#   BENCH_NO_HYPERFINE=1  time with `date +%s.%N` even when hyperfine is on PATH
#
# Requires: cargo, python3, kubectl (or kustomize) on PATH. Optional: hyperfine (used when on PATH;
# `apt-get install -y hyperfine`), otherwise each run is timed with `date +%s.%N`.
# Creates nothing outside the temp dir except target/release (cargo build --release).
set -euo pipefail

RUNS=${BENCH_RUNS:-3}
LOOP_RUNS=${BENCH_LOOP_RUNS:-$RUNS}
SERVICES=${BENCH_SERVICES:-100}
SEED=${BENCH_SEED:-42}

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PROJECT=$PWD

echo "== building (cargo build --release)" >&2
cargo build --release --quiet
BIN=$PROJECT/target/release/envparity
[[ -x $BIN ]] || { echo "no binary at $BIN" >&2; exit 1; }
# What was built (other work may change the checkout while the benchmark runs).
BUILT="$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || echo ' (src modified)')"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/envparity-bench.XXXXXX")
if [[ ${BENCH_KEEP:-} == 1 ]]; then
  trap 'echo "kept $WORK" >&2' EXIT
else
  trap 'rm -rf "$WORK"' EXIT
fi
REPO=$WORK/repo
STATE=$WORK/state
CWD=$WORK/cwd     # scratch cwd: no stray config.toml / .envparity gets picked up
mkdir -p "$CWD"
printf '[state]\ndir = "%s"\n' "$STATE" >"$WORK/config.toml"

echo "== generating $SERVICES services into $REPO" >&2
python3 "$PROJECT/benches/gen_repo.py" "$REPO" --services "$SERVICES" --seed "$SEED"

# The same kustomize envparity picks: standalone `kustomize` first, then `kubectl kustomize`.
if command -v kustomize >/dev/null; then
  KUST=(kustomize build); KVERSION=$(kustomize version 2>&1 | head -1)
else
  command -v kubectl >/dev/null || { echo "neither kustomize nor kubectl on PATH" >&2; exit 1; }
  KUST=(kubectl kustomize); KVERSION=$(kubectl version --client 2>&1 | tr '\n' ' ')
fi

# Every kustomization dir (bases and overlays), sorted.
mapfile -t DIRS < <(cd "$REPO" && find apps -name kustomization.yaml -printf '%h\n' | sort)
NDIRS=${#DIRS[@]}

# --- helper scripts (so hyperfine and the date-based timer run the same thing) ---------------------------------
cat >"$WORK/loop.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
cd "$REPO"
while read -r d; do ${KUST[*]} "\$d" >/dev/null; done <"$WORK/dirs.txt"
EOF
printf '%s\n' "${DIRS[@]}" >"$WORK/dirs.txt"

# Runs one check; exit 0 when envparity exits 0 or 1, else envparity's code. Appends the cache stats line of the
# run to stats-$PHASE.log; keeps the run's JSON and stderr as last.json / last.err.
cat >"$WORK/check.sh" <<EOF
#!/usr/bin/env bash
cd "$CWD"
rc=0
"$BIN" -v check --config "$WORK/config.toml" --repo "$REPO" --format json >"$WORK/last.json" 2>"$WORK/last.err" || rc=\$?
grep -o 'render cache hits=[0-9]* misses=[0-9]*' "$WORK/last.err" >>"$WORK/stats-\${PHASE:-none}.log" \
  || echo "no-stats" >>"$WORK/stats-\${PHASE:-none}.log"
echo "\$rc" >>"$WORK/rc-\${PHASE:-none}.log"
if [[ \$rc == 0 || \$rc == 1 ]]; then exit 0; fi
exit "\$rc"
EOF

# Changes one overlay patch (a new replica count every time), so the next check has exactly one miss.
EDIT_FILE=$(cd "$REPO" && find apps -path '*/overlays/staging/patch.yaml' | sort | head -1)
cat >"$WORK/edit.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
n=\$(( \$(cat "$WORK/edit.count" 2>/dev/null || echo 10) + 1 ))
echo "\$n" >"$WORK/edit.count"
sed -i -E "s/^  replicas: [0-9]+\$/  replicas: \$n/" "$REPO/$EDIT_FILE"
EOF
chmod +x "$WORK"/*.sh

show_failure() { # phase
  if [[ $1 == loop ]]; then echo "!! the ${KUST[*]} loop failed (see kustomize's error above)" >&2; return; fi
  echo "!! envparity failed during '$1' (exit codes: $(tr '\n' ' ' <"$WORK/rc-$1.log" 2>/dev/null))" >&2
  python3 - "$WORK/last.json" >&2 <<'PY' || true
import json, sys
try:
    report = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"(no JSON report: {e})"); sys.exit()
errors = report.get("errors", [])
print(f"{len(errors)} error(s) in the JSON report:")
print(json.dumps(errors, indent=2)[:20000])
PY
  echo "--- stderr (tail) ---" >&2
  tail -n 40 "$WORK/last.err" >&2 || true
}

# measure PHASE RUNS PREPARE COMMAND: appends one wall time (seconds) per run to times-PHASE.txt.
if command -v hyperfine >/dev/null && [[ ${BENCH_NO_HYPERFINE:-} != 1 ]]; then TIMER=hyperfine; else TIMER=date; fi
measure() {
  local phase=$1 runs=$2 prepare=$3 cmd=$4
  echo "== $phase: $runs run(s)" >&2
  export PHASE=$phase
  if [[ $TIMER == hyperfine ]]; then
    local args=(--runs "$runs" --style basic --export-json "$WORK/hf-$phase.json")
    [[ -n $prepare ]] && args+=(--prepare "$prepare")
    if ! hyperfine "${args[@]}" "$cmd" >&2; then show_failure "$phase"; exit 1; fi
    python3 -c 'import json,sys; [print(t) for t in json.load(open(sys.argv[1]))["results"][0]["times"]]' \
      "$WORK/hf-$phase.json" >>"$WORK/times-$phase.txt"
  else
    local i t0 t1
    for ((i = 1; i <= runs; i++)); do
      [[ -n $prepare ]] && bash -c "$prepare"
      t0=$(date +%s.%N)
      if ! bash -c "$cmd"; then show_failure "$phase"; exit 1; fi
      t1=$(date +%s.%N)
      awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' | tee -a "$WORK/times-$phase.txt" \
        | sed "s/^/   run $i: /;s/\$/ s/" >&2
    done
  fi
}
median() { sort -g "$WORK/times-$1.txt" | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
range() { sort -g "$WORK/times-$1.txt" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f-%.2f", lo, hi }'; }
# expect_stats PHASE HITS MISSES: every run of PHASE had these cache stats.
expect_stats() {
  local want="render cache hits=$2 misses=$3" bad
  bad=$(grep -vxF "$want" "$WORK/stats-$1.log" || true)
  if [[ -n $bad ]]; then
    echo "!! $1: expected '$want' on every run, got:" >&2; sort "$WORK/stats-$1.log" | uniq -c >&2
    STATS_OK=0
  fi
}
STATS_OK=1

measure loop "$LOOP_RUNS" "" "$WORK/loop.sh"
measure cold "$RUNS" "rm -rf '$STATE'" "$WORK/check.sh"
PHASE=populate "$WORK/check.sh" || { show_failure populate; exit 1; }   # the cache is full from here on
measure warm "$RUNS" "" "$WORK/check.sh"
measure one-edit "$RUNS" "$WORK/edit.sh" "$WORK/check.sh"

expect_stats cold 0 "$NDIRS"
expect_stats warm "$NDIRS" 0
expect_stats one-edit "$((NDIRS - 1))" 1

LOOP=$(median loop) COLD=$(median cold) WARM=$(median warm) EDIT=$(median one-edit)
FINDINGS=$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
s = r.get("summary", {})
print(", ".join(f"{k} {v}" for k, v in s.items() if isinstance(v, (int, float))) or "?")' "$WORK/last.json" 2>/dev/null || echo "?")

echo
echo "envparity scan benchmark"
echo "  built      $BUILT"
echo "  nproc      $(nproc)"
echo "  kustomize  ${KUST[*]}: $KVERSION"
echo "  repo       $SERVICES services, $NDIRS kustomizations (seed $SEED); one-edit changes $EDIT_FILE"
echo "  timer      $TIMER; runs: loop $LOOP_RUNS, others $RUNS; exit codes: $(cat "$WORK"/rc-*.log | sort | uniq -c | awk '{printf "%s x%s ", $2, $1}')"
echo "  findings   $FINDINGS"
echo
printf '  %-10s %12s %14s\n' "scan" "median (s)" "range (s)"
for p in loop cold warm one-edit; do
  printf '  %-10s %12.2f %14s\n' "$p" "$(median "$p")" "$(range "$p")"
done
echo
awk -v l="$LOOP" -v c="$COLD" -v w="$WARM" -v e="$EDIT" 'BEGIN {
  printf "  loop / cold  %6.1fx   (target >= 4x on 2 cores)  %s\n", l / c, (l / c >= 4 ? "ok" : "MISSED")
  printf "  cold / warm  %6.1fx\n", c / w
  printf "  warm         %6.2fs   (target < 1 s)              %s\n", w, (w < 1 ? "ok" : "MISSED")
}'
[[ $STATS_OK == 1 ]] || { echo "!! unexpected cache hits/misses (see above)" >&2; exit 1; }
