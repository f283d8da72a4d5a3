#!/usr/bin/env bash
# How fast copylab is from the first byte, and what its counters cost to open and close.
#
# 1. serve's first client: `copylab serve FILE --count 1` on a fresh port; a client that connects
#    the moment the port is in LISTEN state (polled in /proc/net/tcp, so no probe connection is
#    used up), then measures connect -> first byte and connect -> last byte (byte count checked
#    on every transfer, SHA-256 on the first of each kind). Raw and HTTP, sendfile and read-write.
# 2. counters: `strace -f -T -y` of `copylab compare FILE --runs 2` and of a serve that answers 8
#    concurrent clients (8 workers, each with its own counter group): the time spent inside
#    perf_event_open and inside close() of perf descriptors, summed per process.
# 3. a short compare's wall time by default, with `--no-profile` and with `--counters rusage`,
#    interleaved: what counting, and then sampling, cost a whole short run.
#
# Usage: scripts/bench-startup.sh [SIZE [ROUNDS]]   e.g. scripts/bench-startup.sh 1G 5
#   SIZE file size for the serve part (K/M/G suffixes), default 1G; ROUNDS default 5.
# Needs root (perf tracepoints), python3 and strace (installed with apt-get as root if missing).
# Only 127.0.0.1 is used; every server runs under `timeout`.
set -euo pipefail

size_arg=${1:-1G}
rounds=${2:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
die() { echo "bench-startup: $*" >&2; exit 1; }
case $size_arg in
  *[kK]) size=$(( ${size_arg%[kK]} << 10 )) ;;
  *[mM]) size=$(( ${size_arg%[mM]} << 20 )) ;;
  *[gG]) size=$(( ${size_arg%[gG]} << 30 )) ;;
  *[!0-9]* | '') die "size '$size_arg' not understood: use e.g. 256M or 1G" ;;
  *) size=$size_arg ;;
esac
case $rounds in '' | *[!0-9]* | 0) die "rounds must be a positive integer" ;; esac
for t in python3 strace; do
  if ! command -v "$t" >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$t" >/dev/null
    else
      die "'$t' is missing: install the $t package"
    fi
  fi
done

cargo build --release --quiet
target=${CARGO_TARGET_DIR:-$here/target}
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-startup.XXXXXX")
trap 'rm -rf "$work"' EXIT
bin="$work/copylab"
cp "$target/release/copylab" "$bin"
file="$work/data"
python3 -c "
import os, sys
with open(sys.argv[1], 'wb') as f:
    left = int(sys.argv[2])
    while left:
        n = min(left, 8 << 20); f.write(os.urandom(n)); left -= n
" "$file" "$size"
cat "$file" >/dev/null # in the page cache, as the target says
small="$work/small"
head -c $((32 << 20)) "$file" >"$small"

echo "copylab $("$bin" --version | cut -d' ' -f2) · kernel $(uname -r) · $(nproc) CPUs · file $size_arg in the page cache"
echo

# ------------------------------------------------------------------------ 1. serve's first client
cat >"$work/first.py" <<'EOF'
import hashlib, socket, sys, time
port, http, size, want_hash = int(sys.argv[1]), sys.argv[2] == "http", int(sys.argv[3]), sys.argv[4]
hexport = f"{port:04X}"
deadline = time.monotonic() + 20
while True:  # wait for LISTEN (state 0A) without connecting
    with open("/proc/net/tcp") as f:
        if any(l.split()[1].endswith(":" + hexport) and l.split()[3] == "0A" for l in f.readlines()[1:]):
            break
    if time.monotonic() > deadline:
        sys.exit("port never listened")
    time.sleep(0.0005)
s = socket.socket()
t0 = time.monotonic()
s.connect(("127.0.0.1", port))
if http:
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
buf = bytearray(1 << 20)
mv = memoryview(buf)
first = None
got = 0
h = hashlib.sha256() if want_hash != "-" else None
head = b""
while True:
    n = s.recv_into(mv)
    if n == 0:
        break
    if first is None:
        first = time.monotonic()
    data = mv[:n]
    if http and got == 0 and head is not None:
        head += bytes(data)
        i = head.find(b"\r\n\r\n")
        if i < 0:
            continue
        data = memoryview(head[i + 4:])
        head = None
    got += len(data)
    if h:
        h.update(data)
end = time.monotonic()
if got != size:
    sys.exit(f"received {got} bytes, expected {size}")
if h and h.hexdigest() != want_hash:
    sys.exit("received bytes differ from the file")
