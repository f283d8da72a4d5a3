#!/usr/bin/env bash
# The HTML report in a real browser. Makes a report from a real default compare (256 MiB, the
# four classic paths, 5 runs; with --export-stacks and --export-json beside it) and a smaller
# one in Chinese, checks the page's size (a default compare's must stay within 2 MiB), opens
# each in headless Chromium over the DevTools protocol (scripts/cdp-check.py: a pipe, no port),
# takes screenshots at 1280×720 and 1920×1080 (the viewport, the whole page, each section) and
# prints it on A4, and fails if the page asks for the network, logs a console error or
# warning, or throws.
#
#   scripts/check-report.sh [OUTDIR]        (default target/check-report)
#
# Needs root for the profile (perf sampling of the kernel) and to install Debian's chromium
# and a Chinese font (fonts-wqy-microhei) with apt-get when they are missing. Not part of
# scripts/test.sh: a browser is a large install.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/check-report}
max_bytes=$((2 << 20))

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v fc-list >/dev/null 2>&1 && fc-list :lang=zh | grep -q . || need+=(fonts-wqy-microhei)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "check-report.sh: needs ${need[*]}: install them (sudo apt-get install ${need[*]}) or run this as root" >&2
    exit 1
  fi
  echo "check-report.sh: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v python3 >/dev/null 2>&1 || { echo "check-report.sh: needs python3" >&2; exit 1; }

cargo build --release -q
bin=target/release/copylab
rm -rf "$out"
mkdir -p "$out"

echo "== a default compare, with --export-html, --export-json and --export-stacks"
"$bin" compare --color never --export-html "$out/report.html" --export-json "$out/report.json" \
  --export-stacks "$out/stacks" >"$out/table.txt"
size=$(stat -c %s "$out/report.html")
echo "report.html: $size bytes ($(awk -v s="$size" 'BEGIN { printf "%.2f", s / 1048576 }') MiB; limit 2 MiB)"
echo "stacks: $(ls "$out/stacks" | wc -l) files, $(du -sk "$out/stacks" | cut -f1) KiB"
python3 - "$out/report.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
for m in r["methods"]:
    p = m["profile"] or {}
    print(f"  {m['method']:<12} samples serving {p.get('serving', {}).get('samples')}, receiver {p.get('receiver', {}).get('samples')}")
EOF
if [ "$size" -gt "$max_bytes" ]; then
  echo "FAIL: the report is larger than 2 MiB" >&2
  exit 1
fi

echo "== the same page in Chinese (64 MiB)"
"$bin" compare --size 64M --color never --lang zh --export-html "$out/report-zh.html" >/dev/null

status=0
for page in "$out/report.html" "$out/report-zh.html"; do
  echo "== $page in headless Chromium"
  python3 scripts/cdp-check.py chromium "$page" "$out/shots" 1280x720 1920x1080 || status=1
done
echo "screenshots and PDFs: $out/shots"
[ "$status" = 0 ] && echo "check-report: ok" || echo "check-report: FAILED" >&2
exit "$status"
