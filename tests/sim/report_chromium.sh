#!/usr/bin/env bash
# The visual report in a real browser: `heck sim SCENARIO --seed N --report`
# writes the page, headless Chromium loads it (no network: the page must need
# none) and must log no console message (an uncaught error, a failed load, a
# console call: the page's script makes none); the DOM after its script ran
# must hold the mark the script sets, one lane per member, every chart and
# the script's time cursors; a screenshot goes to OUT_DIR/report.png.
#
#   report_chromium.sh HECK SCENARIO SEED MEMBERS OUT_DIR
#
# Exit 0: pass; 1: fail; 77: no Chromium here (CTest: skipped). A probe
# page with a deliberate error first shows that the console check can see one.
set -u

heck=$1 scenario=$2 seed=$3 members=$4 out=$5

browser=${CHROMIUM:-}
if [ -n "$browser" ] && [ ! -x "$browser" ]; then
  browser=""
fi
if [ -z "$browser" ]; then
  for candidate in chromium chromium-browser google-chrome; do
    if command -v "$candidate" >/dev/null 2>&1; then
      browser=$(command -v "$candidate")
      break
    fi
  done
fi
if [ -z "$browser" ]; then
  echo "SKIP: no chromium (tools/setup.sh installs it)"
  exit 77
fi

fail() {
  echo "FAIL: $*"
  exit 1
}

mkdir -p "$out"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT

# Root needs --no-sandbox; a fresh profile each time; bounded in time.
browse() {
  timeout 90 "$browser" --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$profile" \
    --enable-logging=stderr --v=0 --hide-scrollbars "$@"
}

# 1. The probe: the console check must see a deliberate error.
cat >"$out/probe.html" <<'EOF'
<!DOCTYPE html><html><body><script>console.error('probe-console'); no_such_function();</script></body></html>
EOF
browse --dump-dom "file://$out/probe.html" >"$out/probe.dom" 2>"$out/probe.log"
grep -q 'CONSOLE.*probe-console' "$out/probe.log" || fail "the probe's console.error is not in Chromium's log: cannot judge the page (see $out/probe.log)"
grep -q 'CONSOLE.*Uncaught ReferenceError' "$out/probe.log" || fail "the probe's uncaught error is not in Chromium's log"

# 2. The report.
rm -f "$out/report.html" "$out/report.png"
"$heck" sim "$scenario" --seed "$seed" --report "$out/report.html" >"$out/sim.txt" 2>&1 || fail "heck sim failed: $(tail -5 "$out/sim.txt")"
[ -s "$out/report.html" ] || fail "no report written"
bytes=$(stat -c %s "$out/report.html")

browse --dump-dom "file://$out/report.html" >"$out/report.dom" 2>"$out/report.log" || fail "chromium --dump-dom failed (exit $?)"
if grep -q 'CONSOLE' "$out/report.log"; then
  grep 'CONSOLE' "$out/report.log" | head -5
  fail "the page logged to the console (above)"
fi
grep -q 'data-ready="1"' "$out/report.dom" || fail "the page's script did not finish (no data-ready on body)"
grep -q 'data-charts="4"' "$out/report.dom" || fail "the script did not find the 4 time-axis charts"
cursors=$(grep -o 'class="cursor"' "$out/report.dom" | wc -l)
[ "$cursors" -eq 4 ] || fail "expected 4 time cursors added by the script, found $cursors"
lanes=$(grep -o '<g class="lane"' "$out/report.dom" | wc -l)
[ "$lanes" -eq "$members" ] || fail "expected $members member lanes, found $lanes"
for id in faults lanes targets traffic crash-delays agree-cdf takeover-cdf; do
  grep -q "id=\"$id\"" "$out/report.dom" || fail "chart #$id missing"
done

# 3. The screenshot (look at it: it is how the page reads).
browse --window-size=1280,3400 --screenshot="$out/report.png" "file://$out/report.html" >"$out/shot.log" 2>&1
[ -s "$out/report.png" ] || fail "no screenshot written"
[ "$(head -c 8 "$out/report.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "the screenshot is not a PNG"
if grep -q 'CONSOLE' "$out/shot.log"; then
  fail "the page logged to the console while taking the screenshot"
fi

echo "PASS: $bytes bytes, $lanes lanes, no console messages; screenshot $out/report.png"
