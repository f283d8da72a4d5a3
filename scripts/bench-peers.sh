#!/usr/bin/env bash
# Benchmark copylab's serving paths against peer tools over 127.0.0.1, on one generated file.
#
#   pair                          copylab side                               peer side
#   sendfile vs iperf3 -Z -F      serve --method sendfile + receiver         iperf3 -c -Z -F FILE -> iperf3 -s
#   read-write vs iperf3 -F       serve --method read-write + receiver       iperf3 -c -F FILE -> iperf3 -s
#   read-write vs socat / nc      serve --method read-write -> copylab fetch socat -u OPEN:FILE TCP4-LISTEN / nc -N -l
#                                                                              -> the same copylab fetch
#   http sendfile vs nginx        serve --http --method sendfile             nginx, sendfile on
#   http read-write vs nginx      serve --http --method read-write           nginx, sendfile off
#   raw read-write vs socat 128K  serve --method read-write                  socat -u -b 131072 OPEN:FILE TCP4-LISTEN
#                                 (these three: both sides -> recv.py, the neutral receiver below)
#
# Receivers: `copylab fetch --discard` (copy into user space, and fetch also SHA-256s what
# arrives), `copylab fetch --discard=truncate` (recv MSG_TRUNC: dropped in the kernel), and for the
# iperf3 pairs also `socat -u -b 131072 TCP4:... /dev/null` (a copy into a 128 KiB buffer and no
# hash, like iperf3's own receiver) so the receiver does not decide the ratio.
#
# The nginx and socat-128K pairs share one neutral receiver, recv.py (python3, written below): a
# 1 MiB page-aligned buffer (an anonymous mmap, faulted in before the transfer) filled with
# recv_into until EOF, one copy into user space like any client and nothing else; HTTP/1.1
# `GET /data.bin` with `Connection: close` for nginx and copylab --http, nothing sent to the raw
# servers. Not copylab fetch (copylab's own code, and --discard SHA-256s everything, ~1.5 GB/s,
# which would set the pace) nor curl (16 KiB reads by default and its own output path). recv.py
# starts before the server and polls /proc/net/tcp for the port's LISTEN state (a probe connection
# would take copylab serve --count 1's only slot), connects at once, and times from the moment it
# saw LISTEN to the last byte: a server that listens before it can serve is charged for the wait
# (the "listen -> 1st byte" column shows it). Every transfer's byte count is checked (HTTP: status
# 200, Content-Length and the body up to EOF); before the rounds one unmeasured transfer from each
# of these servers is SHA-256d by recv.py and compared with sha256sum of the file. Their server CPU
# is the wait4() rusage of the whole server process for every side, copylab's included.
#
# nginx (Debian's package) runs in the foreground, one process (`daemon off; master_process
# off;`, under rus.py), with a configuration written for each transfer into that transfer's
# directory: pid file, error and access logs and every temp path in there, listening on
# 127.0.0.1:PORT only (a free port picked here), root the work directory, nginx's defaults
# otherwise; the cleanup trap stops it by its pid. `sendfile on` with `sendfile_max_chunk 0`:
# nginx 1.22's default of 2m caps each sendfile call at 2 MiB so that one fast client cannot hold
# a worker; with one client there is no one to be fair to, and copylab sendfiles the whole file
# in one call, so the cap is lifted (the syscall check below counts both settings). tcp_nopush
# stays off (nginx's default): on, it corks the response head into the first file segment, and
# copylab writes its head with a plain write, uncorked. `sendfile off` reads into
# `output_buffers 2 128k` (set: the default is 2 32k) to match copylab read-write's 128 KiB buffer.
#
# One interleaved run: every round runs every configuration once (copylab and peer alternating,
# order reversed on even rounds); after an unmeasured warm-up round. Medians and min-max over the
# rounds; each ratio is the median of the per-round paired ratios (min-max under it).
#
# Throughput is always measured by the receiver (copylab fetch's wall time from connect to last
# byte; iperf3's receiver-side sum_received; the socat receiver's process wall time; recv.py from
# LISTEN to the last byte).
# Server CPU per GiB: copylab from serve's per-connection cost (serving thread: user_ns + sys_ns);
# iperf3 from its JSON cpu_utilization_percent.host_total x sender duration; socat and nc from
# wait4() rusage (utime + stime) of the server process, start-up included. Receiver CPU: wait4()
# rusage of the receiving process (iperf3: its JSON remote_total; recv.py: its own getrusage over
# the transfer).
#
# Also: copylab serve with the default counters vs --counters rusage (sendfile: the counters'
# overhead; read-write too), the memcpy and SHA-256 ceilings (python3), pread into an aligned vs a
# page+16 buffer, where copylab's and nginx's buffers sit and how many syscalls nginx makes per
# transfer (strace, when installed), and what iperf3 -F / -Z -F actually put on the wire (its
# server's -F output compared with the file).
#
# Usage: scripts/bench-peers.sh [SIZE [ROUNDS]]     e.g. scripts/bench-peers.sh 256M 3
#   SIZE   file size (K/M/G binary suffixes, or bytes); default 1G, or $BENCH_SIZE
#   ROUNDS measured rounds; default 5, or $BENCH_ROUNDS. $BENCH_WARMUP warm-up rounds (default 1).
# Needs cargo, python3, iperf3, socat, netcat-openbsd, nginx; as root on Debian the missing packages
# are installed with apt-get (installing nginx may start the distribution's own nginx service on
# port 80 where services start on install; this script neither uses nor stops it). copylab is
# built with cargo and taken from cargo's target directory (CARGO_TARGET_DIR is honoured). Only
# 127.0.0.1 is used. Every server runs under `timeout`; a trap kills whatever is still running and
# removes the temporary directory.
set -euo pipefail

started_ns=$(date +%s%N)
size_arg=${1:-${BENCH_SIZE:-1G}}
rounds=${2:-${BENCH_ROUNDS:-5}}
warmup=${BENCH_WARMUP:-1}
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

die() { echo "bench-peers: $*" >&2; exit 1; }

case $size_arg in
  *[kK]) size=$(( ${size_arg%[kK]} << 10 )) ;;
  *[mM]) size=$(( ${size_arg%[mM]} << 20 )) ;;
  *[gG]) size=$(( ${size_arg%[gG]} << 30 )) ;;
  *[!0-9]* | '') die "size '$size_arg' not understood: use e.g. 256M, 1G or a byte count" ;;
  *) size=$size_arg ;;
