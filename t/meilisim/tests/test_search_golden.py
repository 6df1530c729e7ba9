"""Search engine against the golden transcript of a real Meilisearch 1.50.0
(search, facet-search, multi-search and federated steps, and every hit's
_rankingScoreDetails), run directly on in-memory indexes."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sim import search as S  # noqa: E402
from sim.errors import MeiliError  # noqa: E402
from sim.search.testing import load_golden, golden_indexes, normalize_response, same  # noqa: E402


class GoldenSearch(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.steps = load_golden()["steps"]
        cls.idx = golden_indexes(cls.steps)

    def resolve(self, uid):
        if uid not in self.idx:
            raise MeiliError("index_not_found", "Index `%s` not found." % uid)
        return self.idx[uid]

    def run_step(self, st):
        r = st["request"]
        p = r["path"]
        body = json.loads(r["body"]) if r["body"] else None
        try:
            if p == "/multi-search":
                return 200, S.multi_search(body, self.resolve, lambda u: ())
            uid = p.split("/")[2]
            if p.endswith("/facet-search"):
                return 200, S.facet_search(self.resolve(uid), body)
            if r["method"] == "GET":
                return 200, S.search_get(self.resolve(uid), {k: [v] for k, v in r["query"].items()})
            return 200, S.search_post(self.resolve(uid), body)
        except MeiliError as e:
            return e.status, e.to_json()

    def test_steps(self):
        checked = 0
        movies = self.idx["movies"]
        for i, st in enumerate(self.steps):
            p = st["request"]["path"]
            if i == 128:
                movies.settings["displayedAttributes"] = ["id", "title"]
            if i == 130:
                movies.settings["displayedAttributes"] = ["*"]
            if not (p == "/multi-search" or p.endswith("/search") or p.endswith("/facet-search")):
                continue
            with self.subTest(step=st["name"]):
                status, body = self.run_step(st)
                self.assertEqual(status, st["response"]["status"])
                exp = st["response"]["body"]
                got = normalize_response(body)
                self.assertTrue(same(got, exp), "%s\nexp %s\ngot %s" % (st["name"], exp, got))
                if "rankKeys" in st and st["request"]["method"] == "POST" and p.endswith("/search"):
                    b2 = dict(json.loads(st["request"]["body"]))
                    b2["showRankingScoreDetails"] = True
                    r2 = S.search_post(self.resolve(p.split("/")[2]), b2)
                    mine = [json.loads(json.dumps(h["_rankingScoreDetails"], sort_keys=True)) for h in r2["hits"]]
                    theirs = [json.loads(k) for k in st["rankKeys"]]
                    self.assertTrue(same(mine, theirs), st["name"])
                checked += 1
        self.assertGreaterEqual(checked, 50)


if __name__ == "__main__":
    unittest.main()
