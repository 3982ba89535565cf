#!/usr/bin/env bash
# The demo as a first-time user meets it, timed: a fresh clone of this repository's HEAD, the README's main command
# (`bash scripts/setup.sh && npm run demo`) until the explorer is served, then the page timings
# (test/e2e/demo-start-bench.spec.ts: load -> ready -> first attribution, first and second visit) against that
# server. Writes bench/results/demo-start.json (DEMO_START_JSON overrides).
#   bash bench/demo-start.sh
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=${DEMO_START_JSON:-$src/bench/results/demo-start.json}
port=${DEMO_PORT:-5181}
work=$(mktemp -d)
# the demo runs in its own process group (setsid), so the whole tree (npm, tsx, node) stops with it
trap 'kill -- -$(cat "$work/demo.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
now() { date +%s.%N; }
t0=$(now)
git clone -q "$src" "$work/clone"
cd "$work/clone"
t1=$(now)
bash scripts/setup.sh > "$work/setup.log" 2>&1
t2=$(now)
DEMO_PORT=$port setsid npm run demo > "$work/demo.log" 2>&1 &
echo $! > "$work/demo.pid"
until grep -q 'the influence explorer is at' "$work/demo.log"; do
  if ! kill -0 "$(cat "$work/demo.pid")" 2>/dev/null; then cat "$work/demo.log"; echo "demo-start: npm run demo exited" >&2; exit 1; fi
  sleep 0.5
done
t3=$(now)
grep '^demo:' "$work/demo.log"
secs() { python3 -c "print(round($2 - $1, 1))"; }
echo "clone $(secs "$t0" "$t1") s, setup $(secs "$t1" "$t2") s, npm run demo until served $(secs "$t2" "$t3") s; total $(secs "$t0" "$t3") s"
# the page timings, against the clone's server (Playwright reuses a server already on VITE_PORT)
cd "$src"
DEMO_BENCH=1 DEMO_BENCH_JSON="$work/page.json" VITE_PORT=$port npx playwright test test/e2e/demo-start-bench.spec.ts --reporter=list
python3 - "$out" "$work/page.json" "$(secs "$t0" "$t1")" "$(secs "$t1" "$t2")" "$(secs "$t2" "$t3")" "$(nproc)" <<'PY'
import json, sys
out, page, clone, setup, demo, cores = sys.argv[1:]
p = json.load(open(page))
json.dump({'date': p['date'], 'cores': int(cores), 'freshClone': {'cloneSeconds': float(clone), 'setupSeconds': float(setup), 'demoUntilServedSeconds': float(demo), 'totalSeconds': round(float(clone) + float(setup) + float(demo), 1)}, 'page': p}, open(out, 'w'), indent=1)
open(out, 'a').write('\n')
print('wrote', out)
PY
