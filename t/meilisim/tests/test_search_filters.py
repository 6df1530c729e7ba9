"""Filter grammar, semantics and error messages (milli filter-parser format)."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sim import search as S  # noqa: E402
from sim.errors import MeiliError  # noqa: E402
from sim.search.testing import FakeIndex  # noqa: E402

DOCS = [
    {"id": 1, "genre": "Action", "year": 2008, "rating": 9.0, "tags": ["a", "b"], "n": "10"},
    {"id": 2, "genre": "drama", "year": 1998, "rating": 7.6, "tags": [], "franchise": None},
    {"id": 3, "genre": " Comedy ", "rating": 5.6, "meta": {"lang": "en", "score": 3}},
    {"id": 4, "genre": ["action", "comedy"], "year": "2010", "tags": ["c"], "flag": True},
    {"id": 5, "title": "no filterable", "meta": [{"lang": "fr"}, {"lang": "de"}], "empty": ""},
    {"id": 6, "genre": "AND", "year": 2020.0, "obj": {}},
]
FILTERABLE = ["genre", "year", "rating", "tags", "franchise", "meta", "n", "flag", "empty", "obj", "id"]


def ids(ix, f, ctx="search"):
    pred = S.compile_filter(ix, f, ctx)
    return [d["id"] for _i, d in ix.iter_documents() if pred(d)]


class Filters(unittest.TestCase):
    def setUp(self):
        self.ix = FakeIndex("movies", settings={"filterableAttributes": FILTERABLE}, docs=DOCS)

    def test_equality(self):
        self.assertEqual(ids(self.ix, "genre = action"), [1, 4])
        self.assertEqual(ids(self.ix, "genre = 'comedy'"), [3, 4])
        self.assertEqual(ids(self.ix, "genre != action"), [2, 3, 5, 6])
        self.assertEqual(ids(self.ix, "year = 2010"), [4])
        self.assertEqual(ids(self.ix, "n = 10"), [1])
        self.assertEqual(ids(self.ix, "n = 10.0"), [])
        self.assertEqual(ids(self.ix, "rating = 9"), [1])
        self.assertEqual(ids(self.ix, "flag = true"), [4])
        self.assertEqual(ids(self.ix, "genre = \"AND\""), [6])

    def test_comparison_and_range(self):
        # numeric range, unioned with a lexicographic range over strings ("2010")
        self.assertEqual(ids(self.ix, "year > 2000"), [1, 4, 6])
        self.assertEqual(ids(self.ix, "year >= 1998 AND year < 2010"), [1, 2])
        self.assertEqual(ids(self.ix, "rating 5.6 TO 7.6"), [2, 3])
        self.assertEqual(ids(self.ix, "NOT rating 5.6 TO 7.6"), [1, 4, 5, 6])

    def test_in_exists_null_empty(self):
        self.assertEqual(ids(self.ix, "genre IN [drama, comedy,]"), [2, 3, 4])
        self.assertEqual(ids(self.ix, "genre NOT IN [drama, comedy]"), [1, 5, 6])
        self.assertEqual(ids(self.ix, "year EXISTS"), [1, 2, 4, 6])
        self.assertEqual(ids(self.ix, "year NOT EXISTS"), [3, 5])
        self.assertEqual(ids(self.ix, "franchise EXISTS"), [2])
        self.assertEqual(ids(self.ix, "franchise IS NULL"), [2])
        self.assertEqual(ids(self.ix, "franchise IS NOT NULL"), [1, 3, 4, 5, 6])
        self.assertEqual(ids(self.ix, "tags IS EMPTY"), [2])
        self.assertEqual(ids(self.ix, "empty IS EMPTY OR obj IS EMPTY"), [5, 6])

    def test_nested_and_arrays_of_objects(self):
        self.assertEqual(ids(self.ix, "meta.lang = fr"), [5])
        self.assertEqual(ids(self.ix, "meta.lang IN [en, de]"), [3, 5])
        self.assertEqual(ids(self.ix, "meta.score > 1"), [3])

    def test_boolean_structure(self):
        self.assertEqual(ids(self.ix, "(genre = action OR genre = drama) AND rating > 8"), [1])
        self.assertEqual(ids(self.ix, "genre = action OR genre = drama AND year > 2000"), [1, 4])
        self.assertEqual(ids(self.ix, "NOT NOT genre = drama"), [2])

    def test_array_form(self):
        self.assertEqual(ids(self.ix, [["genre = drama", "genre = comedy"], "rating > 6"]), [2])
        self.assertEqual(ids(self.ix, ["", []]), [1, 2, 3, 4, 5, 6])

    def err(self, f, ctx="search"):
        with self.assertRaises(MeiliError) as c:
            S.compile_filter(self.ix, f, ctx)
        return c.exception

    def test_syntax_errors(self):
        e = self.err("year >")
        self.assertEqual(e.code, "invalid_search_filter")
        self.assertEqual(e.message, "Was expecting a value but instead got nothing.\n7:7 year >")
        e = self.err("genre = ", "documents")
        self.assertEqual(e.code, "invalid_document_filter")
        self.assertEqual(e.message, "Was expecting a value but instead got nothing.\n9:9 genre = ")
        e = self.err("year = 1 year")
        self.assertEqual(e.message, "Found unexpected characters at the end of the filter: `year`. "
                                    "You probably forgot an `OR` or an `AND` rule.\n10:14 year = 1 year")
        e = self.err("(year = 1")
        self.assertEqual(e.message, "Expression `(year = 1` is missing the following closing delimiter: `)`."
                                    "\n1:10 (year = 1")
        self.assertTrue(self.err("year").message.startswith("Was expecting an operation `=`"))
        self.assertEqual(self.err(3).message,
                         "Invalid syntax for the filter parameter: `expected String, Array, found: 3`.")

    def test_not_filterable(self):
        e = self.err("title = x", "documents")
        self.assertTrue(e.message.startswith("Attribute `title` is not filterable. Available filterable "
                                             "attribute patterns are: `empty`, `flag`, `franchise`"), e.message)
        self.assertTrue(e.message.endswith("\n1:6 title = x"))
        e = self.err("title = dark")
        self.assertTrue(e.message.startswith("Index `movies`: Attribute `title` is not filterable."))
        self.assertTrue(e.message.endswith('\n2:7 "title" = "dark"'), e.message)

    def test_object_rules(self):
        ix = FakeIndex("m", settings={"filterableAttributes": [
            {"attributePatterns": ["gen*"], "features": {"facetSearch": False,
                                                        "filter": {"equality": True, "comparison": False}}},
            {"attributePatterns": ["year"], "features": {"filter": {"equality": True, "comparison": True}}}]},
            docs=DOCS)
        self.assertEqual(ids(ix, "genre = drama AND year < 2000"), [2])
        with self.assertRaises(MeiliError) as c:
            S.compile_filter(ix, "genre > a", "search")
        self.assertEqual(c.exception.code, "invalid_search_filter")

    def test_delete_context_empty(self):
        self.assertEqual(self.err("", "delete").code, "invalid_document_filter")

    def test_tenant_filters_not_escapable(self):
        r = S.search_post(self.ix, {"filter": "genre = drama OR genre = action"}, extra_filters=["rating > 8"])
        self.assertEqual([h["id"] for h in r["hits"]], [1])


if __name__ == "__main__":
    unittest.main()
