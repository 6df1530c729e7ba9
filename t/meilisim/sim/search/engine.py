"""Single-index search: parameter validation, ranking, facets, formatting."""

import functools
import gc
import threading
import weakref
import json
import math
import time
import uuid

from ..errors import MeiliError
from ..util import type_error, unknown_field, unknown_param, param_int_error, query_bool, kind as vkind
from . import filters as F
from . import ranking as R
from .text import normalize, normalize_facet, number_text, value_to_text, raw_tokens, HARD_SEPARATORS

POST_KEYS = ["q", "offset", "limit", "page", "hitsPerPage", "attributesToRetrieve", "attributesToCrop",
             "cropLength", "cropMarker", "attributesToHighlight", "highlightPreTag", "highlightPostTag",
             "showMatchesPosition", "filter", "sort", "distinct", "facets", "matchingStrategy",
             "attributesToSearchOn", "rankingScoreThreshold", "locales", "hybrid", "vector",
             "retrieveVectors", "media", "personalize", "useNetwork", "showRankingScore",
             "showRankingScoreDetails", "showPerformanceDetails"]
GET_KEYS = ["q", "offset", "limit", "page", "hitsPerPage", "attributesToRetrieve", "attributesToCrop",
            "cropLength", "cropMarker", "attributesToHighlight", "highlightPreTag", "highlightPostTag",
            "showMatchesPosition", "filter", "sort", "distinct", "facets", "matchingStrategy",
            "attributesToSearchOn", "rankingScoreThreshold", "locales", "hybridEmbedder",
            "hybridSemanticRatio", "vector", "retrieveVectors", "personalizeUserContext", "useNetwork",
            "showRankingScore", "showRankingScoreDetails", "showPerformanceDetails"]

CODE = {
    "q": "invalid_search_q", "offset": "invalid_search_offset", "limit": "invalid_search_limit",
    "page": "invalid_search_page", "hitsPerPage": "invalid_search_hits_per_page",
    "attributesToRetrieve": "invalid_search_attributes_to_retrieve",
    "attributesToCrop": "invalid_search_attributes_to_crop", "cropLength": "invalid_search_crop_length",
    "cropMarker": "invalid_search_crop_marker",
    "attributesToHighlight": "invalid_search_attributes_to_highlight",
    "highlightPreTag": "invalid_search_highlight_pre_tag",
    "highlightPostTag": "invalid_search_highlight_post_tag",
    "showMatchesPosition": "invalid_search_show_matches_position", "filter": "invalid_search_filter",
    "sort": "invalid_search_sort", "distinct": "invalid_search_distinct", "facets": "invalid_search_facets",
    "matchingStrategy": "invalid_search_matching_strategy",
    "attributesToSearchOn": "invalid_search_attributes_to_search_on",
    "rankingScoreThreshold": "invalid_search_ranking_score_threshold", "locales": "invalid_search_locales",
    "hybrid": "invalid_search_hybrid_query", "vector": "invalid_search_vector",
    "retrieveVectors": "invalid_search_retrieve_vectors", "media": "invalid_search_media",
    "personalize": "invalid_search_personalize", "useNetwork": "invalid_search_use_network",
    "showRankingScore": "invalid_search_show_ranking_score",
    "showRankingScoreDetails": "invalid_search_show_ranking_score_details",
    "showPerformanceDetails": "invalid_search_show_performance_details",
    "hybridEmbedder": "invalid_search_embedder", "hybridSemanticRatio": "invalid_search_semantic_ratio",
    "personalizeUserContext": "invalid_search_personalize",
}

UINT_KEYS = {"offset", "limit", "page", "hitsPerPage", "cropLength"}
BOOL_KEYS = {"showMatchesPosition", "retrieveVectors", "useNetwork", "showRankingScore",
             "showRankingScoreDetails", "showPerformanceDetails"}
STR_KEYS = {"cropMarker", "highlightPreTag", "highlightPostTag"}
LIST_KEYS = {"attributesToRetrieve", "attributesToCrop", "attributesToHighlight", "sort", "facets",
             "attributesToSearchOn", "locales"}


