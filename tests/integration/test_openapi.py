"""api/openapi.yaml itself: a well-formed OpenAPI 3.1 document, complete against the code (every
route, provider endpoint, pay type and errCode with its status), examples valid against their
schemas, served by nginx; and the reply validator (openapi_check) refusing what drifts.

The document checks are ours (python3-jsonschema validates every schema as Draft 2020-12 and
every example against its schema; the structure rules below are those of the OpenAPI 3.1
specification that this document uses); Debian 12 packages no OpenAPI validator."""

import copy
import json
import os
import re

import jsonschema
import pytest

import openapi_check
from conftest import STACK, http
from helpers import buy_ok

DOC = openapi_check.DOC
REPO = openapi_check.REPO
STATUS_KEY = re.compile(r"^([1-5][0-9][0-9]|[1-5]XX|default)$")


def src(path):
    with open(os.path.join(REPO, path), encoding="utf-8") as f:
        return f.read()


def walk(node, path=""):
    """Yields (json pointer, node) for every dict in the document."""
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from walk(v, "%s/%s" % (path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, "%s/%d" % (path, i))


def operations():
    for template, item in DOC["paths"].items():
        for m in openapi_check.METHODS:
            if m in item:
                yield template, m, item[m]


def media_types():
    """(pointer, media type object) for every request body and response content."""
    for template, m, op in operations():
        body = op.get("requestBody")
        if body:
            for ct, mt in openapi_check.resolve(body)["content"].items():
                yield "%s %s request %s" % (m, template, ct), mt
        for st, resp in op["responses"].items():
            for ct, mt in (openapi_check.resolve(resp).get("content") or {}).items():
                yield "%s %s %s %s" % (m, template, st, ct), mt


def test_document_structure():
    assert re.fullmatch(r"3\.1\.\d+", DOC["openapi"]), DOC["openapi"]
    assert DOC["info"]["title"] and DOC["info"]["version"]
    op_ids = []
    for template, m, op in operations():
        assert template.startswith("/"), template
        assert op["responses"], (m, template)
        for st in op["responses"]:
            assert STATUS_KEY.match(st), (m, template, st)
            assert "description" in openapi_check.resolve(op["responses"][st]), (m, template, st)
        op_ids.append(op["operationId"])
        # Every {name} in the template is a required path parameter of the operation, and back.
        names = set(re.findall(r"\{([^}]+)\}", template))
        params = [openapi_check.resolve(p) for p in op.get("parameters", [])]
        declared = {p["name"] for p in params if p["in"] == "path"}
        assert names == declared, (m, template, names, declared)
        assert all(p.get("required") for p in params if p["in"] == "path")
        for p in params:
            assert p["in"] in ("query", "header", "path", "cookie") and ("schema" in p or "content" in p), p
    assert len(op_ids) == len(set(op_ids)), "operationIds must be unique"
    for st in DOC["x-unmatched-responses"]:
        assert STATUS_KEY.match(st)


def test_every_ref_resolves():
    n = 0
    for ptr, node in walk(DOC):
        if "$ref" in node:
            openapi_check.resolve({"$ref": node["$ref"]})
            n += 1
    assert n > 50


def test_every_schema_is_valid_2020_12():
    n = 0
    for ptr, node in walk(DOC):
        for key in ("schema",):
            if key in node and isinstance(node[key], dict):
                jsonschema.Draft202012Validator.check_schema(node[key])
                n += 1
    for name, schema in DOC["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(schema)
        n += 1
    assert n > 50


def test_every_example_matches_its_schema():
    n = 0
    for where, mt in media_types():
        examples = []
        if "example" in mt:
            examples.append(mt["example"])
        for ex in (mt.get("examples") or {}).values():
            examples.append(openapi_check.resolve(ex)["value"])
        for value in examples:
            errs = openapi_check.schema_errors(mt["schema"], value)
            assert not errs, (where, errs)
            n += 1
    assert n >= 10, n


def test_every_route_and_provider_endpoint_is_documented():
    routes = re.findall(r'Route\{"([a-z_]+)", "([a-z_]+)"', src("src/handlers/dispatch.cpp"))
    assert ("pay", "buy") in routes and ("pay", "qr") in routes and ("admin", "refund") in routes
    providers = re.findall(r'^\s*\{"([a-z]+)", &[a-z]+::MakeProvider\}', src("src/providers/registry.cpp"), re.M)
    assert providers, "registry.cpp's kProviders not found"
    documented = set(DOC["paths"])
    want = {"/api/{site}/%s/%s" % r for r in routes} | {"/api/{site}/pay/re_%s" % p for p in providers}
    want |= {"/healthz", "/api/openapi.yaml"}
    assert want <= documented, "routes missing from api/openapi.yaml: %s" % sorted(want - documented)
    # Paths nginx serves itself (this document, and e.g. /metrics) may be documented too; a pay
    # action the code does not route may not.
    stale = {p for p in documented - want if p.startswith("/api/{site}/")}
    assert not stale, "documented but not routed: %s" % sorted(stale)


def test_pay_types_match_the_registry():
    # Every row: "paypal" has no kind after a dot (the regex once read only dotted names, so the
    # document left PayPal out and nothing noticed: review s31-107 I1).
    pay_types = re.findall(r'\{"([a-z]+(?:\.[a-z]+)?)", "[a-z]+", PayKind', src("src/providers/registry.cpp"))
    assert "paypal" in pay_types
    assert sorted(pay_types) == sorted(DOC["components"]["schemas"]["PayType"]["enum"])


def documented_codes():
    """{(status, errCode)}: the errCode enum/const of every JSON response, under its status."""
    out = set()
    tables = [op["responses"] for _, _, op in operations()] + [DOC["x-unmatched-responses"]]
    for responses in tables:
        for st, resp in responses.items():
            for ct, mt in (openapi_check.resolve(resp).get("content") or {}).items():
                schema = mt.get("schema") or {}
                ec = (schema.get("properties") or {}).get("errCode")
                if ec is None and "$ref" in schema:  # a named error schema (InternalError)
                    ec = (openapi_check.resolve(schema).get("properties") or {}).get("errCode")
                if isinstance(ec, dict):
                    out.update((int(st), c) for c in ec.get("enum") or ([ec["const"]] if "const" in ec else []))
    return out


def test_every_errcode_is_documented_with_its_status():
    table = re.findall(r'ErrInfo\{(\d{3}), "([^"]+)"', src("src/http/errors.cpp"))
    assert len(table) > 30
    nginx_only = {(502, "e.sys.unavailable"), (503, "e.sys.unavailable"), (504, "e.sys.timeout"),
                  (429, "e.www.api.rate_limited"), (403, "e.www.api.forbidden")}  # 403: /metrics allowlist
    documented = documented_codes()
    for status, code in [(int(s), c) for s, c in table] + sorted(nginx_only):
        assert (status, code) in documented, "errCode %s (%d) is not in api/openapi.yaml" % (code, status)
    known = {c for _, c in table} | {c for _, c in nginx_only}
    stray = {c for s, c in documented if c not in known}
    assert not stray, "documented errCodes nobody answers: %s" % sorted(stray)
    # README's error table lists the same codes.
    readme = set(re.findall(r"^\| [0-9, ]+ \| `(e\.[^`]+)`", src("README.md"), re.M))
    assert known <= readme, sorted(known - readme)


def test_nginx_serves_the_document():
    st, _, raw, hdrs = http("GET", STACK["ORDERPAY_URL"] + "/api/openapi.yaml")
    assert st == 200
    assert hdrs["content-type"] == "application/yaml"
    assert hdrs.get("x-request-id"), hdrs  # its location's add_header must repeat the server's
    with open(openapi_check.DOC_PATH, "rb") as f:
        assert raw == f.read(), "the stack serves a stale copy: restart it (deploy/stack.sh up copies the file)"
    assert "location = /api/openapi.yaml" in src("nginx/orderpay.conf")


# --- the validator refuses replies that drift ------------------------------------------------

def check(method, target, status, body, ctype="application/json", headers=None):
    hdrs = {"Content-Type": ctype}
    hdrs.update(headers or {})
    openapi_check.check_reply(method, target, status, hdrs, body if isinstance(body, bytes) else json.dumps(body).encode())


def refused(*args, **kw):
    with pytest.raises(AssertionError, match="OpenAPI"):
        check(*args, **kw)


def test_validator_refuses_drift():
    order = buy_ok("wx.qrcode")
    reply = {"ok": True, "data": order}
    target = "/api/demo/pay/check?id=%s&ticket=x" % order["id"]
    check("GET", target, 200, reply)
    extra = copy.deepcopy(reply)
    extra["data"]["surprise"] = 1
    refused("GET", target, 200, extra)  # a field the document does not know
    missing = copy.deepcopy(reply)
    del missing["data"]["fee"]
    refused("GET", target, 200, missing)
    typed = copy.deepcopy(reply)
    typed["data"]["fee"] = "25.00"  # money as a string
    refused("GET", target, 200, typed)
    state = copy.deepcopy(reply)
    state["data"]["or_st"] = "XX"
    refused("GET", target, 200, state)
    refused("GET", target, 418, reply)  # an undocumented status
    refused("GET", target, 200, reply, ctype="text/html")
    refused("GET", target, 200, b"{not json")
    err = {"ok": False, "errCode": "e.www.order.paid", "msg": "the order is already paid"}
    check("GET", "/api/demo/pay/pay?id=x", 409, err)
    refused("GET", target, 409, err)  # pay/check never answers 409
    refused("GET", target, 404, dict(err, errCode="e.io.obj.noexists", msg=""))  # empty msg
    refused("GET", target, 404, {"ok": False, "errCode": "e.www.order.paid", "msg": "x"})  # code under another status
    refused("POST", "/api/demo/pay/nothing", 404, {"ok": False, "errCode": "e.io.obj.noexists", "msg": "x"})
    check("POST", "/api/demo/pay/nothing", 404, {"ok": False, "errCode": "e.www.api.noexists", "msg": "x"})
    # pay/qr: the SVG's headers are required.
    svg = b"<svg/>"
    good = {"ETag": '"%s-0123456789abcdef"' % order["pay_id"], "Cache-Control": "private, no-cache"}
    check("GET", target.replace("check", "qr"), 200, svg, ctype="image/svg+xml", headers=good)
    refused("GET", target.replace("check", "qr"), 200, svg, ctype="image/svg+xml",
            headers={"Cache-Control": "private, no-cache"})
    refused("GET", target.replace("check", "qr"), 200, svg, ctype="image/svg+xml",
            headers=dict(good, **{"Cache-Control": "max-age=86400"}))
    # 405 needs Allow.
    refused("PUT", "/api/demo/pay/buy", 405, {"ok": False, "errCode": "e.www.api.method", "msg": "x"})
