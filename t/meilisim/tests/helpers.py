"""Shared test plumbing: an emulator per test class, or a real Meilisearch.

With MEILI_URL set (and MEILI_MASTER_KEY), tests run against that server and
tests decorated with @emulator_only are skipped.  Otherwise each test class
starts its own meilisim on a free port with a fresh data directory.
"""

import gzip
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
MEILISIM = os.path.join(os.path.dirname(HERE), "meilisim")
REAL_URL = os.environ.get("MEILI_URL")
MASTER = os.environ.get("MEILI_MASTER_KEY", "test-master-key-0123456789") if REAL_URL else \
    "test-master-key-0123456789"


def emulator_only(obj):
    return unittest.skipIf(REAL_URL, "emulator-only test")(obj)


class Node:
    """A meilisim process."""

    def __init__(self, master_key=MASTER, data_dir=None, extra=(), port=0):
        self.master_key = master_key
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="meilisim-test-")
        self.extra = list(extra)
        self.port = port
        self.proc = None
        self.start()

    def start(self):
        portfile = os.path.join(self.data_dir, "port")
        if os.path.exists(portfile):
            os.unlink(portfile)
        cmd = [sys.executable, MEILISIM, "--listen", "127.0.0.1:%d" % self.port, "--port-file", portfile,
               "--data-dir", os.path.join(self.data_dir, "data")]
        if self.master_key:
            cmd += ["--master-key", self.master_key]
        cmd += self.extra
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            if os.path.exists(portfile):
                with open(portfile) as f:
                    txt = f.read().strip()
                if txt:
                    self.port = int(txt)
                    return
            if self.proc.poll() is not None:
                raise RuntimeError("meilisim exited with %d" % self.proc.returncode)
            time.sleep(0.01)
        raise RuntimeError("meilisim did not start")

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def cleanup(self):
        self.stop()
        if self.own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)


class Client:
    def __init__(self, url, key):
        u = urllib.parse.urlparse(url)
        self.host, self.port = u.hostname, u.port
        self.key = key
        self.conn = None

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None

    def raw(self, method, path, body=None, headers=None, query=None):
        target = path + ("?" + urllib.parse.urlencode(query) if query else "")
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.conn.request(method, target, body=body, headers=headers or {})
                r = self.conn.getresponse()
                data = r.read()
                return r, data
            except (ConnectionError, http.client.BadStatusLine, http.client.RemoteDisconnected):
                self.close()
                if attempt:
                    raise

    def req(self, method, path, body=None, key="default", ctype="default", query=None, headers=None):
        h = dict(headers or {})
        k = self.key if key == "default" else key
        if k is not None:
            h["Authorization"] = "Bearer " + k
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            if isinstance(data, str):
                data = data.encode()
            if ctype == "default":
                ctype = "application/json"
        if ctype not in (None, "default"):
            h["Content-Type"] = ctype
        r, raw = self.raw(method, path, data, h, query)
        text = raw.decode()
        parsed = json.loads(text) if text else ""
        return r.status, parsed

    def wait(self, task_uid, timeout=15):
        deadline = time.time() + timeout
        while True:
            st, t = self.req("GET", "/tasks/%d" % task_uid)
            if st == 200 and t["status"] in ("succeeded", "failed", "canceled"):
                return t
            if time.time() > deadline:
                raise AssertionError("task %d not finished: %r" % (task_uid, t))
            time.sleep(0.01)

    def task(self, method, path, body=None, **kw):
        st, s = self.req(method, path, body, **kw)
        assert st == 202, (st, s)
        return self.wait(s["taskUid"])


class MeiliTest(unittest.TestCase):
    """Base class: self.c is a client on the server under test."""

    extra_args = ()
    node = None

    @classmethod
    def setUpClass(cls):
        if REAL_URL:
            cls.url = REAL_URL
        else:
            cls.node = Node(extra=cls.extra_args)
            cls.url = cls.node.url
        cls.c = Client(cls.url, MASTER)

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        if cls.node:
            cls.node.cleanup()

    def uid(self, base="idx"):
        return "%s_%s" % (base, uuid.uuid4().hex[:8])

    def assertError(self, resp, status, code):
        st, body = resp
        self.assertEqual(st, status, body)
        self.assertIsInstance(body, dict, body)
        self.assertEqual(body.get("code"), code, body)
        self.assertEqual(body["link"], "https://docs.meilisearch.com/errors#" + code)
        self.assertIn(body["type"], ("invalid_request", "auth", "internal", "system"))
        return body

    def make_index(self, docs=None, pk="id", settings=None):
        uid = self.uid()
        self.assertEqual(self.c.task("POST", "/indexes", {"uid": uid, "primaryKey": pk})["status"],
                         "succeeded")
        if settings:
            t = self.c.task("PATCH", "/indexes/%s/settings" % uid, settings)
            self.assertEqual(t["status"], "succeeded", t)
        if docs:
            t = self.c.task("POST", "/indexes/%s/documents" % uid, docs)
            self.assertEqual(t["status"], "succeeded", t)
        return uid

    def engine_ready(self, resp):
        """Skip a search-dependent check while the search engine is missing."""
        st, body = resp
        if st == 500 and isinstance(body, dict) and "search engine" in body.get("message", ""):
            self.skipTest("search engine not available yet")
        return resp


def gz(data):
    return gzip.compress(data)