def _is_uint(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def validate_post(body, path_prefix="", allowed=None, extra_known=()):
    """Validate a search body (deserr-like). Returns normalised params dict."""
    if not isinstance(body, dict):
        raise MeiliError("bad_request", "Invalid value type%s: expected an object, but found %s: `%s`"
                         % (" at `%s`" % path_prefix if path_prefix else "", vkind(body),
                            json.dumps(body, separators=(",", ":"))))
    keys = allowed or POST_KEYS
    params = {}
    for k, v in body.items():
        if k in extra_known:
            continue
        if k not in keys:
            raise unknown_field(k, keys + [x for x in extra_known if x not in keys] if extra_known else keys)
        path = "%s.%s" % (path_prefix, k)
        code = CODE.get(k, "bad_request")
        if k == "q":
            if v is not None and not isinstance(v, str):
                raise type_error(code, path, "a string", v)
        elif k in UINT_KEYS:
            if k in ("page", "hitsPerPage") and v is None:
                pass
            elif not _is_uint(v):
                raise type_error(code, path, "a positive integer", v)
        elif k in BOOL_KEYS:
            if not isinstance(v, bool):
                raise type_error(code, path, "a boolean", v)
        elif k in STR_KEYS:
            if not isinstance(v, str):
                raise type_error(code, path, "a string", v)
        elif k in LIST_KEYS:
            if v is not None:
                if not isinstance(v, list):
                    raise type_error(code, path, "an array", v)
                for i, it in enumerate(v):
                    if not isinstance(it, str):
                        raise type_error(code, "%s[%d]" % (path, i), "a string", it)
        elif k == "distinct":
            if v is not None and not isinstance(v, str):
                raise type_error(code, path, "a string", v)
        elif k == "matchingStrategy":
            if not isinstance(v, str):
                raise type_error(code, path, "a string", v)
            if v not in ("last", "all", "frequency"):
                raise MeiliError(code, "Unknown value `%s` at `%s`: expected one of `last`, `all`, `frequency`"
                                 % (v, path))
        elif k == "rankingScoreThreshold":
            if v is not None:
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise type_error(code, path, "a number", v)
                if not (0.0 <= v <= 1.0):
                    raise MeiliError(code, "Invalid value at `%s`: the value of `rankingScoreThreshold` is invalid, expected a float between `0.0` and `1.0`." % path)
        elif k == "hybrid":
            if v is not None:
                if not isinstance(v, dict):
                    raise type_error(code, path, "an object", v)
                raise MeiliError("invalid_search_embedder",
                                 "Cannot find embedder with name `%s`." % v.get("embedder", "default"))
        elif k == "vector":
            if v is not None:
                raise MeiliError("missing_search_hybrid",
                                 "Passing `vector` as a parameter requires `hybrid` to be set.")
        elif k in ("media", "personalize"):
            if v is not None:
                raise MeiliError(code, "Invalid value at `%s`: this feature is not available." % path)
        params[k] = v
    return params


def _split_list(raw):
    """Comma-separated list; commas inside parentheses (`_geoPoint(1,2):asc`) do not split."""
    if raw == "":
        return []
    out, cur, depth = [], [], 0
    for c in raw:
        if c == "(":
            depth += 1
        elif c == ")":
            depth = max(0, depth - 1)
        if c == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
    out.append("".join(cur).strip())
    return out


def validate_get(query):
    params = {}
    for k, vals in query.items():
        if k not in GET_KEYS:
            raise unknown_param(k, GET_KEYS)
        raw = vals[-1] if isinstance(vals, list) else vals
        code = CODE.get(k, "bad_request")
        if k == "q":
            params[k] = raw
        elif k in UINT_KEYS:
            s = raw.strip()
            if not s.isdigit():
                raise param_int_error(code, k, raw)
            params[k] = int(s)
        elif k in BOOL_KEYS:
            params[k] = query_bool(code, k, raw)
        elif k in STR_KEYS or k == "distinct":
            params[k] = raw
        elif k in LIST_KEYS:
            params[k] = _split_list(raw)
        elif k == "matchingStrategy":
            if raw not in ("last", "all", "frequency"):
                raise MeiliError(code, "Unknown value `%s` for parameter `matchingStrategy`: expected one of `last`, `all`, `frequency`" % raw)
            params[k] = raw
        elif k == "rankingScoreThreshold":
            try:
                f = float(raw)
            except ValueError:
                raise MeiliError(code, "Invalid value in parameter `rankingScoreThreshold`: could not parse `%s` as a float" % raw)
            if not (0.0 <= f <= 1.0):
                raise MeiliError(code, "Invalid value in parameter `rankingScoreThreshold`: the value of `rankingScoreThreshold` is invalid, expected a float between `0.0` and `1.0`.")
            params[k] = f
        elif k == "filter":
            v = raw
            try:
                j = json.loads(raw)
                if isinstance(j, list):
                    v = j
            except ValueError:
                pass
            params[k] = v
        elif k in ("hybridEmbedder",):
            raise MeiliError("invalid_search_embedder", "Cannot find embedder with name `%s`." % raw)
        elif k == "vector":
            raise MeiliError("missing_search_hybrid", "Passing `vector` as a parameter requires `hybrid` to be set.")
        else:
            pass
    return params


# ---------------------------------------------------------------------------
# index-level caches

_CACHES = {}
_WEAK_CACHES = weakref.WeakKeyDictionary()


class IndexCache:
    def __init__(self):
        self.sig = None
        self.docs = {}      # iid -> (doc, DocData)
        self.postings = {}  # word -> set(iid)
        self.by_first = {}  # first char -> set(word)
        self.snap = None    # index snapshot the lists below were built from
        self.out = None     # [(iid, doc, DocData)] of that snapshot
        self.sortv = None   # (field, asc) -> {id(doc): sort value} for the docs of `out`

    def sort_value_fn(self):
        """`sort_value` memoised per document of the current snapshot (field criteria)."""
        memo = self.sortv
        if memo is None:
            memo = self.sortv = {}

        def fn(doc, crit):
            if crit[0] != "field":
                return sort_value(doc, crit)
            m = memo.get((crit[1], crit[2]))
            if m is None:
                m = memo[(crit[1], crit[2])] = {}
            k = id(doc)
            v = m.get(k, m)
            if v is m:
                v = m[k] = sort_value(doc, crit)
            return v
        return fn

    def reset(self):
        self.sortv = None
        self.snap = None
        self.out = None
        self.docs = {}
        self.postings = {}
        self.by_first = {}

    def add(self, iid, dd):
        for w in dd.occ:
            p = self.postings.get(w)
            if p is None:
                p = self.postings[w] = set()
                self.by_first.setdefault(w[0], set()).add(w)
            p.add(iid)

    def remove(self, iid, dd):
        for w in dd.occ:
            p = self.postings.get(w)
            if p is not None:
                p.discard(iid)
                if not p:
                    del self.postings[w]
                    s = self.by_first.get(w[0])
                    if s is not None:
                        s.discard(w)


def _doc_datas(index, settings):
    weight_fn, max_weight, attrs = R.searchable_weight_fn(settings)
    stop = frozenset(normalize(w) for w in settings.get("stopWords") or [])
    sig = json.dumps([settings.get("searchableAttributes"), sorted(stop)])
    try:
        cache = _WEAK_CACHES.get(index)
        if cache is None:
            cache = _WEAK_CACHES[index] = IndexCache()
    except TypeError:   # index objects without weak references
        key = id(index)
        c = _CACHES.get(key)
        if c is None or c[0] is not index:
            c = (index, IndexCache())
            _CACHES[key] = c
        cache = c[1]
    if cache.sig != sig:
        cache.sig = sig
        cache.reset()
    snap_fn = getattr(index, "snapshot", None)
    snap = snap_fn() if snap_fn is not None else None
    if snap is not None and cache.snap is snap and cache.out is not None:
        return cache.out, max_weight, weight_fn, cache
    docs = cache.docs
    built = 0
    out = []
    append = out.append
    get = docs.get
    for iid, doc in (snap if snap is not None else index.iter_documents()):
        ent = get(iid)
        if ent is None or ent[0] is not doc:
            if ent is not None:
                cache.remove(iid, ent[1])
            ent = (doc, R.DocData(doc, weight_fn, stop))
            docs[iid] = ent
            cache.add(iid, ent[1])
            built += 1
        append((iid, doc, ent[1]))
    if len(docs) != len(out):
        seen = set(e[0] for e in out)
        for iid in list(docs):
            if iid not in seen:
                cache.remove(iid, docs[iid][1])
                del docs[iid]
    if built > 500:
        # the cache holds no reference cycles: keep it out of the cyclic GC's
        # way (full collections over it cost more than a search)
        gc.collect()
        gc.freeze()
    # documents may have changed: sort values are recomputed
    cache.sortv = None
    if snap is not None:
        cache.snap = snap
        cache.out = out
    return out, max_weight, weight_fn, cache


# ---------------------------------------------------------------------------
# sort

def sortable_list(settings):
    return sorted(set(settings.get("sortableAttributes") or []))


def _sortable(settings, field):
    for s in settings.get("sortableAttributes") or []:
        if s == "*" or field == s or field.startswith(s + "."):
            return True
    return False


def parse_sort(index, sort, code="invalid_search_sort", context="search"):
    settings = index.settings
    crits = []
    prefix = "Index `%s`: " % index.uid if context == "search" else ""
    for s in sort or []:
        s2 = s.strip()
        if s2.startswith("_geoPoint("):
            import re
            m = re.match(r"^_geoPoint\(\s*(-?[0-9.]+)\s*,\s*(-?[0-9.]+)\s*\):(asc|desc)$", s2)
            if not m:
                raise MeiliError(code, "Invalid syntax for the sort parameter: expected expression ending by `:asc` or `:desc`, found `%s`." % s)
            if not _sortable(settings, "_geo"):
                raise MeiliError(code, prefix + _not_sortable_msg(settings, "_geo"))
            crits.append(("geo", "_geo", m.group(3) == "asc", (float(m.group(1)), float(m.group(2)))))
            continue
        if ":" not in s2:
            raise MeiliError(code, "Invalid syntax for the sort parameter: expected expression ending by `:asc` or `:desc`, found `%s`." % s)
        field, direction = s2.rsplit(":", 1)
        if direction not in ("asc", "desc"):
            raise MeiliError(code, "Invalid syntax for the sort parameter: expected expression ending by `:asc` or `:desc`, found `%s`." % s)
        if field.startswith("_geo"):
            raise MeiliError(code, "`%s` is a reserved keyword and thus can't be used as a sort expression. Use the _geoPoint(latitude, longitude) built-in rule to sort on _geo field coordinates." % field)
        if not _sortable(settings, field):
            raise MeiliError(code, prefix + _not_sortable_msg(settings, field))
        crits.append(("field", field, direction == "asc"))
    return crits


def _not_sortable_msg(settings, field):
    lst = sortable_list(settings)
    if lst:
        return "Attribute `%s` is not sortable. Available sortable attributes are: `%s`." % (field, ", ".join(lst))
    return "Attribute `%s` is not sortable. This index does not have configured sortable attributes." % field


def sort_value(doc, crit):
    if crit[0] == "geo":
        p = F.geo_point(doc)
        if p is None:
            return (None, None)
        d = F._haversine(crit[3][0], crit[3][1], p[0], p[1])
        return ({"lat": p[0], "lng": p[1]}, d)
    _found, leaves, _raw = F.field_values(doc, crit[1])
    nums = [float(x) for x in leaves if isinstance(x, (int, float)) and not isinstance(x, bool)]
    asc = crit[2]
    if nums:
        return min(nums) if asc else max(nums)
    strs = [F._facet_string(x) for x in leaves if isinstance(x, (str, bool))]
    if strs:
        return min(strs) if asc else max(strs)
    return None


def compare_sort_values(asc, a, b):
    """-1 when a is ranked before b."""
    if a is None and b is None:
        return 0
    if a is None:
        return 1
    if b is None:
        return -1
    an = isinstance(a, float)
    bn = isinstance(b, float)
    if an and not bn:
        return -1
    if bn and not an:
        return 1
    if a == b:
        return 0
    less = a < b
    if asc:
        return -1 if less else 1
    return 1 if less else -1


def _cmp_geo(asc, a, b):
    da, db = a[1], b[1]
    if da is None and db is None:
        return 0
    if da is None:
        return 1
    if db is None:
        return -1
    if da == db:
        return 0
    return (-1 if da < db else 1) if asc else (1 if da < db else -1)


def _rank_items(ds):
    items = []
    for d in ds.details:
        k = d[0]
        if k in ("words", "typo", "proximity", "attributeRank", "wordPosition"):
            items.append(("r", d[1].rank / d[1].max))
        elif k == "attribute":
            items.append(("r", d[1].rank / d[1].max))
            items.append(("r", d[2].rank / d[2].max))
        elif k == "exactness":
            items.append(("r", d[2].rank / d[2].max))
            items.append(("r", d[3].rank / d[3].max))
        elif k == "sortv":
            crit = d[1]
            items.append(("g" if crit[0] == "geo" else "s", crit[2], d[2]))
    return items


def _sort_entries(entries):
    """Stable multi-pass sort, last criterion first (entries start in iid order)."""
    width = min(len(e[3]) for e in entries)
    first = entries[0][3]
    j = width - 1
    while j >= 0:
        kind = first[j][0]
        if kind == "r":
            # a run of rank columns i..j sorts in one pass on the tuple of them
            i = j
            while i > 0 and first[i - 1][0] == "r":
                i -= 1
            if i == j:
                entries.sort(key=lambda e: -e[3][j][1])
            else:
                cols = range(i, j + 1)
                keys = {}   # rank items are shared between documents ranked alike

                def rkey(e):
                    items = e[3]
                    k = keys.get(id(items))
                    if k is None:
                        k = keys[id(items)] = tuple([-items[c][1] for c in cols])
                    return k
                entries.sort(key=rkey)
            j = i - 1
            continue
        elif kind == "s":
            asc = entries[0][3][j][1]
            if asc:
                def k(e):
                    v = e[3][j][2]
                    if v is None:
                        return (2, 0)
                    return (0, v) if isinstance(v, float) else (1, v)
                entries.sort(key=k)
            else:
                def k(e):
                    v = e[3][j][2]
                    if v is None:
                        return (0, 0)
                    return (2, v) if isinstance(v, float) else (1, v)
                entries.sort(key=k, reverse=True)
        else:
            asc = entries[0][3][j][1]
            if asc:
                entries.sort(key=lambda e: (1, 0) if e[3][j][2][1] is None else (0, e[3][j][2][1]))
            else:
                entries.sort(key=lambda e: (0, 0) if e[3][j][2][1] is None else (1, e[3][j][2][1]),
                             reverse=True)
        j -= 1


def _compare_entries(a, b):
    ia, ib = a[3], b[3]
    for x, y in zip(ia, ib):
        if x[0] == "r":
            if x[1] != y[1]:
                return -1 if x[1] > y[1] else 1
        elif x[0] == "s":
            c = compare_sort_values(x[1], x[2], y[2])
            if c:
                return c
        else:
            c = _cmp_geo(x[1], x[2], y[2])
            if c:
                return c
    return -1 if a[0] < b[0] else (1 if a[0] > b[0] else 0)


# ---------------------------------------------------------------------------
# ranking rules

def effective_rules(settings, has_query, strategy):
    rules = []
    seen = set()
    relevancy = {"words", "typo", "proximity", "attribute", "attributeRank", "wordPosition", "exactness"}
    for r in settings.get("rankingRules") or []:
        if r in seen:
            continue
        seen.add(r)
        if r in relevancy:
            if not has_query:
                continue
            if r == "words" and strategy == "all":
                continue
            if r != "words" and "words" not in seen and strategy != "all":
                seen.add("words")
                rules.append("words")
            rules.append(r)
        elif r == "sort":
            rules.append("sort")
        elif r.endswith(":asc") or r.endswith(":desc"):
            field, d = r.rsplit(":", 1)
            rules.append(("field", field, d == "asc"))
    return rules


def displayed_fn(settings):
    disp = settings.get("displayedAttributes") or ["*"]
    if "*" in disp:
        return lambda f: True
    ds = list(disp)
    return lambda f: any(f == d or f.startswith(d + ".") for d in ds)


def searchable_list(settings):
    sa = settings.get("searchableAttributes") or ["*"]
    return sa


# ---------------------------------------------------------------------------
# main search

def prepare(index, params, extra_filters=(), context="search"):
    """Validate semantic parameters against the index. Returns a plan dict."""
    settings = index.settings
    plan = {}
    plan["q"] = params.get("q") or ""
    strategy = params.get("matchingStrategy") or "last"
    plan["strategy"] = strategy
    # filter
    plan["filter"] = F.compile_filters(index, params.get("filter"), extra_filters, context="search")
    # sort
    sort = params.get("sort")
    crits = []
    if sort:
        crits = parse_sort(index, sort)
        if "sort" not in (settings.get("rankingRules") or []):
            raise MeiliError("invalid_search_sort", "Index `%s`: You must specify where `sort` is listed in the rankingRules setting to use the sort parameter at search time." % index.uid)
    plan["sort"] = crits
    # distinct
    distinct = params.get("distinct")
    if distinct is not None:
        feats = F.rule_for(settings, distinct)
        if feats is None:
            pats = F.filterable_patterns(settings)
            if pats:
                raise MeiliError("invalid_search_distinct", "Index `%s`: Attribute `%s` is not filterable and thus, cannot be used as distinct attribute. Available filterable attributes patterns are: `%s`." % (index.uid, distinct, ", ".join(pats)))
            raise MeiliError("invalid_search_distinct", "Index `%s`: Attribute `%s` is not filterable and thus, cannot be used as distinct attribute. This index does not have configured filterable attributes." % (index.uid, distinct))
    else:
        distinct = settings.get("distinctAttribute")
    plan["distinct"] = distinct
    # facets
    facets = params.get("facets")
    if facets:
        validate_facets(settings, facets)
    plan["facets"] = facets
    # attributesToSearchOn
    ason = params.get("attributesToSearchOn")
    sa = searchable_list(settings)
    if ason is not None:
        if "*" not in sa:
            for a in ason:
                if a == "*":
                    continue
                if not any(a == s or a.startswith(s + ".") for s in sa):
                    raise MeiliError("invalid_search_attributes_to_search_on",
                                     "Index `%s`: Attribute `%s` is not searchable. Available searchable attributes are: `%s`." % (index.uid, a, ", ".join(sorted(sa))))
    plan["ason"] = None if (ason is None or "*" in ason) else ason
    plan["threshold"] = params.get("rankingScoreThreshold")
    return plan


def validate_facets(settings, facets, code="invalid_search_facets", prefix=""):
    for f in facets:
        if not any(F.pattern_match(p, f, legacy=False) or _pattern_covers(p, f)
                   for p in F.filterable_patterns(settings)):
            pats = F.filterable_patterns(settings)
            if pats:
                raise MeiliError(code, prefix + "Invalid facet distribution: Pattern `%s` is not filterable. Available filterable attributes patterns are: `%s`." % (f, ", ".join(pats)))
            raise MeiliError(code, prefix + "Invalid facet distribution: Pattern `%s` is not filterable. This index does not have configured filterable attributes." % f)


def _pattern_covers(pattern, facet):
    """A facet pattern like `a.*` or `*` matches a filterable pattern."""
    if facet == "*":
        return True
    if facet.endswith("*"):
        return pattern.startswith(facet[:-1]) or facet[:-1].startswith(pattern)
    if facet.startswith("*"):
        return pattern.endswith(facet[1:])
    return False


_LOCK = threading.RLock()


def run(index, plan, want_details=True):
    """Thread-safe wrapper: the per-index caches are shared between searches."""
    with _LOCK:
        return _run(index, plan)


def _run(index, plan):
    """Run ranking. Returns (ordered list of (iid, doc, DocScore), total, candidates(list), query)."""
    settings = index.settings
    q = plan["q"]
    query = R.Query(q, settings)
    has_query = query.n > 0
    strategy = plan["strategy"]
    rules = effective_rules(settings, has_query, strategy)
    flt = plan["filter"]
    entries = []
    svf = sort_value
    if has_query:
        docs, max_weight, weight_fn, cache = _doc_datas(index, settings)
    else:
        docs, max_weight, weight_fn, cache = None, 0, None, None
    ctx = {"sort_criteria": plan["sort"], "max_weight": max_weight, "typo_off_fields": None,
           "fields_ok": None, "prox_by_attribute": settings.get("proximityPrecision") == "byAttribute"}
    typo = settings.get("typoTolerance") or {}
    off_attrs = typo.get("disableOnAttributes") or []
    ason = plan["ason"]
    if has_query and strategy == "all":
        sp, pm = R.struct_info(query)
        ctx["struct_paths"] = sp
        ctx["struct_prox_max"] = pm
    matcher = R.Matcher(query, settings) if has_query else None
    cand = None
    rel = None
    memo = {}
    if has_query:
        cand = matcher.prepare(cache)
        # A document's ranking depends only on the occurrences of the query's
        # relevant words and on its fields/word counts (plus its own sort
        # values): documents sharing those share their relevancy details.
        rel = matcher.relevant_words()
        if rel is not None:
            relset = frozenset(rel)
            nrel = len(rel)
        svf = cache.sort_value_fn()
        # visit only the candidates, in internal id order
        cdocs = cache.docs
        if rel is not None and ason is None and not off_attrs:
            docs = ()
            thr = plan["threshold"]
            append = entries.append
            evaluate = R.evaluate
            for iid in sorted(cand):
                doc, dd = cdocs[iid]
                if flt is not None and not flt(doc):
                    continue
                occ = dd.occ
                if len(occ) < nrel:
                    key = (dd.fkey, tuple([(w, tuple(occ[w])) for w in dd.words if w in relset]))
                else:
                    key = (dd.fkey, tuple([(w, tuple(occ[w])) for w in rel if w in occ]))
                hit = memo.get(key)
                if hit is None:
                    ds = evaluate(query, dd, matcher, rules, strategy, svf, doc, ctx)
                    hit = memo[key] = (ds, None if ds is None else _rank_items(ds),
                                       ds is not None and any(d[0] == "sortv" for d in ds.details))
                    if ds is None:
                        continue
                else:
                    ds = hit[0]
                    if ds is None:
                        continue
                    if hit[2]:
                        ds2 = R.DocScore()
                        ds2.details = [("sortv", d[1], svf(doc, d[1])) if d[0] == "sortv" else d
                                       for d in ds.details]
                        ds2.ranks = ds.ranks
                        ds2.score = ds.score
                        ds = ds2
                if thr is not None and ds.score < thr:
                    continue
                if hit[2]:
                    vals = iter([d[2] for d in ds.details if d[0] == "sortv"])
                    append((iid, doc, ds, [(it[0], it[1], next(vals)) if it[0] != "r" else it
                                           for it in hit[1]]))
                else:
                    append((iid, doc, ds, hit[1]))
        else:
            docs = [(iid,) + cdocs[iid] for iid in sorted(cand)]
    elif not any(isinstance(r, tuple) for r in rules) and not ("sort" in rules and plan["sort"]):
        # placeholder search without any sort: every document has the same
        # (empty) details; share one score object
        shared = R.placeholder_score(rules, ctx, None, svf)
        ritems = _rank_items(shared)
        thr = plan["threshold"]
        if thr is None or not (shared.score < thr):
            snap_fn = getattr(index, "snapshot", None)
            for iid, doc in (snap_fn() if snap_fn is not None else index.iter_documents()):
                if flt is not None and not flt(doc):
                    continue
                entries.append((iid, doc, shared, ritems))
        docs = ()
    if docs is None:
        docs = [(iid, doc, None) for iid, doc in index.iter_documents()]
    for iid, doc, dd in docs:
        if cand is not None and iid not in cand:
            continue
        if flt is not None and not flt(doc):
            continue
        if has_query:
            if ason is not None or off_attrs:
                fo = None
                if ason is not None:
                    fo = set(i for i, (name, _w) in enumerate(dd.fields)
                             if any(name == a or name.startswith(a + ".") for a in ason))
                toff = set(i for i, (name, _w) in enumerate(dd.fields)
                           if any(name == a or name.startswith(a + ".") for a in off_attrs))
                ctx["fields_ok"] = fo
                ctx["typo_off_fields"] = toff or None
            else:
                ctx["fields_ok"] = None
                ctx["typo_off_fields"] = None
            if rel is not None:
                occ = dd.occ
                if len(occ) < nrel:
                    key = (dd.fkey, tuple([(w, tuple(occ[w])) for w in dd.words if w in relset]))
                else:
                    key = (dd.fkey, tuple([(w, tuple(occ[w])) for w in rel if w in occ]))
                hit = memo.get(key)
                if hit is None:
                    ds = R.evaluate(query, dd, matcher, rules, strategy, svf, doc, ctx)
                    hit = memo[key] = (ds, None if ds is None else _rank_items(ds),
                                       ds is not None and any(d[0] == "sortv" for d in ds.details))
                    if ds is None:
                        continue
                else:
                    ds = hit[0]
                    if ds is None:
                        continue
                    if hit[2]:
                        ds2 = R.DocScore()
                        ds2.details = [("sortv", d[1], svf(doc, d[1])) if d[0] == "sortv" else d
                                       for d in ds.details]
                        ds2.ranks = ds.ranks
                        ds2.score = ds.score
                        ds = ds2
                if plan["threshold"] is not None and ds.score < plan["threshold"]:
                    continue
                if hit[2]:
                    vals = iter([d[2] for d in ds.details if d[0] == "sortv"])
                    items = [(it[0], it[1], next(vals)) if it[0] != "r" else it for it in hit[1]]
                else:
                    items = hit[1]
                entries.append((iid, doc, ds, items))
                continue
            ds = R.evaluate(query, dd, matcher, rules, strategy, svf, doc, ctx)
            if ds is None:
                continue
        else:
            ds = R.placeholder_score(rules, ctx, doc, svf)
        if plan["threshold"] is not None and ds.score < plan["threshold"]:
            continue
        entries.append((iid, doc, ds, _rank_items(ds)))
    if entries and entries[0][3]:
        _sort_entries(entries)
    # distinct
    distinct = plan["distinct"]
    if distinct:
        seen = set()
        kept = []
        for e in entries:
            _f, leaves, _raw = F.field_values(e[1], distinct)
            keys = set()
            for v in leaves:
                if v is None:
                    continue
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    keys.add(("n", float(v)))
                else:
                    keys.add(("s", F._facet_string(v)))
            if keys and keys & seen:
                continue
            seen |= keys
            kept.append(e)
        entries = kept
    return entries, query


# ---------------------------------------------------------------------------
# facets

def _has_nested(v):
    if isinstance(v, dict):
        return True
    if isinstance(v, list):
        return any(isinstance(x, (dict, list)) for x in v)
    return False


def facet_fields(index, facets, settings):
    """Resolve facet names/patterns to concrete field names present in the index."""
    need_all = any("*" in f for f in facets)
    leaves = []
    allnames = set()
    if need_all:
        for _iid, doc in index.iter_documents():
            for k, v in doc.items():
                if _has_nested(v):
                    for name, _l in R.flatten_doc({k: v}):
                        if name not in allnames:
                            allnames.add(name)
                            leaves.append(name)
                        parts = name.split(".")
                        for i in range(1, len(parts)):
                            allnames.add(".".join(parts[:i]))
                elif k not in allnames:
                    allnames.add(k)
                    leaves.append(k)
    out = []
    for f in facets:
        if "*" in f:
            for name in leaves:
                if F.pattern_match(f, name) and F.rule_for(settings, name) is not None and name not in out:
                    out.append(name)
        elif F.rule_for(settings, f) is not None and f not in out:
            if need_all:
                if f in allnames:
                    out.append(f)
            elif any(F.field_values(doc, f)[0] for _iid, doc in index.iter_documents()):
                out.append(f)
    return out


def facet_distribution(index, entries, facets, settings):
    fields = facet_fields(index, facets, settings)
    faceting = settings.get("faceting") or {}
    maxv = faceting.get("maxValuesPerFacet", 100)
    order_by = faceting.get("sortFacetValuesBy") or {"*": "alpha"}
    dist = {}
    stats = {}
    ncand = len(entries)
    entries = sorted(entries, key=lambda e: e[0])   # original spelling: lowest internal id
    for field in sorted(fields):
        nums = {}
        strs = {}
        display = {}
        mn = mx = None
        for e in entries:
            _f, leaves, _raw = F.field_values(e[1], field)
            seen_n = set()
            seen_s = set()
            for v in leaves:
                if v is None:
                    continue
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    fv = float(v)
                    if fv in seen_n:
                        continue
                    seen_n.add(fv)
                    nums[fv] = nums.get(fv, 0) + 1
                    mn = fv if mn is None or fv < mn else mn
                    mx = fv if mx is None or fv > mx else mx
                elif isinstance(v, (str, bool)):
                    key = F._facet_string(v)
                    if isinstance(v, str):
                        key = key.strip()
                    if key in seen_s:
                        continue
                    seen_s.add(key)
                    strs[key] = strs.get(key, 0) + 1
                    if key not in display:
                        display[key] = v if isinstance(v, str) else key
        mode = order_by.get(field, order_by.get("*", "alpha"))
        items = []
        if mode == "count":
            for fv, c in sorted(nums.items(), key=lambda kv: (-kv[1], kv[0])):
                items.append((number_text(fv), c))
            for k, c in sorted(strs.items(), key=lambda kv: (-kv[1], kv[0])):
                items.append((display[k], c))
        else:
            if ncand <= 3000:
                nitems = sorted(((number_text(fv), c) for fv, c in nums.items()), key=lambda kv: kv[0])
            else:
                nitems = [(number_text(fv), c) for fv, c in sorted(nums.items())]
            items.extend(nitems)
            for k in sorted(strs):
                items.append((display[k], strs[k]))
        d = {}
        for name, c in items[:maxv]:
            if name not in d:
                d[name] = c
        dist[field] = d
        if mn is not None:
            stats[field] = {"min": mn, "max": mx}
    return dist, stats


# ---------------------------------------------------------------------------
# formatting

def _select_fields(doc, names):
    out = {}
    for k, v in doc.items():
        if k in names:
            out[k] = v
        else:
            prefix = [n for n in names if n.startswith(k + ".")]
            if prefix and isinstance(v, (dict, list)):
                sub = _select_nested(v, [n[len(k) + 1:] for n in prefix])
                if sub is not None:
                    out[k] = sub
    return out


def _select_nested(v, names):
    if isinstance(v, dict):
        r = _select_fields(v, names)
        return r if r else None
    if isinstance(v, list):
        items = [_select_nested(x, names) for x in v]
        items = [x for x in items if x is not None]
        return items if items else None
    return None


def retrieve(doc, settings, attrs):
    disp = settings.get("displayedAttributes") or ["*"]
    base = doc if "*" in disp else _select_fields(doc, set(disp))
    if attrs is None or "*" in attrs:
        return dict(base)
    return _select_fields(base, set(attrs))


class Highlighter:
    def __init__(self, query, matcher):
        self.query = query
        self.matcher = matcher

    def match_len(self, word):
        """None if word does not match; else number of chars to highlight (-1 = whole)."""
        r = self.match_info(word)
        return None if r is None else r[0]

    def match_info(self, word):
        """(highlight length or -1 for whole word, query term index) or None."""
        best = None
        if self.query is None or word in self.query.stop_words:
            return None
        for tid, node in enumerate(self.query.terms):
            if node.phrase is not None:
                if word in node.phrase:
                    return -1, tid
                continue
            r = self.matcher.level(node, word)
            if r is not None:
                if r[1] is None:
                    return -1, tid
                if best is None or r[1] > best[0]:
                    best = (r[1], tid)
            for syn in node.synonyms:
                if word in syn:
                    return -1, tid
        return best


def best_match_interval(mpos, crop_size):
    """milli's get_best_match_index_range over (word_position, term_id) matches."""
    def score(i, j):
        uniq = len(set(t for _p, t in mpos[i:j + 1]))
        dist = 0
        order = 0
        for k in range(i, j):
            dist -= min(mpos[k + 1][0] - mpos[k][0], 7)
            if mpos[k][1] < mpos[k + 1][1]:
                order += 1
        return (uniq, dist, order)
    best = None

    def save(i, j):
        nonlocal best
        sc = score(i, j)
        if best is None or sc > best[2]:
            best = (i, j, sc)
    index_first = 0
    first_pos = mpos[0][0]
    n = len(mpos)
    for index, (pos, _t) in enumerate(mpos):
        if pos - first_pos + 1 > crop_size:
            if index != 0:
                save(index_first, index - 1)
            while True:
                if index_first == n - 1:
                    break
                index_first += 1
                first_pos = mpos[index_first][0]
                if pos < first_pos or pos - first_pos + 1 < crop_size:
                    break
    if index_first != n - 1 or crop_size > 1:
        save(index_first, n - 1)
    return (best[0], best[1]) if best else (0, 0)


def _word_spans(text):
    """[(kind, seg, char_start, char_end, byte_start, byte_len)]"""
    out = []
    c = 0
    for kind, seg, b, l in raw_tokens(text):
        out.append((kind, seg, c, c + len(seg), b, l))
        c += len(seg)
    return out


def _matches_in_text(text, hl):
    res = []
    for kind, seg, cs, ce, bs, bl in _word_spans(text):
        if kind != "w":
            continue
        m = hl.match_len(normalize(seg))
        if m is None:
            continue
        if m == -1 or m >= len(seg):
            res.append((cs, ce, bs, bl))
        else:
            sub = seg[:m]
            res.append((cs, cs + m, bs, len(sub.encode("utf-8"))))
    return res


def highlight_text(text, hl, pre, post, crop_len=None, marker="…"):
    spans = _word_spans(text)
    words = [i for i, s in enumerate(spans) if s[0] == "w"]
    matches = {}
    term_of = {}
    for i in words:
        kind, seg, cs, ce, bs, bl = spans[i]
        m = hl.match_info(normalize(seg)) if hl is not None else None
        if m is not None:
            matches[i] = m[0]
            term_of[i] = m[1]
    lo, hi = 0, len(spans)
    prefix_marker = suffix_marker = False
    if crop_len == 0:
        crop_len = None     # milli: a crop length of 0 means no crop
    if crop_len is not None:
        if not words:
            return text
        mwords = [k for k, i in enumerate(words) if i in matches]
        if not mwords:
            first, last = 0, min(len(words), crop_len) - 1
        else:
            mpos = [(k, term_of[words[k]]) for k in mwords]
            a, b = best_match_interval(mpos, crop_len)
            first_m, last_m = mpos[a][0], mpos[b][0]
            remaining = crop_len - (last_m - first_m + 1)
            # milli expands backward first: an odd extra word goes before the matches
            after = remaining // 2
            before = remaining - after
            first = first_m - before
            last = last_m + after
            if first < 0:
                last += -first
                first = 0
            if last > len(words) - 1:
                first -= last - (len(words) - 1)
                last = len(words) - 1
                first = max(0, first)
        lo = words[first]
        hi = words[last] + 1
        prefix_marker = first > 0
        suffix_marker = last < len(words) - 1
    out = []
    for i in range(lo, hi):
        kind, seg, cs, ce, bs, bl = spans[i]
        if i in matches and pre is not None:
            m = matches[i]
            if m == -1 or m >= len(seg):
                out.append(pre + seg + post)
            else:
                out.append(pre + seg[:m] + post + seg[m:])
        else:
            out.append(seg)
    s = "".join(out)
    if prefix_marker:
        s = marker + s
    if suffix_marker:
        s = s + marker
    return s


def _attr_selected(name, patterns):
    for p in patterns:
        if p == "*" or p == name or name.startswith(p + ".") or (p.endswith("*") and name.startswith(p[:-1])):
            return True
    return False


def format_value(v, path, hl, hl_attrs, crop_attrs, pre, post, crop_default, marker):
    if isinstance(v, dict):
        return {k: format_value(x, path + "." + k if path else k, hl, hl_attrs, crop_attrs, pre, post,
                                crop_default, marker) for k, x in v.items()}
    if isinstance(v, list):
        return [format_value(x, path, hl, hl_attrs, crop_attrs, pre, post, crop_default, marker) for x in v]
    if v is None or isinstance(v, bool):
        return v
    text = value_to_text(v)
    do_hl = _attr_selected(path, hl_attrs)
    crop = None
    for c in crop_attrs:
        name, _, n = c.partition(":")
        if _attr_selected(path, [name]):
            crop = int(n) if n.isdigit() else crop_default
    if not do_hl and crop is None:
        return text if not isinstance(v, str) else v
    return highlight_text(text, hl, pre if do_hl else None, post, crop, marker)


def matches_position(doc, settings, hl):
    out = {}
    disp = displayed_fn(settings)
    for name, leaves in R.flatten_doc(doc):
        if not disp(name):
            continue
        res = []
        multi = len(leaves) > 1 or isinstance(_top(doc, name), list)
        for idx, leaf in enumerate(leaves):
            text = value_to_text(leaf)
            if text is None:
                continue
            for cs, ce, bs, bl in _matches_in_text(text, hl):
                item = {"start": bs, "length": bl}
                if multi:
                    item["indices"] = [idx]
                res.append(item)
        if res:
            out[name] = res
    return out


def _top(doc, name):
    return doc.get(name.split(".")[0])


# ---------------------------------------------------------------------------
# response

def pagination(params, maxhits):
    page_mode = params.get("page") is not None or params.get("hitsPerPage") is not None
    if page_mode:
        hpp = params.get("hitsPerPage")
        hpp = 20 if hpp is None else hpp
        page = params.get("page")
        page = 1 if page is None else page
        if page == 0:
            return True, 0, 0, page, hpp
        return True, (page - 1) * hpp, hpp, page, hpp
    return False, params.get("offset") or 0, 20 if params.get("limit") is None else params["limit"], None, None


def build_hit(index, e, params, query, plan, matcher):
    settings = index.settings
    iid, doc, ds = e[0], e[1], e[2]
    attrs = params.get("attributesToRetrieve")
    hit = retrieve(doc, settings, attrs)
    hl_attrs = params.get("attributesToHighlight") or []
    crop_attrs = params.get("attributesToCrop") or []
    disp = displayed_fn(settings)
    hl = Highlighter(query if query is not None and query.n else None, matcher)
    if hl_attrs or crop_attrs:
        displayed_doc = retrieve(doc, settings, None)
        fmt_src = dict(hit)
        # highlight/crop may target displayed attributes not retrieved
        for k, v in displayed_doc.items():
            if k not in fmt_src and (_attr_selected(k, hl_attrs) or any(_attr_selected(k, [c.partition(":")[0]]) for c in crop_attrs)):
                fmt_src[k] = v
        selects = any(_attr_selected(name, hl_attrs) or any(_attr_selected(name, [c.partition(":")[0]]) for c in crop_attrs)
                      for name, _l in R.flatten_doc(displayed_doc))
        if selects:
            pre = params.get("highlightPreTag", "<em>")
            post = params.get("highlightPostTag", "</em>")
            cl = params.get("cropLength", 10)
            marker = params.get("cropMarker", "…")
            formatted = {}
            for k, v in fmt_src.items():
                formatted[k] = format_value(v, k, hl, hl_attrs, crop_attrs, pre, post, cl, marker)
            hit["_formatted"] = formatted
    if not params.get("retrieveVectors"):
        hit.pop("_vectors", None)
    for d in ds.details:
        if d[0] == "sortv" and d[1][0] == "geo":
            if d[2][1] is not None:
                hit["_geoDistance"] = int(round(d[2][1]))
            break
    if params.get("showMatchesPosition"):
        hit["_matchesPosition"] = matches_position(doc, settings, hl) if hl.query else {}
    if params.get("showRankingScore"):
        hit["_rankingScore"] = ds.score
    if params.get("showRankingScoreDetails"):
        hit["_rankingScoreDetails"] = R.details_json(ds, disp)
    return hit


def search_index(index, params, extra_filters=()):
    """Full single-index search on validated params."""
    t0 = time.time()
    plan = prepare(index, params, extra_filters)
    entries, query = run(index, plan)
    settings = index.settings
    maxhits = (settings.get("pagination") or {}).get("maxTotalHits", 1000)
    page_mode, off, lim, page, hpp = pagination(params, maxhits)
    total = len(entries)
    a = min(off, maxhits)
    b = min(off + lim, maxhits)
    window = entries[a:b] if b > a else []
    matcher = R.Matcher(query, settings) if query.n else None
    hits = [build_hit(index, e, params, query, plan, matcher) for e in window]
    resp = {"hits": hits, "query": plan["q"], "processingTimeMs": int((time.time() - t0) * 1000)}
    if page_mode:
        resp["hitsPerPage"] = hpp
        resp["page"] = page
        resp["totalPages"] = (total + hpp - 1) // hpp if hpp else 0
        resp["totalHits"] = total
    else:
        resp["limit"] = lim
        resp["offset"] = off
        resp["estimatedTotalHits"] = total
    if plan["facets"] is not None:
        dist, stats = facet_distribution(index, entries, plan["facets"], settings)
        resp["facetDistribution"] = dist
        resp["facetStats"] = stats
    resp["requestUid"] = str(uuid.uuid4())
    return resp
