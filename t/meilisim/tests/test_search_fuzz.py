"""Random requests never raise anything but MeiliError."""
import json
import os
import random
import sys
import traceback
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sim import search as S  # noqa: E402
from sim.errors import MeiliError  # noqa: E402
from sim.search.testing import FakeIndex  # noqa: E402


class Fuzz(unittest.TestCase):
    def test_random_requests(self):
        rng = random.Random(5)
        V = ["dark","knight","the","a","café","Ŵôřlḑôle","sun","flower","sunflower","x","2008","9.5","-","\"","(",")",",",". ","'","é","中文","AND","OR","NOT","IN","[","]","=","!=",">","TO","EXISTS","IS","NULL","EMPTY",":","*"]
        def txt(n): return "".join(rng.choice([" ", "", ", "]) + rng.choice(V) for _ in range(n))
        docs = []
        for i in range(80):
            d = {"id": i, "title": txt(rng.randint(0,5)), "tags": [txt(2) for _ in range(rng.randint(0,3))], "n": rng.choice([1, 2.5, "3", None, True, [1, "a"], {"x": "dark"}]), "o": {"a": txt(2), "b": [{"c": txt(1)}]}}
            if rng.random() < 0.2: d.pop("title")
            docs.append(d)
        settings = [{}, {"searchableAttributes": ["title", "o"], "filterableAttributes": ["n", "tags", "o.a", "title"], "sortableAttributes": ["n", "title"], "stopWords": ["the"], "synonyms": {"sun": ["dark knight", "x"]}, "distinctAttribute": "n"},
                    {"rankingRules": ["n:asc", "exactness", "attribute", "sort", "typo"], "filterableAttributes": [{"attributePatterns": ["*"], "features": {"facetSearch": True, "filter": {"equality": True, "comparison": True}}}], "sortableAttributes": ["*"]}]
        errors = []
        for st in settings:
            ix = FakeIndex("f", settings=st, docs=docs)
            for it in range(120):
                body = {}
                if rng.random() < 0.8: body["q"] = txt(rng.randint(0, 4))
                if rng.random() < 0.3: body["filter"] = rng.choice([txt(3), "n = 1", "tags EXISTS AND NOT n IS NULL", ["n > 1", ["title = dark", "o.a != x"]], "n 1 TO 3", "(n = 1", "title IN [dark, 'a']"])
                if rng.random() < 0.3: body["sort"] = rng.choice([["n:asc"], ["title:desc", "n:desc"], ["bad"], ["o.a:asc"]])
                if rng.random() < 0.3: body["facets"] = rng.choice([["*"], ["n", "tags"], ["o.*"], ["zz"]])
                if rng.random() < 0.3: body["attributesToHighlight"] = ["*"]
                if rng.random() < 0.3: body["attributesToCrop"] = rng.choice([["title:2"], ["*"]])
                if rng.random() < 0.3: body["showMatchesPosition"] = True
                if rng.random() < 0.5: body["showRankingScoreDetails"] = True
                if rng.random() < 0.2: body["matchingStrategy"] = rng.choice(["all", "frequency", "last"])
                if rng.random() < 0.2: body["distinct"] = rng.choice(["n", "tags"])
                if rng.random() < 0.2: body.update(rng.choice([{"page": 2, "hitsPerPage": 3}, {"offset": 3, "limit": 2}]))
                if rng.random() < 0.1: body["attributesToSearchOn"] = ["o.a"]
                try:
                    S.search_post(ix, body)
                    if "q" in body and rng.random() < 0.2:
                        S.facet_search(ix, {"facetName": "tags", "facetQuery": txt(1), "q": body["q"]})
                    S.multi_search({"federation": {"limit": 5, "facetsByIndex": {"f": ["n"]} if rng.random() < 0.3 else None}, "queries": [{"indexUid": "f", "q": body.get("q", "")}, {"indexUid": "f", "q": "dark", "federationOptions": {"weight": 2}}]}, lambda u: ix, lambda u: (), proxy=rng.random() < 0.5)
                except MeiliError as e:
                    pass
                except Exception:
                    errors.append((json.dumps(body, ensure_ascii=False), traceback.format_exc()))

        self.assertEqual(errors[:3], [])


if __name__ == "__main__":
    unittest.main()
