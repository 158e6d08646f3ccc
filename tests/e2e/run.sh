#!/usr/bin/env bash
# The e2e tier: installs the pinned Claude Code CLI (scripts/install-claude-code.sh, into the
# cache outside the clone), makes a throwaway CA and leaf certificate for the fake API, builds
# and runs ccjail_e2e_tests as root, and ends with `e2e: N passed, F failed, S skipped`.
# Usage: bash tests/e2e/run.sh <build-dir> [gtest args...]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:?usage: run.sh <build-dir> [gtest args...]}
shift
build=$(cd "$build" && pwd)

if [ "$(id -u)" != 0 ]; then
  echo "e2e: run as root: ccjaild builds jails" >&2
  echo "e2e: 0 passed, 0 failed, 0 skipped"
  exit 1
fi

# A setup step that fails still ends with the summary line scripts/test.sh counts.
setup_failed() {
  echo "e2e: setup failed: $*" >&2
  echo "e2e: 0 passed, 1 failed, 0 skipped"
  exit 1
}

start=$(date +%s)
missing=()
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v openssl >/dev/null || missing+=(openssl)
command -v ps >/dev/null || missing+=(procps)
if [ ${#missing[@]} -gt 0 ]; then
  echo "e2e: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null; } || setup_failed "apt-get install ${missing[*]}"
fi

cache=${CCJAIL_CACHE:-/var/cache/ccjail-test}
# The tests bind the cache's tree themselves: /opt/ccjail/claude-code is the admin's.
CCJAIL_E2E_CLAUDE_DIR=$(bash "$root/scripts/install-claude-code.sh" --root "$cache/claude-code" \
  --npm-cache "$cache/npm" --no-link) || setup_failed "scripts/install-claude-code.sh"
export CCJAIL_E2E_CLAUDE_DIR

tls=$(mktemp -d /tmp/ccjail-e2e-tls.XXXXXX)
trap 'rm -rf "$tls"' EXIT
bash "$here/make_test_ca.sh" "$tls" || setup_failed "make_test_ca.sh"
export CCJAIL_E2E_TLS_DIR=$tls

cmake --build "$build" -j"$(nproc)" --target ccjail_e2e_tests >&2 ||
  setup_failed "building ccjail_e2e_tests"

report=$(mktemp /tmp/ccjail-e2e-report.XXXXXX.json)
rc=0
tests_start=$(date +%s)
"$build/tests/e2e/ccjail_e2e_tests" --gtest_output="json:$report" "$@" || rc=$?

counts=$(node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  let passed = 0, failed = 0, skipped = 0;
  for (const suite of r.testsuites || []) {
    for (const t of suite.testsuite || []) {
      if ((t.failures || []).length) failed++;
      else if (t.result === "SKIPPED") skipped++;
      else if (t.status === "RUN") passed++;
    }
  }
  console.log(`${passed} ${failed} ${skipped}`);
' "$report" 2>/dev/null || echo "0 1 0")
rm -f "$report"
read -r passed failed skipped <<<"$counts"
if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then
  failed=1
fi
echo "e2e tier took $(($(date +%s) - start)) s (tests $(($(date +%s) - tests_start)) s)"
echo "e2e: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
