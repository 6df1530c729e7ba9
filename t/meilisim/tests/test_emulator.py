"""Emulator-only features: fault injection, persistence, start-nodes."""

import http.client
import os
import socket
import subprocess
import tempfile
import time
import unittest

from helpers import MeiliTest, Node, Client, MASTER, HERE, emulator_only


@emulator_only
class FaultsTest(MeiliTest):
    def tearDown(self):
        self.c.req("POST", "/_meilisim/faults", {})

    def set(self, **knobs):
        st, body = self.c.req("POST", "/_meilisim/faults", knobs)
        self.assertEqual(st, 200, body)

    def test_latency(self):
        self.set(latencyMs="150-200")
        t0 = time.time()
        self.c.req("GET", "/health")
        self.assertGreaterEqual(time.time() - t0, 0.14)

    def test_error_rate_and_routes(self):
        self.set(errorRate=1.0, errorStatus=503)
        st, body = self.c.req("GET", "/health")
        self.assertEqual(st, 503)
        self.assertEqual(body["code"], "internal")
        self.set(failRoutes="/search$", errorStatus=502)
        self.assertEqual(self.c.req("GET", "/health")[0], 200)
        self.assertEqual(self.c.req("POST", "/indexes/x/search", {})[0], 502)

    def test_drop_mid_response(self):
        self.set(dropMidResponse=True, failRoutes="^/health$")
        conn = http.client.HTTPConnection(self.c.host, self.c.port, timeout=5)
        conn.request("GET", "/health")
        r = conn.getresponse()
        with self.assertRaises(http.client.IncompleteRead):
            r.read()
        conn.close()

    def test_garbage(self):
        self.set(garbage=True, failRoutes="^/health$")
        conn = http.client.HTTPConnection(self.c.host, self.c.port, timeout=5)
        conn.request("GET", "/health")
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.getheader("Content-Type"), "application/json")
        self.assertTrue(r.read().startswith(b'{"meilisim": garbage'))
        self.set()
        conn.request("GET", "/health")
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        self.assertIn(b"available", r.read())
        conn.close()

    def test_hang(self):
        self.set(hang=True, failRoutes="^/version$")
        s = socket.create_connection((self.c.host, self.c.port), timeout=0.3)
        s.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
        with self.assertRaises(socket.timeout):
            s.recv(100)
        self.set()
        s.settimeout(5)
        self.assertIn(b"HTTP/1.1", s.recv(100))
        s.close()

    def test_refuse_then_recover(self):
        self.c.close()
        self.set(refuse=300)
        time.sleep(0.1)
        with self.assertRaises(OSError):
            socket.create_connection((self.c.host, self.c.port), timeout=1).recv(1) or (_ for _ in ()).throw(
                ConnectionResetError())
        time.sleep(0.5)
        self.c.close()
        self.assertEqual(self.c.req("GET", "/health")[0], 200)

    def test_refuse_cleared_through_open_connection(self):
        conn = http.client.HTTPConnection(self.c.host, self.c.port, timeout=5)
        conn.request("GET", "/health")
        conn.getresponse().read()
        self.set(refuse=True)
        time.sleep(0.3)
        with self.assertRaises(OSError):
            socket.create_connection((self.c.host, self.c.port), timeout=1)
        conn.request("POST", "/_meilisim/faults", body=b"{}")
        r = conn.getresponse()
        r.read()
        self.assertEqual(r.status, 200)
        conn.close()
        time.sleep(0.3)
        self.c.close()
        self.assertEqual(self.c.req("GET", "/health")[0], 200)

    def test_state_endpoint(self):
        uid = self.make_index([{"id": 1}])
        st, body = self.c.req("GET", "/_meilisim/state")
        self.assertEqual(st, 200)
        self.assertEqual(body["indexes"][uid]["numberOfDocuments"], 1)


@emulator_only
class FlagsTest(unittest.TestCase):
    def test_startup_flags(self):
        n = Node(extra=["--error-rate", "1", "--error-status", "500", "--fail-routes", "^/version$"])
        try:
            c = Client(n.url, MASTER)
            self.assertEqual(c.req("GET", "/version")[0], 500)
            self.assertEqual(c.req("GET", "/health")[0], 200)
            c.close()
        finally:
            n.cleanup()


