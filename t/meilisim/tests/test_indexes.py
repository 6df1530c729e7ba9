"""Indexes: create/get/list/update/delete/swap, stats."""

from helpers import MeiliTest


class IndexesTest(MeiliTest):
    def test_create_get_and_shape(self):
        uid = self.uid()
        st, s = self.c.req("POST", "/indexes", {"uid": uid, "primaryKey": "id"})
        self.assertEqual(st, 202)
        self.assertEqual(set(s), {"taskUid", "indexUid", "status", "type", "enqueuedAt"})
        self.assertEqual((s["indexUid"], s["status"], s["type"]), (uid, "enqueued", "indexCreation"))
        t = self.c.wait(s["taskUid"])
        self.assertEqual(t["details"], {"primaryKey": "id"})
        self.assertEqual(t["error"], None)
        st, ix = self.c.req("GET", "/indexes/" + uid)
        self.assertEqual(st, 200)
        self.assertEqual(set(ix), {"uid", "createdAt", "updatedAt", "primaryKey"})
        self.assertEqual(ix["primaryKey"], "id")

    def test_create_twice_fails_in_task(self):
        uid = self.make_index()
        t = self.c.task("POST", "/indexes", {"uid": uid})
        self.assertEqual(t["status"], "failed")
        self.assertEqual(t["error"]["code"], "index_already_exists")
        self.assertEqual(t["details"], {"primaryKey": None})

    def test_create_validation(self):
        self.assertError(self.c.req("POST", "/indexes", {"uid": "bad uid!"}), 400, "invalid_index_uid")
        self.assertError(self.c.req("POST", "/indexes", {"uid": "a" * 401}), 400, "invalid_index_uid")
        self.assertError(self.c.req("POST", "/indexes", {"primaryKey": "id"}), 400, "missing_index_uid")
        self.assertError(self.c.req("POST", "/indexes", {"uid": "x", "colour": 1}), 400, "bad_request")
        self.assertError(self.c.req("POST", "/indexes", {"uid": "x", "primaryKey": 3}), 400,
                         "invalid_index_primary_key")

    def test_missing_index(self):
        self.assertError(self.c.req("GET", "/indexes/ghost_none"), 404, "index_not_found")
        t = self.c.task("DELETE", "/indexes/ghost_none")
        self.assertEqual(t["status"], "failed")
        self.assertEqual(t["error"]["code"], "index_not_found")
        self.assertEqual(t["details"], {"deletedDocuments": 0})

    def test_list_pagination_sorted(self):
        uids = sorted(self.make_index() for _ in range(3))
        st, body = self.c.req("GET", "/indexes", query={"limit": 1000})
        self.assertEqual(st, 200)
        listed = [i["uid"] for i in body["results"]]
        self.assertEqual(listed, sorted(listed))
        for u in uids:
            self.assertIn(u, listed)
        st, page = self.c.req("GET", "/indexes", query={"limit": 2, "offset": 1})
        self.assertEqual((page["offset"], page["limit"], page["total"]), (1, 2, body["total"]))
        self.assertEqual([i["uid"] for i in page["results"]], listed[1:3])
        self.assertError(self.c.req("GET", "/indexes", query={"limit": "x"}), 400, "invalid_index_limit")
        self.assertError(self.c.req("GET", "/indexes", query={"offset": "-1"}), 400, "invalid_index_offset")
        self.assertError(self.c.req("GET", "/indexes", query={"colour": "1"}), 400, "bad_request")

    def test_update_primary_key(self):
        uid = self.make_index(pk=None)
        t = self.c.task("PATCH", "/indexes/" + uid, {"primaryKey": "sku"})
        self.assertEqual(t["status"], "succeeded", t)
        self.assertEqual(t["type"], "indexUpdate")
        self.assertEqual(self.c.req("GET", "/indexes/" + uid)[1]["primaryKey"], "sku")
        self.c.task("POST", "/indexes/%s/documents" % uid, [{"sku": 1}])
        t = self.c.task("PATCH", "/indexes/" + uid, {"primaryKey": "other"})
        self.assertEqual(t["status"], "failed")
        self.assertEqual(t["error"]["code"], "index_primary_key_already_exists")
        self.assertError(self.c.req("PATCH", "/indexes/" + uid, {"createdAt": "x"}), 400,
                         "immutable_index_created_at")

    def test_delete_counts_documents(self):
        uid = self.make_index([{"id": 1}, {"id": 2}])
        t = self.c.task("DELETE", "/indexes/" + uid)
        self.assertEqual(t["status"], "succeeded")
        self.assertEqual(t["details"], {"deletedDocuments": 2})
        self.assertError(self.c.req("GET", "/indexes/" + uid), 404, "index_not_found")

    def test_swap(self):
        a = self.make_index([{"id": 1}])
        b = self.make_index([{"id": 2}, {"id": 3}])
        t = self.c.task("POST", "/swap-indexes", [{"indexes": [a, b]}])
        self.assertEqual(t["status"], "succeeded", t)
        self.assertIsNone(t["indexUid"])
        self.assertEqual(t["details"], {"swaps": [{"indexes": [a, b], "rename": False}]})
        self.assertEqual(self.c.req("GET", "/indexes/%s/stats" % a)[1]["numberOfDocuments"], 2)
        t = self.c.task("POST", "/swap-indexes", [{"indexes": [a, "ghost_zz"]}])
        self.assertEqual(t["status"], "failed")
        self.assertEqual(t["error"]["code"], "index_not_found")
        self.assertError(self.c.req("POST", "/swap-indexes", [{"indexes": [a]}]), 400, "invalid_swap_indexes")
        self.assertError(self.c.req("POST", "/swap-indexes", [{"indexes": [a, b]}, {"indexes": [a, "c"]}]),
                         400, "invalid_swap_duplicate_index_found")

    def test_swap_rename(self):
        a = self.make_index([{"id": 1}])
        b = self.uid()
        t = self.c.task("POST", "/swap-indexes", [{"indexes": [a, b], "rename": True}])
        self.assertEqual(t["status"], "succeeded", t)
        self.assertEqual(self.c.req("GET", "/indexes/" + a)[0], 404)
        self.assertEqual(self.c.req("GET", "/indexes/" + b)[0], 200)

    def test_stats(self):
        uid = self.make_index([{"id": 1, "a": 1}, {"id": 2, "b": 2}])
        st, s = self.c.req("GET", "/indexes/%s/stats" % uid)
        self.assertEqual(st, 200)
        self.assertEqual(s["numberOfDocuments"], 2)
        self.assertEqual(s["isIndexing"], False)
        self.assertEqual(s["fieldDistribution"], {"a": 1, "b": 1, "id": 2})
        for k in ("rawDocumentDbSize", "avgDocumentSize"):
            self.assertIsInstance(s[k], int)
        st, g = self.c.req("GET", "/stats")
        self.assertEqual(st, 200)
        self.assertEqual(g["indexes"][uid]["numberOfDocuments"], 2)
        self.assertIsNotNone(g["lastUpdate"])
        self.assertIn("databaseSize", g)
