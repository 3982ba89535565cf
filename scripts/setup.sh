#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian 12 machine (run as root): Debian's Chromium (browser
# tests, WebGPU via SwiftShader), Mesa's Vulkan drivers (lavapipe for Deno's WebGPU), and the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
dpkg -s mesa-vulkan-drivers >/dev/null 2>&1 || need+=(mesa-vulkan-drivers)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# onnxruntime-node (native CPU runtime) would download CUDA binaries from nuget.org at install: not wanted, and offline here.
export ONNXRUNTIME_NODE_INSTALL=skip
npm ci --no-audit --no-fund
