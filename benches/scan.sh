#!/usr/bin/env bash
# Benchmark of `envparity check` against the sequential `kubectl kustomize` loop it replaces, in two modes
# measured in the same run:
#   distinct  every service names its objects after itself (svc-007, svc-007-config, ...)
#   shared    every service is a copy that keeps the names: Deployment/web, ConfigMap/web-config-<hash>, the
#             namespaces web-dev, web-staging, web-production, ... in every app (gen_repo.py --shared-names);
#             every kustomize run of many overlays holds the same object ids many times over
#
#   bash benches/scan.sh
#
# Builds the release binary once (or takes BENCH_BIN); per mode, generates a synthetic repo (benches/gen_repo.py: N services x base +
# dev/staging/production overlays) in a temp dir and reports the median wall time of:
#   loop      every base and overlay rendered by `kubectl kustomize DIR >/dev/null`, sequentially
#   cold      `envparity check --format json` with an empty render cache (state dir deleted before each run)
#   warm      the same with the cache fully populated (every render a hit)
#   one-edit  the same after one overlay patch file changed (exactly one miss)
# and `loop / cold` of each mode against the loop over that mode's repo. Every envparity run must exit 0 or 1
# (1 = blocking findings, expected here); exit 2 (something could not be rendered) fails the benchmark and
# prints the JSON `errors`. The cache hits/misses of every run are checked (cold: all misses; warm: no miss;
# one-edit: exactly one miss) in the render module's debug log (`RUST_LOG=warn,envparity::render=debug`),
# where refused kustomize runs ("kustomize refused a batch") are counted too and printed.
#
# Environment:
#   BENCH_RUNS=3          repetitions of each measurement
#   BENCH_LOOP_RUNS=$BENCH_RUNS  repetitions of the (slow) loop baseline
#   BENCH_SERVICES=100    services generated (x4 kustomizations)
#   BENCH_SEED=42         generator seed
#   BENCH_MODES="distinct shared"  the modes to measure, in this order
#   BENCH_KEEP=1          keep the temp dir (repos, states, last JSON/stderr) and print its path
#   BENCH_BIN=path        measure that envparity binary instead of building one (e.g. another commit's)
#   BENCH_NO_HYPERFINE=1  time with `date +%s.%N` even when hyperfine is on PATH
#
# Requires: cargo, python3, kubectl (or kustomize) on PATH. Optional: hyperfine (used when on PATH;
# `apt-get install -y hyperfine`), otherwise each run is timed with `date +%s.%N`.
# Creates nothing outside the temp dir except target/release (cargo build --release, unless BENCH_BIN is set).
set -euo pipefail

RUNS=${BENCH_RUNS:-3}
LOOP_RUNS=${BENCH_LOOP_RUNS:-$RUNS}
SERVICES=${BENCH_SERVICES:-100}
SEED=${BENCH_SEED:-42}
read -r -a MODES <<<"${BENCH_MODES:-distinct shared}"
for m in "${MODES[@]}"; do
  [[ $m == distinct || $m == shared ]] || { echo "unknown mode '$m' in BENCH_MODES (distinct, shared)" >&2; exit 1; }
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PROJECT=$PWD

if [[ -n ${BENCH_BIN:-} ]]; then
  BIN=$(realpath "$BENCH_BIN")
  BUILT="$BIN (BENCH_BIN)"
else
  echo "== building (cargo build --release)" >&2
  cargo build --release --quiet
  BIN=$PROJECT/target/release/envparity
  # What was built (other work may change the checkout while the benchmark runs).
  BUILT="$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || echo ' (src modified)')"
