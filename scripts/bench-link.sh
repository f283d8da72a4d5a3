#!/usr/bin/env bash
# What a link changes: every path over loopback unpaced, paced to 1 Gbit/s and to 10 Gbit/s
# (`--link`, SO_MAX_PACING_RATE), and across a veth pair between two network namespaces
# (`--transport veth`), interleaved (one compare of each per round) so machine drift spreads over
# all four. Per setting and path, medians over the rounds of each compare's medians: MiB/s, CPU
# ms per GiB of the serving thread (user + sys + io-wq), of the receiver, both ends (e2e) and
# its ratio to read-write's, the share of one core each end kept busy (CPU ÷ wall), what the
# zero-copy completions said, and (veth) the bytes per packet the serving device sent.
#
# Usage: scripts/bench-link.sh [ROUNDS [SIZE]]   (defaults 3 and 64M). Needs root (the veth
# namespaces; perf for the counters) and python3. About 2 minutes on 2 CPUs with the defaults.
set -euo pipefail

rounds=${1:-3}
size=${2:-64M}
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
die() { echo "bench-link: $*" >&2; exit 1; }
case $rounds in '' | *[!0-9]* | 0) die "ROUNDS must be a positive integer" ;; esac
command -v python3 >/dev/null 2>&1 || die "python3 is missing: install python3"
[ "$(id -u)" = 0 ] || die "the veth setting makes network namespaces: run as root (sudo)"

cargo build --release --quiet
target=${CARGO_TARGET_DIR:-$here/target}
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-link.XXXXXX")
trap 'rm -rf "$work"' EXIT
bin="$work/copylab"
cp "$target/release/copylab" "$bin"
echo "copylab $("$bin" --version | cut -d' ' -f2) · kernel $(uname -r) · $(nproc) CPUs · $(date -u +%F)"
echo "compare --methods all --size $size --runs 3 --warmup 1 --no-profile, $rounds rounds interleaved"

settings=(loopback link1g link10g veth)
args_of() {
  case $1 in
    loopback) echo "" ;;
    link1g) echo "--link 1gbit" ;;
    link10g) echo "--link 10gbit" ;;
    veth) echo "--transport veth" ;;
  esac
}
for i in $(seq 1 "$rounds"); do
  for s in "${settings[@]}"; do
    # shellcheck disable=SC2046
    "$bin" compare --methods all --size "$size" --runs 3 --warmup 1 --no-profile --json \
      $(args_of "$s") >"$work/$s.$i.json"
  done
done

python3 - "$work" "$rounds" "${settings[@]}" <<'EOF'
import json, statistics, sys
work, rounds, settings = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
GIB = 1 << 30
titles = {
    "loopback": "loopback (tcp 127.0.0.1), unpaced",
    "link1g": "loopback paced to 1 Gbit/s (--link 1gbit)",
    "link10g": "loopback paced to 10 Gbit/s (--link 10gbit)",
    "veth": "veth between two namespaces (--transport veth), unpaced",
}
def figures(m):
    med = m["median"]
    gib = med["bytes"] / GIB
    wall = med["wall_ns"]
    srv = med["cpu"]["user_ns"] + med["cpu"]["sys_ns"] + ((med.get("io_workers") or {}).get("cpu_ns") or 0)
    rcv = med["receiver"]["cpu"]["user_ns"] + med["receiver"]["cpu"]["sys_ns"] if med.get("receiver") else None
    zc = med.get("zerocopy")
    tx = med.get("device_tx")
    return {
        "mib_s": med["throughput_mib_s"],
        "srv": srv / gib / 1e6,
        "rcv": None if rcv is None else rcv / gib / 1e6,
        "e2e": None if rcv is None else (srv + rcv) / gib / 1e6,
        "busy_s": srv / wall * 100,
        "busy_r": None if rcv is None else rcv / wall * 100,
        "zc": None if not zc else f"{zc['completed'] - zc['copied']}/{zc['sends']}",
        "pkt": None if not tx or not tx["packets"] else tx["bytes"] / tx["packets"] / 1024,
    }
def med(v):
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None
def f(v, fmt="{:.0f}"):
    return "n/a" if v is None else fmt.format(v)
summary = {}
for s in settings:
    reps = [json.load(open(f"{work}/{s}.{i}.json")) for i in range(1, rounds + 1)]
    rate = reps[0].get("link_rate_bytes_per_s")
    names = [m["method"] for m in reps[0]["methods"]]
    rows = {}
    for n in names:
        per = [figures(next(m for m in r["methods"] if m["method"] == n)) for r in reps]
        rows[n] = {k: (med([p[k] for p in per]) if k not in ("zc",) else per[-1][k]) for k in per[0]}
    summary[s] = rows
    print()
    head = titles[s] + (f" · paced rate {rate * 8 / 1e9:g} Gbit/s = {rate / 2**20:.1f} MiB/s" if rate else "")
    print(head)
    print(f"  {'path':<17}{'MiB/s':>7}{'srv ms/GiB':>12}{'recv ms/GiB':>13}{'e2e ms/GiB':>12}{'e2e / rw':>10}{'core busy srv|recv':>20}{'zero-copied':>13}{'KiB/packet':>12}")
    base = rows.get("read-write", {}).get("e2e")
    for n, r in rows.items():
        ratio = None if not base or r["e2e"] is None else r["e2e"] / base
        busy = f"{f(r['busy_s'])}% | {f(r['busy_r'])}%"
        print(f"  {n:<17}{f(r['mib_s']):>7}{f(r['srv']):>12}{f(r['rcv']):>13}{f(r['e2e']):>12}{f(ratio, '{:.2f}'):>10}{busy:>20}{(r['zc'] or '-'):>13}{f(r['pkt'], '{:.1f}') if r['pkt'] else '-':>12}")
print()
print("sendfile against read-write, e2e CPU per GiB (median of rounds):")
for s in settings:
    r = summary[s]
    if "sendfile" in r and "read-write" in r and r["read-write"]["e2e"]:
        print(f"  {titles[s]:<58} {r['sendfile']['e2e'] / r['read-write']['e2e']:.2f}  (MiB/s {f(r['sendfile']['mib_s'])} vs {f(r['read-write']['mib_s'])})")
EOF
