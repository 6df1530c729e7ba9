#!/usr/bin/env bash
# Tests of bin/release-notes.awk (make release-notes VERSION=x.y.z).
set -u
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0

check() {   # name, expected, actual
    if [ "$2" == "$3" ]; then pass=$((pass + 1)); else
        fail=$((fail + 1)); echo "not ok: $1"; diff <(echo "$2") <(echo "$3"); fi
}

cat > "$tmp/CHANGELOG.md" <<'MD'
# Changelog

## [Unreleased]

### Added
- Something new.

## [1.2.0] - 2026-01-02

### Added
- Feature A.

### Fixed
- Bug B.

## [1.1.0] - 2025-12-01

- Old.

[Unreleased]: https://example.invalid/compare/v1.2.0...HEAD
MD

out=$(awk -v v=1.2.0 -f bin/release-notes.awk "$tmp/CHANGELOG.md")
check "middle section" "$(printf '### Added\n- Feature A.\n\n### Fixed\n- Bug B.')" "$out"

out=$(awk -v v=1.1.0 -f bin/release-notes.awk "$tmp/CHANGELOG.md")
check "last section stops at link references" "- Old." "$out"

out=$(awk -v v=Unreleased -f bin/release-notes.awk "$tmp/CHANGELOG.md")
check "unreleased" "$(printf '### Added\n- Something new.')" "$out"

awk -v v=9.9.9 -f bin/release-notes.awk "$tmp/CHANGELOG.md" >/dev/null 2>&1
check "unknown version fails" "1" "$?"

out=$(make --no-print-directory release-notes VERSION=0.1.0)
check "make target on the real CHANGELOG" "0" "$?"
[ -n "$out" ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "not ok: empty 0.1.0 notes"; }

echo "release-notes: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