@emulator_only
class PersistenceTest(unittest.TestCase):
    def test_restart_keeps_state_and_ids(self):
        n = Node()
        try:
            c = Client(n.url, MASTER)
            c.task("POST", "/indexes/p/documents", [{"id": 5}, {"id": 3}, {"id": 9}])
            c.task("DELETE", "/indexes/p/documents/3")
            st, k = c.req("POST", "/keys", {"actions": ["*"], "indexes": ["*"], "expiresAt": None})
            c.close()
            n.stop()
            n.start()
            c = Client(n.url, MASTER)
            c.task("POST", "/indexes/p/documents", [{"id": 100}])
            st, body = c.req("GET", "/indexes/p/documents")
            self.assertEqual([d["id"] for d in body["results"]], [5, 100, 9])
            self.assertEqual(c.req("GET", "/keys/" + k["uid"])[0], 200)
            st, tasks = c.req("GET", "/tasks")
            self.assertEqual(tasks["total"], 3)
            c.close()
        finally:
            n.cleanup()

    def test_finished_task_survives_sigkill(self):
        import signal
        n = Node()
        try:
            c = Client(n.url, MASTER)
            for i in range(5):
                t = c.task("POST", "/indexes/k/documents", [{"id": i}])
                self.assertEqual(t["status"], "succeeded")
            c.close()
            n.stop(signal.SIGKILL)
            n.start()
            c = Client(n.url, MASTER)
            st, body = c.req("GET", "/indexes/k/documents")
            self.assertEqual(body["total"], 5)
            c.close()
        finally:
            n.cleanup()

    def test_crash(self):
        n = Node()
        try:
            c = Client(n.url, MASTER)
            try:
                c.req("POST", "/_meilisim/crash")
            except (ConnectionError, http.client.HTTPException):
                pass
            n.proc.wait(5)
            self.assertIsNotNone(n.proc.returncode)
        finally:
            n.cleanup()


@emulator_only
class StartNodesTest(unittest.TestCase):
    def test_start_stop(self):
        d = tempfile.mkdtemp(prefix="meilisim-nodes-")
        root = os.path.dirname(HERE)
        out = subprocess.run([os.path.join(root, "start-nodes"), "2", "--dir", d, "--master-key", MASTER],
                             capture_output=True, text=True, timeout=30)
        try:
            self.assertEqual(out.returncode, 0, out.stderr)
            lines = out.stdout.split("\n")[:2]
            self.assertEqual([l.split()[0] for l in lines], ["n1", "n2"])
            with open(os.path.join(d, "nodes")) as f:
                self.assertEqual(f.read(), out.stdout)
            for l in lines:
                c = Client("http://" + l.split()[1], MASTER)
                self.assertEqual(c.req("GET", "/health")[0], 200)
                c.close()
        finally:
            subprocess.run([os.path.join(root, "stop-nodes"), d], timeout=30)
        for i in (1, 2):
            self.assertFalse(os.path.exists(os.path.join(d, "node%d.pid" % i)))


@emulator_only
class ExportTest(unittest.TestCase):
    def test_export_filtered_documents(self):
        a, b = Node(), Node()
        try:
            ca, cb = Client(a.url, MASTER), Client(b.url, MASTER)
            ca.task("PATCH", "/indexes/m/settings", {"filterableAttributes": ["s"]})
            ca.task("POST", "/indexes/m/documents", [{"id": 1, "s": "a"}, {"id": 2, "s": "b"}, {"id": 3, "s": "a"}])
            st, s = ca.req("POST", "/export", {"url": b.url, "apiKey": MASTER,
                                               "indexes": {"m": {"filter": "s = a", "overrideSettings": True}}})
            self.assertEqual(st, 200, s)
            self.assertEqual(s["type"], "export")
            t = ca.wait(s["taskUid"])
            self.assertEqual(t["status"], "succeeded", t)
            deadline = time.time() + 5
            while time.time() < deadline:
                st, docs = cb.req("GET", "/indexes/m/documents")
                if st == 200 and docs["total"] == 2:
                    break
                time.sleep(0.02)
            self.assertEqual(docs["results"], [{"id": 1, "s": "a"}, {"id": 3, "s": "a"}])
            self.assertEqual(cb.req("GET", "/indexes/m/settings/filterable-attributes")[1], ["s"])
            self.assertEqual(cb.req("GET", "/indexes/m")[1]["primaryKey"], "id")
            ca.close()
            cb.close()
        finally:
            a.cleanup()
            b.cleanup()
