"""Multi-search and federated search."""

import functools
import time
import uuid

from ..errors import MeiliError
from ..util import type_error, unknown_field, kind as vkind
from . import engine as E
from . import ranking as R

QUERY_KEYS = ["indexUid"] + E.POST_KEYS + ["federationOptions"]
FED_KEYS = ["offset", "limit", "page", "hitsPerPage", "facetsByIndex", "mergeFacets", "distinct",
            "showPerformanceDetails", "personalize"]


def _prefixed(err, i):
    if isinstance(err, MeiliError) and not err.message.startswith("Inside `.queries"):
        status = err.status
        if err.code == "index_not_found":
            status = 400
        e = MeiliError(err.code, "Inside `.queries[%d]`: %s" % (i, err.message), status=status, type=err.type)
        return e
    return err


def multi_search(body, resolve_index, extra_filters_for, proxy=False):
    """POST /multi-search. `proxy=True` answers as a shard for a remote merger
    (request header `Meili-Proxy-Search: true`, federated requests only): each
    hit's `_federation` then carries `weightedScoreValues` (and `extra_document`)."""
    t0 = time.time()
    if not isinstance(body, dict):
        raise MeiliError("bad_request", "Invalid value type: expected an object, but found %s" % vkind(body))
    for k in body:
        if k not in ("queries", "federation"):
            raise unknown_field(k, ["queries", "federation"])
    if "queries" not in body:
        raise MeiliError("bad_request", "Missing field `queries`")
    queries = body["queries"]
    if not isinstance(queries, list):
        raise type_error("bad_request", ".queries", "an array", queries)
    federation = body.get("federation")
    federated = "federation" in body and federation is not None
    if federated and not isinstance(federation, dict):
        raise type_error("invalid_multi_search_federation", ".federation", "an object", federation)
    parsed = []
    for i, q in enumerate(queries):
        path = ".queries[%d]" % i
        if not isinstance(q, dict):
            raise type_error("bad_request", path, "an object", q)
        for k in q:
            if k not in QUERY_KEYS:
                raise unknown_field(k, QUERY_KEYS)
        params = E.validate_post({k: v for k, v in q.items() if k not in ("indexUid", "federationOptions")},
                                 path_prefix=path)
        if "indexUid" not in q:
            raise MeiliError("missing_index_uid", "Missing field `indexUid` inside `%s`" % path)
        uid = q["indexUid"]
        if not isinstance(uid, str):
            raise type_error("invalid_index_uid", path + ".indexUid", "a string", uid)
        fo = q.get("federationOptions")
        weight = 1.0
        if fo is not None:
            if not isinstance(fo, dict):
                raise type_error("invalid_multi_search_federation_options", path + ".federationOptions",
                                 "an object", fo)
            for k in fo:
                if k not in ("weight", "remote", "queryPosition"):
                    raise unknown_field(k, ["weight", "remote", "queryPosition"],
                                        code="invalid_multi_search_federation_options")
            if "weight" in fo:
                w = fo["weight"]
                if isinstance(w, bool) or not isinstance(w, (int, float)):
                    raise type_error("invalid_multi_search_weight", path + ".federationOptions.weight",
                                     "a number", w)
                if w < 0:
                    raise MeiliError("invalid_multi_search_weight",
                                     "Invalid value at `%s.federationOptions.weight`: the value of `weight` is invalid, expected a positive float (>= 0.0)." % path)
                weight = float(w)
        parsed.append((uid, params, weight, fo, q))
    if not federated:
        results = []
        for i, (uid, params, weight, fo, q) in enumerate(parsed):
            if fo is not None:
                raise MeiliError("invalid_multi_search_federation_options",
                                 "Inside `.queries[%d]`: Using `federationOptions` is not allowed in a non-federated search.\n - Hint: remove `federationOptions` from query #%d or add `federation` to the request." % (i, i))
            try:
                index = resolve_index(uid)
                res = E.search_index(index, params, extra_filters_for(uid) or ())
            except MeiliError as e:
                raise _prefixed(e, i)
            out = {"indexUid": uid}
            out.update(res)
            results.append(out)
        return {"results": results}
    return _federated(federation, parsed, resolve_index, extra_filters_for, t0, proxy)


def _validate_federation(fed):
    for k, v in fed.items():
        if k not in FED_KEYS:
            raise unknown_field(k, FED_KEYS)
        path = ".federation.%s" % k
        if k in ("offset", "limit"):
            if not E._is_uint(v):
                raise type_error("invalid_search_%s" % k, path, "a positive integer", v)
        elif k in ("page", "hitsPerPage"):
            if v is not None and not E._is_uint(v):
                raise type_error("invalid_search_page" if k == "page" else "invalid_search_hits_per_page",
                                 path, "a positive integer", v)
        elif k == "facetsByIndex":
            if v is not None and not isinstance(v, dict):
                raise type_error("invalid_multi_search_facets_by_index", path, "an object", v)
        elif k == "mergeFacets":
            if v is not None and not isinstance(v, dict):
                raise type_error("invalid_multi_search_merge_facets", path, "an object", v)
        elif k == "distinct":
            if v is not None and not isinstance(v, str):
                raise type_error("invalid_multi_search_distinct", path, "a string", v)


