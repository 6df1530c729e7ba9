#!/usr/bin/env python3
"""Search latency of the emulator (t/meilisim) over 10,000 small documents.

Starts one emulated node, loads 10,000 documents (id, title, genre, year,
rating), sets filterable/sortable attributes, then sends a fixed, seeded mix
of 400 searches (q of one or two words, with and without filter, sort and
facets, and placeholder searches) one at a time over one keep-alive
connection, and prints the median and p90 latency per kind and overall.
Goal (emulator issue): median under 20 ms on this machine.

    bench/bench-emulator.py [documents] [queries]
"""
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "..", "t", "meilisim", "meilisim")
WORDS = ("harbor night river storm glass winter summer garden silent broken "
         "golden last first city road fire ocean shadow paper letter").split()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ndocs = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    nq = int(sys.argv[2]) if len(sys.argv) > 2 else 400
    rnd = random.Random(20261125)
    port = free_port()
    tmp = tempfile.mkdtemp()
    proc = subprocess.Popen([sys.executable, SIM, "--listen", "127.0.0.1:%d" % port,
                             "--data-dir", tmp], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        conn = None
        for _ in range(100):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request("GET", "/health")
                conn.getresponse().read()
                break
            except OSError:
                time.sleep(0.05)

        def call(method, path, body=None):
            conn.request(method, path, body=json.dumps(body) if body is not None else None,
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            return r.status, json.loads(r.read() or b"null")

        def wait(uid):
            while True:
                _, t = call("GET", "/tasks/%d" % uid)
                if t["status"] in ("succeeded", "failed"):
                    return t
                time.sleep(0.05)

        docs = [{"id": i, "title": " ".join(rnd.sample(WORDS, 3)),
                 "genre": rnd.choice(["drama", "comedy", "horror", "western"]),
                 "year": rnd.randint(1950, 2025),
                 "rating": round(rnd.uniform(1, 10), 1)} for i in range(ndocs)]
        _, t = call("PATCH", "/indexes/bench/settings",
                    {"filterableAttributes": ["genre", "year"],
                     "sortableAttributes": ["year", "rating"]})
        wait(t["taskUid"])
        _, t = call("POST", "/indexes/bench/documents", docs)
        wait(t["taskUid"])

        kinds = {
            "q": lambda: {"q": rnd.choice(WORDS)},
            "q2": lambda: {"q": " ".join(rnd.sample(WORDS, 2))},
            "q+filter": lambda: {"q": rnd.choice(WORDS),
                                 "filter": "year > %d" % rnd.randint(1950, 2020)},
            "q+sort": lambda: {"q": rnd.choice(WORDS), "sort": ["rating:desc"]},
            "facets": lambda: {"q": rnd.choice(WORDS), "facets": ["genre"]},
            "placeholder": lambda: {"q": "", "limit": 20},
        }
        names = list(kinds)
        times = {k: [] for k in names}
        for i in range(nq):
            k = names[i % len(names)]
            body = kinds[k]()
            t0 = time.perf_counter()
            status, _ = call("POST", "/indexes/bench/search", body)
            times[k].append((time.perf_counter() - t0) * 1000)
            if status != 200:
                print("search failed: %s %s" % (status, body))
                return 1

        every = [x for v in times.values() for x in v]
        print("emulator_documents: %d" % ndocs)
        for k in names:
            v = sorted(times[k])
            print("emulator_search_%s_median: %.1f ms (p90 %.1f ms, n=%d)"
                  % (k, statistics.median(v), v[int(len(v) * 0.9) - 1], len(v)))
        every.sort()
        print("emulator_search_median: %.1f ms (p90 %.1f ms, n=%d)"
              % (statistics.median(every), every[int(len(every) * 0.9) - 1], len(every)))
        return 0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
