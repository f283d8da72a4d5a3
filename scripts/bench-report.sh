#!/usr/bin/env bash
# What writing the HTML report (and the stacks) costs a default compare: N rounds, each
# running `copylab compare` three ways back to back in a rotating order — plain, with
# --export-html, with --export-html and --export-stacks — and timing the whole command: wall
# time, and the process's user and system CPU time (GNU time). The transfers are system time;
# keeping the callchains and rendering the page and the flame graphs are user time, the figure
# the other work on a shared machine disturbs least. Prints each run, then the medians and
# their differences to plain, and the report's size.
#
#   scripts/bench-report.sh [N] [COMPARE ARGS...]     (default N=7, a default compare)
#   scripts/bench-report.sh 15 --size 16M              (the writing's own cost, in ms: the
#                                                       sampling period adapts to the size, so a
#                                                       short compare keeps as many samples and
#                                                       stacks as a long one, with less noise)
#
# Run as root (the profile samples the kernel), on a machine as quiet as can be had.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
n=${1:-7}
shift || true
if [ ! -x /usr/bin/time ]; then
  echo "bench-report.sh: needs GNU time (apt-get install time)" >&2
  exit 1
fi
cargo build --release -q
bin=target/release/copylab
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

declare -A wall user sys
ways=(plain html html+stacks)
run_way() {
  local way=$1 args=()
  shift
  case "$way" in
    html) args=(--export-html "$dir/r.html") ;;
    html+stacks) args=(--export-html "$dir/r.html" --export-stacks "$dir/stacks") ;;
  esac
  /usr/bin/time -f "%e %U %S" -o "$dir/time" "$bin" compare --color never "$@" "${args[@]}" >/dev/null
  awk '{ printf "%.0f %.0f %.0f\n", $1 * 1000, $2 * 1000, $3 * 1000 }' "$dir/time"
}

for i in $(seq 1 "$n"); do
  # Rotate the order so no way always runs first (or last) in a round.
  for k in 0 1 2; do
    way=${ways[$(((i + k) % 3))]}
    read -r w u y < <(run_way "$way" "$@")
    wall[$way]+="$w "
    user[$way]+="$u "
    sys[$way]+="$y "
    echo "round $i $way: wall $w ms, user $u ms, sys $y ms"
  done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
pw=$(echo "${wall[plain]}" | median)
pu=$(echo "${user[plain]}" | median)
echo "medians of $n rounds (the whole command; differences to plain):"
for way in "${ways[@]}"; do
  w=$(echo "${wall[$way]}" | median)
  u=$(echo "${user[$way]}" | median)
  y=$(echo "${sys[$way]}" | median)
  awk -v way="$way" -v w="$w" -v u="$u" -v y="$y" -v pw="$pw" -v pu="$pu" 'BEGIN {
    printf "  %-12s wall %6.0f ms (%+5.1f%%)   user %5.0f ms (%+4.0f ms, %+5.1f%% of plain wall)   sys %5.0f ms\n", way, w, (w / pw - 1) * 100, u, u - pu, (u - pu) / pw * 100, y }'
done
echo "report size: $(stat -c %s "$dir/r.html") bytes"
