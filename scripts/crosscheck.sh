#!/usr/bin/env bash
# Cross-check copylab's syscall counts against `perf stat` (whole process, all threads) and
# `strace -f -c` for the same transfers.
#
# copylab counts only the serving thread; perf stat and strace count the whole process. The
# syscalls only the serving thread makes during a transfer (sendfile64, splice, vmsplice,
# sendto, recvmsg, io_uring_enter) must agree exactly. Counts that depend on timing (how many
# completions the kernel coalesces, how many io_uring_enter waits) differ between executions, so
# each tool is compared with copylab's own figures from the same execution: perf stat with
# copylab's perf counts, strace with copylab's self-counted figures. pread64 is also used outside the transfers (hashing the file first, the dynamic
# loader), so its baseline is taken from the sendfile run, whose transfers make no pread64:
# process-wide pread64 of the read-write run = copylab's count + that baseline. The receiver
# thread's `recvfrom` calls show up in perf/strace and in copylab's receiver total (JSON
# `receiver.syscalls.total`, all its syscalls), never in the serving thread's figures: that is
# the point of counting each thread on its own.
#
# Usage: scripts/crosscheck.sh [SIZE_MIB] (default 64). Needs root (or perf_event_paranoid -1
# and a readable tracefs), perf (linux-perf), strace and python3; installs perf and strace with
# apt-get when missing and running as root.
set -euo pipefail

size_mib=${1:-64}
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq >/dev/null && apt-get install -y -qq "$2" >/dev/null
  else
    echo "crosscheck: '$1' is missing: install the $2 package" >&2
    exit 1
  fi
}
need perf linux-perf
need strace strace
need python3 python3

cargo build --release --quiet
bin="$here/target/release/copylab"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
file="$work/data"
head -c $((size_mib << 20)) /dev/urandom >"$file"

events="syscalls:sys_enter_pread64,syscalls:sys_enter_sendfile64,syscalls:sys_enter_splice,syscalls:sys_enter_recvfrom"
events="$events,syscalls:sys_enter_vmsplice,syscalls:sys_enter_sendto,syscalls:sys_enter_recvmsg,syscalls:sys_enter_io_uring_enter"
printf '%-16s %-14s %12s %12s %12s %12s  %s\n' method syscall copylab "perf stat" strace expected verdict
for m in sendfile read-write splice vmsplice msg-zerocopy io-uring-splice io-uring-send-zc; do
  perf stat -x, -e "$events" -o "$work/perf.$m" -- \
    "$bin" compare "$file" --methods "$m" --runs 3 --warmup 0 --counters perf --json >"$work/json.$m"
  strace -f -qq -c -U name,calls -o "$work/strace.$m" -- \
    "$bin" compare "$file" --methods "$m" --runs 3 --warmup 0 --counters rusage --json >"$work/json_s.$m"
  python3 - "$m" "$work" <<'EOF'
import json, sys
method, work = sys.argv[1:3]

def counts(m):
    """Process-wide syscall counts of method m's run: (perf stat, strace -c)."""
    perf, strace = {}, {}
    for line in open(f"{work}/perf.{m}"):
        f = line.strip().split(",")
        if len(f) > 2 and f[2].startswith("syscalls:sys_enter_"):
            perf[f[2].removeprefix("syscalls:sys_enter_")] = int(f[0]) if f[0].isdigit() else None
    for line in open(f"{work}/strace.{m}"):
        f = line.split()
        if len(f) == 2 and f[1].isdigit():
            strace[f[0].replace("sendfile", "sendfile64")] = int(f[1])
    return perf, strace

