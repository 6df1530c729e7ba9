"""Search engine of the Meilisearch emulator (standard library only).

Public interface used by the HTTP layer:
  search_post(index, body, extra_filters=()) -> dict
  search_get(index, query, extra_filters=()) -> dict
  multi_search(body, resolve_index, extra_filters_for) -> dict
  facet_search(index, body, extra_filters=()) -> dict
  compile_filter(index, filter_value, context) -> callable(doc) -> bool
  sort_documents(index, pairs, sort_value) -> list
"""

import functools
import time
import uuid

from ..errors import MeiliError
from . import engine as E
from . import filters as F
from . import ranking as R
from .multi import multi_search  # noqa: F401
from .text import normalize, normalize_facet, prefix_levenshtein

__all__ = ["search_post", "search_get", "multi_search", "facet_search", "compile_filter",
           "sort_documents", "document_sort_values", "configure"]


def configure(features=None):
    """Give the engine the emulator's experimental-features dict (kept by reference),
    e.g. `configure(features=state.features)`; `containsFilter` enables CONTAINS/STARTS WITH."""
    if features is not None:
        F.FEATURES = features


def search_post(index, body, extra_filters=()):
    if body is None:
        body = {}
    params = E.validate_post(body)
    return E.search_index(index, params, extra_filters)


def search_get(index, query, extra_filters=()):
    params = E.validate_get(query or {})
    return E.search_index(index, params, extra_filters)


def compile_filter(index, filter_value, context="search"):
    if context == "delete" and (filter_value is None or filter_value == "" or filter_value == []
                                or (isinstance(filter_value, str) and not filter_value.strip())):
        raise MeiliError("invalid_document_filter", "Sending an empty filter is forbidden.")
    return F.compile_filter(index, filter_value, context)


def sort_documents(index, pairs, sort_value):
    """Order (internal_id, doc) pairs by a documents-fetch `sort`."""
    if sort_value is None:
        return list(pairs)
    if isinstance(sort_value, str):
        sort_value = [s for s in sort_value.split(",") if s.strip()]
    crits = E.parse_sort(index, sort_value, code="invalid_document_sort", context="documents")

    def cmp(a, b):
        for crit in crits:
            va, vb = E.sort_value(a[1], crit), E.sort_value(b[1], crit)
            if crit[0] == "geo":
                c = E._cmp_geo(crit[2], va, vb)
            else:
                c = E.compare_sort_values(crit[2], va, vb)
            if c:
                return c
        return -1 if a[0] < b[0] else (1 if a[0] > b[0] else 0)
    return sorted(pairs, key=functools.cmp_to_key(cmp))


def document_sort_values(index, doc, sort_value):
    """`_federation.weightedScoreValues` of a fetched document (proxy mode):
    one `sort`/`geoSort` entry per `sort` criterion."""
    if isinstance(sort_value, str):
        sort_value = [s for s in sort_value.split(",") if s.strip()]
    crits = E.parse_sort(index, sort_value or [], code="invalid_document_sort", context="documents")
    out = []
    for crit in crits:
        v = E.sort_value(doc, crit)
        if crit[0] == "geo":
            out.append({"geoSort": {"asc": crit[2], "distance": v[1]}})
        else:
            out.append({"sort": {"asc": crit[2], "value": v}})
    return out


FACET_SEARCH_KEYS = ["facetName", "facetQuery", "q", "filter", "matchingStrategy", "attributesToSearchOn",
                     "rankingScoreThreshold", "locales", "hybrid", "vector", "media",
                     "exhaustiveFacetCount", "useNetwork"]


def facet_search(index, body, extra_filters=()):
    t0 = time.time()
    if not isinstance(body, dict):
        raise MeiliError("bad_request", "Invalid value type: expected an object")
    if "facetName" not in body:
        raise MeiliError("missing_facet_search_facet_name", "Missing field `facetName`")
    name = body.get("facetName")
    if not isinstance(name, str):
        raise E.type_error("invalid_facet_search_facet_name", ".facetName", "a string", name)
    fq = body.get("facetQuery")
    if fq is not None and not isinstance(fq, str):
        raise E.type_error("invalid_facet_search_query", ".facetQuery", "a string", fq)
    ex = body.get("exhaustiveFacetCount")
    if ex is not None and not isinstance(ex, bool):
        raise E.type_error("invalid_facet_search_exhaustive_facet_count", ".exhaustiveFacetCount",
                           "a boolean", ex)
    sub = {k: v for k, v in body.items() if k in ("q", "filter", "matchingStrategy",
                                                  "attributesToSearchOn", "rankingScoreThreshold",
                                                  "locales", "hybrid", "vector", "media", "useNetwork")}
    params = E.validate_post(sub)
    settings = index.settings
    if settings.get("facetSearch") is False:
        raise MeiliError("facet_search_disabled",
                         "The facet search is disabled for this index. To enable it, set the `facetSearch` setting to `true`.")
    feats = F.rule_for(settings, name)
    if feats is None or not feats.get("facetSearch"):
        pats = []
        for patterns, fts in F.filterable_rules(settings):
            if fts.get("facetSearch"):
                pats.extend(patterns)
        pats = sorted(set(pats))
        if pats:
            msg = ("Attribute `%s` is not facet-searchable. Available facet-searchable attributes patterns are: `%s`. "
                   "To make it facet-searchable add it to the `filterableAttributes` index settings." % (name, ", ".join(pats)))
        else:
            msg = ("Attribute `%s` is not facet-searchable. This index does not have configured facet-searchable attributes. "
                   "To make it facet-searchable add it to the `filterableAttributes` index settings." % name)
        raise MeiliError("invalid_facet_search_facet_name", msg)
    plan = E.prepare(index, params, extra_filters)
    entries, _query = E.run(index, plan)
    counts = {}
    display = {}
    for e in sorted(entries, key=lambda e: e[0]):
        _f, leaves, _raw = F.field_values(e[1], name)
        seen = set()
        for v in leaves:
            if isinstance(v, bool):
                key = "true" if v else "false"
            elif isinstance(v, str):
                key = normalize_facet(v).strip()
            else:
                continue
            if key in seen:
                continue
            seen.add(key)
            counts[key] = counts.get(key, 0) + 1
            display.setdefault(key, v if isinstance(v, str) else key)
    if fq:
        qn = normalize(fq.strip()).split()
        qn = qn[0] if qn else ""
        typo = settings.get("typoTolerance") or {}
        maxt = R.typos_allowed(qn, typo) if qn else 0
        keep = {}
        for key, c in counts.items():
            kn = normalize(key)
            if kn.startswith(qn):
                keep[key] = c
            elif maxt and kn and qn and kn[0] == qn[0] and prefix_levenshtein(qn, kn, maxt) <= maxt:
                keep[key] = c
        counts = keep
    faceting = settings.get("faceting") or {}
    maxv = faceting.get("maxValuesPerFacet", 100)
    order_by = faceting.get("sortFacetValuesBy") or {"*": "alpha"}
    mode = order_by.get(name, order_by.get("*", "alpha"))
    if mode == "count":
        items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    else:
        items = sorted(counts.items())
    hits = [{"value": display[k], "count": c} for k, c in items[:maxv]]
    return {"facetHits": hits, "facetQuery": fq, "processingTimeMs": int((time.time() - t0) * 1000)}
