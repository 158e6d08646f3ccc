# Shared by scripts/run.sh, scripts/test.sh and scripts/bench.sh. Sourced, not run.
set -euo pipefail

CCJAIL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Downloads and other caches live outside the clone so a fresh clone reuses them.
CCJAIL_CACHE=${CCJAIL_CACHE:-/var/cache/ccjail-test}
CCJAIL_BUILD=${CCJAIL_BUILD:-$CCJAIL_ROOT/build}

# Everything the build and the host test tiers need, all from Debian 12.
CCJAIL_BUILD_PACKAGES=(
  build-essential cmake pkg-config clang-format
  libseccomp-dev libcap-ng-dev libboost1.81-dev libboost-filesystem1.81-dev
  libspdlog-dev nlohmann-json3-dev libcli11-dev libssl-dev libc-ares-dev libsystemd-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)
CCJAIL_TEST_PACKAGES=(git bash coreutils iproute2 procps bubblewrap)
# The hardening tiers: libFuzzer targets and static analysis (clang 14 with its runtimes),
# cppcheck.
CCJAIL_ANALYSIS_PACKAGES=(clang clang-tidy libclang-rt-14-dev cppcheck)

log() { printf '\n== %s\n' "$*" >&2; }

require_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "$(basename "$0"): run as root: ccjail builds namespaces, mounts and cgroups" >&2
    exit 1
  fi
}

# Installs the packages that are missing; runs apt-get update only when something is missing.
ensure_packages() {
  local missing=()
  local p
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build_ccjail() {
  local type=${1:-RelWithDebInfo}
  log "building ccjail ($type) in $CCJAIL_BUILD"
  cmake -S "$CCJAIL_ROOT" -B "$CCJAIL_BUILD" -DCMAKE_BUILD_TYPE="$type" >/dev/null
  cmake --build "$CCJAIL_BUILD" -j"$(nproc)"
}
