#!/usr/bin/env bash
# Installs the Debian packages orderpay needs to build, run and test, and nothing else.
# `install-deps.sh deb` also installs what `make deb` needs (debhelper, lintian).
#
# Idempotent and fast when everything is present: only `dpkg-query` runs then. Otherwise one
# `apt-get update` and one `apt-get install` of the missing packages. Packaged services (the
# distribution's nginx and PostgreSQL clusters) are never started: the dev/test stack runs its
# own instances (deploy/stack.sh), and CI machines have no systemd anyway.
set -euo pipefail

PACKAGES=(
    g++ make
    libfcgi-dev rapidjson-dev libssl-dev libpq-dev libcurl4-openssl-dev
    libxml2-dev  # unit_tests and make fuzz only: the reference the XML parser is compared with
    libqrencode-dev  # pay/qr's SVG
    postgresql nginx-light
    googletest libgtest-dev
    clang libclang-rt-14-dev  # make fuzz: clang++ 14 and libFuzzer (libclang_rt.fuzzer-x86_64.a)
    python3 python3-pytest python3-pytest-xdist  # run.sh: the integration files on two stacks at once
    python3-cryptography  # test_wx3.py and test_paypal.py sign apart from the C++ code
    python3-jsonschema python3-yaml  # the integration suite validates every reply against api/openapi.yaml
    zbar-tools  # test_qr.py and test_demo_checkout.py decode QR codes with zbarimg
    chromium python3-websocket  # test_demo_checkout.py: headless Chromium over the DevTools protocol
    curl ca-certificates wrk openssl pkg-config
)
if [[ ${1:-} == deb ]]; then
    PACKAGES+=(debhelper dpkg-dev lintian)
fi

installed() {
    [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    # Any nginx flavour that provides /usr/sbin/nginx will do.
    if [[ $pkg == nginx-light ]] && { installed nginx || installed nginx-core || installed nginx-full; }; then
        continue
    fi
    installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#PACKAGES[@]} packages present"
    exit 0
fi

if ((EUID != 0)); then
    echo "install-deps: missing packages: ${missing[*]}" >&2
    echo "install-deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
    exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive

# policy-rc.d exit 101 tells invoke-rc.d not to start services from maintainer scripts. Keep an
# existing one (container images often ship it) and remove only the one we created.
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
fi

apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"

# Belt and braces: if a maintainer script started a packaged service anyway, stop it, but only
# for the services we just installed.
for pkg in "${missing[@]}"; do
    case $pkg in
        nginx*) svc=nginx ;;
        postgresql) svc=postgresql ;;
        *) continue ;;
    esac
    if service "$svc" status >/dev/null 2>&1; then
        echo "install-deps: stopping the packaged $svc service"
        service "$svc" stop || true
    fi
done
echo "install-deps: done"
