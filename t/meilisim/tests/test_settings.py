"""Settings: defaults, PATCH, sub-routes, validation, reset."""

from helpers import MeiliTest

DEFAULTS = {
    "displayedAttributes": ["*"], "searchableAttributes": ["*"], "filterableAttributes": [],
    "sortableAttributes": [],
    "rankingRules": ["words", "typo", "proximity", "attributeRank", "sort", "wordPosition", "exactness"],
    "stopWords": [], "nonSeparatorTokens": [], "separatorTokens": [], "dictionary": [], "synonyms": {},
    "distinctAttribute": None, "proximityPrecision": "byWord",
    "typoTolerance": {"enabled": True, "minWordSizeForTypos": {"oneTypo": 5, "twoTypos": 9},
                      "disableOnWords": [], "disableOnAttributes": [], "disableOnNumbers": False},
    "faceting": {"maxValuesPerFacet": 100, "sortFacetValuesBy": {"*": "alpha"}},
    "pagination": {"maxTotalHits": 1000}, "embedders": {}, "searchCutoffMs": None,
    "localizedAttributes": None, "facetSearch": True, "prefixSearch": "indexingTime"}


class SettingsTest(MeiliTest):
    def test_defaults(self):
        uid = self.make_index()
        st, s = self.c.req("GET", "/indexes/%s/settings" % uid)
        self.assertEqual(st, 200)
        self.assertEqual(s, DEFAULTS)
        self.assertEqual(list(s), list(DEFAULTS))

    def test_patch_and_details(self):
        uid = self.make_index()
        t = self.c.task("PATCH", "/indexes/%s/settings" % uid,
                        {"searchableAttributes": ["title", "overview"], "sortableAttributes": ["year", "rating"],
                         "stopWords": ["the", "a"], "synonyms": {"batman": ["dark knight"]}})
        self.assertEqual(t["status"], "succeeded")
        self.assertEqual(t["details"], {"searchableAttributes": ["title", "overview"],
                                        "sortableAttributes": ["rating", "year"], "stopWords": ["a", "the"],
                                        "synonyms": {"batman": ["dark knight"]}})
        s = self.c.req("GET", "/indexes/%s/settings" % uid)[1]
        self.assertEqual(s["sortableAttributes"], ["rating", "year"])
        self.assertEqual(s["searchableAttributes"], ["title", "overview"])
        t = self.c.task("PATCH", "/indexes/%s/settings" % uid,
                        {"typoTolerance": {"minWordSizeForTypos": {"oneTypo": 4}},
                         "faceting": {"sortFacetValuesBy": {"genres": "count"}}})
        self.assertEqual(t["status"], "succeeded", t)
        s = self.c.req("GET", "/indexes/%s/settings" % uid)[1]
        self.assertEqual(s["typoTolerance"]["minWordSizeForTypos"], {"oneTypo": 4, "twoTypos": 9})
        self.assertEqual(s["faceting"]["sortFacetValuesBy"], {"*": "alpha", "genres": "count"})

    def test_sub_routes(self):
        uid = self.make_index()
        p = "/indexes/%s/settings/" % uid
        t = self.c.task("PUT", p + "filterable-attributes", ["genres", "year"])
        self.assertEqual(t["details"], {"filterableAttributes": ["genres", "year"]})
        self.assertEqual(self.c.req("GET", p + "filterable-attributes")[1], ["genres", "year"])
        t = self.c.task("PATCH", p + "pagination", {"maxTotalHits": 25})
        self.assertEqual(self.c.req("GET", p + "pagination")[1], {"maxTotalHits": 25})
        t = self.c.task("PUT", p + "displayed-attributes", ["id"])
        t = self.c.task("DELETE", p + "displayed-attributes")
        self.assertEqual(t["details"], {"displayedAttributes": ["*"]})
        self.assertEqual(self.c.req("GET", p + "displayed-attributes")[1], ["*"])
        t = self.c.task("DELETE", p + "pagination")
        self.assertEqual(self.c.req("GET", p + "pagination")[1], {"maxTotalHits": 1000})
        self.assertEqual(self.c.req("GET", p + "nope")[0], 404)

    def test_validation(self):
        uid = self.make_index()
        p = "/indexes/%s/settings" % uid
        self.assertError(self.c.req("PATCH", p, {"rankingRules": ["words", "nonsense"]}), 400,
                         "invalid_settings_ranking_rules")
        self.assertError(self.c.req("PATCH", p, {"searchableAttributes": "title"}), 400,
                         "invalid_settings_searchable_attributes")
        self.assertError(self.c.req("PATCH", p, {"searchable": ["title"]}), 400, "bad_request")
        self.assertError(self.c.req("PATCH", p, {"pagination": {"maxTotalHits": 0}}), 400,
                         "invalid_settings_pagination")
        self.assertError(self.c.req("PUT", p + "/sortable-attributes", {"a": 1}), 400,
                         "invalid_settings_sortable_attributes")
        self.assertError(self.c.req("PATCH", p, {"proximityPrecision": "x"}), 400,
                         "invalid_settings_proximity_precision")

    def test_reset_all_and_missing_index(self):
        uid = self.make_index(settings={"filterableAttributes": ["a"]})
        t = self.c.task("DELETE", "/indexes/%s/settings" % uid)
        self.assertEqual(t["status"], "succeeded")
        self.assertEqual(self.c.req("GET", "/indexes/%s/settings" % uid)[1], DEFAULTS)
        self.assertError(self.c.req("GET", "/indexes/%s/settings" % self.uid()), 404, "index_not_found")
        new = self.uid()
        t = self.c.task("PATCH", "/indexes/%s/settings" % new, {"filterableAttributes": ["a"]})
        self.assertEqual(t["status"], "succeeded")
        self.assertEqual(self.c.req("GET", "/indexes/" + new)[0], 200)
