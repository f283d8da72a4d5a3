#!/usr/bin/env bash
# The demos the docs show, run for real and printed as a session would show them: each is a
# server and its clients, or a program under `copylab trace`, on a generated file in a temporary
# directory that is removed at the end. scripts/readme-figures.sh runs them to rewrite the docs.
#
#   scripts/demo.sh serve          serve --http with sendfile; curl, then fetch --connections 4
#   scripts/demo.sh range          serve --http; curl -r, curl -C - (a resumed download), a 416
#   scripts/demo.sh live           serve --http --live in an 80x24 tmux, a frame while two slow
#                                  clients read, and the screen after Ctrl-C
#   scripts/demo.sh trace-java     a Java FileChannel.transferTo loop under copylab trace
#   scripts/demo.sh trace-python   Python's socket.sendfile under copylab trace
#   scripts/demo.sh trace-nginx    nginx with sendfile on, then off, fetched by curl, traced
#
# copylab is taken from PATH (readme-figures.sh puts this build first), or target/release.
# Needs curl; java/javac, python3, nginx and tmux for the demos that use them (a missing one is
# said, and the demo exits 1).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
command -v copylab >/dev/null 2>&1 || PATH="$here/target/release:$PATH"
command -v copylab >/dev/null 2>&1 || { echo "demo: build copylab first (cargo build --release)" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || { echo "demo: $1 is missing: install $2" >&2; exit 1; }; }

work=$(mktemp -d "${TMPDIR:-/tmp}/copylab-demo.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  tmux -L copylab-demo kill-server 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

# A free TCP port on 127.0.0.1.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Wait until something listens on 127.0.0.1:$1.
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "demo: nothing listened on port $1" >&2
  exit 1
}

# Wait until serve's first line (which it prints once it listens) is in file $1: a probe
# connection would be served and counted as a client.
wait_serving() {
  for _ in $(seq 200); do
    [ -s "$1" ] && return 0
    sleep 0.05
  done
  echo "demo: copylab serve did not start:" >&2
  cat "$1" >&2
  exit 1
}

show() { printf '$ %s\n' "$*"; "$@"; }

case ${1-} in
serve)
  need curl curl
  head -c $((256 << 20)) /dev/urandom >lecture.bin
  p=$(port)
  copylab serve lecture.bin --method sendfile --http --listen "127.0.0.1:$p" --count 6 >server.out 2>&1 &
  pids+=($!)
  wait_serving server.out
  echo "terminal 2:"
  show curl -sS -o got.bin "http://127.0.0.1:$p/lecture.bin"
  show sha256sum got.bin lecture.bin
  show curl -sS -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$p/nope"
  show copylab fetch "127.0.0.1:$p" --http --discard --connections 4
  wait "${pids[0]}" || true
  echo
  echo "terminal 1 (copylab serve lecture.bin --method sendfile --http --listen 127.0.0.1:$p --count 6):"
  cat server.out
  ;;
range)
  need curl curl
  head -c $((64 << 20)) /dev/urandom >lecture.bin
  p=$(port)
  copylab serve lecture.bin --method sendfile --http --listen "127.0.0.1:$p" --count 3 >server.out 2>&1 &
  pids+=($!)
  wait_serving server.out
  show curl -sS -r 1000-1999 -o piece.bin -D - "http://127.0.0.1:$p/"
  head -c 10000000 lecture.bin >got.bin
  echo '$ head -c 10000000 lecture.bin > got.bin     # a download cut short'
  show curl -sS -C - -o got.bin "http://127.0.0.1:$p/lecture.bin"
  show sha256sum got.bin lecture.bin
  show curl -sS -r 99999999- -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$p/"
  wait "${pids[0]}" || true
  echo
  echo "the server (copylab serve lecture.bin --method sendfile --http --listen 127.0.0.1:$p --count 3):"
  cat server.out
  ;;
