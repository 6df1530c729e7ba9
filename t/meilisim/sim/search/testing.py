"""In-memory Index-like objects and golden-file helpers for the search unit tests."""
import copy
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))   # t/meilisim

DEFAULTS = {
    "displayedAttributes": ["*"],
    "searchableAttributes": ["*"],
    "filterableAttributes": [],
    "sortableAttributes": [],
    "rankingRules": ["words", "typo", "proximity", "attributeRank", "sort", "wordPosition", "exactness"],
    "stopWords": [],
    "nonSeparatorTokens": [],
    "separatorTokens": [],
    "dictionary": [],
    "synonyms": {},
    "distinctAttribute": None,
    "proximityPrecision": "byWord",
    "typoTolerance": {"enabled": True, "minWordSizeForTypos": {"oneTypo": 5, "twoTypos": 9},
                      "disableOnWords": [], "disableOnAttributes": [], "disableOnNumbers": False},
    "faceting": {"maxValuesPerFacet": 100, "sortFacetValuesBy": {"*": "alpha"}},
    "pagination": {"maxTotalHits": 1000},
    "embedders": {},
    "searchCutoffMs": None,
    "localizedAttributes": None,
    "facetSearch": True,
    "prefixSearch": "indexingTime",
}


class FakeIndex:
    def __init__(self, uid="test", primary_key="id", settings=None, docs=()):
        self.uid = uid
        self.primary_key = primary_key
        self.settings = copy.deepcopy(DEFAULTS)
        if settings:
            self.settings.update(copy.deepcopy(settings))
        self._docs = {}
        self._ext = {}
        self._next = 0
        for d in docs:
            self.put(d)

    def put(self, doc):
        ext = str(doc[self.primary_key])
        iid = self._ext.get(ext)
        if iid is None:
            iid = self._next
            self._next += 1
            self._ext[ext] = iid
        self._docs[iid] = doc
        self._snap = None
        return iid

    def delete(self, ext):
        iid = self._ext.pop(str(ext), None)
        if iid is not None:
            del self._docs[iid]
            self._snap = None

    def iter_documents(self):
        return iter(sorted(self._docs.items()))

    def snapshot(self):
        if getattr(self, "_snap", None) is None:
            self._snap = sorted(self._docs.items())
        return self._snap

    def get_document(self, external_id):
        iid = self._ext.get(str(external_id))
        return None if iid is None else self._docs[iid]


GOLDEN = os.path.join(os.path.dirname(ROOT), "golden", "meilisearch-1.50.0.json")


def load_golden():
    with open(GOLDEN) as f:
        return json.load(f)


def golden_indexes(steps):
    """The movies and shop indexes as they stand at the golden search steps."""
    movies = FakeIndex("movies", "id", settings=steps[23]["response"]["body"])
    for d in json.loads(steps[34]["request"]["body"]):
        movies.put(d)
    d4 = dict(movies.get_document(4))
    d4["rating"] = 6.4
    movies.put(d4)
    movies.put({"id": 9, "title": "Night Knight", "genres": ["comedy"], "rating": 5.1})
    movies.put({"id": 26, "title": "Oppenheimer", "genres": ["drama"], "year": 2023, "rating": 8.3,
                "director": "Christopher Nolan"})
    movies.delete(26)
    movies.delete(7)
    shop = FakeIndex("shop", "sku")
    for line in steps[76]["request"]["body"].strip().split("\n"):
        shop.put(json.loads(line))
    return {"movies": movies, "shop": shop}


def normalize_response(x):
    if isinstance(x, dict):
        return {k: ("<ms>" if k == "processingTimeMs" else "<uuid>" if k == "requestUid"
                    else normalize_response(v)) for k, v in x.items()}
    if isinstance(x, list):
        return [normalize_response(v) for v in x]
    return x


def same(a, b):
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) <= 1e-9 * max(1, abs(a), abs(b))
    return a == b
