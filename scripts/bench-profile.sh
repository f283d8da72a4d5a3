#!/usr/bin/env bash
# Does compare tell the same story every run, and what does measuring cost?
#
# 1. Story: five back-to-back default `copylab compare` runs (256 MiB generated, 5 runs + 1
#    warm-up, both threads pinned). Per method: the median serving-thread sys CPU per GiB of
#    each compare and how far the five spread ((max - min) / median; target: within ±15%, i.e.
#    a spread of at most 30%); the same for the thread's own send path (sys less the softirq its
#    samples found) and for end-to-end CPU per GiB; the softirq ms/GiB on the serving thread
#    (what moves between the threads); and the order of the methods by serving copy ms/GiB.
# 2. Cost of measuring: a fixed sampling period (250us, 500us, 1ms), the default (auto), --no-profile
#    (counters only) and --counters rusage (neither), interleaved, PAIRS rounds of read-write and
#    sendfile on 256 MiB: per setting, the throughput and the end-to-end CPU per GiB against
#    --counters rusage (median of per-round ratios), and the samples the least sampled thread
#    got. CPU per GiB is the steadier measure on a shared machine: another process slows the
#    wall clock, not the CPU a transfer needs.
# 3. Placement: `--cpus 0,1` against `0,0` against `any`, interleaved, ROUNDS each: the
#    sendfile / read-write ratio of serving sys per GiB and the per-method spread.
#
#    Also each method's receiver copy ms/GiB (pooled) per placement, median and range over the
#    rounds: whether the receiver's copy costs more when its bytes come from the page cache
#    (sendfile) than from a sender that just wrote them (read-write), on one CPU and on two.
#
# Usage: scripts/bench-profile.sh [story|cost|placement|all] [PAIRS [ROUNDS]]
#   (default all, 4 and 3). Needs root for perf (the profile is null otherwise) and python3.
#   About 5 minutes on 2 CPUs for all.
set -euo pipefail

part=all
case ${1-} in story | cost | placement | all) part=$1; shift ;; esac
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

if [ "$part" = all ] || [ "$part" = story ]; then
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
def per_gib(run, ns):
    return ns / (run["bytes"] / GIB) / 1e6
def med(m, f):
    return statistics.median(f(run) for run in m["runs"])
def sys_(run): return per_gib(run, run["cpu"]["sys_ns"])
def softirq(run): return per_gib(run, run["profile"]["serving"]["softirq_context_ns"])
def own(run): return sys_(run) - softirq(run)
def e2e(run):
    ns = run["cpu"]["user_ns"] + run["cpu"]["sys_ns"] + run["receiver"]["cpu"]["user_ns"] + run["receiver"]["cpu"]["sys_ns"]
    ns += (run.get("io_workers") or {}).get("cpu_ns", 0)
    return per_gib(run, ns)
def spread(v):
    return (max(v) - min(v)) / statistics.median(v) * 100
methods = [m["method"] for m in reps[0]["methods"]]
print(f"{'method':<12} {'serving sys ms/GiB (5 compares)':<33} {'spread':>7} {'own':>6} {'e2e':>6} {'softirq ms/GiB':>15}  within ±15%")
for name in methods:
    ms = [next(m for m in r["methods"] if m["method"] == name) for r in reps]
    sysv = [med(m, sys_) for m in ms]
    ownv = [med(m, own) for m in ms]
    e2ev = [med(m, e2e) for m in ms]
    sirq = [med(m, softirq) for m in ms]
    cells = " ".join(f"{v:5.0f}" for v in sysv)
    ok = "yes" if spread(sysv) <= 30 else ("own path yes" if spread(ownv) <= 30 else "no")
    print(f"{name:<12} {cells:<33} {spread(sysv):6.0f}% {spread(ownv):5.0f}% {spread(e2ev):5.0f}% {min(sirq):6.0f}–{max(sirq):<6.0f}   {ok}")
orders = []
for rep in reps:
    c = {}
    for m in rep["methods"]:
        p = m.get("profile")
        c[m["method"]] = (p["serving"]["ns"]["copy"] / (p["serving"]["bytes"] / GIB) / 1e6) if p else 0.0
    ranked = sorted(c, key=lambda k: -c[k])
    text = ranked[0]
    for prev, k in zip(ranked, ranked[1:]):
        text += (" = " if abs(c[prev] - c[k]) < 5 else " > ") + k
    orders.append(text)
