"""Validates HTTP replies against api/openapi.yaml (OpenAPI 3.1, JSON Schema 2020-12).

conftest's http() (and the tests that talk raw HTTP or FastCGI) pass every reply from orderpay's
origin here: the operation is found by path template and method (HEAD as GET), the response by
status (exact, then nXX, then default), and then the reply must match it: a documented status,
a documented Content-Type, the required headers, and a JSON body valid against the schema. A
request matching no operation is checked against the document's `x-unmatched-responses`. Any
mismatch raises AssertionError, failing the test that received the reply.

Validation uses python3-jsonschema (Debian package) with Draft 2020-12; the document is read
with python3-yaml.
"""

import json
import os
import re
import urllib.parse

import jsonschema
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC_PATH = os.path.join(REPO, "api", "openapi.yaml")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

with open(DOC_PATH, encoding="utf-8") as _f:
    DOC = yaml.safe_load(_f)

_RESOLVER = jsonschema.RefResolver.from_schema(DOC)
_VALIDATORS = {}
# (operation or "unmatched", status key) pairs seen, for the summary at the end of the run.
SEEN = set()
CHECKED = [0]


def resolve(obj):
    """Follows a non-schema $ref (response, parameter, header, example) within the document."""
    while isinstance(obj, dict) and "$ref" in obj:
        ref = obj["$ref"]
        assert ref.startswith("#/"), "only local $refs: %s" % ref
        node = DOC
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        obj = node
    return obj


def schema_errors(schema, instance):
    """Error messages of instance against a schema of the document (its $refs resolve in DOC)."""
    key = id(schema)
    v = _VALIDATORS.get(key)
    if v is None:
        v = _VALIDATORS[key] = (jsonschema.Draft202012Validator(schema, resolver=_RESOLVER), schema)
    return ["%s at /%s" % (e.message, "/".join(map(str, e.absolute_path)))
            for e in sorted(v[0].iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))]


def _template_regex(template):
    return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")


# Concrete paths before templated ones (OpenAPI's matching rule), then the longer template.
_PATHS = sorted(((t, _template_regex(t), item) for t, item in DOC["paths"].items()),
                key=lambda p: (p[0].count("{"), -len(p[0])))


def find_operation(method, path):
    """(label, responses) for a request; the document's unmatched responses when none matches."""
    m = method.lower()
    for template, rx, item in _PATHS:
        if not rx.match(path):
            continue
        item = resolve(item)
        op = item.get(m) or (item.get("get") if m == "head" else None)
        if op is not None:
            return "%s %s" % (method.upper(), template), op["responses"]
        break  # the path exists, the method does not: unmatched (405)
    return "unmatched", DOC["x-unmatched-responses"]


def check_reply(method, target, status, headers, body):
    """Asserts that a reply matches the document. target: the request's path with any query
    (percent-encoded as sent); headers: a dict (any name case); body: bytes."""
    path = urllib.parse.urlsplit(target).path
    path = urllib.parse.unquote(path, errors="surrogateescape")
    label, responses = find_operation(method, path)
    where = "%s %s -> %d (%s)" % (method, path[:120], status, label)
    key = str(status)
    if key not in responses:
        key = "%dXX" % (status // 100)
    if key not in responses:
        key = "default"
    assert key in responses, "OpenAPI: status %d is not documented for %s; reply: %r" % (
        status, where, body[:300])
    SEEN.add((label, key))
    CHECKED[0] += 1
    resp = resolve(responses[key])
    hdrs = {k.lower(): v for k, v in headers.items()}
    for name, h in (resp.get("headers") or {}).items():
        h = resolve(h)
        value = hdrs.get(name.lower())
        if h.get("required"):
            assert value is not None, "OpenAPI: %s lacks the required header %s" % (where, name)
        if value is not None and "schema" in h:
            errs = schema_errors(h["schema"], value)
            assert not errs, "OpenAPI: %s header %s=%r: %s" % (where, name, value, errs)
    content = resp.get("content")
    if not content or status == 304:
        assert not body or method.upper() == "HEAD" or status == 304, \
            "OpenAPI: %s documents no body, got %r" % (where, body[:300])
        return
    if method.upper() == "HEAD" and not body:
        return
    ctype = (hdrs.get("content-type") or "").split(";")[0].strip().lower()
    assert ctype in content, "OpenAPI: %s answered Content-Type %r, documented %s" % (
        where, ctype, sorted(content))
    schema = content[ctype].get("schema")
    if schema is None:
        return
    if ctype == "application/json" or ctype.endswith("+json"):
        try:
            instance = json.loads(body)
        except ValueError as e:
            raise AssertionError("OpenAPI: %s is not JSON (%s): %r" % (where, e, body[:300])) from None
    else:
        try:
            instance = body.decode("utf-8")
        except UnicodeDecodeError:
            return  # a binary body: only its media type is documented
    errs = schema_errors(schema, instance)
    assert not errs, "OpenAPI: %s reply does not match the document:\n  %s\nreply: %s" % (
        where, "\n  ".join(errs[:10]), body[:600])


def summary():
    """One line per documented (operation, status) and whether the run saw it."""
    lines = []
    for template, _, item in sorted(_PATHS):
        item = resolve(item)
        for m in METHODS:
            if m in item:
                label = "%s %s" % (m.upper(), template)
                for st in item[m]["responses"]:
                    lines.append("%s %s %s" % ("seen  " if (label, st) in SEEN else "unseen", label, st))
    return lines
