#!/usr/bin/env python3
"""The read path's correctness oracle (run by t/040-oracle.t).

Loads the same random documents into one emulated node (the reference, a
plain Meilisearch stand-in) and, tagged by miroir_split() (tools/miroir-split),
into the nodes of a Miroir cluster, then sends the same random searches to
both and compares the answers: every field but processingTimeMs and
requestUid must be equal; hits must be equal position by position in their
ranking details, and equal as sets inside each run of equal details (ties
are ordered by Miroir's own rule); runs cut by the window edge only need the
same details.  Then pages of a tied query must cover every hit exactly once,
and everything again with a node killed.

  040-oracle.py --nginx BIN --module SO [--seed N] [--queries Q]
                [--nodes 3] [--rf 2] [--kill 1] [--weights 1,1,2]

Prints TAP-like "ok"/"not ok" lines and exits 1 on any failure.
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
KEY = "node-key-0123456789"
MASTER = "oracle-master-key"

WORDS = ("dark knight city night river stone light fire storm shadow "
         "garden winter summer blue red green silver golden ocean mountain "
         "dream song road train ghost star moon sun forest island").split()
GENRES = ["action", "drama", "comedy", "horror", "romance", "sci-fi", "war",
          "crime"]

failures = 0
count = 0


def ok(cond, name, diag=None):
    global failures, count
    count += 1
    if cond:
        print("ok %d - %s" % (count, name))
    else:
        failures += 1
        print("not ok %d - %s" % (count, name))
        if diag:
            for line in str(diag).splitlines()[:40]:
                print("#   " + line)
    sys.stdout.flush()
    return cond


def http(method, url, body=None, key=None, raw=False):
    data = None
    headers = {}
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = ("application/x-ndjson" if raw
                                   else "application/json")
    if key:
        headers["Authorization"] = "Bearer " + key
    req = urllib.request.Request(url, data=data, method=method,
                                 headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)
    except (urllib.error.URLError, ConnectionError) as e:
        return 0, str(e).encode(), {}


def jget(method, url, body=None, key=None, raw=False):
    st, b, h = http(method, url, body, key, raw)
    try:
        return st, json.loads(b) if b else None, h
    except ValueError:
        return st, b, h


def wait_tasks(base):
    for _ in range(600):
        st, b, _ = jget("GET", base + "/tasks?statuses=enqueued,processing",
                        key=KEY)
        if st == 200 and b["total"] == 0:
            st, b, _ = jget("GET", base + "/tasks?statuses=failed", key=KEY)
            if b["total"]:
                raise SystemExit("failed task on %s: %s" % (base, b))
            return
        time.sleep(0.05)
    raise SystemExit("tasks never finished on " + base)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def make_docs(rng, n):
    docs = []
    for i in range(n):
        d = {"id": i + 1 if rng.random() < 0.8 else "s-%d" % (i + 1)}
        d["title"] = " ".join(rng.choice(WORDS)
                              for _ in range(rng.randint(1, 4)))
        if rng.random() < 0.8:
            d["overview"] = " ".join(rng.choice(WORDS)
                                     for _ in range(rng.randint(3, 12)))
        d["genre"] = rng.sample(GENRES, rng.randint(0, 3))
        if rng.random() < 0.9:
            d["year"] = rng.randint(1980, 2024)
        if rng.random() < 0.9:
            d["rating"] = round(rng.uniform(1, 10), 1)
        docs.append(d)
    return docs


def rand_filter(rng):
    atoms = [
        lambda: "year > %d" % rng.randint(1980, 2024),
        lambda: "year %d TO %d" % tuple(sorted((rng.randint(1980, 2024),
                                               rng.randint(1980, 2024)))),
        lambda: "genre = %s" % rng.choice(GENRES),
        lambda: "genre = %s" % rng.choice(GENRES).upper(),
        lambda: "rating >= %.1f" % rng.uniform(1, 10),
        lambda: "genre IN [%s, %s]" % (rng.choice(GENRES), rng.choice(GENRES)),
        lambda: "year NOT EXISTS",
        lambda: "NOT genre = %s" % rng.choice(GENRES),
    ]
    k = rng.random()
    if k < 0.4:
        return rng.choice(atoms)()
    if k < 0.7:
        return "%s %s %s" % (rng.choice(atoms)(), rng.choice(["AND", "OR"]),
                             rng.choice(atoms)())
    if k < 0.85:
        return [rng.choice(atoms)(), [rng.choice(atoms)(), rng.choice(atoms)()]]
    return "(%s OR %s) AND %s" % (rng.choice(atoms)(), rng.choice(atoms)(),
                                  rng.choice(atoms)())


def rand_query(rng):
    q = {}
    r = rng.random()
    if r < 0.25:
        q["q"] = ""
    elif r < 0.9:
        q["q"] = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))
    if rng.random() < 0.1 and q.get("q"):
        w = q["q"]
        q["q"] = w[:-1] + "x"       # a typo
    if rng.random() < 0.5:
        q["filter"] = rand_filter(rng)
    if rng.random() < 0.35:
        q["sort"] = rng.sample(["year:asc", "year:desc", "rating:asc",
                                "rating:desc", "title:asc"],
                               rng.randint(1, 2))
    if rng.random() < 0.4:
        q["facets"] = rng.sample(["genre", "year", "rating"],
                                 rng.randint(1, 3))
        if rng.random() < 0.15:
            q["facets"] = ["*"]
    if rng.random() < 0.3:
        q["page"] = rng.randint(0, 4)
        q["hitsPerPage"] = rng.randint(0, 15)
    else:
        if rng.random() < 0.6:
            q["offset"] = rng.randint(0, 40)
        if rng.random() < 0.7:
            q["limit"] = rng.randint(0, 30)
    if rng.random() < 0.3:
        q["attributesToRetrieve"] = rng.sample(["id", "title", "year",
                                                "rating", "genre"],
                                               rng.randint(1, 3))
    if rng.random() < 0.2:
        q["showRankingScore"] = True
    if rng.random() < 0.1:
        q["attributesToHighlight"] = ["title"]
    if rng.random() < 0.05:
        q["matchingStrategy"] = "all"
    return q


def get_form(q):
    """The query string of q for GET search, or None if not expressible."""
    args = []
    for k, v in q.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif isinstance(v, list):
            if k == "filter":
                v = json.dumps(v)
            else:
                v = ",".join(v)
        args.append((k, str(v)))
    return urllib.parse.urlencode(args)


IGNORED = ("processingTimeMs", "requestUid")
HEDGING = False


def details_key(h):
    return h.get("_rankingScoreDetails")


def fed_key(h):
    f = dict(h.get("_federation", {}))
    return [h.get("_rankingScoreDetails"), f]


def compare(name, q, ref, mir, ref_d, mir_d, keyf=details_key):
    st_r, b_r = ref
    st_m, b_m = mir
    if not ok(st_r == st_m, name + ": status",
              "query %s\nref %s %s\nmiroir %s %s" % (json.dumps(q), st_r, b_r,
                                                     st_m, b_m)):
        return
    if st_r != 200:
        ok(b_r == b_m, name + ": error body",
           "query %s\nref %s\nmiroir %s" % (json.dumps(q), b_r, b_m))
        return
    rest_r = {k: v for k, v in b_r.items() if k not in IGNORED + ("hits",)}
    rest_m = {k: v for k, v in b_m.items() if k not in IGNORED + ("hits",)}
    if not ok(rest_r == rest_m and list(b_r) == list(b_m), name + ": fields",
              "query %s\nref    %s\nmiroir %s" % (json.dumps(q),
                                                  json.dumps(rest_r),
                                                  json.dumps(rest_m))):
        return
    hr, hm = b_r["hits"], b_m["hits"]
    dr = [keyf(h) for h in ref_d["hits"]]
    dm = [keyf(h) for h in mir_d["hits"]]
    if not ok(len(hr) == len(hm) and dr == dm, name + ": ranking order",
              "query %s\nref    %s\nmiroir %s" % (
                  json.dumps(q), [h.get("id") for h in ref_d["hits"]],
                  [h.get("id") for h in mir_d["hits"]])):
        return
    # runs of equal details: equal as sets unless cut by the window
    n = len(hr)
    i = 0
    bad = []
    while i < n:
        j = i
        while j + 1 < n and dr[j + 1] == dr[i]:
            j += 1
        edge = (i == 0 or j == n - 1)
        a = sorted(json.dumps(h, sort_keys=True) for h in hr[i:j + 1])
        b = sorted(json.dumps(h, sort_keys=True) for h in hm[i:j + 1])
        if a != b and not edge:
            bad.append((i, j, a, b))
        if edge and a != b:
            # same details at least: ids in miroir's window come from the run
            pass
        i = j + 1
    ok(not bad, name + ": hits", "query %s\n%s" % (json.dumps(q), bad[:2]))
    # Miroir answers the same query twice the same way (plan unchanged)
    same = [{k: v for k, v in h.items() if not k.startswith("_ranking")
             and k != "_federation"} for h in mir_d["hits"]]
    plain = [{k: v for k, v in h.items() if not k.startswith("_ranking")
              and k != "_federation"} for h in hm]
    if "attributesToHighlight" not in q and not HEDGING:
        ok(same == plain, name + ": deterministic order",
           "%s\n%s" % ([h.get("id") for h in same],
                       [h.get("id") for h in plain]))


def run_queries(args, rng, ref, mir, label, nq):
    for k in range(nq):
        q = rand_query(rng)
        use_get = rng.random() < 0.2
        qd = dict(q)
        qd["showRankingScoreDetails"] = True
        res = []
        for base in (ref, mir):
            if use_get:
                st, b, _ = jget("GET", base + "/indexes/items/search?"
                                + get_form(q), key=base_key(base, mir))
                std, bd, _ = jget("GET", base + "/indexes/items/search?"
                                  + get_form(qd), key=base_key(base, mir))
            else:
                st, b, _ = jget("POST", base + "/indexes/items/search", q,
                                key=base_key(base, mir))
                std, bd, _ = jget("POST", base + "/indexes/items/search", qd,
                                  key=base_key(base, mir))
            res.append(((st, b), bd))
        compare("%s q%d%s" % (label, k, " GET" if use_get else ""), q,
                res[0][0], res[1][0], res[0][1], res[1][1])


def facet_searches(rng, ref, mir, label, nq):
    for k in range(nq):
        body = {"facetName": rng.choice(["genre", "genre", "title"])}
        r = rng.random()
        if r < 0.6:
            body["facetQuery"] = rng.choice(GENRES)[:rng.randint(0, 3)]
        if rng.random() < 0.4:
            body["q"] = rng.choice(WORDS)
        if rng.random() < 0.4:
            body["filter"] = rand_filter(rng)
        if rng.random() < 0.05:
            del body["facetName"]
        st_r, b_r, _ = jget("POST", ref + "/indexes/items/facet-search",
                            body, key=KEY)
        st_m, b_m, _ = jget("POST", mir + "/indexes/items/facet-search",
                            body, key=MASTER)
        if isinstance(b_r, dict):
            b_r.pop("processingTimeMs", None)
        if isinstance(b_m, dict):
            b_m.pop("processingTimeMs", None)
        ok(st_r == st_m and b_r == b_m, "%s facet-search %d" % (label, k),
           "body %s\nref    %s %s\nmiroir %s %s" % (json.dumps(body), st_r,
                                                     b_r, st_m, b_m))


def multi_searches(rng, ref, mir, label, nq):
    for k in range(nq):
        qs = []
        for i in range(rng.randint(1, 3)):
            q = rand_query(rng)
            q["indexUid"] = "items"
            qs.append(q)
        if rng.random() < 0.05:
            qs[-1]["indexUid"] = "ghost"
        if rng.random() < 0.05:
            qs[0]["limit"] = "x"
        body = {"queries": qs}
        bodyd = {"queries": [dict(q, showRankingScoreDetails=True)
                             for q in qs]}
        res = []
        for base in (ref, mir):
            st, b, _ = jget("POST", base + "/multi-search", body,
                            key=base_key(base, mir))
            std, bd, _ = jget("POST", base + "/multi-search", bodyd,
                              key=base_key(base, mir))
            res.append((st, b, bd))
        (st_r, b_r, d_r), (st_m, b_m, d_m) = res
        name = "%s multi-search %d" % (label, k)
        if not ok(st_r == st_m, name + ": status",
                  "body %s\nref %s %s\nmiroir %s %s" % (
                      json.dumps(body), st_r, str(b_r)[:300], st_m,
                      str(b_m)[:300])):
            continue
        if st_r != 200:
            ok(b_r == b_m, name + ": error", "ref %s\nmiroir %s" % (b_r, b_m))
            continue
        for i, q in enumerate(qs):
            rr = dict(b_r["results"][i])
            mm = dict(b_m["results"][i])
            ok(rr.pop("indexUid") == mm.pop("indexUid"), name + ": indexUid")
            compare("%s[%d]" % (name, i), q, (200, rr), (200, mm),
                    d_r["results"][i], d_m["results"][i])


def federated(rng, ref, mir, label, nq):
    for k in range(nq):
        qs = []
        for i in range(rng.randint(1, 3)):
            q = rand_query(rng)
            for key in ("offset", "limit", "page", "hitsPerPage", "facets"):
                q.pop(key, None)
            q["indexUid"] = "items"
            if rng.random() < 0.4:
                q["federationOptions"] = {"weight": rng.choice([0.5, 1.5,
                                                                2.0])}
            qs.append(q)
        fed = {}
        if rng.random() < 0.3:
            fed["page"] = rng.randint(1, 3)
            fed["hitsPerPage"] = rng.randint(1, 12)
        else:
            fed["offset"] = rng.randint(0, 20)
            fed["limit"] = rng.randint(0, 25)
        r = rng.random()
        if r < 0.3:
            fed["facetsByIndex"] = {"items": rng.sample(["genre", "year"],
                                                        rng.randint(1, 2))}
        elif r < 0.45:
            fed["facetsByIndex"] = {"items": ["genre"]}
            fed["mergeFacets"] = {}
        if rng.random() < 0.05:
            qs[0]["limit"] = 3          # forbidden in federated queries
        body = {"federation": fed, "queries": qs}
        bodyd = {"federation": fed,
                 "queries": [dict(q, showRankingScoreDetails=True)
                             for q in qs]}
        res = []
        for base in (ref, mir):
            st, b, _ = jget("POST", base + "/multi-search", body,
                            key=base_key(base, mir))
            std, bd, _ = jget("POST", base + "/multi-search", bodyd,
                              key=base_key(base, mir))
            res.append(((st, b), bd))
        compare("%s federated %d" % (label, k), body, res[0][0], res[1][0],
                res[0][1], res[1][1], keyf=fed_key)


def base_key(base, mir):
    return MASTER if base == mir else KEY


def pages(label, ref, mir):
    if HEDGING:
        return      # a hedged answer may order ties differently
    # a placeholder search ties everything: pages must still partition
    total = jget("POST", ref + "/indexes/items/search",
                 {"limit": 0}, key=KEY)[1]["estimatedTotalHits"]
    seen = []
    for off in range(0, total + 14, 7):
        st, b, _ = jget("POST", mir + "/indexes/items/search",
                        {"offset": off, "limit": 7,
                         "attributesToRetrieve": ["id"]}, key=MASTER)
        seen += [h["id"] for h in b["hits"]]
    ok(len(seen) == len(set(seen)) == total and b["hits"] == [],
       label + ": consecutive pages never repeat nor skip a hit",
       "total %d seen %d distinct %d" % (total, len(seen), len(set(seen))))
    seen = []
    for page in range(1, total // 9 + 3):
        st, b, _ = jget("POST", mir + "/indexes/items/search",
                        {"page": page, "hitsPerPage": 9, "sort": ["year:asc"],
                         "attributesToRetrieve": ["id"]}, key=MASTER)
        seen += [h["id"] for h in b["hits"]]
    ok(len(seen) == len(set(seen)) == total,
       label + ": page mode with sort partitions the hits",
       "total %d seen %d distinct %d" % (total, len(seen), len(set(seen))))


def documents(label, ref, mir):
    st, b, _ = jget("GET", ref + "/indexes/items/documents?limit=10000",
                    key=KEY)
    all_ref = sorted(json.dumps(d, sort_keys=True) for d in b["results"])
    got = []
    off = 0
    while True:
        st, m, _ = jget("GET", mir + "/indexes/items/documents?limit=13"
                        "&offset=%d" % off, key=MASTER)
        if not ok(st == 200 and m["total"] == b["total"],
                  label + ": documents page at %d" % off, m):
            return
        got += m["results"]
        if not m["results"]:
            break
        off += 13
    ok(sorted(json.dumps(d, sort_keys=True) for d in got) == all_ref,
       label + ": documents pages cover every document once, no _miroir_*")
    for flt in ("year > 2000", "genre = drama AND rating > 5"):
        st, r1, _ = jget("POST", ref + "/indexes/items/documents/fetch",
                         {"filter": flt, "limit": 1000, "fields": ["id"]},
                         key=KEY)
        st2, m1, _ = jget("POST", mir + "/indexes/items/documents/fetch",
                          {"filter": flt, "limit": 1000, "fields": ["id"]},
                          key=MASTER)
        ok(st2 == 200 and m1["total"] == r1["total"]
           and sorted(map(str, (d["id"] for d in m1["results"])))
           == sorted(map(str, (d["id"] for d in r1["results"]))),
           label + ": documents/fetch with filter " + flt, (r1, m1))
    for sort in (["year:asc"], ["rating:desc"], ["title:asc", "id:desc"],
                 ["year:desc", "rating:asc"]):
        body = {"sort": sort, "limit": 1000,
                "fields": ["id", "year", "rating", "title"]}
        st, r1, _ = jget("POST", ref + "/indexes/items/documents/fetch",
                         body, key=KEY)
        st2, m1, _ = jget("POST", mir + "/indexes/items/documents/fetch",
                          body, key=MASTER)
        if st != 200:
            ok(st2 == st and m1 == r1, label + ": documents sort %s error"
               % sort, (r1, m1))
            continue
        fields = [x.split(":")[0] for x in sort]
        kr = [[d.get(f) for f in fields] for d in r1["results"]]
        km = [[d.get(f) for f in fields] for d in m1["results"]]
        ok(st2 == 200 and kr == km and m1["total"] == r1["total"]
           and sorted(map(str, (d["id"] for d in m1["results"])))
           == sorted(map(str, (d["id"] for d in r1["results"]))),
           label + ": documents/fetch sorted by %s" % sort,
           (kr[:10], km[:10]))
        # the same through GET
        qs = urllib.parse.urlencode({"sort": ",".join(sort), "limit": 1000,
                                     "fields": "id,year,rating,title"})
        st4, g1, _ = jget("GET", mir + "/indexes/items/documents?" + qs,
                          key=MASTER)
        ok(st4 == 200 and [[d.get(f) for f in fields]
                           for d in g1["results"]] == kr,
           label + ": GET documents sorted by %s" % sort)
        body = dict(body, offset=7, limit=11)
        st3, m2, _ = jget("POST", mir + "/indexes/items/documents/fetch",
                          body, key=MASTER)
        ok(st3 == 200 and m2["results"] == m1["results"][7:18],
           label + ": documents/fetch sorted window by %s" % sort)
    for qs in ("sort=genre:asc", "sort=year:up", "sort=year:asc&limit=x",
               "sort=year:asc&colour=1", "sort=year:asc&filter=title%3Dx"):
        st_r, e_r, _ = jget("GET", ref + "/indexes/items/documents?" + qs,
                            key=KEY)
        st_m, e_m, _ = jget("GET", mir + "/indexes/items/documents?" + qs,
                            key=MASTER)
        ok(st_r == st_m and e_r == e_m,
           label + ": GET documents error " + qs, (e_r, e_m))
    for d in b["results"][:15]:
        path = "/indexes/items/documents/" + urllib.parse.quote(str(d["id"]))
        st, one, _ = jget("GET", mir + path, key=MASTER)
        ok(st == 200 and one == d, label + ": document %s" % d["id"], one)
    st, one, _ = jget("GET", mir + "/indexes/items/documents/nope-404",
                      key=MASTER)
    st_r, one_r, _ = jget("GET", ref + "/indexes/items/documents/nope-404",
                          key=KEY)
    ok(st == st_r == 404 and one == one_r, label + ": missing document")


def stats(label, ref, mir, exact=True):
    st, r, _ = jget("GET", ref + "/indexes/items/stats", key=KEY)
    st, m, _ = jget("GET", mir + "/indexes/items/stats", key=MASTER)
    keep = ("numberOfDocuments", "fieldDistribution", "isIndexing")
    ok(st == 200 and {k: r[k] for k in keep} == {k: m[k] for k in keep},
       label + ": index stats count every document once", (r, m))


def revive(args, work, addrs, ref, mir, sr, procs):
    """Restart the killed nodes: the health probe marks them up again."""
    other = 2 if args.kill != 2 else 3
    for i in (args.kill, other):
        port = addrs[i - 1].split(":")[1]
        procs.append(subprocess.Popen(
            [os.path.join(HERE, "meilisim", "meilisim"), "--listen",
             "127.0.0.1:" + port, "--data-dir", work + "/nodes/node%d" % i,
             "--name", "n%d" % i, "--master-key", KEY],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(3)
    log = open(sr + "/logs/error.log").read()
    ok(all(re.search(r"event=node_up .*node=n%d\b" % i, log)
           for i in (args.kill, other)),
       "the health probe marks restarted nodes up again")
    run_queries(args, random.Random(args.seed + 1), ref, mir, "revived", 10)


def partial(args, work, addrs, mir, port):
    """Two nodes down at RF 2: some shards have no copy."""
    other = 2 if args.kill != 2 else 3
    pid = int(open(work + "/nodes/node%d.pid" % other).read())
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    for i in range(4):
        st, b, h = jget("POST", mir + "/indexes/items/search",
                        {"q": "", "limit": 5}, key=MASTER)
    ok(st == 503 and b["code"] == "miroir_shards_unavailable"
       and b["type"] == "system", "two nodes down, allow_partial off: 503",
       (st, b))
    # the same cluster with allow_partial on, in a second nginx
    sr = work + "/servroot"
    conf = open(sr + "/conf/nginx.conf").read()
    port2 = free_port()
    conf = conf.replace("listen 127.0.0.1:%d;" % port,
                        "listen 127.0.0.1:%d;" % port2)
    conf = conf.replace("node_timeout 1s;", "node_timeout 1s;\n"
                        "        allow_partial on;")
    conf = conf.replace("pid logs/nginx.pid;", "pid logs/nginx2.pid;")
    open(sr + "/conf/nginx2.conf", "w").write(conf)
    p = subprocess.Popen([args.nginx, "-p", sr + "/", "-c",
                          sr + "/conf/nginx2.conf", "-e",
                          sr + "/logs/error2.log"])
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port2), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        m2 = "http://127.0.0.1:%d" % port2
        for i in range(4):
            st, b, h = jget("POST", m2 + "/indexes/items/search",
                            {"q": "", "limit": 500,
                             "attributesToRetrieve": ["id"]}, key=MASTER)
        miss = h.get("X-Miroir-Missing-Shards", "")
        ok(st == 200 and miss and 0 < len(b["hits"]) < args.docs
           and b["estimatedTotalHits"] == len(b["hits"]),
           "two nodes down, allow_partial on: partial result and header "
           "X-Miroir-Missing-Shards: " + miss[:60], (st, h, str(b)[:300]))
    finally:
        p.terminate()
        p.wait(5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nginx", default=os.environ.get("TEST_NGINX_BINARY",
                                                      "/usr/sbin/nginx"))
    ap.add_argument("--module", required=True)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--docs", type=int, default=300)
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--rf", type=int, default=2)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--kill", type=int, default=1,
                    help="node to kill for the second pass (0: none)")
    ap.add_argument("--kill2", type=int, default=0,
                    help="RF >= 3: a second node to kill afterwards")
    ap.add_argument("--hedge", type=int, default=0,
                    help="hedge_after (ms), with node 2 slow on searches")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--serve", action="store_true",
                    help="set up, print the addresses and wait (debugging)")
    args = ap.parse_args()
    # a TERM (prove interrupted, --serve stopped) still cleans up
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    print("# seed %d, %d nodes, rf %d" % (args.seed, args.nodes, args.rf))
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="miroir-oracle-")
    nginx_pid = None
    procs = []
    n = args.nodes
    try:
        out = subprocess.check_output(
            [os.path.join(HERE, "meilisim", "start-nodes"), str(n + 1),
             "--dir", work + "/nodes", "--master-key", KEY], text=True)
        addrs = [line.split()[1] for line in out.strip().splitlines()]
        nodes = ["http://" + a for a in addrs]
        ref = nodes[n]
        split = os.path.join(work, "miroir-split")
        srcs = [os.path.join(ROOT, "src", f + ".c")
                for f in ("miroir_router", "miroir_split", "miroir_split_ids",
                          "miroir_csv", "miroir_docid", "miroir_bytes",
                          "miroir_error", "miroir_json_scan", "miroir_jspan")]
        subprocess.check_call(["cc", "-O1", "-I" + os.path.join(ROOT, "src"),
                               os.path.join(ROOT, "tools", "miroir-split.c")]
                              + srcs + ["-lcjson", "-lxxhash", "-lm", "-o",
                                        split])
        docs = make_docs(rng, args.docs)
        ids = ",".join("n%d" % (i + 1) for i in range(n))
        os.makedirs(work + "/parts")
        cmd = [split, "--shards", "64", "--rf", str(args.rf), "--nodes", ids,
               "--out", work + "/parts", "--pk", "id"]
        if args.weights:
            cmd += ["--weights", args.weights]
        subprocess.run(cmd, input=json.dumps(docs).encode(), check=True,
                       stdout=subprocess.DEVNULL)
        user = {"searchableAttributes": ["title", "overview", "genre"],
                "filterableAttributes": ["genre", "year", "rating"],
                "sortableAttributes": ["year", "rating", "title", "id"],
                "faceting": {"maxValuesPerFacet": 100}}
        tagged = dict(user)
        tagged["filterableAttributes"] = user["filterableAttributes"] + [
            "_miroir_shard", "_miroir_o0", "_miroir_o1", "_miroir_o2"]
        for i, base in enumerate(nodes):
            jget("POST", base + "/indexes", {"uid": "items",
                                             "primaryKey": "id"}, key=KEY)
            jget("PATCH", base + "/indexes/items/settings",
                 user if i == n else tagged, key=KEY)
        jget("POST", ref + "/indexes/items/documents", docs, key=KEY)
        for i in range(n):
            body = open(work + "/parts/n%d.ndjson" % (i + 1), "rb").read()
            if body:
                st, b, _ = jget("POST", nodes[i] + "/indexes/items/documents",
                                body, key=KEY, raw=True)
        for base in nodes:
            wait_tasks(base)

        port = free_port()
        sr = work + "/servroot"
        os.makedirs(sr + "/logs")
        os.makedirs(sr + "/conf")
        weights = (args.weights.split(",") if args.weights
                   else ["1"] * n)
        node_lines = "".join(
            "        node n%d %s weight=%s key=%s;\n" % (i + 1, addrs[i],
                                                        weights[i], KEY)
            for i in range(n))
        conf = """