print("order by serving copy ms/GiB (pooled) in each compare:")
for i, o in enumerate(orders, 1):
    print(f"  {i}: {o}")
print("same order in all five:", "yes" if len(set(orders)) == 1 else "no")
EOF

fi

if [ "$part" = all ] || [ "$part" = cost ]; then
echo
echo "2. measuring cost, $pairs rounds interleaved: read-write and sendfile, 256 MiB"
settings="rusage counters auto 1ms 500us 250us"
for i in $(seq 1 "$pairs"); do
  if [ $((i % 2)) = 1 ]; then order="$settings"; else order=$(echo "$settings" | tr ' ' '\n' | tac | tr '\n' ' '); fi
  for c in $order; do
    case $c in
      rusage) extra=(--counters rusage) ;;
      counters) extra=(--no-profile) ;;
      auto) extra=() ;;
      *) extra=(--sample-period "$c") ;;
    esac
    "$bin" compare --methods read-write,sendfile --json "${extra[@]}" >"$work/cost.$c.$i.json"
  done
done
python3 - "$work" "$pairs" "$settings" <<'EOF'
import json, statistics, sys
work, pairs, settings = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
GIB = 1 << 30
def load(kind, i):
    return {m["method"]: m for m in json.load(open(f"{work}/cost.{kind}.{i}.json"))["methods"]}
def e2e(m):
    run = m["median"]
    ns = run["cpu"]["user_ns"] + run["cpu"]["sys_ns"] + run["receiver"]["cpu"]["user_ns"] + run["receiver"]["cpu"]["sys_ns"]
    return ns / (run["bytes"] / GIB)
print(f"{'setting':<10} {'method':<11} {'MiB/s vs rusage':>22} {'CPU/GiB vs rusage':>22} {'period':>8} {'least samples':>14}")
for kind in settings[1:]:
    for name in ("read-write", "sendfile"):
        tput, cpu, least, period = [], [], [], set()
        for i in range(1, pairs + 1):
            base, m = load("rusage", i)[name], load(kind, i)[name]
            tput.append(m["median"]["throughput_mib_s"] / base["median"]["throughput_mib_s"])
            cpu.append(e2e(m) / e2e(base))
            p = m.get("profile")
            if p:
                least.append(min(p["serving"]["samples"], p["receiver"]["samples"]))
                for run in m["runs"]:
                    period.add(run["profile"]["serving"]["period_ns"] // 1000)
        t = f"{statistics.median(tput):.3f} ({min(tput):.2f}-{max(tput):.2f})"
        c = f"{statistics.median(cpu):.3f} ({min(cpu):.2f}-{max(cpu):.2f})"
        per = "/".join(str(x) for x in sorted(period)) + "us" if period else "-"
        print(f"{kind:<10} {name:<11} {t:>22} {c:>22} {per:>8} {(min(least) if least else '-'):>14}")
EOF

fi

if [ "$part" = all ] || [ "$part" = placement ]; then
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
GIB = 1 << 30
print()
print(f"receiver copy ms/GiB (pooled over each compare's runs): median [min-max] over {rounds} compares")
names = [m["method"] for m in json.load(open(f"{work}/place.0,1.1.json"))["methods"]]
print(f"{'--cpus':<6} " + " ".join(f"{n:>18}" for n in names))
for c in ("0,1", "0,0", "any"):
    cells = []
    for n in names:
        v = []
        for i in range(1, rounds + 1):
            r = json.load(open(f"{work}/place.{c}.{i}.json"))
            p = next(m for m in r["methods"] if m["method"] == n).get("profile")
            if p:
                v.append(p["receiver"]["ns"]["copy"] / (p["receiver"]["bytes"] / GIB) / 1e6)
        cells.append(f"{statistics.median(v):.0f} [{min(v):.0f}-{max(v):.0f}]" if v else "n/a")
    print(f"{c:<6} " + " ".join(f"{x:>18}" for x in cells))
EOF
fi
