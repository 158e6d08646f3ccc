#!/usr/bin/env bash
# Builds the Debian package ccjail_<version>_amd64.deb and checks it with lintian.
#
#   scripts/build-deb.sh [BUILD_DIR]     (default: build-deb in the clone)
#
# A new build directory is configured like the tested builds (RelWithDebInfo; cpack strips the
# binaries), without the test suites; an existing one is used as it is configured. Fails when
# the build, cpack or lintian (an error tag) fails; prints the package's path last. The layout
# is in docs/operations.md, "Running under systemd".
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build_dir=${1:-$CCJAIL_ROOT/build-deb}
mkdir -p "$build_dir"
build_dir=$(cd "$build_dir" && pwd)

ensure_packages "${CCJAIL_BUILD_PACKAGES[@]}" dpkg-dev lintian

if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  log "configuring $build_dir"
  cmake -S "$CCJAIL_ROOT" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCCJAIL_BUILD_TESTS=OFF >/dev/null
fi
log "building in $build_dir"
cmake --build "$build_dir" -j"$(nproc)"

log "packaging"
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build_dir/CMakeCache.txt")
deb="$build_dir/ccjail_${version}_amd64.deb"
rm -f "$deb"
# cpack runs its install step from the build directory's CPackConfig.cmake.
(cd "$build_dir" && cpack -G DEB >/dev/null)
if [ ! -f "$deb" ]; then
  echo "build-deb: cpack made no $deb" >&2
  exit 1
fi

log "lintian"
# Errors fail the build; warnings and notes are shown (docs/operations.md lists the known ones).
lintian --fail-on error --display-info "$deb"

echo "$deb"