load_module %s;
daemon off;
master_process off;
error_log logs/error.log notice;
pid logs/nginx.pid;
events { worker_connections 256; }
http {
    access_log off;
    miroir_zone miroir 1m;
    miroir_cluster main {
        shards 64;
        replication %d;
        master_key "%s";
        node_timeout 1s;
%s%s    }
    server {
        listen 127.0.0.1:%d;
        location / { miroir main; }
    }
}
""" % (os.path.abspath(args.module), args.rf, MASTER, node_lines,
       "        hedge_after %dms;\n" % args.hedge if args.hedge else "",
       port)
        open(sr + "/conf/nginx.conf", "w").write(conf)
        p = subprocess.Popen([args.nginx, "-p", sr + "/", "-c",
                              sr + "/conf/nginx.conf", "-e",
                              sr + "/logs/error.log"])
        nginx_pid = p
        mir = "http://127.0.0.1:%d" % port
        up = False
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                up = True
                break
            except OSError:
                time.sleep(0.05)
        if not ok(up, "nginx with Miroir started"):
            return

        if args.hedge:
            # node 2 answers searches in 0..4x hedge_after: some hedged
            jget("POST", nodes[1] + "/_meilisim/faults",
                 {"latencyMs": "0-%d" % (4 * args.hedge),
                  "failRoutes": "search", "errorRate": 0}, key=KEY)
            global HEDGING
            HEDGING = True

        if args.serve:
            print("# miroir %s reference %s work %s" % (mir, ref, work))
            sys.stdout.flush()
            try:
                time.sleep(3600)
            except KeyboardInterrupt:
                pass
            return

        run_queries(args, rng, ref, mir, "all up", args.queries)
        facet_searches(rng, ref, mir, "all up", 20)
        multi_searches(rng, ref, mir, "all up", 20)
        federated(rng, ref, mir, "all up", 20)
        pages("all up", ref, mir)
        documents("all up", ref, mir)
        stats("all up", ref, mir)

        if args.kill and args.rf > 1:
            pid = int(open(work + "/nodes/node%d.pid" % args.kill).read())
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
            # the first searches find the node dead mid-request: no failed
            # search with RF 2, then passive health marks it down
            for i in range(4):
                st, b, _ = jget("POST", mir + "/indexes/items/search",
                                {"q": "dark", "limit": 5}, key=MASTER)
                ok(st == 200, "node killed before the query: search %d "
                   "answered" % i, b)
            run_queries(args, rng, ref, mir, "n%d killed" % args.kill,
                        max(args.queries // 2, 10))
            facet_searches(rng, ref, mir, "n%d killed" % args.kill, 10)
            multi_searches(rng, ref, mir, "n%d killed" % args.kill, 10)
            federated(rng, ref, mir, "n%d killed" % args.kill, 10)
            pages("n%d killed" % args.kill, ref, mir)
            documents("n%d killed" % args.kill, ref, mir)

        if args.kill2 and args.rf >= 3:
            # two nodes down at RF 3: the two-failure restrictions
            pid = int(open(work + "/nodes/node%d.pid" % args.kill2).read())
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
            for i in range(4):
                st, b, _ = jget("POST", mir + "/indexes/items/search",
                                {"q": "dark", "limit": 5}, key=MASTER)
                ok(st == 200, "second node killed: search %d answered" % i,
                   b)
            label = "n%d+n%d killed" % (args.kill, args.kill2)
            run_queries(args, rng, ref, mir, label,
                        max(args.queries // 2, 10))
            pages(label, ref, mir)
            documents(label, ref, mir)

        if args.kill and args.rf == 2 and n >= 3:
            partial(args, work, addrs, mir, port)
            revive(args, work, addrs, ref, mir, sr, procs)

        log = open(sr + "/logs/error.log").read()
        crit = [l for l in log.splitlines()
                if "[alert]" in l or "[crit]" in l or "[emerg]" in l
                or "exited on signal" in l]
        ok(not crit, "no alert in the error log", "\n".join(crit[:10]))
    finally:
        if nginx_pid:
            nginx_pid.terminate()
            try:
                nginx_pid.wait(5)
            except subprocess.TimeoutExpired:
                nginx_pid.kill()
        for p in procs:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.call([os.path.join(HERE, "meilisim", "stop-nodes"),
                         work + "/nodes"], stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("# kept " + work)
    print("1..%d" % count)
    print("# %d of %d checks failed" % (failures, count))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
