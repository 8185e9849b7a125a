#!/usr/bin/env bash
# `make install DESTDIR= PREFIX=` into a scratch dir: every file lands under DESTDIR, the units
# name PREFIX's binaries, and the installed binaries run. Uses the binaries already built in
# build/release (make install only copies them then). Usage: tests/packaging/install_smoke.sh
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
DEST=$(mktemp -d /tmp/orderpay-install.XXXXXX)
trap 'rm -rf -- "$DEST"' EXIT
fail() {
    echo "install_smoke: FAIL: $*" >&2
    exit 1
}
PREFIX=/opt/orderpay-test
make -s -C "$REPO" install DESTDIR="$DEST" PREFIX=$PREFIX >/dev/null
version=$(cat "$REPO/VERSION")
for bin in orderpayd orderpay paysim; do
    out=$("$DEST$PREFIX/bin/$bin" --version) || fail "$bin --version exited $?"
    [[ $out == "$bin $version" ]] || fail "$bin --version said '$out'"
done
unitdir=$DEST$PREFIX/lib/systemd/system
grep -q "^ExecStart=$PREFIX/bin/orderpayd\$" "$unitdir/orderpayd.service" || fail "orderpayd.service ExecStart"
grep -q "^ExecStart=$PREFIX/bin/orderpay expire\$" "$unitdir/orderpay-expire.service" || fail "expire ExecStart"
grep -q "file://$PREFIX/share/doc/orderpay/README.md" "$unitdir/orderpayd.service" || fail "Documentation="
# ProtectSystem=strict: without it no log_file can be written (README, log_file).
grep -q "^LogsDirectory=orderpay\$" "$unitdir/orderpayd.service" || fail "orderpayd.service LogsDirectory="
if grep -rn /usr/local "$unitdir"; then fail "a unit names /usr/local"; fi
for f in share/orderpay/nginx/orderpay.conf share/orderpay/nginx/fastcgi_params.orderpay \
    share/doc/orderpay/examples/orderpay.conf share/doc/orderpay/README.md share/man/man1/orderpay.1 \
    share/man/man1/paysim.1 share/man/man8/orderpayd.8; do
    [[ -f $DEST$PREFIX/$f ]] || fail "$PREFIX/$f missing"
done
# The site config's OpenAPI alias names the file this install wrote, not the package's /usr/share.
conf=$DEST$PREFIX/share/orderpay/nginx/orderpay.conf
grep -q "alias $PREFIX/share/orderpay/openapi.yaml;" "$conf" || fail "orderpay.conf's openapi.yaml alias"
[[ -f $DEST$PREFIX/share/orderpay/openapi.yaml ]] || fail "$PREFIX/share/orderpay/openapi.yaml missing"
if grep -n /usr/share "$conf"; then fail "orderpay.conf names /usr/share"; fi
# Nothing outside PREFIX.
stray=$(cd "$DEST" && find . -type f | grep -v "^\.$PREFIX/" || true)
[[ -z $stray ]] || fail "installed outside PREFIX: $stray"
echo "install_smoke: ok ($(cd "$DEST" && find . -type f | wc -l) files under $PREFIX)"