esac
[ "$size" -ge $((1 << 20)) ] || die "size must be at least 1M"
case $rounds in '' | *[!0-9]*) die "rounds must be a positive integer" ;; esac
[ "$rounds" -ge 1 ] || die "rounds must be at least 1"
case $warmup in '' | *[!0-9]*) die "BENCH_WARMUP must be a non-negative integer" ;; esac

# ---------------------------------------------------------------------------------------- tools
apt_updated=0
need() { # need COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    if [ "$2" = iperf3 ] && command -v debconf-set-selections >/dev/null 2>&1; then
      echo "iperf3 iperf3/start_daemon boolean false" | debconf-set-selections
    fi
    if [ "$apt_updated" = 0 ]; then
      timeout 300 apt-get update -qq >/dev/null || die "apt-get update failed"
      apt_updated=1
    fi
    echo "bench-peers: installing $2" >&2
    timeout 300 apt-get install -y -qq --no-install-recommends "$2" >/dev/null \
      || die "apt-get install $2 failed"
  else
    die "'$1' is missing: install the $2 package"
  fi
}
need python3 python3
need iperf3 iperf3
need socat socat
need nc.openbsd netcat-openbsd
need nginx nginx
need timeout coreutils
command -v cargo >/dev/null 2>&1 || die "cargo is missing (https://rustup.rs)"
nc_bin=$(command -v nc.openbsd)

cargo build --release --quiet
# Where cargo put it: CARGO_TARGET_DIR, build.target-dir in a cargo config, or ./target.
target_dir=$(cargo metadata --format-version 1 --no-deps 2>/dev/null \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])' 2>/dev/null || true)
target_dir=${target_dir:-${CARGO_TARGET_DIR:-$here/target}}
[ -x "$target_dir/release/copylab" ] || die "no $target_dir/release/copylab after cargo build"

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-peers.XXXXXX")
pids=()
cleanup() {
  local p
  for f in "$work"/*/*/nginx.pid; do # an nginx still running, by the pid it wrote
    if [ -s "$f" ]; then pids+=("$(cat "$f")"); fi
  done
  for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.2
  for p in "${pids[@]+"${pids[@]}"}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# A private copy, so a rebuild in the tree during the run cannot change the binary under test.
bin="$work/copylab"
cp "$target_dir/release/copylab" "$bin"

# rus.py OUT TIMEOUT CMD...: run CMD, write "utime stime wall_s exit" from wait4() to OUT.
cat >"$work/rus.py" <<'EOF'
import os, signal, sys, time
out, limit, cmd = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(cmd[0], cmd)
    finally:
        os._exit(127)
killed = []
def stop(sig, frame):
    try:
        os.kill(pid, signal.SIGKILL if killed else signal.SIGTERM)
    except ProcessLookupError:
        pass
    if not killed:
        killed.append(sig)
        signal.setitimer(signal.ITIMER_REAL, 2)
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):
    signal.signal(s, stop)
signal.setitimer(signal.ITIMER_REAL, limit)
_, status, ru = os.wait4(pid, 0)
wall = time.monotonic() - t0
rc = os.waitstatus_to_exitcode(status)
with open(out, "w") as f:
    f.write(f"{ru.ru_utime:.6f} {ru.ru_stime:.6f} {wall:.6f} {rc}\n")
if killed:
    print(f"rus.py: {cmd[0]} stopped after {limit:.0f} s", file=sys.stderr)
sys.exit(rc if rc >= 0 else 128 - rc)
EOF
rus() { python3 "$work/rus.py" "$@"; }

# recv.py raw|http PORT SIZE OUT hash|nohash READY: the neutral receiver (see the header). Touches
# READY, waits for PORT to listen on 127.0.0.1, receives, writes its figures as JSON to OUT; exits
# 1 (the reason in OUT) unless exactly SIZE bytes arrived (HTTP: with status 200 and that length).
cat >"$work/recv.py" <<'EOF'
import hashlib, json, mmap, resource, signal, socket, sys, time
mode, port, size, out, want_hash, ready = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5] == "hash", sys.argv[6]
signal.alarm(60)
res = {"mode": mode, "bytes": 0, "error": None}
def finish(err=None):
    res["error"] = err
    with open(out, "w") as f:
        json.dump(res, f)
    sys.exit(1 if err else 0)
buf = mmap.mmap(-1, 1 << 20)  # anonymous mapping: page-aligned
buf.write(bytes(len(buf)))    # fault its pages in now, not during the transfer
mv = memoryview(buf)
h = hashlib.sha256() if want_hash else None
listening = f" 0100007F:{port:04X} 00000000:0000 0A".encode()
open(ready, "w").close()
deadline = time.monotonic() + 10
while True:
    with open("/proc/net/tcp", "rb") as f:
        if listening in f.read():
            break
    if time.monotonic() > deadline:
        finish(f"nothing listened on 127.0.0.1:{port} within 10 s")
    time.sleep(0.0002)
