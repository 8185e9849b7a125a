"""pay/qr: the current slip's QR code as SVG. The image is rasterised here (the SVG is runs of
modules, see src/http/qr_svg.cpp) and decoded with zbarimg, so "it is a QR code of re_obj" is
checked by an independent decoder, not by our own encoder. Plus caching headers, 304, and the
same auth and order answers as pay/check, and 409s when there is no QR to show."""

import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import STACK, api, cli, psql
from helpers import buy_ok, sim_pay, wait_state

T = STACK["DEMO_TICKET"]


def qr(order_id, ticket=T, headers=None, method="GET", site=None):
    params = {"id": order_id} if order_id is not None else None
    return api(method, "qr", ticket=ticket, params=params, headers=headers, site=site)


def decode_svg(svg):
    """Rasterises RenderQrSvg's path (4 px a module) to a PGM and decodes it with zbarimg."""
    if not shutil.which("zbarimg"):
        pytest.skip("zbarimg not installed (Debian package zbar-tools, deploy/install-deps.sh)")
    text = svg.decode()
    size = int(re.search(r'viewBox="0 0 (\d+) \1"', text).group(1))
    s = 4
    px = bytearray(b"\xff" * (size * s) ** 2)
    runs = re.findall(r"M(\d+),(\d+)h(\d+)v1h-\3z", text)
    assert runs, text[:300]
    for x, y, n in runs:
        x, y, n = int(x), int(y), int(n)
        for yy in range(y * s, (y + 1) * s):
            start = yy * size * s
            px[start + x * s:start + (x + n) * s] = b"\x00" * (n * s)
    with tempfile.NamedTemporaryFile(suffix=".pgm", delete=False) as f:
        f.write(b"P5 %d %d 255\n" % (size * s, size * s) + bytes(px))
    try:
        out = subprocess.run(["zbarimg", "-q", "--raw", f.name], capture_output=True, timeout=30)
    finally:
        os.unlink(f.name)
    assert out.returncode == 0, out.stderr
    return out.stdout.decode().rstrip("\n")


def expect_err(resp, status, code):
    st, body, raw, hdrs = resp
    assert st == status, raw
    assert hdrs["content-type"].startswith("application/json"), hdrs
    assert body["errCode"] == code, raw
    return hdrs


@pytest.mark.parametrize("pay_tp", ["wx.qrcode", "zfb.qrcode"])
def test_svg_decodes_to_the_slips_qr_text(pay_tp):
    order = buy_ok(pay_tp)
    st, _, raw, hdrs = qr(order["id"])
    assert st == 200, raw
    assert hdrs["content-type"] == "image/svg+xml"
    assert hdrs["cache-control"] == "private, no-cache"
    assert re.fullmatch(r'"%s-[0-9a-f]{16}"' % order["pay_id"], hdrs["etag"]), hdrs
    assert raw.startswith(b"<?xml") and b"<svg xmlns=\"http://www.w3.org/2000/svg\"" in raw
    assert decode_svg(raw) == order["pay_re"]["re_obj"]


def test_etag_revalidation():
    order = buy_ok("wx.qrcode")
    st, _, first, hdrs = qr(order["id"])
    assert st == 200
    etag = hdrs["etag"]
    for inm in (etag, "W/" + etag, '"nope", ' + etag, "*"):
        st, _, raw, h = qr(order["id"], headers={"If-None-Match": inm})
        assert st == 304 and raw == b"", (inm, st, raw)
        assert h["etag"] == etag
    st, _, raw, _ = qr(order["id"], headers={"If-None-Match": '"%s-0000000000000000"' % order["pay_id"]})
    assert st == 200 and raw == first
    # Hostile or odd headers: a long list (inside nginx's 8k header line), bytes that are not
    # UTF-8, an unquoted tag. Never an error: the image, or 304 only for the real tag.
    st, _, raw, _ = qr(order["id"], headers={"If-None-Match": "," * 7000 + etag})
    assert st == 304 and raw == b""
    for odd in (" , ,", etag.strip('"'), "W/ " + etag, "\xff\xfe"):
        st, _, raw, _ = qr(order["id"], headers={"If-None-Match": odd.encode("latin-1")})
        assert st == 200 and raw == first, odd
    # HEAD: the headers without the image.
    st, _, raw, h = qr(order["id"], method="HEAD")
    assert st == 200 and raw == b"" and h["etag"] == etag and h["content-type"] == "image/svg+xml"


def test_new_slip_new_etag_and_image():
    order = buy_ok("wx.qrcode")
    _, _, old_svg, old = qr(order["id"])
    st, body, raw, _ = api("GET", "pay", ticket=T, params={"id": order["id"], "pt": "zfb.qrcode"})
    assert st == 200, raw
    new_obj = body["data"]["pay_re"]["re_obj"]
    st, _, svg, hdrs = qr(order["id"], headers={"If-None-Match": old["etag"]})
    assert st == 200 and hdrs["etag"] != old["etag"] and svg != old_svg
    assert decode_svg(svg) == new_obj


def test_paid_closed_and_non_qr_orders_are_409():
    paid = buy_ok("wx.qrcode")
    sim_pay(paid["pay_id"])
    wait_state(paid["id"], "OK")
    expect_err(qr(paid["id"]), 409, "e.www.order.paid")

    jsapi = buy_ok("wx.jsapi")
    assert jsapi["pay_re"]["re_tp"] == "JSON"
    expect_err(qr(jsapi["id"]), 409, "e.www.order.noqr")

    # A slip with nothing to show (scan payments, an unknown outcome: re_tp NONE).
    nothing = buy_ok("wx.qrcode")
    psql("UPDATE pay_slips SET re_tp = 'NONE', re_obj = '' WHERE id = '%s'" % nothing["pay_id"])
    expect_err(qr(nothing["id"]), 409, "e.www.order.noqr")

    closed = buy_ok("wx.qrcode")
    psql("UPDATE orders SET expi = now() - interval '1 second' WHERE id = '%s'" % closed["id"])
    expect_err(qr(closed["id"]), 409, "e.www.order.closed")  # past expiry, before `expire` runs
    cli("expire", "--limit", "100000")
    expect_err(qr(closed["id"]), 409, "e.www.order.closed")


def test_same_auth_and_order_answers_as_check():
    order = buy_ok("wx.qrcode")
    expect_err(qr(order["id"], ticket=None), 401, "e.www.api.auth.nologin")
    expect_err(qr(order["id"], ticket="nope"), 401, "e.www.api.auth.nologin")
    expect_err(qr(None), 400, "e.www.order.nil.id")
    expect_err(qr(""), 400, "e.www.order.nil.id")
    expect_err(qr("NOT-AN-ID"), 404, "e.io.obj.noexists")
    expect_err(qr("a" * 26), 404, "e.io.obj.noexists")
    # Bob may not see Alice's QR code, and is told exactly what a missing order tells him.
    expect_err(qr(order["id"], ticket=STACK["DEMO_TICKET_BOB"]), 404, "e.io.obj.noexists")
    expect_err(qr(order["id"], site="no-such-site"), 404, "e.www.site.noexists")
    hdrs = expect_err(qr(order["id"], method="POST"), 405, "e.www.api.method")
    assert hdrs["allow"] == "GET, HEAD"
    st, _, raw, _ = api("GET", "qr", ticket=T, params=[("id", order["id"].encode() + b"\xff")])
    assert st == 400 and b"e.www.api.invalid.encoding" in raw, raw
