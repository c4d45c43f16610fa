#!/usr/bin/env bash
# Render an HTML report (snakemake --report) in headless Chromium and save a screenshot, to look at
# what a reader sees: the figures, their captions and the category navigation.
#   scripts/report_screenshot.sh results/smoke/report.html /tmp/report.png [WIDTH,HEIGHT]
# Chromium: $CHROMIUM, else chromium on PATH; missing, it is installed from Debian's packages when
# this runs as root with apt-get (as CI does; S1_INSTALL_CHROMIUM=0 stops that).
set -euo pipefail
html=${1:?usage: $0 REPORT.html OUT.png [WIDTH,HEIGHT]}
out=${2:?usage: $0 REPORT.html OUT.png [WIDTH,HEIGHT]}
size=${3:-1400,2000}
chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [[ -z "$chromium" && ${S1_INSTALL_CHROMIUM:-1} = 1 && $(id -u) = 0 ]] && command -v apt-get >/dev/null; then
    echo "installing chromium (apt-get, log: /tmp/s1-chromium-apt.log)" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } \
        >/tmp/s1-chromium-apt.log 2>&1 || true
    chromium=$(command -v chromium || true)
fi
if [[ -z "$chromium" ]]; then
    echo "error: no chromium on PATH (Debian: apt-get install -y chromium; or set CHROMIUM)" >&2
    exit 2
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# --virtual-time-budget lets the report's JavaScript (it builds the page from embedded data) finish first.
"$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
    --disable-sync --no-first-run --hide-scrollbars --user-data-dir="$profile" --virtual-time-budget=15000 \
    --window-size="$size" --screenshot="$out" "file://$(realpath "$html")" > /dev/null 2>&1
[[ -s "$out" ]] || { echo "error: chromium wrote no screenshot to $out" >&2; exit 1; }
echo "screenshot -> $out"
