#!/usr/bin/env bash
# What writing the HTML report (and the stacks) costs a default compare: N rounds, each
# running `copylab compare` three ways back to back in a rotating order — plain, with
# --export-html, with --export-html and --export-stacks — and timing the whole command (wall).
# Prints each run, then the medians and their ratios to plain, and the report's size.
#
#   scripts/bench-report.sh [N] [COMPARE ARGS...]     (default N=5, a default compare)
#
# Run as root (the profile samples the kernel). The machine is shared and noisy: read the
# medians and ratios of one run of this script, measured side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
shift || true
cargo build --release -q
bin=target/release/copylab
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

declare -A times
ways=(plain html html+stacks)
run_way() {
  local way=$1 args=()
  case "$way" in
    html) args=(--export-html "$dir/r.html") ;;
    html+stacks) args=(--export-html "$dir/r.html" --export-stacks "$dir/stacks") ;;
  esac
  local t0 t1
  t0=$(date +%s%N)
  "$bin" compare --color never "$@" "${args[@]}" >/dev/null
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}

for i in $(seq 1 "$n"); do
  # Rotate the order so no way always runs first (or last) in a round.
  for k in 0 1 2; do
    way=${ways[$(((i + k) % 3))]}
    ms=$(run_way "$way" "$@")
    times[$way]+="$ms "
    echo "round $i $way: $ms ms"
  done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
plain=$(echo "${times[plain]}" | median)
echo "medians of $n rounds (wall ms of the whole command):"
for way in "${ways[@]}"; do
  m=$(echo "${times[$way]}" | median)
  awk -v w="$way" -v m="$m" -v p="$plain" 'BEGIN { printf "  %-12s %7.0f ms  %.3f× plain (%+.1f%%)\n", w, m, m / p, (m / p - 1) * 100 }'
done
echo "report size: $(stat -c %s "$dir/r.html") bytes"
