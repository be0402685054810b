#!/usr/bin/env bash
# System packages lockswap needs on Debian/Ubuntu: C/C++ compilers, the headers a CPython build
# needs for ssl/zlib/ctypes/bz2/lzma, ccache (fast variant rebuilds) and git (git: sources).
# Installs only what is missing, through the system's own apt configuration. Elsewhere: a no-op.
set -euo pipefail
packages=(build-essential ccache git pkg-config libssl-dev zlib1g-dev libffi-dev libbz2-dev liblzma-dev)
command -v apt-get >/dev/null || { echo "system-deps: no apt-get; install the equivalents of: ${packages[*]}"; exit 0; }
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && { echo "system-deps: all present"; exit 0; }
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "system-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
