#!/usr/bin/env python3
"""Replay golden Meilisearch transcripts against a running server.

usage: replay.py --url URL [--master-key K] [--only NAME] [--verbose] FILE...

Each step is sent in order to an already-running *fresh* server.  What comes
back is normalised with the placeholders of golden/README.md and compared
with the recording: status, body and, for steps with "task", the finished
task (GET /tasks/<uid> polled until succeeded/failed/canceled).  Search steps
with "rankKeys" compare each run of tied hits as a set, and the ranking keys
in order (fetched again with showRankingScoreDetails), so the replay also
works through a sharded cluster.

Two levels: semantic (error "message" texts ignored) and strict.  Exit
status is non-zero when a step fails at the semantic level.
"""

import argparse
import http.client
import json
import re
import sys
import time
import urllib.parse

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
SIZE_KEYS = {"databaseSize", "usedDatabaseSize", "rawDocumentDbSize", "avgDocumentSize"}
VERSION_KEYS = {"commitSha", "commitDate", "pkgVersion"}


def normalize(v, key=None):
    if isinstance(v, dict):
        return {k: normalize(x, k) for k, x in v.items()}
    if isinstance(v, list):
        return [normalize(x) for x in v]
    if key == "processingTimeMs" and v is not None:
        return "<ms>"
    if key == "duration" and v is not None:
        return "<duration>"
    if key == "batchUid" and v is not None:
        return "<batch>"
    if key in SIZE_KEYS and v is not None:
        return "<size>"
    if key in VERSION_KEYS and v is not None:
        return "<v>"
    if key == "key" and isinstance(v, str):
        return "<key>"
    if key == "requestUid" and isinstance(v, str):
        return "<uuid>"
    if key == "uid" and isinstance(v, str) and len(v) == 36:
        return "<uuid>"
    if isinstance(v, str) and DATE_RE.match(v):
        return "<date>"
    return v


def is_error_object(d):
    return isinstance(d, dict) and "code" in d and "type" in d and "link" in d and "message" in d


def num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def diff(exp, got, path, strict, out):
    """Append (path, expected, got) differences to out."""
    if len(out) > 8:
        return
    if num(exp) and num(got):
        if exp == got:
            return
        if abs(exp - got) <= 1e-9 * max(abs(exp), abs(got)):
            return
        out.append((path, exp, got))
        return
    if type(exp) is not type(got):
        out.append((path, exp, got))
        return
    if isinstance(exp, dict):
        skip_msg = (not strict) and is_error_object(exp)
        for k in exp:
            if k not in got:
                out.append((path + "." + k, exp[k], "<missing>"))
            elif not (skip_msg and k == "message"):
                diff(exp[k], got[k], path + "." + k, strict, out)
        for k in got:
            if k not in exp:
                out.append((path + "." + k, "<absent>", got[k]))
        return
    if isinstance(exp, list):
        if len(exp) != len(got):
            out.append((path + ".length", len(exp), len(got)))
        for i, (a, b) in enumerate(zip(exp, got)):
            diff(a, b, "%s[%d]" % (path, i), strict, out)
        return
    if exp != got:
        out.append((path, exp, got))


def canon(v):
    return json.dumps(v, sort_keys=True)


def runs_of(keys):
    """[(start, end)] of consecutive equal keys."""
    out = []
    i = 0
    while i < len(keys):
        j = i + 1
        while j < len(keys) and keys[j] == keys[i]:
            j += 1
        out.append((i, j))
        i = j
    return out


class Client:
    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.host = u.hostname
        self.port = u.port or 80
        self.base = u.path.rstrip("/")
        self.conn = None

    def request(self, method, path, query=None, headers=None, body=None):
        target = self.base + path
        if query:
            target += "?" + urllib.parse.urlencode(query)
        data = body.encode("utf-8") if isinstance(body, str) else body
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                self.conn.request(method, target, body=data, headers=headers or {})
                r = self.conn.getresponse()
                raw = r.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        text = raw.decode("utf-8")
        if text == "":
            return r.status, ""
        try:
            return r.status, json.loads(text)
        except ValueError:
            return r.status, text


def auth_header(auth, master):
    if auth == "master":
        return "Bearer " + (master or "")
    if auth == "none":
        return None
    if auth == "wrong":
        return "Bearer not-the-key"
    if auth == "malformed":
        return "Token " + (master or "")
    if auth.startswith("bearer:"):
        return "Bearer " + auth[len("bearer:"):]
    raise ValueError("unknown auth " + auth)


def send(client, step_req, master, body_override=None):
    headers = {}
    a = auth_header(step_req.get("auth", "master"), master)
    if a is not None:
        headers["Authorization"] = a
    if step_req.get("contentType") is not None:
        headers["Content-Type"] = step_req["contentType"]
    body = step_req.get("body") if body_override is None else body_override
    if body is not None:
        body = body.encode("utf-8")
        headers["Content-Length"] = str(len(body))
    elif step_req["method"] in ("POST", "PUT", "PATCH"):
        headers["Content-Length"] = "0"
    return client.request(step_req["method"], step_req["path"], step_req.get("query") or None,
                          headers, body)


