#!/usr/bin/env bash
# Installs a built orderpay .deb into a scratch root (dpkg -x: no maintainer scripts run, nothing
# outside the scratch dir is touched) and checks what an operator gets: the three binaries answer
# --version with the package's version, the units name the installed paths and are not enabled,
# the maintainer scripts create the user and never touch a database.
# Usage: tests/packaging/deb_smoke.sh path/to/orderpay_<version>_<arch>.deb
set -euo pipefail

DEB=${1:?usage: $0 DEB}
[[ -f $DEB ]] || {
    echo "deb_smoke: $DEB not found (build it with: make deb)" >&2
    exit 2
}
ROOT=$(mktemp -d /tmp/orderpay-deb-root.XXXXXX)
CTRL=$(mktemp -d /tmp/orderpay-deb-ctrl.XXXXXX)
trap 'rm -rf -- "$ROOT" "$CTRL"' EXIT
fail() {
    echo "deb_smoke: FAIL: $*" >&2
    exit 1
}

dpkg -x "$DEB" "$ROOT"
dpkg -e "$DEB" "$CTRL"
version=$(dpkg-deb -f "$DEB" Version)

for bin in orderpayd orderpay paysim; do
    [[ -x $ROOT/usr/bin/$bin ]] || fail "/usr/bin/$bin missing"
    out=$("$ROOT/usr/bin/$bin" --version) || fail "$bin --version exited $?"
    [[ $out == "$bin $version" ]] || fail "$bin --version said '$out', expected '$bin $version'"
    echo "deb_smoke: $out"
done

units=(orderpayd.service orderpayd.socket orderpay-expire.service orderpay-expire.timer
    orderpay-reconcile.service orderpay-reconcile.timer)
for u in "${units[@]}"; do
    [[ -f $ROOT/lib/systemd/system/$u ]] || fail "unit $u missing from /lib/systemd/system"
done
if grep -rn '/usr/local' "$ROOT/lib/systemd/system"; then fail "a unit still names /usr/local"; fi
grep -q '^ExecStart=/usr/bin/orderpayd$' "$ROOT/lib/systemd/system/orderpayd.service" ||
    fail "orderpayd.service does not run /usr/bin/orderpayd"
# Enabled units would be symlinks in the package or enable calls in the postinst.
[[ ! -d $ROOT/etc/systemd ]] || fail "the package ships /etc/systemd (an enabled unit?)"
if grep -En 'deb-systemd-helper (enable|--quiet enable)|deb-systemd-invoke (start|restart)' "$CTRL/postinst"; then
    fail "the postinst enables or starts a unit"
fi

for f in usr/share/orderpay/nginx/orderpay.conf usr/share/orderpay/nginx/fastcgi_params.orderpay \
    usr/share/doc/orderpay/examples/orderpay.conf usr/share/doc/orderpay/copyright; do
    [[ -f $ROOT/$f ]] || fail "/$f missing"
done
[[ -d $ROOT/etc/orderpay ]] || fail "/etc/orderpay missing"

grep -q 'adduser --system' "$CTRL/postinst" || fail "the postinst does not create the orderpay user"
for script in "$CTRL"/preinst "$CTRL"/postinst "$CTRL"/prerm "$CTRL"/postrm; do
    [[ -f $script ]] || continue
    if grep -En 'psql|migrate|createdb|pg_' "$script"; then fail "${script##*/} touches a database"; fi
done
dpkg-deb -f "$DEB" Depends | grep -q adduser || fail "Depends lacks adduser"
echo "deb_smoke: ok ($DEB)"