def _cmp_values(a, b):
    """Compare two weighted-score-value lists (§9.4). -1 when a ranks first."""
    for x, y in zip(a[0], b[0]):
        if x[0] == "score" and y[0] == "score":
            if abs(x[1] - y[1]) > 2.220446049250313e-16:
                return -1 if x[1] > y[1] else 1
            continue
        if x[0] == "sort" and y[0] == "sort" and x[1] == y[1]:
            c = E.compare_sort_values(x[1], _sv(x[2]), _sv(y[2]))
            if c:
                return c
            continue
        if x[0] == "geo" and y[0] == "geo" and x[1] == y[1]:
            c = E._cmp_geo(x[1], (None, x[2]), (None, y[2]))
            if c:
                return c
            continue
        # incomparable
        ra, rb = len(a[0]), len(b[0])
        if ra != rb:
            return -1 if ra > rb else 1
        if a[1] != b[1]:
            return -1 if a[1] > b[1] else 1
        return 0
    la, lb = len(a[0]), len(b[0])
    if la != lb:
        return -1 if la > lb else 1
    return 0


def _sv(v):
    return v


def serialize_score_values(wsv):
    out = []
    for item in wsv:
        if item[0] == "score":
            out.append({"weightedScore": item[1]})
        elif item[0] == "sort":
            out.append({"sort": {"asc": item[1], "value": item[2]}})
        else:
            out.append({"geoSort": {"asc": item[1], "distance": item[2]}})
    return out


def _extra_document(doc, fields):
    from . import filters as F
    out = {}
    for f in fields:
        found, _leaves, raw = F.field_values(doc, f)
        if found:
            out[f] = raw[0] if len(raw) == 1 else raw
    return out