runs = json.load(open(f"{work}/json.{method}"))["methods"][0]["runs"]
runs_s = json.load(open(f"{work}/json_s.{method}"))["methods"][0]["runs"]
perf, strace = counts(method)
base_perf, base_strace = counts("sendfile")
shape = {
    "read-write": ["pread64", "recvfrom"],
    "sendfile": ["sendfile64", "recvfrom"],
    "splice": ["splice", "recvfrom"],
    "vmsplice": ["vmsplice", "splice", "recvfrom"],
    "msg-zerocopy": ["sendto", "recvmsg", "recvfrom"],
    "io-uring-splice": ["io_uring_enter", "splice", "recvfrom"],
    "io-uring-send-zc": ["io_uring_enter", "sendto", "recvfrom"],
}
for name in shape[method]:
    ours = sum(run["syscalls"]["by_name"].get(name) or 0 for run in runs)
    ours_s = sum(run["self_counted"].get(name) or 0 for run in runs_s)
    p, s = perf.get(name), strace.get(name, 0)
    if name == "recvfrom":
        # The receiver thread drains the socket with recv(): copylab counts that thread on its
        # own (JSON receiver), by total only; its recvfrom calls are most of that total.
        recv_total = sum((run.get("receiver") or {}).get("syscalls", {}).get("total") or 0 for run in runs)
        ok = (p or 0) > 0 and recv_total >= (p or 0)
        verdict = (f"the receiver thread's: copylab counts {recv_total} syscalls on it (all kinds), never in the serving figures"
                   if ok else f"CHECK (receiver total {recv_total})")
        expected = "-"
    else:
        extra_p = base_perf.get(name, 0) if name == "pread64" else 0
        extra_s = base_strace.get(name, 0) if name == "pread64" else 0
        ok = p == ours + extra_p and s == ours_s + extra_s
        verdict = "agree" if ok else "DISAGREE"
        expected = f"{ours + extra_p}"
        if ours_s != ours:
            verdict += f" (strace's execution: copylab counted {ours_s})"
        if extra_p:
            verdict += f" (process-wide = copylab + {extra_p} made outside the transfers)"
    print(f"{method:<16} {name:<14} {ours:>12} {p!s:>12} {s:>12} {expected:>12}  {verdict}")
EOF
done

# copylab trace against perf stat, on one program no one here wrote: a Python loop reading a
# file in 64 KiB chunks and sending each with sendall. Both follow the whole process from its
# exec; the counts of every syscall must agree exactly (the bytes are trace's alone: perf stat
# counts calls). Each tool runs the program once, so calls that depend on the run (Python
# compiling its cache on a first run) can differ: the script warms the run first. The
# interpreter is run by its real path: a pyenv-style `python3` shim is a shell script whose
# helper processes differ from run to run.
echo
echo "copylab trace vs perf stat (python3 read + sendall, ${size_mib} MiB)"
tdir=$(mktemp -d)
trap 'rm -rf "$tdir"' EXIT
head -c "$((size_mib << 20))" /dev/urandom >"$tdir/data.bin"
cat >"$tdir/send.py" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
with open(sys.argv[1], "rb", buffering=0) as f:
    while b := f.read(65536):
        s.sendall(b)
EOF
cat >"$tdir/sink.py" <<'EOF'
import socket, sys
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1)
print(l.getsockname()[1], flush=True)
c, _ = l.accept()
while c.recv(1 << 20): pass
EOF
# sink: start the receiver and set $port once it listens (it prints its port).
sink() {
  : >"$tdir/port"
  python3 "$tdir/sink.py" >"$tdir/port" &
  sink_pid=$!
  for _ in $(seq 200); do [ -s "$tdir/port" ] && break; sleep 0.05; done
  port=$(cat "$tdir/port")
  [ -n "$port" ] || { echo "crosscheck: the receiver did not start" >&2; exit 1; }
}
py=$(python3 -c 'import sys; print(sys.executable)')
sink; "$py" "$tdir/send.py" "$tdir/data.bin" "$port"; wait "$sink_pid"
sink
"$bin" trace --json -o "$tdir/trace.json" -- "$py" "$tdir/send.py" "$tdir/data.bin" "$port"
wait "$sink_pid"
sink
perf stat -x, -o "$tdir/perf.csv" -e syscalls:sys_enter_read,syscalls:sys_enter_sendto,syscalls:sys_enter_mmap \
  -- "$py" "$tdir/send.py" "$tdir/data.bin" "$port"
wait "$sink_pid"
python3 - "$tdir/trace.json" "$tdir/perf.csv" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1]))["syscalls"]
perf = {}
for line in open(sys.argv[2]):
    f = line.strip().split(",")
    if len(f) > 2 and f[2].startswith("syscalls:sys_enter_"):
        perf[f[2][len("syscalls:sys_enter_"):]] = int(f[0])
print(f"{'syscall':<10} {'trace calls':>12} {'perf calls':>12} {'trace bytes':>14}  verdict")
for name in ["read", "sendto", "mmap"]:
    ours = (t.get(name) or {}).get("calls", 0)
    b = (t.get(name) or {}).get("bytes")
    print(f"{name:<10} {ours:>12} {perf.get(name, 0):>12} {b!s:>14}  {'agree' if ours == perf.get(name) else 'DISAGREE'}")
EOF
