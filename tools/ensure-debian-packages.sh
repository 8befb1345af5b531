#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks use, when they are missing.
set -euo pipefail
need=()
command -v redis-benchmark >/dev/null 2>&1 || need+=(redis-tools)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v tclsh >/dev/null 2>&1 || need+=(tcl)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