def _federated(fed, parsed, resolve_index, extra_filters_for, t0, proxy=False):
    _validate_federation(fed)
    for i, (uid, params, weight, fo, q) in enumerate(parsed):
        for k in ("offset", "limit", "page", "hitsPerPage"):
            if k in q:
                raise MeiliError("invalid_multi_search_query_pagination",
                                 "Inside `.queries[%d]`: Using pagination options is not allowed in federated queries.\n - Hint: remove `%s` from the query or remove `federation` from the request\n - Hint: pass `federation.limit` and `federation.offset` for pagination in federated search" % (i, k))
        if "facets" in q:
            raise MeiliError("invalid_multi_search_query_facets",
                             "Inside `.queries[%d]`: Using facet options is not allowed in federated queries.\n - Hint: remove `facets` from query #%d or remove `federation` from the request\n - Hint: pass `federation.facetsByIndex.%s: %s` for facets in federated search"
                             % (i, i, uid, _json(q["facets"])))
        if fed.get("distinct") is not None and "distinct" in q:
            raise MeiliError("invalid_multi_search_query_distinct",
                             "Inside `.queries[%d]`: Using `distinct` is not allowed in federated queries when `federation.distinct` is set." % i)
    page_mode, off, lim, page, hpp = E.pagination(fed, None)
    required = off + lim
    indexes = {}
    merged = []
    per_index_candidates = {}
    for i, (uid, params, weight, fo, q) in enumerate(parsed):
        try:
            index = resolve_index(uid)
            indexes[uid] = index
            plan = E.prepare(index, params, extra_filters_for(uid) or ())
            entries, query = E.run(index, plan)
        except MeiliError as e:
            raise _prefixed(e, i)
        pos = i
        if fo and isinstance(fo.get("queryPosition"), int):
            pos = fo["queryPosition"]
        cands = per_index_candidates.setdefault(uid, {})
        for e in entries:
            cands.setdefault(e[0], e[1])
        maxhits = (index.settings.get("pagination") or {}).get("maxTotalHits", 1000)
        for e in entries[:min(required, maxhits)]:
            wsv = R.weighted_score_values(e[2], weight)
            merged.append(((wsv, e[2].score * weight), pos, uid, e, params, query, weight, i))
    merged.sort(key=functools.cmp_to_key(
        lambda a, b: _cmp_values(a[0], b[0]) or (a[1] > b[1]) - (a[1] < b[1])))
    # dedup per index
    seen = set()
    final = []
    for m in merged:
        key = (m[2], m[3][0])
        if key in seen:
            continue
        seen.add(key)
        final.append(m)
    total = sum(len(c) for c in per_index_candidates.values())
    distinct = fed.get("distinct")
    if distinct:
        from . import filters as F
        dseen = set()
        kept = []
        for m in final:
            _f, leaves, _raw = F.field_values(m[3][1], distinct)
            keys = set()
            for v in leaves:
                if v is None:
                    continue
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    keys.add(("n", float(v)))
                else:
                    keys.add(("s", F._facet_string(v)))
            if keys and keys & dseen:
                total -= 1
                continue
            dseen |= keys
            kept.append(m)
        final = kept
    window = final[off:off + lim]
    hits = []
    for m in window:
        (wsv, wscore), pos, uid, e, params, query, weight, qi = m
        index = indexes[uid]
        matcher = R.Matcher(query, index.settings) if query.n else None
        hit = E.build_hit(index, e, params, query, None, matcher)
        fedinfo = {"indexUid": uid, "queriesPosition": pos, "weightedRankingScore": wscore}
        if proxy:
            fedinfo["weightedScoreValues"] = serialize_score_values(wsv)
            extra_fields = []
            if fed.get("distinct"):
                extra_fields.append(fed["distinct"])
            fbi_fields = (fed.get("facetsByIndex") or {}).get(uid) or []
            if fbi_fields:
                extra_fields.extend(E.facet_fields(index, fbi_fields, index.settings))
            if extra_fields:
                fedinfo["extra_document"] = _extra_document(e[1], extra_fields)
        hit["_federation"] = fedinfo
        hits.append(hit)
    resp = {"hits": hits, "processingTimeMs": int((time.time() - t0) * 1000)}
    if page_mode:
        resp["hitsPerPage"] = hpp
        resp["page"] = page
        resp["totalPages"] = (total + hpp - 1) // hpp if hpp else 0
        resp["totalHits"] = total
    else:
        resp["limit"] = lim
        resp["offset"] = off
        resp["estimatedTotalHits"] = total
    fbi = fed.get("facetsByIndex")
    if fbi:
        out = {}
        for uid, facets in fbi.items():
            index = indexes.get(uid)
            if index is None:
                try:
                    index = resolve_index(uid)
                except MeiliError as e:
                    raise MeiliError(e.code, "Inside `.federation.facetsByIndex.%s`: %s" % (uid, e.message),
                                     status=400, type=e.type)
                indexes[uid] = index
            if facets is None:
                facets = []
            if not isinstance(facets, list) or not all(isinstance(x, str) for x in facets):
                raise type_error("invalid_multi_search_facets_by_index",
                                 ".federation.facetsByIndex.%s" % uid, "an array", facets)
            E.validate_facets(index.settings, facets, code="invalid_multi_search_facets",
                              prefix="Inside `.federation.facetsByIndex.%s`: " % uid)
            cands = per_index_candidates.get(uid, {})
            entries = [(iid, doc, None, None) for iid, doc in sorted(cands.items())]
            dist, stats = E.facet_distribution(index, entries, facets, index.settings) if facets else ({}, {})
            out[uid] = {"distribution": dist, "stats": stats}
        merge = fed.get("mergeFacets")
        if merge is not None:
            dist_all = {}
            stats_all = {}
            for uid, v in out.items():
                for f, vals in v["distribution"].items():
                    d = dist_all.setdefault(f, {})
                    for val, c in vals.items():
                        d[val] = d.get(val, 0) + c
                for f, st in v["stats"].items():
                    s = stats_all.setdefault(f, {"min": st["min"], "max": st["max"]})
                    s["min"] = min(s["min"], st["min"])
                    s["max"] = max(s["max"], st["max"])
            maxv = merge.get("maxValuesPerFacet")
            orders = {}
            for uid in out:
                ob = ((indexes[uid].settings.get("faceting") or {}).get("sortFacetValuesBy")
                      or {"*": "alpha"})
                for f in out[uid]["distribution"]:
                    mode = ob.get(f, ob.get("*", "alpha"))
                    if orders.setdefault(f, (mode, uid))[0] != mode:
                        prev_uid = orders[f][1]
                        raise MeiliError("invalid_multi_search_facet_order",
                                         "Inside `.federation.facetsByIndex.%s`: Inconsistent order for values in facet `%s`: index `%s` orders values by `%s` but index `%s` orders values by `%s`.\n - Hint: Remove `federation.mergeFacets` or change `faceting.sortFacetValuesBy` to be consistent in settings."
                                         % (uid, f, prev_uid, orders[f][0], uid, mode))
            for f in list(dist_all):
                if orders.get(f, ("alpha",))[0] == "count":
                    items = sorted(dist_all[f].items(), key=lambda kv: (-kv[1], kv[0]))
                else:
                    items = sorted(dist_all[f].items())
                if maxv is not None:
                    items = items[:maxv]
                dist_all[f] = dict(items)
            resp["facetDistribution"] = dist_all
            resp["facetStats"] = stats_all
        else:
            resp["facetsByIndex"] = out
    resp["requestUid"] = str(uuid.uuid4())
    return resp


def _json(v):
    import json
    return json.dumps(v, ensure_ascii=False)
