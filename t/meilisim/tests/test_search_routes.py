"""Search routes as seen from the HTTP side (bodies, errors, index lookup)."""

from helpers import MeiliTest


class SearchRoutesTest(MeiliTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()

    def setUp(self):
        if not hasattr(type(self), "ix"):
            type(self).ix = self.make_index(
                [{"id": 1, "title": "The Dark Knight", "genre": "action"},
                 {"id": 2, "title": "Dark City", "genre": "scifi"},
                 {"id": 3, "title": "Knight and Day", "genre": "action"}],
                settings={"filterableAttributes": ["genre"]})

    def test_missing_index(self):
        self.assertError(self.c.req("POST", "/indexes/ghost_s/search", {"q": "a"}), 404, "index_not_found")

    def test_post_get(self):
        st, body = self.engine_ready(self.c.req("POST", "/indexes/%s/search" % self.ix, {"q": "dark"}))
        self.assertEqual(st, 200, body)
        self.assertEqual(sorted(h["id"] for h in body["hits"]), [1, 2])
        st, body = self.c.req("GET", "/indexes/%s/search" % self.ix, query={"q": "knight"})
        self.assertEqual(st, 200, body)
        self.assertEqual(sorted(h["id"] for h in body["hits"]), [1, 3])

    def test_body_errors(self):
        p = "/indexes/%s/search" % self.ix
        self.assertError(self.c.req("POST", p, b"{", ctype="application/json"), 400, "malformed_payload")
        self.assertError(self.c.req("POST", p, b"{}", ctype=None), 415, "missing_content_type")
        self.engine_ready(self.c.req("POST", p, {"q": ""}))
        self.assertError(self.c.req("POST", p, {"limit": "x"}), 400, "invalid_search_limit")

    def test_multi_and_facet_search(self):
        st, body = self.engine_ready(self.c.req("POST", "/multi-search",
                                                {"queries": [{"indexUid": self.ix, "q": "dark"}]}))
        self.assertEqual(st, 200, body)
        self.assertEqual(body["results"][0]["indexUid"], self.ix)
        self.assertError(self.c.req("POST", "/multi-search",
                                    {"queries": [{"indexUid": self.ix}, {"indexUid": "ghost_m"}]}),
                         400, "index_not_found")
        st, body = self.engine_ready(self.c.req("POST", "/indexes/%s/facet-search" % self.ix,
                                                {"facetName": "genre", "facetQuery": "act"}))
        self.assertEqual(st, 200, body)
        self.assertEqual(body["facetHits"], [{"value": "action", "count": 2}])

    def test_proxy_search_needs_network_feature(self):
        body = {"federation": {}, "queries": [{"indexUid": self.ix, "q": "dark"}]}
        h = {"Meili-Proxy-Search": "true"}
        self.engine_ready(self.c.req("POST", "/multi-search", body))
        self.assertError(self.c.req("POST", "/multi-search", body, headers=h), 400, "feature_not_enabled")
        st, f = self.c.req("PATCH", "/experimental-features", {"network": True})
        self.assertEqual((st, f["network"]), (200, True))
        try:
            st, res = self.c.req("POST", "/multi-search", body, headers=h)
            self.assertEqual(st, 200, res)
            for hit in res["hits"]:
                self.assertIn("weightedScoreValues", hit["_federation"])
            st, res = self.c.req("POST", "/multi-search", body)
            for hit in res["hits"]:
                self.assertNotIn("weightedScoreValues", hit["_federation"])
        finally:
            self.c.req("PATCH", "/experimental-features", {"network": False})

    def test_proxy_fetch_sort_values(self):
        ix = self.make_index([{"id": 1, "y": 3}, {"id": 2, "y": 1}], settings={"sortableAttributes": ["y"]})
        st, res = self.engine_ready(self.c.req("POST", "/indexes/%s/documents/fetch" % ix,
                                               {"sort": ["y:asc"], "fields": ["id"]},
                                               headers={"Meili-Proxy-Search": "true"}))
        self.assertEqual(st, 200, res)
        self.assertEqual([d["id"] for d in res["results"]], [2, 1])
        self.assertEqual(res["results"][0]["_federation"]["weightedScoreValues"],
                         [{"sort": {"asc": True, "value": 1.0}}])