t_listen = time.monotonic()
ru0 = resource.getrusage(resource.RUSAGE_SELF)
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.connect(("127.0.0.1", port))
t_conn = time.monotonic()
total, calls, t_first, t_last = 0, 0, None, None
if mode == "http":
    s.sendall(f"GET /data.bin HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
    got = 0
    while True:
        n = s.recv_into(mv[got:])
        calls += 1
        if n == 0:
            finish(f"connection closed after {got} bytes of the response head")
        t_first = t_first or time.monotonic()
        got += n
        end = buf.find(b"\r\n\r\n", 0, got)
        if end >= 0:
            break
        if got == len(buf):
            finish("response head over 1 MiB")
    lines = bytes(mv[:end]).decode("latin-1").split("\r\n")
    res["status_line"] = lines[0]
    fields = dict((k.strip().lower(), v.strip()) for k, _, v in (l.partition(":") for l in lines[1:]))
    res["content_length"] = int(fields.get("content-length", "-1"))
    if not lines[0].startswith("HTTP/1.1 200 "):
        finish(f"status line '{lines[0]}'")
    if res["content_length"] != size:
        finish(f"Content-Length {res['content_length']}, expected {size}")
    total = got - (end + 4)
    if h:
        h.update(mv[end + 4:got])
    t_last = t_first
while True:
    n = s.recv_into(mv)
    calls += 1
    if n == 0:
        break
    t_last = time.monotonic()
    t_first = t_first or t_last
    total += n
    if h:
        h.update(mv[:n])
ru1 = resource.getrusage(resource.RUSAGE_SELF)
s.close()
res.update(bytes=total, recv_calls=calls, connect_s=t_conn - t_listen,
           listen_to_first_s=(t_first or t_conn) - t_listen, listen_to_last_s=(t_last or t_conn) - t_listen,
           rcv_cpu_s=ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime,
           sha256=h.hexdigest() if h else None)
finish(None if total == size else f"{total} bytes, expected {size}")
EOF

# A free 127.0.0.1 port: random, not in use in /proc/net/tcp{,6}.
free_port() {
  local p hex
  while :; do
    p=$(( (RANDOM << 15 | RANDOM) % 30000 + 20000 ))
    hex=$(printf '%04X' "$p")
    grep -qi ":$hex " /proc/net/tcp /proc/net/tcp6 2>/dev/null || { echo "$p"; return; }
  done
}
# Wait (at most 10 s) until PID listens on 127.0.0.1:PORT.
wait_listen() { # PORT PID
  local hex i
  hex=$(printf '%04X' "$1")
  for i in $(seq 1000); do
    grep -qi " 0100007F:$hex 00000000:0000 0A" /proc/net/tcp && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.01
  done
  return 1
}
# Wait (at most 10 s) for copylab serve's listening line in FILE; print the address.
wait_addr() { # FILE PID
  local i a
  for i in $(seq 1000); do
    a=$(grep -o -m1 '"address":"127\.0\.0\.1:[0-9]*"' "$1" 2>/dev/null | cut -d'"' -f4 || true)
    [ -n "$a" ] && { echo "$a"; return 0; }
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.01
  done
  return 1
}
fail_run() { # DIR WHAT
  echo "bench-peers: $2 failed; files in $1:" >&2
  local f
  for f in "$1"/*; do echo "--- $f" >&2; tail -c 2000 "$f" >&2 || true; done
  exit 1
}

# ---------------------------------------------------------------------------------------- runs
# receive KIND ADDR DIR: the receiver, under rus.py (receiver CPU) with a 60 s limit.
receive() {
  local kind=$1 addr=$2 d=$3
  case $kind in
    copy) timeout 70 python3 "$work/rus.py" "$d/rcv.rus" 60 "$bin" fetch "$addr" --discard --json >"$d/rcv.json" 2>"$d/rcv.err" ;;
    trunc) timeout 70 python3 "$work/rus.py" "$d/rcv.rus" 60 "$bin" fetch "$addr" --discard=truncate --json >"$d/rcv.json" 2>"$d/rcv.err" ;;
    sock) timeout 70 python3 "$work/rus.py" "$d/rcv.rus" 60 socat -u -b 131072 "TCP4:$addr" OPEN:/dev/null >"$d/rcv.json" 2>"$d/rcv.err" ;;
  esac
}

run_copylab() { # DIR METHOD COUNTERS RECEIVER
  local d=$1 addr spid rc=0
  : >"$d/srv.out"
  timeout 60 "$bin" serve "$file" --method "$2" --counters "$3" --listen 127.0.0.1:0 --json --count 1 \
    >"$d/srv.out" 2>"$d/srv.err" &
  spid=$!; pids+=("$spid")
  addr=$(wait_addr "$d/srv.out" "$spid") || fail_run "$d" "copylab serve start"
  receive "$4" "$addr" "$d" || { rc=$?; kill "$spid" 2>/dev/null || true; }
  wait "$spid" || rc=$?
  [ "$rc" = 0 ] || fail_run "$d" "copylab serve --method $2 with receiver $4"
}

run_peer() { # DIR socat|nc RECEIVER
  local d=$1 port spid rc=0
  port=$(free_port)
  if [ "$2" = socat ]; then
    timeout 70 python3 "$work/rus.py" "$d/srv.rus" 60 \
      socat -u "OPEN:$file" "TCP4-LISTEN:$port,bind=127.0.0.1,reuseaddr" >"$d/srv.out" 2>"$d/srv.err" &
  else
    timeout 70 python3 "$work/rus.py" "$d/srv.rus" 60 \
      "$nc_bin" -N -l 127.0.0.1 "$port" <"$file" >"$d/srv.out" 2>"$d/srv.err" &
  fi
  spid=$!; pids+=("$spid")
  wait_listen "$port" "$spid" || fail_run "$d" "$2 start"
  receive "$3" "127.0.0.1:$port" "$d" || { rc=$?; kill "$spid" 2>/dev/null || true; }
  wait "$spid" || rc=$?
  [ "$rc" = 0 ] || fail_run "$d" "$2 with receiver $3"
}

run_iperf() { # DIR ZEROCOPY(-Z or empty)
  local d=$1 port spid rc=0
  port=$(free_port)
  timeout 60 iperf3 -s -1 -B 127.0.0.1 -p "$port" -J >"$d/srv.json" 2>"$d/srv.err" &
  spid=$!; pids+=("$spid")
  wait_listen "$port" "$spid" || fail_run "$d" "iperf3 server start"
  timeout 70 python3 "$work/rus.py" "$d/cli.rus" 60 \
    iperf3 -c 127.0.0.1 -p "$port" ${2:+"$2"} -F "$file" -n "$size" -J >"$d/cli.json" 2>"$d/cli.err" || rc=$?
  wait "$spid" || rc=$?
  [ "$rc" = 0 ] || fail_run "$d" "iperf3 ${2:-} -F"
}

# nginx_conf DIR PORT DIRECTIVES...: nginx's configuration for one transfer, everything inside DIR.
nginx_conf() {
  local d=$1 port=$2
  shift 2
  mkdir -p "$d/temp"
  cat >"$d/nginx.conf" <<EOF
daemon off;
master_process off;
pid $d/nginx.pid;
error_log $d/error.log notice;
events { }
http {
    access_log $d/access.log;
    client_body_temp_path $d/temp/client_body;
    proxy_temp_path $d/temp/proxy;
    fastcgi_temp_path $d/temp/fastcgi;
    uwsgi_temp_path $d/temp/uwsgi;
    scgi_temp_path $d/temp/scgi;
    default_type application/octet-stream;
    $*
    server {
        listen 127.0.0.1:$port;
        root $work;
    }
}
EOF
}

# server_cmd SERVER DIR PORT: set srv_cmd to the server of a recv.py pair, listening on PORT.
server_cmd() {
  case $1 in
    clh_sf) srv_cmd=("$bin" serve "$file" --http --method sendfile --listen "127.0.0.1:$3" --json --count 1) ;;
    clh_rw) srv_cmd=("$bin" serve "$file" --http --method read-write --listen "127.0.0.1:$3" --json --count 1) ;;
    clr_rw) srv_cmd=("$bin" serve "$file" --method read-write --listen "127.0.0.1:$3" --json --count 1) ;;
    so128) srv_cmd=(socat -u -b 131072 "OPEN:$file" "TCP4-LISTEN:$3,bind=127.0.0.1,reuseaddr") ;;
    nx_sf) nginx_conf "$2" "$3" "sendfile on; sendfile_max_chunk 0;" ;;
    nx_sf2m) nginx_conf "$2" "$3" "sendfile on;" ;; # nginx's default sendfile_max_chunk (2m): the syscall check only
    nx_rw) nginx_conf "$2" "$3" "sendfile off; output_buffers 2 128k;" ;;
  esac
  case $1 in nx_*) srv_cmd=(nginx -e "$2/error.log" -p "$2/" -c "$2/nginx.conf") ;; esac
}

# run_neutral DIR SERVER hash|nohash [strace]: one transfer from SERVER to recv.py.
run_neutral() {
  local d=$1 port rpid spid rc=0 mode=raw i
  port=$(free_port)
  case $2 in clh_* | nx_*) mode=http ;; esac
  server_cmd "$2" "$d" "$port"
  [ "${4:-}" = strace ] && srv_cmd=(strace -f -qq -e raw=pread64 -o "$d/strace" "${srv_cmd[@]}")
  timeout 70 python3 "$work/recv.py" "$mode" "$port" "$size" "$d/rcv.json" "$3" "$d/ready" 2>"$d/rcv.err" &
  rpid=$!; pids+=("$rpid")
  for i in $(seq 1000); do
    [ -e "$d/ready" ] && break
    kill -0 "$rpid" 2>/dev/null || break
    sleep 0.005
  done
  [ -e "$d/ready" ] || fail_run "$d" "recv.py start"
  timeout 70 python3 "$work/rus.py" "$d/srv.rus" 60 "${srv_cmd[@]}" >"$d/srv.out" 2>"$d/srv.err" &
  spid=$!; pids+=("$spid")
  wait "$rpid" || rc=$?
  # nginx serves until told to stop; the others end by themselves after one transfer
  if [ -s "$d/nginx.pid" ]; then kill -TERM "$(cat "$d/nginx.pid")" 2>/dev/null || true; fi
  [ "$rc" = 0 ] || kill "$spid" 2>/dev/null || true
  wait "$spid" || rc=$?
  rm -f "$d/nginx.pid"
  [ "$rc" = 0 ] || fail_run "$d" "$2 -> recv.py"
}

# config -> how to run it
run_cfg() { # CFG ROUND
  local d="$work/runs/$2.$1"
  mkdir -p "$d"
  case $1 in
    cl_sf_copy) run_copylab "$d" sendfile auto copy ;;
    cl_sf_sock) run_copylab "$d" sendfile auto sock ;;
    cl_rw_copy) run_copylab "$d" read-write auto copy ;;
    cl_rw_sock) run_copylab "$d" read-write auto sock ;;
    cl_rw_trunc) run_copylab "$d" read-write auto trunc ;;
    cl_rw_trunc_rusage) run_copylab "$d" read-write rusage trunc ;;
    cl_sf_trunc) run_copylab "$d" sendfile auto trunc ;;
    cl_sf_trunc_rusage) run_copylab "$d" sendfile rusage trunc ;;
    ip_z) run_iperf "$d" -Z ;;
    ip_rw) run_iperf "$d" "" ;;
    so_copy) run_peer "$d" socat copy ;;
    nc_copy) run_peer "$d" nc copy ;;
    so_trunc) run_peer "$d" socat trunc ;;
    nc_trunc) run_peer "$d" nc trunc ;;
    clh_sf | clh_rw | clr_rw | nx_sf | nx_rw | so128) run_neutral "$d" "$1" nohash ;;
  esac
  pids=() # every process of this run has been waited for
  echo "$2 $1 $d" >>"$work/manifest"
}

# copylab and peers alternate; each pair's two sides are neighbours.
order=(cl_sf_copy ip_z cl_sf_sock ip_rw cl_rw_sock so_copy cl_rw_copy nc_copy
       cl_rw_trunc so_trunc cl_rw_trunc_rusage nc_trunc cl_sf_trunc cl_sf_trunc_rusage
       clh_sf nx_sf clh_rw nx_rw clr_rw so128)
neutral=(clh_sf nx_sf clh_rw nx_rw clr_rw so128)

# ---------------------------------------------------------------------------------------- file
file="$work/data.bin"
gen="/dev/urandom"
if command -v openssl >/dev/null 2>&1; then
  # AES-128-CTR keystream: incompressible, about twice as fast as /dev/urandom.
  { openssl enc -aes-128-ctr -pass pass:bench-peers -nosalt -pbkdf2 -in /dev/zero 2>/dev/null || true; } \
    | head -c "$size" >"$file"
  gen="openssl aes-128-ctr keystream"
fi
if [ "$(stat -c %s "$file" 2>/dev/null || echo 0)" != "$size" ]; then
  head -c "$size" /dev/urandom >"$file"
  gen="/dev/urandom"
fi
cat "$file" >/dev/null # into the page cache
ref_sha=$(sha256sum "$file" | cut -d' ' -f1)
cached=$(fincore -n -b -o RES "$file" 2>/dev/null | tr -d ' ' || true)

# ---------------------------------------------------------------------------------------- ceilings
python3 - "$file" >"$work/ceil" <<'EOF'
import hashlib, mmap, os, statistics, sys, time
n = 256 << 20
src = bytearray(b"\x5a") * n
dst = bytearray(n)
mv = memoryview(dst)
mv[:] = src  # fault the pages in
r = []
for _ in range(5):
    t = time.perf_counter(); mv[:] = src; r.append(256 / (time.perf_counter() - t))
h = []
for _ in range(2):
    t = time.perf_counter(); hashlib.sha256(src).digest(); h.append(256 / (time.perf_counter() - t))
# pread of the (cached) file in 128 KiB chunks into a page-aligned buffer and into page + 16,
# where glibc's malloc puts a 128 KiB allocation (a fresh mmap chunk after its 16-byte header).
fd = os.open(sys.argv[1], os.O_RDONLY)
total = min(os.fstat(fd).st_size, 256 << 20)
B = 128 << 10
m = mmap.mmap(-1, B + 4096)
best = {}
for _ in range(3):
    for off in (0, 16):
        buf = memoryview(m)[off:off + B]
        t = time.perf_counter(); p = 0
        while p < total:
            p += os.preadv(fd, [buf], p)
        best[off] = max(best.get(off, 0), total / 2**20 / (time.perf_counter() - t))
print(f"{statistics.median(r):.0f} {min(r):.0f} {max(r):.0f} {max(h):.0f} {best[0]:.0f} {best[16]:.0f}")
EOF
read -r memcpy_med memcpy_min memcpy_max sha_mibs pread_al pread_mis <"$work/ceil"

# ---------------------------------------------------------------------------------------- iperf3 content check
# What does iperf3 actually put on the wire with -F? Its server writes what arrives to a file
# with -F; compare that with the source (16 MiB).
chk="$work/check"
mkdir -p "$chk"
head -c $((16 << 20)) "$file" >"$chk/src"
for z in "" -Z; do
  port=$(free_port)
  timeout 60 iperf3 -s -1 -B 127.0.0.1 -p "$port" -F "$chk/recv${z}" >/dev/null 2>&1 &
  spid=$!; pids+=("$spid")
  wait_listen "$port" "$spid" || die "iperf3 server (content check) did not start"
  timeout 60 iperf3 -c 127.0.0.1 -p "$port" ${z:+"$z"} -F "$chk/src" -n $((16 << 20)) >/dev/null 2>&1 \
    || die "iperf3 client (content check) failed"
  wait "$spid" || true
  pids=()
done
python3 - "$chk" >"$chk/summary" <<'EOF'
import sys
d = sys.argv[1]
src = open(f"{d}/src", "rb").read()
for z in ("", "-Z"):
    got = open(f"{d}/recv{z}", "rb").read()
    same = sum(4096 for i in range(0, len(got) - 4095, 4096) if got[i:i + 4096] == src[i:i + 4096])
    zero = got.count(0)
    n = max(len(got), 1)
    print(f"iperf3 {z or '  '} -F: {len(got) / 2**20:.1f} MiB written by the iperf3 server; "
          f"{100 * same / n:.1f}% equal to the file at the same offset, {100 * zero / n:.1f}% zero bytes")
EOF

# ---------------------------------------------------------------------------------------- buffer addresses
# Where the user buffers of copylab serve --method read-write (both counter settings) and of
# copylab fetch --discard sit (strace -e raw: the address itself). Only with strace installed.
: >"$chk/align"
if command -v strace >/dev/null 2>&1; then
  for c in auto rusage fetch; do
    : >"$chk/srv.$c"
    if [ "$c" = fetch ]; then
      timeout 60 "$bin" serve "$chk/src" --method sendfile --listen 127.0.0.1:0 --json --count 1 \
        >"$chk/srv.$c" 2>/dev/null &
    else
      timeout 60 strace -f -qq -e trace=pread64 -e raw=pread64 -o "$chk/strace.$c" \
        "$bin" serve "$chk/src" --method read-write --counters "$c" --listen 127.0.0.1:0 --json --count 1 \
        >"$chk/srv.$c" 2>/dev/null &
    fi
    spid=$!; pids+=("$spid")
    addr=$(wait_addr "$chk/srv.$c" "$spid") || die "copylab serve (buffer check) did not start"
    if [ "$c" = fetch ]; then
      timeout 60 strace -f -qq -e trace=recvfrom,read -e raw=recvfrom,read -o "$chk/strace.$c" \
        "$bin" fetch "$addr" --discard >/dev/null 2>&1 || die "copylab fetch (buffer check) failed"
    else
      timeout 60 "$bin" fetch "$addr" --discard=truncate >/dev/null 2>&1 || die "copylab fetch (buffer check) failed"
    fi
    wait "$spid" || die "copylab serve (buffer check) failed"
    pids=()
    # the buffer address used by most data calls
    a=$(grep -oE '(pread64|recvfrom|read)\(0x[0-9a-f]+, 0x[0-9a-f]+' "$chk/strace.$c" | sed 's/.*, //' \
        | sort | uniq -c | sort -rn | awk 'NR == 1 {print $2}')
    echo "$c ${a:-?}" >>"$chk/align"
  done
fi

# ---------------------------------------------------------------------------------------- recv.py servers: first transfers hashed
# The first transfer from each server of the recv.py pairs, unmeasured: recv.py SHA-256s it.
for c in "${neutral[@]}"; do
  mkdir -p "$work/verify/$c"
  run_neutral "$work/verify/$c" "$c" hash
  pids=()
done

# ---------------------------------------------------------------------------------------- nginx syscalls
# What nginx calls for one transfer (strace, from its accept4 on), with sendfile_max_chunk 0 and
# nginx's default 2m, and with sendfile off (also where its read buffer sits). Only with strace.
: >"$chk/nginx"
if command -v strace >/dev/null 2>&1; then
  for c in nx_sf nx_sf2m nx_rw; do
    mkdir -p "$chk/$c"
    run_neutral "$chk/$c" "$c" nohash strace
    pids=()
    calls=$(awk '/accept4\(/ { on = 1 }
                 on && /^[0-9]+ +[a-z0-9_]+\(/ {
                   sub(/^[0-9]+ +/, ""); k = substr($0, 1, index($0, "(") - 1); n[k]++; all++
                   if (/= -1 EAGAIN/) again[k]++
                 }
                 END {
                   split("sendfile pread64 read writev write sendto epoll_wait", want, " ")
                   for (i = 1; i in want; i++) if (n[want[i]]) {
                     out = out sprintf("%s%s %d", out == "" ? "" : ",", want[i], n[want[i]])
                     if (again[want[i]]) out = out sprintf(" (%d EAGAIN)", again[want[i]])
                   }
                   printf "%s,all %d", out, all
                 }' "$chk/$c/strace")
    a=$(grep -oE 'pread64\(0x[0-9a-f]+, 0x[0-9a-f]+' "$chk/$c/strace" | sed 's/.*, //' \
        | sort | uniq -c | sort -rn | awk 'NR == 1 {print $2}')
    echo "$c ${a:--} $calls" >>"$chk/nginx"
  done
fi

# ---------------------------------------------------------------------------------------- the run
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
if awk -v l="${load_before%% *}" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
  echo "bench-peers: warning: load average ${load_before%% *} on $(nproc) CPUs before the run: other work will add noise" >&2
fi
: >"$work/manifest"
total=$((warmup + rounds))
for ((r = 1 - warmup; r <= rounds; r++)); do
  if (( (r + warmup) % 2 == 0 )); then
    seq_cfgs=($(printf '%s\n' "${order[@]}" | tac))
  else
    seq_cfgs=("${order[@]}")
  fi
  printf 'bench-peers: round %d/%d%s\n' "$((r + warmup))" "$total" "$([ "$r" -le 0 ] && echo ' (warm-up)')" >&2
  for c in "${seq_cfgs[@]}"; do run_cfg "$c" "$r"; done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed_ns=$(( $(date +%s%N) - started_ns ))

# ---------------------------------------------------------------------------------------- report
rc=0
(python3 - "$work/manifest" "$size" "$ref_sha" <<EOF
import json, statistics, sys
manifest, size, ref_sha = sys.argv[1], int(sys.argv[2]), sys.argv[3]
GiB, MiB = 1 << 30, 1 << 20
problems = []

def rus(path):
    u, s, w, rc = open(path).read().split()
    return float(u), float(s), float(w), int(rc)

NEUTRAL = {"clh_sf", "nx_sf", "clh_rw", "nx_rw", "clr_rw", "so128"}

def neutral(cfg, d, verify=False):
    """A recv.py transfer: rates from recv.py, server CPU from the server process's wait4()."""
    r = {}
    j = json.load(open(f"{d}/rcv.json"))
    if j.get("error"):
        problems.append(f"{d}: recv.py: {j['error']}")
    r["bytes"] = j["bytes"]
    r["mib"] = size / MiB / j["listen_to_last_s"]
    r["mib_first"] = size / MiB / max(j["listen_to_last_s"] - j["listen_to_first_s"], 1e-9)
    r["ttfb_ms"] = j["listen_to_first_s"] * 1e3
    r["rcv_cpu"] = j["rcv_cpu_s"]
    u, s, w, rc = rus(f"{d}/srv.rus")
    r["srv_cpu"] = u + s
    if rc != 0:
        problems.append(f"{d}: server exit status {rc}")
    if cfg.startswith("cl"):
        lines = [json.loads(l) for l in open(f"{d}/srv.out") if l.strip()]
        con = next(l for l in lines if l.get("event") == "connection")
        if con["outcome"] != "complete" or con["bytes"] != size:
            problems.append(f"{d}: copylab serve {con['outcome']} {con['bytes']} bytes")
        r["calls"] = {k: v for k, v in con["cost"]["syscalls"]["by_name"].items() if v}
    elif cfg.startswith("nx"):
        log = open(f"{d}/access.log").read().split()
        if log[8:10] != ["200", str(size)]:
            problems.append(f"{d}: nginx access log: {' '.join(log)}")
    if verify and j.get("sha256") != ref_sha:
        problems.append(f"{d}: recv.py sha256 {j.get('sha256')} != {ref_sha}")
    if r["bytes"] != size:
        problems.append(f"{d}: {r['bytes']} bytes, expected {size}")
    r["bytes"] = r["bytes"] or size
    r["srv_cpu_gib"] = r["srv_cpu"] / (r["bytes"] / GiB)
    r["rcv_cpu_gib"] = r["rcv_cpu"] / (r["bytes"] / GiB)
    return r

def run(cfg, d):
    if cfg in NEUTRAL:
        return neutral(cfg, d)
    r = {}
    side = cfg.split("_")[0]
    if side == "cl":
        lines = [json.loads(l) for l in open(f"{d}/srv.out") if l.strip()]
        lst = next(l for l in lines if l.get("event") == "listening")
        con = next(l for l in lines if l.get("event") == "connection")
        r["source"] = lst.get("syscall_source")
        if con["outcome"] != "complete" or con["bytes"] != size:
            problems.append(f"{d}: copylab serve {con['outcome']} {con['bytes']} bytes")
        cpu = con["cost"]["cpu"]
        r["srv_cpu"] = ((cpu["user_ns"] or 0) + (cpu["sys_ns"] or 0)) / 1e9
        r["bytes"] = con["bytes"]
    elif side in ("so", "nc"):
        u, s, w, rc = rus(f"{d}/srv.rus")
        r["srv_cpu"] = u + s
    if side == "ip":
        j = json.load(open(f"{d}/cli.json"))
        if "error" in j:
            problems.append(f"{d}: iperf3: {j['error']}")
        e = j["end"]
        cpu = e["cpu_utilization_percent"]
        # the receiver's rate; its byte count can fall short of what was sent (iperf3 ends the
        # test when the sender has written everything), so delivery is checked on the sender
        r["mib"] = e["sum_received"]["bits_per_second"] / 8 / MiB
        r["bytes"] = e["sum_sent"]["bytes"]
        r["short"] = size - e["sum_received"]["bytes"]
        r["srv_cpu"] = cpu["host_total"] / 100 * e["sum_sent"]["seconds"]
        r["rcv_cpu"] = cpu["remote_total"] / 100 * e["sum_received"]["seconds"] * size / max(e["sum_received"]["bytes"], 1)
        u, s, w, rc = rus(f"{d}/cli.rus")
        r["srv_cpu_rusage"] = u + s
    else:
        recv = cfg.rsplit("_", 1)[1] if not cfg.endswith("rusage") else "trunc"
        u, s, w, rc = rus(f"{d}/rcv.rus")
        r["rcv_cpu"] = u + s
        if recv == "sock":
            r["mib"] = size / MiB / w  # bytes checked on the copylab serve side
        else:
            j = json.load(open(f"{d}/rcv.json"))
            c = j["connections"][0]
            r["mib"] = c["throughput_mib_s"]
            r["bytes"] = c["bytes"]
            if c.get("error"):
                problems.append(f"{d}: fetch: {c['error']}")
            if recv == "copy" and c.get("sha256") != ref_sha:
                problems.append(f"{d}: sha256 {c.get('sha256')} != {ref_sha}")
    if r.get("bytes", size) != size:
        problems.append(f"{d}: {r.get('bytes')} bytes, expected {size}")
    r["bytes"] = r.get("bytes") or size
    r["srv_cpu_gib"] = r["srv_cpu"] / (r["bytes"] / GiB)
    r["rcv_cpu_gib"] = r["rcv_cpu"] / (r["bytes"] / GiB)
    return r

runs = {}  # cfg -> {round: result}
for line in open(manifest):
    rnd, cfg, d = line.split()
    if int(rnd) <= 0:
        continue  # warm-up
    runs.setdefault(cfg, {})[int(rnd)] = run(cfg, d)

def med(cfg, key):
    v = [r[key] for r in runs[cfg].values()]
    return statistics.median(v), min(v), max(v)

def paired(a, b, key):
    v = [runs[a][k][key] / runs[b][k][key] for k in runs[a] if k in runs[b]]
    return statistics.median(v), min(v), max(v)

def fmt_t(t):
    m, lo, hi = t
    return f"{m:6.0f} ({lo:.0f}-{hi:.0f})"

def fmt_c(t):
    m, lo, hi = t
    return f"{m:5.2f} ({lo:.2f}-{hi:.2f})"

def fmt_r(t):
    m, lo, hi = t
    return f"{m:5.2f} ({lo:.2f}-{hi:.2f})"

pairs = [
    ("sendfile vs iperf3 -Z -F", "fetch copy+sha256 | iperf3 -s", "cl_sf_copy", "ip_z"),
    ("sendfile vs iperf3 -Z -F", "socat 128K>null | iperf3 -s", "cl_sf_sock", "ip_z"),
    ("read-write vs iperf3 -F", "fetch copy+sha256 | iperf3 -s", "cl_rw_copy", "ip_rw"),
    ("read-write vs iperf3 -F", "socat 128K>null | iperf3 -s", "cl_rw_sock", "ip_rw"),
    ("read-write vs socat", "fetch --discard (copy+sha256)", "cl_rw_copy", "so_copy"),
    ("read-write vs nc", "fetch --discard (copy+sha256)", "cl_rw_copy", "nc_copy"),
    ("read-write vs socat", "fetch --discard=truncate", "cl_rw_trunc", "so_trunc"),
    ("read-write vs nc", "fetch --discard=truncate", "cl_rw_trunc", "nc_trunc"),
]
hdr = ("pair (copylab vs peer)", "receiver (copylab | peer)",
       "copylab MiB/s", "peer MiB/s", "ratio cl/peer",
       "cl srv CPU s/GiB", "peer srv CPU s/GiB", "CPU ratio cl/peer", "rcv CPU s/GiB cl | peer")
w = (38, 34, 18, 18, 17, 18, 18, 17, 23)
def row(cells):
    return "  ".join(str(c).ljust(n) for c, n in zip(cells, w)).rstrip()
n = len(next(iter(runs.values())))
print(f"bench-peers: copylab vs iperf3 / socat / nc over 127.0.0.1 · file {size / MiB:.0f} MiB ({size:,} bytes) "
      f"· {n} rounds interleaved after ${warmup} warm-up · median (min-max)")
print(row(hdr))
print(row(["-" * k for k in w]))
for name, recv, a, b in pairs:
    print(row([name, recv, fmt_t(med(a, "mib")), fmt_t(med(b, "mib")), fmt_r(paired(a, b, "mib")),
               fmt_c(med(a, "srv_cpu_gib")), fmt_c(med(b, "srv_cpu_gib")), fmt_r(paired(a, b, "srv_cpu_gib")),
               f"{med(a, 'rcv_cpu_gib')[0]:.2f} | {med(b, 'rcv_cpu_gib')[0]:.2f}"]))
print(row(["-" * k for k in w]))
src = {r.get("source") for r in runs["cl_sf_trunc"].values()}
ovh = {}
for name, a, b in (("sendfile", "cl_sf_trunc", "cl_sf_trunc_rusage"),
                   ("read-write", "cl_rw_trunc", "cl_rw_trunc_rusage")):
    t, c = paired(a, b, "mib"), paired(a, b, "srv_cpu_gib")
    ovh[name] = (t, c)
    print(row([f"{name}: counters default vs rusage", "fetch --discard=truncate",
               fmt_t(med(a, "mib")), fmt_t(med(b, "mib")), fmt_r(t),
               fmt_c(med(a, "srv_cpu_gib")), fmt_c(med(b, "srv_cpu_gib")), fmt_r(c),
               f"{med(a, 'rcv_cpu_gib')[0]:.2f} | {med(b, 'rcv_cpu_gib')[0]:.2f}"]))
t, c = ovh["sendfile"]
# overhead = how much slower the default counters make the transfer; a ratio above 1 is noise
verdict = "within" if t[0] >= 0.98 else "OUTSIDE"
print(f"measurement overhead (sendfile, no user buffer): default counters ({'/'.join(sorted(map(str, src)))}) "
      f"/ --counters rusage: throughput {t[0]:.3f} -> {verdict} the 2% target (slowdown {max(0, 1 - t[0]) * 100:.1f}%); "
      f"per-round ratios {t[1]:.3f}-{t[2]:.3f} over {n} rounds (run-to-run noise is of the same order); "
      f"server CPU ratio {c[0]:.3f} ({c[1]:.3f}-{c[2]:.3f})")
t, c = ovh["read-write"]
print(f"read-write, same comparison: throughput ratio {t[0]:.3f} ({t[1]:.3f}-{t[2]:.3f}), server CPU ratio {c[0]:.3f}: "
      f"see the buffer addresses below (where the 128 KiB buffer lands differs between the two runs)")
print()
print("copylab vs nginx / socat -b 131072 · both sides to one receiver, recv.py (python3 recv_into a 1 MiB page-aligned buffer) "
      "· MiB/s from the port's LISTEN to the last byte · server CPU: wait4 rusage of the whole server process · median (min-max)")
pairs2 = [
    ("http sendfile vs nginx", "--http --method sendfile | sendfile on", "clh_sf", "nx_sf"),
    ("http read-write vs nginx", "--http --method read-write | sendfile off", "clh_rw", "nx_rw"),
    ("raw read-write vs socat 128K", "--method read-write | socat -u -b 131072", "clr_rw", "so128"),
]
hdr2 = ("pair (copylab vs peer)", "copylab serve | peer", "copylab MiB/s", "peer MiB/s", "ratio cl/peer",
        "cl srv CPU s/GiB", "peer srv CPU s/GiB", "CPU ratio cl/peer", "listen->1st byte ms cl | peer",
        "MiB/s after 1st byte cl | peer")
w2 = (28, 42, 18, 18, 17, 18, 18, 17, 29, 29)
def row2(cells):
    return "  ".join(str(c).ljust(k) for c, k in zip(cells, w2)).rstrip()
print(row2(hdr2))
print(row2(["-" * k for k in w2]))
for name, how, a, b in pairs2:
    print(row2([name, how, fmt_t(med(a, "mib")), fmt_t(med(b, "mib")), fmt_r(paired(a, b, "mib")),
                fmt_c(med(a, "srv_cpu_gib")), fmt_c(med(b, "srv_cpu_gib")), fmt_r(paired(a, b, "srv_cpu_gib")),
                f"{med(a, 'ttfb_ms')[0]:.1f} | {med(b, 'ttfb_ms')[0]:.1f}",
                f"{med(a, 'mib_first')[0]:.0f} | {med(b, 'mib_first')[0]:.0f}"]))
print(row2(["-" * k for k in w2]))
def calls_txt(cfg):
    c = runs[cfg][min(runs[cfg])]["calls"]
    return ", ".join(f"{k} {v}" for k, v in sorted(c.items(), key=lambda kv: -kv[1]))
print(f"syscalls per transfer, copylab serve (its counters, serving thread): http sendfile: {calls_txt('clh_sf')}; "
      f"http read-write: {calls_txt('clh_rw')}; raw read-write: {calls_txt('clr_rw')}")
nx = {l.split(" ", 2)[0]: l.rstrip().split(" ", 2)[1:] for l in open("$chk/nginx") if l.strip()}
labels = {"nx_sf": "sendfile on, sendfile_max_chunk 0 (measured above)", "nx_sf2m": "sendfile on, default sendfile_max_chunk 2m",
          "nx_rw": "sendfile off, output_buffers 2 128k (measured above)"}
if nx:
    print("syscalls per transfer, nginx (strace, from accept4 to exit; slowed by strace, so indicative): " + "; ".join(
        f"{labels[k]}: {(v + [''])[1].replace(',', ', ')}" for k, v in nx.items()))
    a = nx.get("nx_rw", ["-"])[0]
    if a != "-":
        print(f"nginx sendfile off: pread64 into {a} (mod 4096 = {int(a, 16) % 4096}); copylab read-write's buffer: see below")
else:
    print("syscalls per transfer, nginx: not counted (strace not installed)")
print()
print("ceilings: memcpy (python3 memoryview copy of 256 MiB, user-space memcpy) ${memcpy_med} MiB/s "
      "(${memcpy_min}-${memcpy_max}); SHA-256 (python3 hashlib) ${sha_mibs} MiB/s")
print("pread of the cached file, 128 KiB per call (python3): into a page-aligned buffer ${pread_al} MiB/s, "
      "into page+16 (where malloc puts a 128 KiB Vec) ${pread_mis} MiB/s")
names = {"auto": "serve read-write, default counters", "rusage": "serve read-write, --counters rusage",
         "fetch": "fetch --discard receive buffer"}
al = [l.split() for l in open("$chk/align") if l.strip()]
if al:
    print("copylab buffer addresses (strace): " + "; ".join(
        f"{names[k]} {v}" + (f" (mod 64 = {int(v, 16) % 64})" if v != "?" else "") for k, v in al))
else:
    print("copylab buffer addresses: not checked (strace not installed)")
ipz = statistics.median(r["srv_cpu_rusage"] / (r["bytes"] / GiB) for r in runs["ip_z"].values())
iprw = statistics.median(r["srv_cpu_rusage"] / (r["bytes"] / GiB) for r in runs["ip_rw"].values())
print(f"iperf3 CPU cross-check (wait4 rusage of the whole client process, s/GiB): -Z -F {ipz:.2f}, -F {iprw:.2f} "
      f"(JSON figures above: {med('ip_z', 'srv_cpu_gib')[0]:.2f}, {med('ip_rw', 'srv_cpu_gib')[0]:.2f})")
short = [r["short"] for k in ("ip_z", "ip_rw") for r in runs[k].values() if r["short"] > 0]
if short:
    print(f"iperf3: in {len(short)} of {2 * n} runs its receiver counted fewer bytes than were sent "
          f"(at most {max(short) / MiB:.1f} MiB short: the test ends when the sender is done); rates are the receiver's")
for l in open("$chk/summary"):
    print(l.rstrip())
print("peer buffers: socat reads/writes 8 KiB (128 KiB with -b 131072), nc 16 KiB, iperf3 128 KiB, nginx sendfile off "
      "2 x 128 KiB (output_buffers), copylab read-write 128 KiB; copylab fetch reads 1 MiB and SHA-256s it with "
      "--discard (copy); recv.py reads into 1 MiB")
ok = sum(len(v) for v in runs.values())
for c in sorted(NEUTRAL):
    neutral(c, f"$work/verify/{c}", verify=True)
if problems:
    print(f"DELIVERY PROBLEMS ({len(problems)}):")
    for p in problems:
        print("  " + p)
else:
    print(f"deliveries: all {ok} measured transfers complete with {size:,} bytes; every fetch --discard "
          f"(copy) SHA-256 equals sha256sum of the file ({ref_sha[:16]}...), and so does recv.py's of the first "
          f"(unmeasured) transfer from each of its {len(NEUTRAL)} servers")
sys.exit(1 if problems else 0)
EOF
) || rc=$?
echo "file: $gen, in $work (removed at exit); page cache: ${cached:-?} of $size bytes resident"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r); load average before ${load_before}, after ${load_after}"
echo "wall time: $((elapsed_ns / 1000000000)).$(( (elapsed_ns / 100000000) % 10 )) s (generation, ceilings, checks, $((total * ${#order[@]})) transfers)"
exit "$rc"