def wait_task(client, uid, master, timeout=30.0):
    headers = {"Authorization": "Bearer " + master} if master else {}
    deadline = time.time() + timeout
    while True:
        st, body = client.request("GET", "/tasks/%d" % uid, None, headers)
        if st == 200 and isinstance(body, dict) and body.get("status") in ("succeeded", "failed", "canceled"):
            return body
        if time.time() > deadline:
            return body
        time.sleep(0.01)


def compare_hits(exp_body, got_body, rank_keys, strict, out):
    """Body comparison where tied runs of hits compare as multisets."""
    e = dict(exp_body)
    g = dict(got_body)
    eh = e.pop("hits", None)
    gh = g.pop("hits", None)
    diff(e, g, "", strict, out)
    if not isinstance(gh, list) or not isinstance(eh, list):
        diff(eh, gh, ".hits", strict, out)
        return
    if len(eh) != len(gh):
        out.append((".hits.length", len(eh), len(gh)))
        return
    keys = list(rank_keys) + [None] * (len(eh) - len(rank_keys))
    for (i, j) in runs_of(keys):
        if j - i == 1 or keys[i] is None:
            for k in range(i, j):
                diff(eh[k], gh[k], ".hits[%d]" % k, strict, out)
            continue
        want = sorted(canon(h) for h in eh[i:j])
        have = sorted(canon(h) for h in gh[i:j])
        if want != have:
            # fall back to a positional diff for a readable report
            sub = []
            for k in range(i, j):
                diff(eh[k], gh[k], ".hits[%d]" % k, strict, sub)
            out.append((".hits[%d:%d] (tied run, as a set)" % (i, j), want, have))


def check_rank_keys(client, step, master, strict, out):
    req = step["request"]
    try:
        body = json.loads(req["body"])
    except (TypeError, ValueError):
        return
    if not isinstance(body, dict):
        return
    body["showRankingScoreDetails"] = True
    st, got = send(client, req, master, json.dumps(body))
    if st != 200 or not isinstance(got, dict):
        out.append(("rankKeys request", 200, st))
        return
    keys = [h.get("_rankingScoreDetails") for h in got.get("hits", [])]
    exp = [json.loads(k) for k in step["rankKeys"]]
    diff(exp, keys, ".rankKeys", strict, out)


def short(v):
    s = json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else repr(v)
    return s if len(s) <= 160 else s[:157] + "..."


def run_step(client, step, master):
    """Return (semantic_diffs, strict_diffs)."""
    req = step["request"]
    exp = step["response"]
    status, body = send(client, req, master)
    body = normalize(body)
    sem, stc = [], []
    if status != exp["status"]:
        sem.append(("status", exp["status"], status))
        stc.append(("status", exp["status"], status))
    for strict, out in ((False, sem), (True, stc)):
        if "rankKeys" in step and isinstance(exp["body"], dict) and isinstance(body, dict):
            compare_hits(exp["body"], body, [canon(json.loads(k)) for k in step["rankKeys"]], strict, out)
        else:
            diff(exp["body"], body, "", strict, out)
    if "task" in step and isinstance(body, dict) and "taskUid" in body:
        task = normalize(wait_task(client, body["taskUid"], master))
        diff(step["task"], task, "task", False, sem)
        diff(step["task"], task, "task", True, stc)
    if "rankKeys" in step and status == 200 and req["method"] == "POST" and req["path"].endswith("/search"):
        rk = []
        check_rank_keys(client, step, master, False, rk)
        sem.extend(rk)
        stc.extend(rk)
    return sem, stc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--master-key", default=None)
    ap.add_argument("--only", action="append", default=None,
                    help="run only steps with this name (repeatable; others are still sent)")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    sem_pass = sem_fail = strict_pass = strict_fail = 0
    for path in args.files:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        client = Client(args.url)
        for step in doc["steps"]:
            try:
                sem, stc = run_step(client, step, args.master_key)
            except Exception as e:  # connection problems count as failures
                sem = stc = [("request", "a response", repr(e))]
            if args.only and step["name"] not in args.only:
                continue
            if sem:
                sem_fail += 1
                print("FAIL %s: %s %s" % (step["name"], step["request"]["method"], step["request"]["path"]))
                for p, e, g in sem[:6]:
                    print("   %s: expected %s, got %s" % (p or "body", short(e), short(g)))
            else:
                sem_pass += 1
            if stc:
                strict_fail += 1
                if not sem and args.verbose:
                    print("STRICT %s:" % step["name"])
                    for p, e, g in stc[:4]:
                        print("   %s: expected %s, got %s" % (p or "body", short(e), short(g)))
            else:
                strict_pass += 1
            if args.verbose and not sem and not stc:
                print("ok   %s" % step["name"])
    print("golden semantic: %d passed, %d failed" % (sem_pass, sem_fail))
    # strict is reported, not required: a message may carry the current time
    print("golden strict (messages too): %d of %d identical"
          % (strict_pass, strict_pass + strict_fail))
    return 1 if sem_fail else 0


if __name__ == "__main__":
    sys.exit(main())