live)
  need curl curl
  need tmux tmux
  head -c $((64 << 20)) /dev/urandom >lecture.bin
  p=$(port)
  # The pane stays after serve exits, so its summary can be captured after Ctrl-C.
  tmux -L copylab-demo new-session -d -s live -x 80 -y 24 \
    "copylab serve lecture.bin --http --live --listen 127.0.0.1:$p; sleep 600"
  for _ in $(seq 200); do
    tmux -L copylab-demo capture-pane -p -t live | grep -q "$p" && break
    sleep 0.05
  done
  curl -sS -o /dev/null "http://127.0.0.1:$p/"
  for _ in 1 2; do
    # Cut by the Ctrl-C below, mid-transfer: their "transfer closed" is expected.
    curl -s --limit-rate 6M -o /dev/null "http://127.0.0.1:$p/" &
    pids+=($!)
  done
  sleep 4
  echo "a frame at 80x24, while two clients read at 6 MiB/s:"
  tmux -L copylab-demo capture-pane -p -t live | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
  tmux -L copylab-demo send-keys -t live C-c
  sleep 6
  echo
  echo "after Ctrl-C:"
  tmux -L copylab-demo capture-pane -p -t live | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
  ;;
trace-java)
  need javac "a JDK (default-jdk-headless)"
  cat >Send.java <<'EOF'
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;

/** Sends a file with FileChannel.transferTo to a socket, as Kafka's broker does a fetch. */
public class Send {
  public static void main(String[] args) throws Exception {
    try (ServerSocketChannel srv = ServerSocketChannel.open()) {
      srv.bind(new InetSocketAddress("127.0.0.1", 0));
      int port = ((InetSocketAddress) srv.getLocalAddress()).getPort();
      Thread reader = new Thread(() -> {
        try (SocketChannel c = SocketChannel.open(new InetSocketAddress("127.0.0.1", port))) {
          ByteBuffer b = ByteBuffer.allocateDirect(1 << 20);
          while (c.read(b) >= 0) b.clear();
        } catch (Exception e) { throw new RuntimeException(e); }
      });
      reader.start();
      try (SocketChannel s = srv.accept(); FileChannel f = FileChannel.open(Path.of(args[0]))) {
        long pos = 0, n = f.size();
        while (pos < n) pos += f.transferTo(pos, n - pos, s);
      }
      reader.join();
    }
  }
}
EOF
  javac -d . Send.java
  head -c $((100 << 20)) /dev/urandom >data.bin
  echo "\$ java -version: $(java -version 2>&1 | head -1)"
  show copylab trace -- java -cp . Send data.bin
  ;;
trace-python)
  need python3 python3
  head -c $((100 << 20)) /dev/urandom >data.bin
  cat >send.py <<'EOF'
import socket, sys, threading
srv = socket.create_server(("127.0.0.1", 0))
def drain():
    with socket.create_connection(srv.getsockname()) as c:
        while c.recv(1 << 20):
            pass
t = threading.Thread(target=drain)
t.start()
conn, _ = srv.accept()
with conn, open(sys.argv[1], "rb") as f:
    conn.sendfile(f)
t.join()
EOF
  # The interpreter itself: a version manager's shim would add its helper processes.
  py=$(python3 -c 'import sys; print(sys.executable)')
  show copylab trace -- "$py" send.py data.bin
  ;;
trace-nginx)
  need nginx nginx
  need curl curl
  head -c $((100 << 20)) /dev/urandom >data.bin
  # nginx's worker runs as another user when started as root: let it read the file.
  chmod 755 "$work"
  chmod 644 data.bin
  for mode in "sendfile on; sendfile_max_chunk 0;" "sendfile off; output_buffers 2 128k;"; do
    p=$(port)
    mkdir -p logs
    cat >nginx.conf <<EOF
daemon off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
  server { listen 127.0.0.1:$p; root $work; $mode }
}
EOF
    echo "\$ copylab trace -- nginx -c nginx.conf -p $work   # ${mode% } curl, then Ctrl-C"
    copylab trace -- nginx -c "$work/nginx.conf" -p "$work" >trace.out 2>&1 &
    tr=$!
    pids+=($tr)
    wait_port "$p"
    curl -sS -f -o /dev/null "http://127.0.0.1:$p/data.bin"
    kill -INT "$tr"
    wait "$tr" || true
    cat trace.out
    echo
  done
  ;;
*)
  echo "usage: scripts/demo.sh serve|range|live|trace-java|trace-python|trace-nginx" >&2
  exit 2
  ;;
esac
