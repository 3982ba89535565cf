#!/usr/bin/env bash
# One-shot real-GPU check (issue 15): the kernel, pipeline and GPU (GEMM vs peak, a million-row query) benchmarks on
# this machine's hardware adapter, in Deno, Node and Chromium (E2E_WEBGPU_ADAPTER=default), writing
# bench/results/gpu-*.json. Needs nothing but `bash scripts/setup.sh` (run here when node_modules is missing).
# Fails at once, clearly, when no runtime finds a hardware adapter (software adapters are refused: their numbers would
# say nothing about a GPU). Each step's output goes to bench/results/gpu-logs/<step>.log; a summary closes the run.
#   bash bench/gpu.sh                 everything (~10 min on a data-centre GPU)
#   GPU_ROWS=200000 bash bench/gpu.sh a smaller query benchmark
set -uo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || bash scripts/setup.sh
out=bench/results
logs=$out/gpu-logs
mkdir -p "$logs"
rows=${GPU_ROWS:-1000000}
deno() { node scripts/deno.js "$@"; }
declare -A status

step() { # name, command...
  local name=$1; shift
  echo "== $name: $*"
  if "$@" >"$logs/$name.log" 2>&1; then status[$name]=ok; else status[$name]="failed ($?)"; fi
  tail -n 25 "$logs/$name.log"
  echo "== $name: ${status[$name]}"
}

# 1. the GPU benchmark itself, which refuses software adapters (exit 3): Deno (wgpu) and Node (Dawn)
step gpu-deno deno run -A bench/gpu.ts --rows "$rows" --json $out/gpu-deno.json
step gpu-node npx tsx bench/gpu.ts --rows "$rows" --json $out/gpu-node.json
if [[ ${status[gpu-deno]} != ok && ${status[gpu-node]} != ok ]] && grep -q "needs a hardware GPU" "$logs/gpu-deno.log" "$logs/gpu-node.log"; then
  echo "bench/gpu.sh: no hardware GPU adapter in Deno or Node (see $logs/gpu-*.log); nothing measured." >&2
  command -v nvidia-smi >/dev/null && nvidia-smi -L >&2
  ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>/dev/null >&2
  exit 3
fi

# 2. the kernel and pipeline suites on the same adapter (Deno), the kernels at every size
step kernels-deno deno run -A bench/kernels.ts --budget 120 --json $out/gpu-kernels-deno.json
step pipeline-deno deno run -A bench/pipeline.ts --backend webgpu --ep webgpu --json $out/gpu-pipeline-deno.json

# 3. Chromium on its default (hardware) adapter: the same suites, then the explorer's end-to-end tests
export E2E_WEBGPU_ADAPTER=default
npm run build:explorer >"$logs/build-explorer.log" 2>&1 || status[build-explorer]=failed
step gpu-chromium env GPU_BENCH=1 GPU_BENCH_ROWS="$rows" GPU_BENCH_JSON=$out/gpu-chromium.json npx playwright test test/e2e/gpu-bench.spec.ts
step kernels-chromium env KERNELS_BENCH=1 KERNELS_BENCH_JSON=$out/gpu-kernels-chromium.json npx playwright test test/e2e/kernels-bench.spec.ts
step pipeline-chromium env PIPELINE_BENCH=1 PIPELINE_BENCH_BACKEND=webgpu PIPELINE_BENCH_JSON=$out/gpu-pipeline-chromium.json npx playwright test test/e2e/pipeline-bench.spec.ts
step explorer-chromium npx playwright test test/e2e/explorer.spec.ts

echo
echo "bench/gpu.sh summary (logs in $logs):"
fail=0
for k in "${!status[@]}"; do
  echo "  $k: ${status[$k]}"
  [[ ${status[$k]} == ok ]] || fail=1
done
ls -1 $out/gpu-*.json 2>/dev/null | sed 's/^/  wrote /'
exit $fail
