#!/usr/bin/env bash
# Benchmark of the live source: the real kube client (envparity::live::kube::KubeSource) listing 1,000
# declared objects (5 kinds x 2 namespaces x 100) from the in-process test API server (tests/it/apiserver.rs),
# then diffing each against its Git version.
#
#   bash benches/live.sh
#
# Runs the ignored test `live_benchmark` of the `it` test binary in release mode. It prints, for a cold call
# (client built, discovery) and a warm one (client and connections reused): the number of HTTP requests the
# server saw (discovery + LIST), the wall time of the listing and of listing + diffing, and the drift count
# (20 deployments are scaled by hand in the fixtures). Environment: BENCH_RUNS=3 repetitions.
# Requires: cargo. Creates nothing outside the target directory and a temp dir (the kubeconfig).
set -euo pipefail

RUNS=${BENCH_RUNS:-3}
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "== building (cargo test --release --test it --no-run)" >&2
cargo test --release --test it --no-run --quiet 2>/dev/null || cargo test --release --test it --no-run
echo "== nproc: $(nproc)"
for run in $(seq 1 "$RUNS"); do
    echo "== run $run/$RUNS"
    cargo test --release --quiet --test it -- --ignored --exact kube::live_benchmark --nocapture 2>&1 \
        | grep '^live_benchmark'
done
