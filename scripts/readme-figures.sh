#!/usr/bin/env bash
# Every figure and sample output in README.md and docs/*.md comes from a command, rerun here:
# a block marked
#
#   <!-- figures: copylab compare --size 64M -->
#   ```text
#   (rewritten)
#   ```
#   <!-- /figures -->
#
# has its text replaced by what the command prints now (stdout and stderr, laid out for
# COLUMNS=100, no colour), and a line under it saying when and on what machine. The command is
# run from the repository's root by bash, with this build's copylab first on PATH; a block may
# ask for another width with `figures width=80:`. A block whose command fails is left as it was
# and the script exits 1 at the end, naming it.
#
# Usage: scripts/readme-figures.sh [FILE...]   (default: README.md docs/*.md). Needs root for
# the figures that need perf (the blocks say which commands they run); python3.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
command -v python3 >/dev/null 2>&1 || { echo "readme-figures: python3 is missing" >&2; exit 1; }

cargo build --release --quiet
target=${CARGO_TARGET_DIR:-$here/target}
bindir=$(mktemp -d "${TMPDIR:-/tmp}/readme-figures.XXXXXX")
trap 'rm -rf "$bindir"' EXIT
cp "$target/release/copylab" "$bindir/copylab"

if [ $# -eq 0 ]; then
  set -- README.md docs/*.md
fi
machine="$(date -u +%F) · Linux $(uname -r) · $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//') · $(nproc) CPUs"

PATH="$bindir:$PATH" MACHINE="$machine" python3 - "$@" <<'EOF'
import os, re, subprocess, sys

OPEN = re.compile(r'^<!-- figures(?: width=(\d+))?: (.+?) -->$')
CLOSE = '<!-- /figures -->'
failed = []
for path in sys.argv[1:]:
    if not os.path.exists(path):
        continue
    lines = open(path, encoding='utf-8').read().split('\n')
    out, i, changed = [], 0, 0
    while i < len(lines):
        m = OPEN.match(lines[i])
        if not m:
            out.append(lines[i]); i += 1; continue
        try:
            end = lines.index(CLOSE, i + 1)
        except ValueError:
            sys.exit(f"readme-figures: {path}:{i + 1}: a figures block without {CLOSE}")
        width, cmd = m.group(1) or '100', m.group(2)
        env = dict(os.environ, COLUMNS=width, NO_COLOR='1', LANG='C.UTF-8')
        env.pop('LC_ALL', None)
        print(f"{path}:{i + 1}: {cmd}", file=sys.stderr)
        r = subprocess.run(['bash', '-c', cmd], env=env, capture_output=True, text=True)
        if r.returncode not in (0,):
            failed.append(f"{path}:{i + 1}: `{cmd}` exited {r.returncode}: {r.stderr.strip()[:300]}")
            out.extend(lines[i:end + 1]); i = end + 1; continue
        text = (r.stdout + r.stderr).rstrip('\n')
        out.append(lines[i])
        out.append('```text')
        out.append(f'$ {cmd}')
        out.extend(text.split('\n'))
        out.append('```')
        out.append(f'<sub>measured {os.environ["MACHINE"]}</sub>')
        out.append(CLOSE)
        i = end + 1
        changed += 1
    open(path, 'w', encoding='utf-8').write('\n'.join(out))
    print(f"{path}: {changed} block(s) rewritten", file=sys.stderr)
if failed:
    print('\n'.join(failed), file=sys.stderr)
    sys.exit(1)
EOF