print(f"{(first - t0) * 1e3:.2f} {(end - t0) * 1e3:.1f}")
EOF
sha=$(sha256sum "$file" | cut -d' ' -f1)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
printf '%-22s %14s %14s   %s\n' "serve, first client" "first byte ms" "last byte ms" "(median, min-max of $rounds)"
for kind in raw http; do
  for m in sendfile read-write; do
    : >"$work/first.$kind.$m"
    for r in $(seq 1 "$rounds"); do
      port=$(free_port)
      flag=()
      [ "$kind" = http ] && flag=(--http)
      timeout 60 "$bin" serve "$file" --method "$m" "${flag[@]}" --listen "127.0.0.1:$port" --count 1 \
        >/dev/null 2>"$work/serve.err" &
      spid=$!
      hash_arg=-
      [ "$r" = 1 ] && hash_arg=$sha
      python3 "$work/first.py" "$port" "$kind" "$size" "$hash_arg" >>"$work/first.$kind.$m" \
        || { cat "$work/serve.err" >&2; die "$kind $m: the client failed"; }
      wait "$spid" || die "$kind $m: serve failed: $(cat "$work/serve.err")"
    done
    python3 - "$work/first.$kind.$m" "$kind $m" <<'EOF'
import statistics, sys
rows = [tuple(map(float, l.split())) for l in open(sys.argv[1])]
f = sorted(r[0] for r in rows); l = sorted(r[1] for r in rows)
print(f"{sys.argv[2]:<22} {statistics.median(f):>14.2f} {statistics.median(l):>14.1f}   first {f[0]:.2f}-{f[-1]:.2f}, last {l[0]:.0f}-{l[-1]:.0f}")
EOF
  done
done
echo

# ------------------------------------------------------------------- 2. counter set-up, tear-down
cat >"$work/perfcost.py" <<'EOF'
import re, sys
opens = closes = 0.0
n_open = n_close = 0
worst = 0.0
for line in open(sys.argv[1]):
    m = re.search(r"perf_event_open\(.*<([\d.]+)>$", line)
    if m:
        opens += float(m[1]); n_open += 1
        continue
    m = re.search(r"close\(\d+<anon_inode:\[perf_event\]>\).*<([\d.]+)>$", line)
    if m:
        closes += float(m[1]); n_close += 1; worst = max(worst, float(m[1]))
print(f"{sys.argv[2]:<34} {n_open:>4} opens {opens * 1e3:7.1f} ms   {n_close:>4} closes {closes * 1e3:7.1f} ms (longest {worst * 1e3:.1f})   total {(opens + closes) * 1e3:.1f} ms")
EOF
echo "counters, per process (strace -f -T -y; strace itself slows each call a little)"
for r in $(seq 1 3); do
  strace -f -T -y -qq -e trace=perf_event_open,close -o "$work/st.compare" \
    "$bin" compare "$small" --runs 2 >/dev/null 2>&1
  python3 "$work/perfcost.py" "$work/st.compare" "compare 32M --runs 2 (#$r)"
done
for r in $(seq 1 3); do
  port=$(free_port)
  strace -f -T -y -qq -e trace=perf_event_open,close -o "$work/st.serve" \
    timeout 60 "$bin" serve "$small" --listen "127.0.0.1:$port" --count 8 >/dev/null 2>&1 &
  spid=$!
  for c in $(seq 1 8); do
    python3 "$work/first.py" "$port" raw $((32 << 20)) - >/dev/null &
  done
  wait "$spid"
  wait
  python3 "$work/perfcost.py" "$work/st.serve" "serve, 8 concurrent clients (#$r)"
done
echo

# --------------------------------------------------------- 3. whole-run wall time, perf vs rusage
echo "whole short run: default, --no-profile and --counters rusage (interleaved, 10 each)"
python3 - "$bin" "$small" <<'EOF'
import statistics, subprocess, sys, time
bin, small = sys.argv[1:3]
cfg = {"default": [], "no-profile": ["--no-profile"], "rusage": ["--counters", "rusage"]}
walls = {k: [] for k in cfg}
for i in range(10):
    for k in (list(cfg) if i % 2 == 0 else list(reversed(cfg))):
        t0 = time.monotonic()
        subprocess.run([bin, "compare", small, "--runs", "1", "--warmup", "0", "--json"] + cfg[k],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        walls[k].append((time.monotonic() - t0) * 1e3)
m = {k: statistics.median(v) for k, v in walls.items()}
print(f"compare 32M --runs 1 --warmup 0 (medians): default {m['default']:.0f} ms, --no-profile {m['no-profile']:.0f} ms, --counters rusage {m['rusage']:.0f} ms")
print(f"  the counters cost {m['no-profile'] - m['rusage']:+.0f} ms per process; the CPU profile (kernel symbols, ring buffers, samples) {m['default'] - m['no-profile']:+.0f} ms more")
EOF
