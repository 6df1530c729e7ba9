"""Scores are corpus-independent: a document's _rankingScore and
_rankingScoreDetails depend only on that document, the query and the settings."""
import os
import random
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sim import search as S  # noqa: E402
from sim.search.testing import FakeIndex  # noqa: E402

VOCAB = ["dark", "knight", "night", "knights", "darkness", "rises", "raises", "city", "the", "a",
         "batman", "begins", "gotham", "crime", "darkknight", "interstellar", "inters", "stellar",
         "tale", "knightfall", "nite", "kinght", "christmas", "before", "edward", "scissorhands",
         "caf\u00e9", "cafe", "\u00e9cole", "ecole", "sunflower", "sun", "flower", "wordsmith"]

SETTINGS = [
    {},
    {"searchableAttributes": ["title", "overview", "tags"], "stopWords": ["the", "a"],
     "synonyms": {"batman": ["dark knight"], "nite": ["night"]}},
    {"searchableAttributes": ["overview", "title"],
     "rankingRules": ["words", "typo", "proximity", "attribute", "exactness", "year:desc"]},
    {"rankingRules": ["exactness", "typo", "words", "proximity", "attributeRank", "wordPosition"],
     "typoTolerance": {"enabled": True, "minWordSizeForTypos": {"oneTypo": 3, "twoTypos": 6},
                       "disableOnWords": [], "disableOnAttributes": ["tags"], "disableOnNumbers": False}},
]


def random_doc(rng, i):
    def text(n):
        return " ".join(rng.choice(VOCAB) for _ in range(n))
    d = {"id": i, "title": text(rng.randint(1, 4)), "overview": text(rng.randint(0, 12))}
    if rng.random() < 0.5:
        d["tags"] = [text(rng.randint(1, 2)) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.8:
        d["year"] = rng.randint(1990, 2020)
    return d


def random_query(rng):
    n = rng.randint(1, 4)
    words = [rng.choice(VOCAB) for _ in range(n)]
    if rng.random() < 0.3:
        w = rng.choice(VOCAB)
        words.append(w[:max(1, len(w) - rng.randint(0, 3))])
    if rng.random() < 0.2:
        w = rng.choice(words)
        if len(w) > 3:
            i = rng.randrange(len(w))
            words.append(w[:i] + "x" + w[i + 1:])
    return " ".join(words)


class CorpusIndependence(unittest.TestCase):
    def test_random(self):
        rng = random.Random(20261125)
        docs = [random_doc(rng, i) for i in range(150)]
        compared = 0
        for settings in SETTINGS:
            full = FakeIndex("full", settings=settings, docs=docs)
            part_docs = [d for d in docs if rng.random() < 0.34]
            part = FakeIndex("part", settings=settings, docs=part_docs)
            part_ids = {d["id"] for d in part_docs}
            for _ in range(25):
                q = random_query(rng)
                strategy = rng.choice(["last", "all", "frequency"])
                body = {"q": q, "limit": 1000, "showRankingScore": True, "showRankingScoreDetails": True,
                        "attributesToRetrieve": ["id"], "matchingStrategy": strategy}
                a = S.search_post(full, body)
                b = S.search_post(part, body)
                fa = {h["id"]: h for h in a["hits"]}
                fb = {h["id"]: h for h in b["hits"]}
                self.assertEqual(set(fb), set(fa) & part_ids, (q, strategy))
                for hid, h in fb.items():
                    self.assertEqual(h["_rankingScore"], fa[hid]["_rankingScore"], (q, hid))
                    self.assertEqual(h["_rankingScoreDetails"], fa[hid]["_rankingScoreDetails"], (q, hid))
                    compared += 1
                # order of the subset is the order of the full result restricted to it
                self.assertEqual([h["id"] for h in b["hits"]],
                                 [h["id"] for h in a["hits"] if h["id"] in part_ids], q)
        self.assertGreater(compared, 200)

    def test_scores_in_range(self):
        rng = random.Random(7)
        docs = [random_doc(rng, i) for i in range(60)]
        ix = FakeIndex(settings=SETTINGS[1], docs=docs)
        for _ in range(30):
            r = S.search_post(ix, {"q": random_query(rng), "showRankingScore": True, "limit": 100})
            scores = [h["_rankingScore"] for h in r["hits"]]
            for s in scores:
                self.assertTrue(0.0 <= s <= 1.0)
            self.assertEqual(scores, sorted(scores, reverse=True))


if __name__ == "__main__":
    unittest.main()
