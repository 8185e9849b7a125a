"""Packaging: `make install DESTDIR= PREFIX=` lays out a tree with the units rewritten for PREFIX
(tests/packaging/install_smoke.sh, always), and the .deb from `make deb` installs into a scratch
root whose binaries answer --version (tests/packaging/deb_smoke.sh; skipped, saying so, when no
.deb has been built: building one takes minutes, so it is not part of every run)."""

import glob
import os
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(*cmd):
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def test_make_install_into_destdir():
    # make install copies build/release's binaries; it must not start a build inside a test.
    fresh = subprocess.run(["make", "-q", "BUILD=release", "bins"], cwd=REPO, capture_output=True)
    if fresh.returncode != 0:
        pytest.skip("build/release is missing or out of date: `make build` first (make install copies it)")
    assert "install_smoke: ok" in run("bash", "tests/packaging/install_smoke.sh")


def test_deb_installs_into_a_scratch_root_and_runs():
    with open(os.path.join(REPO, "VERSION"), encoding="utf-8") as f:
        version = f.read().strip()
    debs = glob.glob(os.path.join(REPO, "build/deb/orderpay_%s_*.deb" % version))
    if not debs:
        pytest.skip("no build/deb/orderpay_%s_*.deb: run `make deb` (then `make deb-test` or this test)"
                    % version)
    out = run("bash", "tests/packaging/deb_smoke.sh", debs[0])
    assert "deb_smoke: ok" in out
    for binary in ("orderpayd", "orderpay", "paysim"):
        assert "%s %s" % (binary, version) in out
