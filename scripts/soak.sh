#!/usr/bin/env bash
# Soak `copylab serve` (raw TCP) with every method: 10,000 sequential fetches and 20 rounds of 64
# concurrent fetches from one python3 process, every fetch compared byte for byte with the file
# (and SHA-256 checked on every 100th). The server's descriptors, threads and resident memory
# are taken after a warm-up (which brings the worker pool to --max-conns: workers are made on
# demand and kept) and again at the end: descriptors and threads must be equal, RSS within
# 16 MiB. The server is stopped with SIGINT and must exit 0 with a summary counting every
# connection as complete. Exits non-zero on any failure.
#
# Usage: scripts/soak.sh   (from anywhere; builds with cargo build --release)
# Knobs: SOAK_METHODS ("read-write mmap sendfile splice"), SOAK_SEQ (10000), SOAK_ROUNDS (20),
#        SOAK_CONC (64), SOAK_SIZE (262144 bytes), SOAK_MAX_CONNS (64, serve's default).
set -euo pipefail

methods=${SOAK_METHODS:-"read-write mmap sendfile splice"}
seq_n=${SOAK_SEQ:-10000}
rounds=${SOAK_ROUNDS:-20}
conc=${SOAK_CONC:-64}
size=${SOAK_SIZE:-262144}
max_conns=${SOAK_MAX_CONNS:-64}

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
command -v python3 >/dev/null || { echo "soak: python3 is needed" >&2; exit 1; }
cargo build --release --quiet
bin="$here/target/release/copylab"

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 2048 ]; then
  echo "soak: note: ulimit -n is $(ulimit -n); with perf counters each of the $max_conns workers keeps ~15-17 descriptors" >&2
fi

head -c "$size" /dev/urandom >"$work/data.bin"

cat >"$work/driver.py" <<'EOF'
"""One method's load: warm-up, figures, sequential and concurrent fetches, figures again."""
import hashlib, json, os, socket, sys, threading, time

port, pid, data_path, out_path = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
seq_n, rounds, conc, max_conns = map(int, sys.argv[5:9])
data = open(data_path, "rb").read()
size = len(data)
want = hashlib.sha256(data).hexdigest()
failures = []
lock = threading.Lock()


def fail(msg):
    with lock:
        failures.append(msg)


def read_exact_file(s, what, sha=False):
    """Read to EOF; the bytes must be the file's, exactly."""
    buf = bytearray(size + 1)
    mv = memoryview(buf)
    n = 0
    while n <= size:
        k = s.recv_into(mv[n:])
        if k == 0:
            break
        n += k
    if n != size:
        fail(f"{what}: {n} bytes, expected {size}")
    elif buf[:n] != data:
        fail(f"{what}: {n} bytes but different content")
    elif sha and hashlib.sha256(mv[:n]).hexdigest() != want:
        fail(f"{what}: SHA-256 differs")


def connect():
    return socket.create_connection(("127.0.0.1", port), timeout=30)


def fetch(what, sha=False):
    try:
        with connect() as s:
            read_exact_file(s, what, sha)
    except OSError as e:
        fail(f"{what}: {e}")


