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
# dh_installsystemd --no-enable still re-enables, on upgrade, a unit the admin had enabled
# (`debian-installed` and `was-enabled` guard it); its default snippet enables on first install.
# So: no unguarded enable, no start or restart at all.
if grep -n 'first installation' "$CTRL/postinst"; then fail "the postinst enables units on install"; fi
n_enable=$(grep -c "deb-systemd-helper enable '" "$CTRL/postinst" || true)
n_guard=$(grep -c "deb-systemd-helper --quiet was-enabled '" "$CTRL/postinst" || true)
n_installed=$(grep -c "deb-systemd-helper debian-installed '" "$CTRL/postinst" || true)
((n_enable == n_guard && n_installed == ${#units[@]} - 2)) ||
    fail "postinst: $n_enable enable calls, $n_guard was-enabled guards, $n_installed debian-installed checks"
# Upgrades may try-restart what already runs; nothing is started, restarted or stopped otherwise.
if grep -En 'deb-systemd-invoke +(start|restart|stop)' "$CTRL"/postinst "$CTRL"/preinst 2>/dev/null; then
    fail "a maintainer script starts, restarts or stops a unit on install or upgrade"
fi

for f in usr/share/orderpay/nginx/orderpay.conf usr/share/orderpay/nginx/fastcgi_params.orderpay \
    usr/share/doc/orderpay/examples/orderpay.conf usr/share/doc/orderpay/copyright \
    usr/share/man/man1/orderpay.1.gz usr/share/man/man1/paysim.1.gz usr/share/man/man8/orderpayd.8.gz; do
    [[ -f $ROOT/$f ]] || fail "/$f missing"
done
[[ -d $ROOT/etc/orderpay ]] || fail "/etc/orderpay missing"

grep -q 'adduser --system' "$CTRL/postinst" || fail "the postinst does not create the orderpay user"
for script in "$CTRL"/preinst "$CTRL"/postinst "$CTRL"/prerm "$CTRL"/postrm; do
    [[ -f $script ]] || continue
    if grep -v '^[[:space:]]*#' "$script" | grep -En 'psql|createdb|dropdb|pg_ctl|orderpay +migrate|paysim +migrate'; then
        fail "${script##*/} touches a database"
    fi
done
dpkg-deb -f "$DEB" Depends | grep -q adduser || fail "Depends lacks adduser"
echo "deb_smoke: ok ($DEB)"
