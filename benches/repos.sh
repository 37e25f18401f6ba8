#!/usr/bin/env bash
# benches/repos.sh DIR...: envparity on repos it did not write, as a new user runs it (no config).
#
# For each local repo DIR (a checkout or a plain folder), runs `envparity discover --format json` and
# `envparity check --format json` from an empty scratch directory (so no config.toml is picked up), with its
# own state directory, and prints one row: kustomizations found, roots, roots placed in the deployment map,
# services × environments, findings by severity, errors by kind, check's exit code and wall time.
#
#   bash benches/repos.sh /work/repos/*            # the binary: target/release/envparity, else target/debug
#   ENVPARITY=path/to/envparity bash benches/repos.sh DIR...
#
# Needs python3 (stdlib) and the same kustomize envparity uses.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${ENVPARITY:-}"
if [ -z "$bin" ]; then
  for candidate in "$here/target/release/envparity" "$here/target/debug/envparity"; do
    if [ -x "$candidate" ]; then bin="$candidate"; break; fi
  done
fi
[ -n "$bin" ] || { echo "build envparity first (cargo build --release)" >&2; exit 2; }
[ "$#" -gt 0 ] || { echo "usage: benches/repos.sh DIR..." >&2; exit 2; }
timeout_s="${REPOS_TIMEOUT:-300}"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
printf '%-48s %6s %6s %7s %-9s %-16s %-34s %4s %7s\n' \
  repo kust roots placed svc×env "block/warn/info" "errors by kind" exit secs
for dir in "$@"; do
  [ -d "$dir" ] || continue
  repo="$(cd "$dir" && pwd)"
  name="$(basename "$repo")"
  work="$scratch/$name"
  mkdir -p "$work/cwd"
  (cd "$work/cwd" && timeout "$timeout_s" "$bin" discover --repo "$repo" --state "$work/state" \
    --format json >"$work/discover.json" 2>"$work/discover.err") || true
  start=$(date +%s.%N)
  code=0
  (cd "$work/cwd" && timeout "$timeout_s" "$bin" check --repo "$repo" --state "$work/state" \
    --format json >"$work/check.json" 2>"$work/check.err") || code=$?
  end=$(date +%s.%N)
  python3 - "$work" "$name" "$code" "$start" "$end" <<'PY'
import json, sys
work, name, code, start, end = sys.argv[1:]
def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except Exception:
        return {}
d = load(f"{work}/discover.json")
c = load(f"{work}/check.json")
services = d.get("services", [])
placed = sum(len(s.get("overlays", {})) for s in services)
envs = len(d.get("environments", []))
s = c.get("summary", {})
kinds = {}
for e in c.get("errors", []):
    kinds[e.get("kind", "?")] = kinds.get(e.get("kind", "?"), 0) + 1
errors = ",".join(f"{k}:{v}" for k, v in sorted(kinds.items())) or "-"
sev = f"{s.get('block', '-')}/{s.get('warn', '-')}/{s.get('info', '-')}"
print(f"{name[:48]:<48} {d.get('kustomizations', '-'):>6} {d.get('roots', '-'):>6} {placed:>7} "
      f"{len(services)}×{envs:<7} {sev:<16} {errors[:34]:<34} {code:>4} {float(end) - float(start):7.1f}")
PY
done
