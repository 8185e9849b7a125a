#!/usr/bin/env bash
# make deb: builds build/deb/orderpay_<version>_<arch>.deb with debhelper and runs lintian on it.
#
# dpkg-buildpackage writes its results into the source's parent directory, so it runs on a copy
# of the tracked (and new, not ignored) files in build/deb/orderpay-<version>/, never in the
# worktree itself. Exit status: non-zero when the build fails or lintian reports an error.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO"
bash deploy/install-deps.sh deb

VERSION=$(cat VERSION)
CHANGELOG_VERSION=$(dpkg-parsechangelog -S Version)
[[ $VERSION == "$CHANGELOG_VERSION" ]] || {
    echo "build-deb: VERSION says $VERSION but debian/changelog says $CHANGELOG_VERSION" >&2
    exit 1
}
OUT=$REPO/build/deb
SRC=$OUT/orderpay-$VERSION
rm -rf -- "$OUT"
mkdir -p "$SRC"
git ls-files -z --cached --others --exclude-standard | grep -zv '^build/' |
    xargs -0 tar -cf - --no-recursion -- 2>/dev/null | tar -xf - -C "$SRC"

JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
(cd "$SRC" && DEB_BUILD_OPTIONS="parallel=$JOBS ${DEB_BUILD_OPTIONS:-}" \
    dpkg-buildpackage -b -us -uc >"$OUT/build.log" 2>&1) || {
    tail -n 40 "$OUT/build.log" >&2
    echo "build-deb: dpkg-buildpackage failed (log: $OUT/build.log)" >&2
    exit 1
}
DEB=$OUT/orderpay_${VERSION}_$(dpkg --print-architecture).deb
[[ -f $DEB ]] || {
    echo "build-deb: $DEB was not produced" >&2
    exit 1
}
echo "build-deb: built $DEB"

# lintian refuses to run as root unless told it may; errors fail the build, warnings are shown.
lintian_root=()
((EUID == 0)) && lintian_root=(--allow-root)
lintian "${lintian_root[@]}" --fail-on error --info "$DEB" | tee "$OUT/lintian.log"
echo "build-deb: lintian reports no errors ($OUT/lintian.log)"
