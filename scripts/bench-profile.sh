#!/usr/bin/env bash
# Does compare tell the same story every run, and what does measuring cost?
#
# 1. Five back-to-back default `copylab compare` runs (256 MiB generated, 5 runs + 1 warm-up,
#    both threads pinned by default): per method, the median serving-thread sys CPU per GiB of
#    each, its variation across the five ((max - min) / median), and the order of the methods by
#    serving-thread copy ms per GiB (from the cpu-clock profile) in each.
# 2. The cost of measuring: the default (perf counters + cpu-clock sampling on both threads),
#    `--no-profile` (counters only) and `--counters rusage` (neither), interleaved, PAIRS rounds:
#    throughput ratios per method (median of per-round ratios), and the samples each thread got.
# 3. Placement: `--cpus 0,1` against `0,0` against `any`, interleaved, ROUNDS each: the
#    sendfile / read-write ratio of serving sys per GiB and the per-method spread.
#
# Usage: scripts/bench-profile.sh [PAIRS [ROUNDS]]   (defaults 4 and 3). Needs root for perf
# (the profile is null otherwise) and python3. About 3 minutes on 2 CPUs.
set -euo pipefail

pairs=${1:-4}
rounds=${2:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
die() { echo "bench-profile: $*" >&2; exit 1; }
case $pairs in '' | *[!0-9]* | 0) die "PAIRS must be a positive integer" ;; esac
case $rounds in '' | *[!0-9]* | 0) die "ROUNDS must be a positive integer" ;; esac
command -v python3 >/dev/null 2>&1 || die "python3 is missing: install python3"

cargo build --release --quiet
target=${CARGO_TARGET_DIR:-$here/target}
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-profile.XXXXXX")
trap 'rm -rf "$work"' EXIT
bin="$work/copylab"
cp "$target/release/copylab" "$bin"
echo "copylab $("$bin" --version | cut -d' ' -f2) · kernel $(uname -r) · $(nproc) CPUs · $(date -u +%F)"

echo
echo "1. five back-to-back default compares"
for i in 1 2 3 4 5; do
  "$bin" compare --json >"$work/default.$i.json"
done
python3 - "$work" <<'EOF'
import json, statistics, sys
work = sys.argv[1]
reps = [json.load(open(f"{work}/default.{i}.json")) for i in range(1, 6)]
GIB = 1 << 30
def med(m, f):
    return f(m["median"])
def copy_per_gib(run, who):
    p = run.get("profile")
    if not p:
        return None
    return p[who]["ns"]["copy"] / (run["bytes"] / GIB) / 1e6
methods = [m["method"] for m in reps[0]["methods"]]
print(f"{'method':<12} {'serving sys ms/GiB, five compares':<44} {'variation':>9}   copy ms/GiB serving | receiver (medians)")
orders = []
for rep in reps:
    c = {m["method"]: copy_per_gib(m["median"], "serving") or 0.0 for m in rep["methods"]}
    ranked = sorted(c, key=lambda k: -c[k])
    # Paths within 5 ms/GiB of each other (both "no copy", say) are ties, written "=".
    text = ranked[0]
    for prev, k in zip(ranked, ranked[1:]):
        text += (" = " if abs(c[prev] - c[k]) < 5 else " > ") + k
    orders.append(text)
for name in methods:
    sysv = [next(m for m in r["methods"] if m["method"] == name)["median"]["cpu"]["sys_ns"] / (r["file"]["bytes"] / GIB) / 1e6 for r in reps]
    var = (max(sysv) - min(sysv)) / statistics.median(sysv) * 100
    cs = [copy_per_gib(next(m for m in r["methods"] if m["method"] == name)["median"], "serving") for r in reps]
    cr = [copy_per_gib(next(m for m in r["methods"] if m["method"] == name)["median"], "receiver") for r in reps]
    cells = " ".join(f"{v:6.0f}" for v in sysv)
    copy = "n/a" if None in cs else f"{statistics.median(cs):.1f} | {statistics.median(cr):.1f}"
    print(f"{name:<12} {cells:<44} {var:8.1f}%   {copy}")
print("order by serving copy ms/GiB in each compare:")
for i, o in enumerate(orders, 1):
    print(f"  {i}: {o}")
