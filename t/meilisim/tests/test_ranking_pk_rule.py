"""A sort ranking rule on the primary key (Miroir's stable_ties hidden rule):
accepted without sortableAttributes, numbers before strings, shown in
_rankingScoreDetails as `"<field>:asc": {"order", "value"}` as the last
member (or `<hidden-rule-N>` when the field is not displayed), not counted
in _rankingScore, and a duplicate rule dropped."""

from helpers import MeiliTest

DOCS = [{"id": 10, "t": "red"}, {"id": "b2", "t": "red"}, {"id": 2, "t": "red"},
        {"id": "a9", "t": "red"}, {"id": 33, "t": "red blue"}, {"id": "a10", "t": "blue"}]


class PkRuleTest(MeiliTest):
    def rules(self, uid, rules):
        t = self.c.task("PUT", "/indexes/%s/settings/ranking-rules" % uid, rules)
        self.assertEqual(t["status"], "succeeded", t)
        self.assertEqual(t["details"], {"rankingRules": rules})

    def search(self, uid, body):
        st, r = self.c.req("POST", "/indexes/%s/search" % uid, body)
        self.engine_ready((st, r))
        self.assertEqual(st, 200, r)
        return r

    def test_pk_rule_orders_ties(self):
        uid = self.make_index(DOCS)
        self.assertEqual(self.c.req("GET", "/indexes/%s/settings/sortable-attributes" % uid)[1], [])
        self.rules(uid, ["words", "typo", "proximity", "attributeRank", "sort",
                         "wordPosition", "exactness", "id:asc"])
        r = self.search(uid, {"q": "", "showRankingScore": True, "showRankingScoreDetails": True})
        # numbers (as floats) first, then strings byte-wise
        self.assertEqual([h["id"] for h in r["hits"]], [2, 10, 33, "a10", "a9", "b2"])
        for h in r["hits"]:
            d = h["_rankingScoreDetails"]
            self.assertEqual(list(d)[-1], "id:asc")
            self.assertEqual(d["id:asc"]["order"], len(d) - 1)
            self.assertEqual(d["id:asc"]["value"], float(h["id"]) if isinstance(h["id"], int) else h["id"])
            self.assertEqual(h["_rankingScore"], 1.0)
        # with a query: relevancy first, the pk rule only breaks ties, and
        # does not change the scores
        r1 = self.search(uid, {"q": "red", "showRankingScore": True, "showRankingScoreDetails": True})
        self.rules(uid, ["words", "typo", "proximity", "attributeRank", "sort", "wordPosition", "exactness"])
        r2 = self.search(uid, {"q": "red", "showRankingScore": True})
        scores = {h["id"]: h["_rankingScore"] for h in r2["hits"]}
        self.assertEqual({h["id"]: h["_rankingScore"] for h in r1["hits"]}, scores)
        self.assertEqual([h["id"] for h in r1["hits"]], [2, 10, "a9", "b2", 33])

    def test_pk_rule_desc_after_asc_and_duplicates(self):
        uid = self.make_index(DOCS)
        self.rules(uid, ["words", "id:asc", "id:desc"])
        r = self.search(uid, {"q": "", "showRankingScoreDetails": True})
        self.assertEqual([h["id"] for h in r["hits"]], [2, 10, 33, "a10", "a9", "b2"])
        self.assertEqual(list(r["hits"][0]["_rankingScoreDetails"]), ["id:asc", "id:desc"])
        t = self.c.task("PUT", "/indexes/%s/settings/ranking-rules" % uid, ["words", "id:asc", "id:asc"])
        self.assertEqual(t["status"], "succeeded", t)
        self.assertEqual(self.c.req("GET", "/indexes/%s/settings/ranking-rules" % uid)[1],
                         ["words", "id:asc"])

    def test_pk_rule_not_displayed(self):
        uid = self.make_index(DOCS, settings={"displayedAttributes": ["t"]})
        self.rules(uid, ["words", "id:asc"])
        r = self.search(uid, {"q": "", "showRankingScoreDetails": True})
        d = r["hits"][0]["_rankingScoreDetails"]
        self.assertEqual(d, {"<hidden-rule-0>": {"order": 0, "value": "<hidden>"}})