fi
[[ -x $BIN ]] || { echo "no binary at $BIN" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/envparity-bench.XXXXXX")
if [[ ${BENCH_KEEP:-} == 1 ]]; then
  trap 'echo "kept $WORK" >&2' EXIT
else
  trap 'rm -rf "$WORK"' EXIT
fi
CWD=$WORK/cwd     # scratch cwd: no stray config.toml / .envparity gets picked up
mkdir -p "$CWD"

# The same kustomize envparity picks: standalone `kustomize` first, then `kubectl kustomize`.
if command -v kustomize >/dev/null; then
  KUST=(kustomize build); KVERSION=$(kustomize version 2>&1 | head -1)
else
  command -v kubectl >/dev/null || { echo "neither kustomize nor kubectl on PATH" >&2; exit 1; }
  KUST=(kubectl kustomize); KVERSION=$(kubectl version --client 2>&1 | tr '\n' ' ')
fi

# prepare MODE: generates MODE's repo in $WORK/MODE and writes its loop/check/edit scripts there.
prepare() {
  local mode=$1 dir=$WORK/$1 flag=()
  [[ $mode == shared ]] && flag=(--shared-names)
  mkdir -p "$dir"
  echo "== $mode: generating $SERVICES services into $dir/repo" >&2
  python3 "$PROJECT/benches/gen_repo.py" "$dir/repo" --services "$SERVICES" --seed "$SEED" "${flag[@]}"
  printf '[state]\ndir = "%s"\n' "$dir/state" >"$dir/config.toml"
  # Every kustomization dir (bases and overlays), sorted.
  (cd "$dir/repo" && find apps -name kustomization.yaml -printf '%h\n' | sort) >"$dir/dirs.txt"

  cat >"$dir/loop.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
cd "$dir/repo"
while read -r d; do ${KUST[*]} "\$d" >/dev/null; done <"$dir/dirs.txt"
EOF

  # Runs one check; exit 0 when envparity exits 0 or 1, else envparity's code. Appends the cache stats line
  # and the number of refused kustomize runs of the run to stats-$PHASE.log / refused-$PHASE.log; keeps the
  # run's JSON and stderr as last.json / last.err.
  cat >"$dir/check.sh" <<EOF
#!/usr/bin/env bash
cd "$CWD"
rc=0
RUST_LOG=warn,envparity::render=debug "$BIN" check --config "$dir/config.toml" --repo "$dir/repo" --format json \\
  >"$dir/last.json" 2>"$dir/last.err" || rc=\$?
grep -o 'render cache hits=[0-9]* misses=[0-9]*' "$dir/last.err" >>"$WORK/stats-\${PHASE:-none}.log" \
  || echo "no-stats" >>"$WORK/stats-\${PHASE:-none}.log"
grep -c 'kustomize refused a batch' "$dir/last.err" >>"$WORK/refused-\${PHASE:-none}.log" || true
echo "\$rc" >>"$WORK/rc-\${PHASE:-none}.log"
if [[ \$rc == 0 || \$rc == 1 ]]; then exit 0; fi
exit "\$rc"
EOF

  # Changes one overlay patch (a new replica count every time), so the next check has exactly one miss.
  local edit_file
  # (sed, not head: head would quit early and fail the pipeline with SIGPIPE under pipefail.)
  edit_file=$(cd "$dir/repo" && find apps -path '*/overlays/staging/patch.yaml' | sort | sed -n 1p)
  echo "$edit_file" >"$dir/edit-file.txt"
  cat >"$dir/edit.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
n=\$(( \$(cat "$dir/edit.count" 2>/dev/null || echo 10) + 1 ))
echo "\$n" >"$dir/edit.count"
sed -i -E "s/^  replicas: [0-9]+\$/  replicas: \$n/" "$dir/repo/$edit_file"
EOF
  chmod +x "$dir"/*.sh
}

show_failure() { # phase mode
  if [[ $1 == *-loop ]]; then echo "!! the ${KUST[*]} loop failed (see kustomize's error above)" >&2; return; fi
  echo "!! envparity failed during '$1' (exit codes: $(tr '\n' ' ' <"$WORK/rc-$1.log" 2>/dev/null))" >&2
  python3 - "$WORK/$2/last.json" >&2 <<'PY' || true
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
  tail -n 40 "$WORK/$2/last.err" >&2 || true
}

# measure PHASE MODE RUNS PREPARE COMMAND: appends one wall time (seconds) per run to times-PHASE.txt.
if command -v hyperfine >/dev/null && [[ ${BENCH_NO_HYPERFINE:-} != 1 ]]; then TIMER=hyperfine; else TIMER=date; fi
measure() {
  local phase=$1 mode=$2 runs=$3 prepare=$4 cmd=$5
  echo "== $phase: $runs run(s)" >&2
  export PHASE=$phase
  if [[ $TIMER == hyperfine ]]; then
    local args=(--runs "$runs" --style basic --export-json "$WORK/hf-$phase.json")
    [[ -n $prepare ]] && args+=(--prepare "$prepare")
    if ! hyperfine "${args[@]}" "$cmd" >&2; then show_failure "$phase" "$mode"; exit 1; fi
    python3 -c 'import json,sys; [print(t) for t in json.load(open(sys.argv[1]))["results"][0]["times"]]' \
      "$WORK/hf-$phase.json" >>"$WORK/times-$phase.txt"
  else
    local i t0 t1
    for ((i = 1; i <= runs; i++)); do
      [[ -n $prepare ]] && bash -c "$prepare"
      t0=$(date +%s.%N)
      if ! bash -c "$cmd"; then show_failure "$phase" "$mode"; exit 1; fi
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

for mode in "${MODES[@]}"; do
  prepare "$mode"
  dir=$WORK/$mode
  measure "$mode-loop" "$mode" "$LOOP_RUNS" "" "$dir/loop.sh"
  measure "$mode-cold" "$mode" "$RUNS" "rm -rf '$dir/state'" "$dir/check.sh"
  PHASE=$mode-populate "$dir/check.sh" || { show_failure "$mode-populate" "$mode"; exit 1; }   # the cache is full from here on
  measure "$mode-warm" "$mode" "$RUNS" "" "$dir/check.sh"
  measure "$mode-one-edit" "$mode" "$RUNS" "$dir/edit.sh" "$dir/check.sh"
  ndirs=$(wc -l <"$dir/dirs.txt")
  expect_stats "$mode-cold" 0 "$ndirs"
  expect_stats "$mode-warm" "$ndirs" 0
  expect_stats "$mode-one-edit" "$((ndirs - 1))" 1
done

echo
echo "envparity scan benchmark"
echo "  built      $BUILT"
echo "  nproc      $(nproc)"
echo "  kustomize  ${KUST[*]}: $KVERSION"
echo "  repos      $SERVICES services, $(wc -l <"$WORK/${MODES[0]}/dirs.txt") kustomizations each (seed $SEED); one-edit changes $(cat "$WORK/${MODES[0]}/edit-file.txt")"
echo "  timer      $TIMER; runs: loop $LOOP_RUNS, others $RUNS; exit codes: $(cat "$WORK"/rc-*.log | sort | uniq -c | awk '{printf "%s x%s ", $2, $1}')"
for mode in "${MODES[@]}"; do
  findings=$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
s = r.get("summary", {})
print(", ".join(f"{k} {v}" for k, v in s.items() if isinstance(v, (int, float))) or "?")' "$WORK/$mode/last.json" 2>/dev/null || echo "?")
  printf '  %-10s findings %s; refused kustomize runs per cold check: %s\n' "$mode" "$findings" \
    "$(sort -n "$WORK/refused-$mode-cold.log" | uniq | tr '\n' ' ')"
done
echo
printf '  %-9s %-10s %12s %14s\n' "mode" "scan" "median (s)" "range (s)"
for mode in "${MODES[@]}"; do
  for p in loop cold warm one-edit; do
    printf '  %-9s %-10s %12.2f %14s\n' "$mode" "$p" "$(median "$mode-$p")" "$(range "$mode-$p")"
  done
done
echo
for mode in "${MODES[@]}"; do
  awk -v m="$mode" -v l="$(median "$mode-loop")" -v c="$(median "$mode-cold")" -v w="$(median "$mode-warm")" 'BEGIN {
    printf "  %-9s loop / cold  %6.1fx   (target >= 6x on 2 cores)  %s\n", m, l / c, (l / c >= 6 ? "ok" : "MISSED")
    printf "  %-9s cold / warm  %6.1fx\n", m, c / w
    printf "  %-9s warm         %6.2fs   (target < 1 s)              %s\n", m, w, (w < 1 ? "ok" : "MISSED")
  }'
done
[[ $STATS_OK == 1 ]] || { echo "!! unexpected cache hits/misses (see above)" >&2; exit 1; }
