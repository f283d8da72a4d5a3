#!/usr/bin/env bash
# The test suite, on any Debian or Ubuntu machine with the Rust toolchain: installs the programs
# the tests drive when they are missing (as root, with apt-get), then runs `cargo test`.
#
#   scripts/test.sh [CARGO TEST ARGS...]      e.g. scripts/test.sh --test integration serve::http
#
# The tests drive real clients and tools: curl, nc (netcat-openbsd), socat, and setpriv and
# prlimit (util-linux) for the unprivileged runs, script (bsdutils) and tmux for a terminal, ip
# (iproute2) for the veth transport's network namespaces, and the real programs `copylab trace`
# follows: nginx, a JDK (javac and java: the distribution's default, openjdk-17 on Debian 12) and
# python3. A user who cannot install them is told, in one line, what to install. `cargo test`
# alone works the same where they are already installed.
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package
tools=(
  "curl curl"
  "nc.openbsd netcat-openbsd"
  "socat socat"
  "setpriv util-linux"
  "prlimit util-linux"
  "ip iproute2"
  "nginx nginx"
  "javac default-jdk-headless"
  "python3 python3"
  "script bsdutils"
  "tmux tmux"
)
missing=()
for t in "${tools[@]}"; do
  read -r cmd pkg <<<"$t"
  command -v "$cmd" >/dev/null 2>&1 && continue
  case " ${missing[*]-} " in *" $pkg "*) ;; *) missing+=("$pkg") ;; esac
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: the tests need ${missing[*]}: install them (sudo apt-get install ${missing[*]}) or run this as root" >&2
    exit 1
  fi
  echo "test.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || { echo "test.sh: apt-get update failed" >&2; exit 1; }
  # nginx's package would start a system nginx on port 80: the tests start their own, so
  # services are kept from starting during the install (policy-rc.d, removed after).
  policy=/usr/sbin/policy-rc.d
  own_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
  fi
  rc=0
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
  [ -n "$own_policy" ] && rm -f "$policy"
  [ "$rc" = 0 ] || { echo "test.sh: apt-get install ${missing[*]} failed" >&2; exit 1; }
fi

# netcat-openbsd installs nc.openbsd and, through alternatives, nc; the tests call `nc`.
if ! command -v nc >/dev/null 2>&1 || ! nc -h 2>&1 | grep -q -- '-N'; then
  echo "test.sh: \`nc\` is not OpenBSD netcat (the tests use its -N): run \`update-alternatives --set nc /bin/nc.openbsd\` as root" >&2
  exit 1
fi

exec cargo test "$@"
