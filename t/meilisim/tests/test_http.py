"""HTTP layer: keep-alive, framing, routing, content types, auth basics."""

import http.client
import json
import socket

from helpers import MeiliTest, MASTER, emulator_only, gz


class HttpTest(MeiliTest):
    def test_health_is_open(self):
        self.assertEqual(self.c.req("GET", "/health", key=None), (200, {"status": "available"}))

    def test_version(self):
        st, body = self.c.req("GET", "/version")
        self.assertEqual(st, 200)
        self.assertEqual(set(body), {"commitSha", "commitDate", "pkgVersion"})

    def test_keep_alive_and_content_length(self):
        conn = http.client.HTTPConnection(self.c.host, self.c.port, timeout=10)
        for _ in range(3):
            conn.request("GET", "/health")
            r = conn.getresponse()
            body = r.read()
            self.assertEqual(r.status, 200)
            self.assertEqual(int(r.getheader("Content-Length")), len(body))
            self.assertTrue(r.getheader("Content-Type").startswith("application/json"))
            self.assertFalse(r.will_close)
        sock1 = conn.sock
        conn.request("GET", "/indexes", headers={"Authorization": "Bearer " + MASTER})
        r = conn.getresponse()
        r.read()
        self.assertIs(conn.sock, sock1)
        conn.close()

    def test_unknown_route_is_empty_404(self):
        r, data = self.c.raw("GET", "/nope", headers={"Authorization": "Bearer " + MASTER})
        self.assertEqual(r.status, 404)
        self.assertEqual(data, b"")
        self.assertEqual(r.getheader("Content-Length"), "0")

    def test_wrong_method_is_empty_405(self):
        r, data = self.c.raw("PUT", "/health")
        self.assertEqual(r.status, 405)
        self.assertEqual(data, b"")

    def test_trailing_slash(self):
        st, body = self.c.req("GET", "/indexes/")
        self.assertEqual(st, 200)
        self.assertIn("results", body)

    def test_auth_errors(self):
        self.assertError(self.c.req("GET", "/indexes", key=None), 401, "missing_authorization_header")
        self.assertError(self.c.req("GET", "/indexes", key="not-the-key"), 403, "invalid_api_key")
        self.assertError(self.c.req("GET", "/indexes", key=None,
                                    headers={"Authorization": "Token " + MASTER}),
                         401, "missing_authorization_header")

    def test_json_content_type_errors(self):
        self.assertError(self.c.req("POST", "/indexes", b'{"uid":"x"}', ctype=None), 415,
                         "missing_content_type")
        self.assertError(self.c.req("POST", "/indexes", b'{"uid":"x"}', ctype="text/plain"), 415,
                         "invalid_content_type")
        self.assertError(self.c.req("POST", "/indexes", b'{"uid": "x"', ctype="application/json"), 400,
                         "malformed_payload")
        self.assertError(self.c.req("POST", "/indexes", b"", ctype="application/json"), 400,
                         "missing_payload")
        st, _ = self.c.req("POST", "/indexes", {"uid": self.uid()},
                           ctype="application/json; charset=utf-8")
        self.assertEqual(st, 202)

    def test_gzip_request_body(self):
        uid = self.uid()
        st, body = self.c.req("POST", "/indexes", gz(json.dumps({"uid": uid}).encode()),
                              headers={"Content-Encoding": "gzip"})
        self.assertEqual(st, 202, body)
        self.assertEqual(self.c.wait(body["taskUid"])["status"], "succeeded")

    def test_chunked_request_body(self):
        uid = self.uid()
        payload = json.dumps({"uid": uid}).encode()
        s = socket.create_connection((self.c.host, self.c.port), timeout=10)
        req = ("POST /indexes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
               "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" % MASTER).encode()
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload)
        s.sendall(req + chunked)
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(4096)
        head, _, rest = data.partition(b"\r\n\r\n")
        self.assertIn(b" 202 ", head.split(b"\r\n")[0])
        s.close()


class NoMasterKeyTest(MeiliTest):
    @classmethod
    def setUpClass(cls):
        from helpers import Node, Client, REAL_URL
        if REAL_URL:
            raise __import__("unittest").SkipTest("needs a server without master key")
        cls.node = Node(master_key=None)
        cls.url = cls.node.url
        cls.c = Client(cls.url, None)

    @emulator_only
    def test_open_without_master_key(self):
        st, body = self.c.req("GET", "/indexes", key=None)
        self.assertEqual(st, 200)
        st, body = self.c.req("GET", "/indexes", key="anything")
        self.assertEqual(st, 200)

    @emulator_only
    def test_keys_need_master_key(self):
        self.assertError(self.c.req("GET", "/keys", key=None), 401, "missing_master_key")


class CompressionTest(MeiliTest):
    def test_gzip_response_when_accepted(self):
        import gzip as _gzip
        r, data = self.c.raw("GET", "/health", headers={"Accept-Encoding": "gzip"})
        self.assertEqual(r.getheader("Content-Encoding"), "gzip")
        self.assertEqual(int(r.getheader("Content-Length")), len(data))
        self.assertEqual(json.loads(_gzip.decompress(data)), {"status": "available"})
        r, data = self.c.raw("GET", "/health")
        self.assertIsNone(r.getheader("Content-Encoding"))
        self.assertEqual(json.loads(data), {"status": "available"})