print("same order in all five:", "yes" if len(set(orders)) == 1 else "no")
EOF

echo
echo "2. measuring cost: default (perf counters + sampling), --no-profile (counters only) and"
echo "   --counters rusage (neither), $pairs rounds interleaved"
for i in $(seq 1 "$pairs"); do
  if [ $((i % 2)) = 1 ]; then order="full counters rusage"; else order="rusage counters full"; fi
  for c in $order; do
    case $c in
      full) "$bin" compare --json >"$work/cost.full.$i.json" ;;
      counters) "$bin" compare --json --no-profile >"$work/cost.counters.$i.json" ;;
      rusage) "$bin" compare --json --counters rusage >"$work/cost.rusage.$i.json" ;;
    esac
  done
done
python3 - "$work" "$pairs" <<'EOF'
import json, statistics, sys
work, pairs = sys.argv[1], int(sys.argv[2])
def load(kind, i):
    return {m["method"]: m for m in json.load(open(f"{work}/cost.{kind}.{i}.json"))["methods"]}
ratios = {"full": {}, "counters": {}, "sampling": {}}
samples = {}
for i in range(1, pairs + 1):
    full, cnt, rus = load("full", i), load("counters", i), load("rusage", i)
    for name in full:
        t = lambda d: d[name]["median"]["throughput_mib_s"]
        ratios["full"].setdefault(name, []).append(t(full) / t(rus))
        ratios["counters"].setdefault(name, []).append(t(cnt) / t(rus))
        ratios["sampling"].setdefault(name, []).append(t(full) / t(cnt))
        for who in ("serving", "receiver"):
            n = sum((run.get("profile") or {}).get(who, {}).get("samples", 0) for run in full[name]["runs"])
            samples.setdefault((name, who), []).append(n)
print(f"{'method':<12} {'full / rusage':>20} {'counters / rusage':>20} {'full / counters':>20}   samples per method (serving | receiver, least)")
for name in ratios["full"]:
    cells = []
    for k in ("full", "counters", "sampling"):
        v = ratios[k][name]
        cells.append(f"{statistics.median(v):.3f} ({min(v):.2f}-{max(v):.2f})")
    print(f"{name:<12} {cells[0]:>20} {cells[1]:>20} {cells[2]:>20}   {min(samples[(name, 'serving')])} | {min(samples[(name, 'receiver')])}")
for k, what in (("full", "measuring (counters + sampling)"), ("counters", "counters alone"), ("sampling", "sampling alone")):
    allr = [x for v in ratios[k].values() for x in v]
    print(f"{what}: median throughput ratio {statistics.median(allr):.3f} -> costs {(1 - statistics.median(allr)) * 100:+.1f}%")
tot = {who: min(sum(samples[(n, who)][i] for n in ratios["full"]) for i in range(pairs)) for who in ("serving", "receiver")}
print(f"samples per thread per default compare (all methods, least of the rounds): serving {tot['serving']}, receiver {tot['receiver']}")
EOF

echo
echo "3. placement: --cpus 0,1 vs 0,0 vs any, $rounds rounds interleaved"
for i in $(seq 1 "$rounds"); do
  for c in 0,1 0,0 any; do
    "$bin" compare --json --cpus "$c" >"$work/place.$c.$i.json"
  done
done
python3 - "$work" "$rounds" <<'EOF'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
GIB = 1 << 30
print(f"{'--cpus':<6} {'sendfile/read-write serving sys per GiB, per round':<52} {'max per-method spread of sys':>30}")
for c in ("0,1", "0,0", "any"):
    ratios, spreads = [], []
    for i in range(1, rounds + 1):
        r = json.load(open(f"{work}/place.{c}.{i}.json"))
        by = {m["method"]: m for m in r["methods"]}
        s = lambda k: by[k]["median"]["cpu"]["sys_ns"]
        ratios.append(s("sendfile") / s("read-write"))
        spreads.append(max(m["spread_pct"]["serving_sys"] for m in r["methods"]))
    print(f"{c:<6} {' '.join(f'{x:.2f}' for x in ratios):<52} {statistics.median(spreads):>29.0f}%")
EOF