def concurrent(n, what):
    ts = [threading.Thread(target=fetch, args=(f"{what} #{i}", True)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def alive():
    """False once the server has exited (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def gone(where):
    print(f"the server exited during {where}", file=sys.stderr)
    for f in failures[:20]:
        print(f, file=sys.stderr)
    sys.exit(1)


def threads():
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        gone("the run")


def figures():
    if not alive():
        gone("the run")
    fds = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            target = "?"
        # A pipe or socket replaced by a fresh one is not a leak: keep only its kind.
        fds.append(f"{fd} -> {target.split(':[')[0]}")
    rss = 0
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return sorted(fds), threads(), rss


def wait_records(n, timeout=120):
    """Wait until the server printed n connection records (each after its socket closed)."""
    deadline = time.time() + timeout
    c = 0
    while time.time() < deadline:
        with open(out_path) as f:
            c = sum(1 for line in f if '"event":"connection"' in line)
        if c >= n:
            return
        if not alive():
            gone(f"the wait for {n} connection records ({c} printed)")
        time.sleep(0.05)
    fail(f"only {c} of {n} connection records after {timeout} s")


def fill_pool():
    """Hold max_conns connections until the server has a worker for each, then read them."""
    made = 0
    for _ in range(5):
        socks = [connect() for _ in range(max_conns)]
        made += len(socks)
        deadline = time.time() + 10
        while threads() < 1 + max_conns and time.time() < deadline:
            if not alive():
                gone("the warm-up")
            time.sleep(0.01)
        full = threads() >= 1 + max_conns
        time.sleep(0.3)  # let every new worker take its connection off the queue
        for i, s in enumerate(socks):
            with s:
                read_exact_file(s, f"warm-up held #{i}")
        if full:
            return made
    fail(f"the server never had {max_conns} workers (threads: {threads()})")
    return made


made = fill_pool()
concurrent(conc, "warm-up concurrent")
for i in range(4):
    fetch(f"warm-up sequential #{i}")
made += conc + 4
wait_records(made)
fds0, thr0, rss0 = figures()

for i in range(seq_n):
    fetch(f"sequential #{i}", sha=(i % 100 == 0))
    if len(failures) > 20:
        break
for r in range(rounds):
    concurrent(conc, f"round {r}")
made += seq_n + rounds * conc
wait_records(made)
fds1, thr1, rss1 = figures()

if fds0 != fds1:
    gone = sorted(set(fds0) - set(fds1))
    new = sorted(set(fds1) - set(fds0))
    fail(f"descriptors changed: gone {gone[:5]}, new {new[:5]}")
if thr0 != thr1:
    fail(f"threads changed: {thr0} -> {thr1}")
if rss1 > rss0 + 16 * 1024:
    per = (rss1 - rss0) * 1024 / (seq_n + rounds * conc)
    fail(f"RSS grew from {rss0} to {rss1} KiB ({per:.0f} bytes per connection)")
json.dump({"connections": made, "fds": [len(fds0), len(fds1)], "threads": [thr0, thr1],
           "rss_kib": [rss0, rss1], "failures": failures[:20]}, sys.stdout)
EOF

cat >"$work/check.py" <<'EOF'
"""The server's output: every connection complete and exact, and a summary counting them."""
import json, sys
out_path, expected, size, method = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
problems, conns, summary = [], 0, None
for line in open(out_path):
    ev = json.loads(line)
    if ev["event"] == "connection":
        conns += 1
        if ev["outcome"] != "complete" or ev["bytes"] != size or ev["method"] != method:
            problems.append(f"connection {ev['id']}: {ev['outcome']}, {ev['bytes']} bytes: {ev['detail']}")
    elif ev["event"] == "summary":
        summary = ev
if conns != expected:
    problems.append(f"{conns} connection records, expected {expected}")
if summary is None:
    problems.append("no summary after SIGINT")
else:
    for k, v in [("connections", expected), ("complete", expected), ("errors", 0),
                 ("client_closed", 0), ("bytes", expected * size)]:
        if summary[k] != v:
            problems.append(f"summary {k} = {summary[k]}, expected {v}")
for p in problems[:10]:
    print(p)
sys.exit(1 if problems else 0)
EOF

status=0
rows=()
for m in $methods; do
  start=$(date +%s.%N)
  out="$work/serve.$m.out"
  err="$work/serve.$m.err"
  "$bin" serve "$work/data.bin" --method "$m" --listen 127.0.0.1:0 --max-conns "$max_conns" --json \
    >"$out" 2>"$err" &
  server_pid=$!
  for _ in $(seq 100); do
    [ -s "$out" ] && break
    sleep 0.1
  done
  if ! [ -s "$out" ]; then
    echo "soak: $m: the server printed no listening line" >&2
    cat "$err" >&2
    exit 1
  fi
  port=$(head -1 "$out" | python3 -c 'import json, sys; print(json.load(sys.stdin)["address"].rsplit(":", 1)[1])')

  driver_rc=0
  python3 "$work/driver.py" "$port" "$server_pid" "$work/data.bin" "$out" \
    "$seq_n" "$rounds" "$conc" "$max_conns" >"$work/result.$m.json" || driver_rc=$?

  # Stop with SIGINT: exit 0 and a summary.
  server_rc=0
  if kill -0 "$server_pid" 2>/dev/null; then
    kill -INT "$server_pid"
    for _ in $(seq 300); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$server_pid" 2>/dev/null; then
      echo "soak: $m: the server did not exit within 30 s of SIGINT" >&2
      kill -KILL "$server_pid"
    fi
  fi
  wait "$server_pid" || server_rc=$?
  server_pid=""
  secs=$(python3 -c "import time; print(f'{time.time() - $start:.1f}')")

  ok=1
  if [ "$driver_rc" != 0 ] || ! [ -s "$work/result.$m.json" ]; then
    echo "soak: $m: the client driver failed (exit $driver_rc)" >&2
    ok=0
  else
    fails=$(python3 -c 'import json, sys; [print(f) for f in json.load(open(sys.argv[1]))["failures"]]' "$work/result.$m.json")
    if [ -n "$fails" ]; then
      echo "soak: $m: client-side failures:" >&2
      echo "$fails" | sed 's/^/  /' >&2
      ok=0
    fi
  fi
  if [ "$server_rc" != 0 ]; then
    echo "soak: $m: the server exited $server_rc" >&2
    ok=0
  fi
  if grep -q panicked "$err"; then
    echo "soak: $m: the server panicked" >&2
    ok=0
  fi
  if [ -s "$err" ]; then
    sed "s/^/soak: $m: server stderr: /" "$err" >&2
  fi
  if [ -s "$work/result.$m.json" ]; then
    expected=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["connections"])' "$work/result.$m.json")
    if ! python3 "$work/check.py" "$out" "$expected" "$size" "$m" >"$work/check.$m" 2>&1; then
      echo "soak: $m: server output:" >&2
      sed 's/^/  /' "$work/check.$m" >&2
      ok=0
    fi
    row=$(python3 - "$work/result.$m.json" "$m" "$secs" "$ok" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
m, secs, ok = sys.argv[2], sys.argv[3], sys.argv[4] == "1"
f, t, rss = r["fds"], r["threads"], r["rss_kib"]
print(f"{m:<11} {r['connections']:>11} {f[0]:>6} {f[1]:>6} {t[0]:>7} {t[1]:>7} "
      f"{rss[0] / 1024:>8.1f} {rss[1] / 1024:>8.1f} {secs:>8}  {'ok' if ok else 'FAIL'}")
EOF
)
  else
    row=$(printf '%-11s %11s %6s %6s %7s %7s %8s %8s %8s  %s' "$m" - - - - - - - "$secs" FAIL)
  fi
  rows+=("$row")
  [ "$ok" = 1 ] || status=1
done

echo
printf '%-11s %11s %6s %6s %7s %7s %8s %8s %8s  %s\n' method connections "fds" "" threads "" "RSS MiB" "" seconds result
printf '%-11s %11s %6s %6s %7s %7s %8s %8s %8s\n' "" "" before after before after before after ""
for r in "${rows[@]}"; do
  echo "$r"
done
exit "$status"
