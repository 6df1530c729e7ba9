"""API keys and tenant tokens."""

import base64
import hashlib
import hmac
import json

from helpers import MeiliTest, MASTER


def key_value(uid):
    return hmac.new(MASTER.encode(), uid.encode(), hashlib.sha256).hexdigest()


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(key_uid, rules, exp=4102444800, alg="HS256", secret=None):
    header = {"alg": alg, "typ": "JWT"}
    claims = {"apiKeyUid": key_uid, "searchRules": rules}
    if exp is not None:
        claims["exp"] = exp
    msg = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    h = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    sig = hmac.new((secret or key_value(key_uid)).encode(), msg.encode(), h).digest()
    return msg + "." + b64(sig)


class KeysTest(MeiliTest):
    def new_key(self, actions, indexes, expires=None, **extra):
        import uuid
        uid = str(uuid.uuid4())
        body = dict({"uid": uid, "actions": actions, "indexes": indexes, "expiresAt": expires}, **extra)
        st, k = self.c.req("POST", "/keys", body)
        self.assertEqual(st, 201, k)
        self.assertEqual(k["key"], key_value(uid))
        return uid, k["key"]

    def test_default_keys(self):
        st, body = self.c.req("GET", "/keys")
        self.assertEqual(st, 200)
        names = [k["name"] for k in body["results"]]
        for n in ("Default Search API Key", "Default Admin API Key", "Default Read-Only Admin API Key",
                  "Default Chat API Key"):
            self.assertIn(n, names)

    def test_crud(self):
        uid, value = self.new_key(["search"], ["movies"], name="n", description="d")
        st, k = self.c.req("GET", "/keys/" + uid)
        self.assertEqual((st, k["name"], k["description"]), (200, "n", "d"))
        self.assertEqual(self.c.req("GET", "/keys/" + value)[1]["uid"], uid)
        st, k = self.c.req("PATCH", "/keys/" + uid, {"name": "renamed"})
        self.assertEqual((st, k["name"]), (200, "renamed"))
        self.assertError(self.c.req("PATCH", "/keys/" + uid, {"actions": ["*"]}), 400,
                         "immutable_api_key_actions")
        self.assertError(self.c.req("POST", "/keys", {"uid": uid, "actions": ["search"], "indexes": ["*"],
                                                      "expiresAt": None}), 409, "api_key_already_exists")
        st, body = self.c.req("DELETE", "/keys/" + uid)
        self.assertEqual((st, body), (204, ""))
        self.assertError(self.c.req("GET", "/keys/" + uid), 404, "api_key_not_found")
        self.assertError(self.c.req("GET", "/indexes/x/search", key=value), 403, "invalid_api_key")

    def test_create_validation(self):
        self.assertError(self.c.req("POST", "/keys", {"actions": ["fly"], "indexes": ["*"], "expiresAt": None}),
                         400, "invalid_api_key_actions")
        self.assertError(self.c.req("POST", "/keys", {"indexes": ["*"], "expiresAt": None}), 400,
                         "missing_api_key_actions")
        self.assertError(self.c.req("POST", "/keys", {"actions": ["search"], "indexes": ["*"],
                                                      "expiresAt": "tomorrow"}), 400, "invalid_api_key_expires_at")
        self.assertError(self.c.req("POST", "/keys", {"actions": ["search"], "indexes": ["*"],
                                                      "expiresAt": "2000-01-01T00:00:00Z"}),
                         400, "invalid_api_key_expires_at")

    def test_actions_and_indexes(self):
        ix = self.make_index([{"id": 1, "g": "a"}], settings={"filterableAttributes": ["g"]})
        other = self.make_index()
        _, search_key = self.new_key(["search"], [ix])
        _, writer = self.new_key(["documents.add", "tasks.get"], ["*"])
        _, reader = self.new_key(["indexes.get"], [ix[:6] + "*"])
        self.assertError(self.c.req("POST", "/indexes/%s/search" % other, {"q": "x"}, key=search_key), 403,
                         "invalid_api_key")
        self.assertError(self.c.req("GET", "/indexes", key=search_key), 403, "invalid_api_key")
        self.assertError(self.c.req("GET", "/keys", key=search_key), 403, "invalid_api_key")
        st, s = self.c.req("POST", "/indexes/%s/documents" % ix, [{"id": 2}], key=writer)
        self.assertEqual(st, 202)
        self.assertEqual(self.c.req("GET", "/tasks/%d" % s["taskUid"], key=writer)[0], 200)
        self.assertError(self.c.req("POST", "/indexes/%s/search" % ix, {"q": "x"}, key=writer), 403,
                         "invalid_api_key")
        self.assertEqual(self.c.req("GET", "/indexes/" + ix, key=reader)[0], 200)
        st, lst = self.c.req("GET", "/indexes", key=reader)
        self.assertEqual([i["uid"] for i in lst["results"]], [ix])
        _, expiring = self.new_key(["*"], ["*"], expires="2099-12-31T23:59:59Z")
        self.assertEqual(self.c.req("GET", "/indexes", key=expiring)[0], 200)

    def test_tenant_tokens(self):
        ix = self.make_index([{"id": 1, "g": "a"}, {"id": 2, "g": "b"}], settings={"filterableAttributes": ["g"]})
        uid, _ = self.new_key(["search"], [ix])
        wuid, _ = self.new_key(["documents.add"], ["*"])
        ok = self.engine_ready(self.c.req("POST", "/indexes/%s/search" % ix, {"q": ""},
                                          key=token(uid, {ix: {"filter": "g = a"}})))
        self.assertEqual(ok[0], 200, ok)
        self.assertEqual([h["id"] for h in ok[1]["hits"]], [1])
        st, b = self.c.req("POST", "/indexes/%s/search" % ix, {"q": ""}, key=token(uid, [ix], alg="HS512"))
        self.assertEqual([h["id"] for h in b["hits"]], [1, 2])
        st, b = self.c.req("POST", "/indexes/%s/search" % ix, {"q": ""}, key=token(uid, {"*": None}, exp=None))
        self.assertEqual(st, 200)
        for bad in (token(uid, [ix], exp=1000000000), token(uid, [ix], secret="x" * 64),
                    token(wuid, [ix]), "not.a.jwt", token(uid, ["other"])):
            self.assertError(self.c.req("POST", "/indexes/%s/search" % ix, {"q": ""}, key=bad), 403,
                             "invalid_api_key")
        self.assertError(self.c.req("GET", "/indexes/%s/documents" % ix, key=token(uid, [ix])), 403,
                         "invalid_api_key")
        st, b = self.c.req("POST", "/multi-search", {"queries": [{"indexUid": ix, "q": ""}]},
                           key=token(uid, {ix: {"filter": "g = b"}}))
        self.assertEqual(st, 200, b)
        self.assertEqual([h["id"] for h in b["results"][0]["hits"]], [2])
        st, b = self.c.req("POST", "/indexes/%s/facet-search" % ix, {"facetName": "g"},
                           key=token(uid, {ix: {"filter": "g = b"}}))
        self.assertEqual(st, 200, b)
        self.assertEqual(b["facetHits"], [{"value": "b", "count": 1}])
