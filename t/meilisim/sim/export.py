"""POST /export: push documents (and settings) to another Meilisearch."""

import json
import re
import urllib.error
import urllib.request

from .errors import MeiliError
from .util import type_error, unknown_field, dumps

DEFAULT_PAYLOAD = 50 * 1024 * 1024
UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000 ** 2, "gb": 1000 ** 3, "kib": 1024, "mib": 1024 ** 2,
         "gib": 1024 ** 3, "k": 1000, "m": 1000 ** 2, "g": 1000 ** 3}


def parse_size(v):
    if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
        return v
    if isinstance(v, str):
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", v)
        if m and m.group(2).lower() in UNITS:
            return int(float(m.group(1)) * UNITS[m.group(2).lower()])
        raise MeiliError("invalid_export_payload_size",
                         "Invalid value at `.payloadSize`: the value `%s` cannot be parsed as a byte size" % v)
    raise type_error("invalid_export_payload_size", ".payloadSize", "a positive integer or a string", v)


def pattern_match(pattern, uid):
    if pattern.endswith("*"):
        return uid.startswith(pattern[:-1])
    return pattern == uid


def validate(body):
    if not isinstance(body, dict):
        raise type_error("bad_request", "", "an object", body)
    accepted = ["url", "apiKey", "payloadSize", "indexes"]
    url, api_key, size, indexes = "", None, None, None
    for k, v in body.items():
        if k == "url":
            if not isinstance(v, str):
                raise type_error("invalid_export_url", ".url", "a string", v)
            url = v
        elif k == "apiKey":
            if v is not None and not isinstance(v, str):
                raise type_error("invalid_export_api_key", ".apiKey", "a string", v)
            api_key = v
        elif k == "payloadSize":
            size = None if v is None else parse_size(v)
            size_raw = v
        elif k == "indexes":
            if v is not None:
                if not isinstance(v, dict):
                    raise type_error("invalid_export_index_patterns", ".indexes", "an object", v)
                indexes = {}
                for pat, conf in v.items():
                    if not re.fullmatch(r"\*|[A-Za-z0-9_-]+\*?", pat):
                        raise MeiliError("invalid_export_index_patterns",
                                         "Invalid value at `.indexes`: `%s` is not a valid index uid pattern."
                                         % pat)
                    conf = conf or {}
                    if not isinstance(conf, dict):
                        raise type_error("bad_request", ".indexes.%s" % pat, "an object", conf)
                    out = {"filter": None, "overrideSettings": False}
                    for ck, cv in conf.items():
                        if ck == "filter":
                            if cv is not None and not isinstance(cv, (str, list)):
                                raise MeiliError("invalid_export_index_filter",
                                                 "Invalid syntax for the filter parameter: `expected String, "
                                                 "Array, found: %s`." % dumps(cv))
                            out["filter"] = cv
                        elif ck == "overrideSettings":
                            if not isinstance(cv, bool):
                                raise type_error("invalid_export_index_override_settings",
                                                 ".indexes.%s.overrideSettings" % pat, "a boolean", cv)
                            out["overrideSettings"] = cv
                        else:
                            raise unknown_field(ck, ["filter", "overrideSettings"])
                    indexes[pat] = out
        else:
            raise unknown_field(k, accepted)
    if indexes is None:
        indexes = {"*": {"filter": None, "overrideSettings": False}}
    indexes = dict(sorted(indexes.items()))
    details = {"url": url, "apiKey": (api_key[:3] + "...") if api_key else None,
               "payloadSize": None if size is None else size_raw, "indexes": indexes}
    payload = {"url": url, "apiKey": api_key, "payloadSize": size or DEFAULT_PAYLOAD, "indexes": indexes}
    return details, payload


def _send(method, url, api_key, body, ctype):
    req = urllib.request.Request(url, data=body, method=method)
    req.add_header("Content-Type", ctype)
    if api_key:
        req.add_header("Authorization", "Bearer " + api_key)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        text = e.read().decode("utf-8", "replace")
        raise MeiliError("remote_bad_response", "Export to `%s` failed: %s answered %d: %s"
                         % (url, method, e.code, text[:300]))
    except (urllib.error.URLError, OSError) as e:
        raise MeiliError("remote_could_not_send_request", "Export to `%s` failed: %s" % (url, e))


def run(state, task, p):
    """Runs in the worker with state.lock held once; releases it for network I/O."""
    from . import search
    base = p["url"].rstrip("/")
    jobs = []
    for uid in sorted(state.indexes):
        conf = next((c for pat, c in p["indexes"].items() if pattern_match(pat, uid)), None)
        if conf is None:
            continue
        ix = state.indexes[uid]
        pairs = list(ix.iter_documents())
        if conf.get("filter") is not None:
            pred = search.compile_filter(ix, conf["filter"], "documents")
            pairs = [(i, d) for i, d in pairs if pred(d)]
        jobs.append((uid, ix.primary_key, dict(ix.settings), conf, [d for _, d in pairs]))
    state.lock.release()
    try:
        for uid, pk, settings, conf, docs in jobs:
            _send("POST", base + "/indexes", p["apiKey"], json.dumps({"uid": uid, "primaryKey": pk}).encode(),
                  "application/json")
            if conf.get("overrideSettings"):
                _send("PATCH", base + "/indexes/%s/settings" % uid, p["apiKey"],
                      json.dumps(settings).encode(), "application/json")
            buf = []
            size = 0
            target = base + "/indexes/%s/documents" % uid
            if pk:
                target += "?primaryKey=" + urllib.request.quote(pk)
            for d in docs:
                line = (dumps(d) + "\n").encode("utf-8")
                if buf and size + len(line) > p["payloadSize"]:
                    _send("POST", target, p["apiKey"], b"".join(buf), "application/x-ndjson")
                    buf, size = [], 0
                buf.append(line)
                size += len(line)
            if buf:
                _send("POST", target, p["apiKey"], b"".join(buf), "application/x-ndjson")
    finally:
        state.lock.acquire()
