"""Index settings: Meilisearch 1.50 defaults, validation, application."""

import copy
import re

from .errors import MeiliError
from .util import type_error, value_error, unknown_field, expect_str_list

DEFAULT_RANKING_RULES = ["words", "typo", "proximity", "attributeRank", "sort",
                         "wordPosition", "exactness"]

DEFAULTS = {
    "displayedAttributes": ["*"],
    "searchableAttributes": ["*"],
    "filterableAttributes": [],
    "sortableAttributes": [],
    "rankingRules": DEFAULT_RANKING_RULES,
    "stopWords": [],
    "nonSeparatorTokens": [],
    "separatorTokens": [],
    "dictionary": [],
    "synonyms": {},
    "distinctAttribute": None,
    "proximityPrecision": "byWord",
    "typoTolerance": {"enabled": True,
                      "minWordSizeForTypos": {"oneTypo": 5, "twoTypos": 9},
                      "disableOnWords": [], "disableOnAttributes": [],
                      "disableOnNumbers": False},
    "faceting": {"maxValuesPerFacet": 100, "sortFacetValuesBy": {"*": "alpha"}},
    "pagination": {"maxTotalHits": 1000},
    "embedders": {},
    "searchCutoffMs": None,
    "localizedAttributes": None,
    "facetSearch": True,
    "prefixSearch": "indexingTime",
}

# Order of the fields in Meilisearch's Settings struct (unknown-field message).
ACCEPTED = ["displayedAttributes", "searchableAttributes", "filterableAttributes",
            "sortableAttributes", "foreignKeys", "rankingRules", "stopWords",
            "nonSeparatorTokens", "separatorTokens", "dictionary", "synonyms",
            "distinctAttribute", "proximityPrecision", "typoTolerance", "faceting",
            "pagination", "embedders", "searchCutoffMs", "localizedAttributes",
            "facetSearch", "prefixSearch", "chat"]

# kebab-case sub-route -> (camelCase key, update verb)
SUBROUTES = {
    "displayed-attributes": ("displayedAttributes", "PUT"),
    "searchable-attributes": ("searchableAttributes", "PUT"),
    "filterable-attributes": ("filterableAttributes", "PUT"),
    "sortable-attributes": ("sortableAttributes", "PUT"),
    "ranking-rules": ("rankingRules", "PUT"),
    "stop-words": ("stopWords", "PUT"),
    "synonyms": ("synonyms", "PUT"),
    "distinct-attribute": ("distinctAttribute", "PUT"),
    "typo-tolerance": ("typoTolerance", "PATCH"),
    "faceting": ("faceting", "PATCH"),
    "pagination": ("pagination", "PATCH"),
    "proximity-precision": ("proximityPrecision", "PUT"),
    "search-cutoff-ms": ("searchCutoffMs", "PUT"),
    "localized-attributes": ("localizedAttributes", "PUT"),
    "dictionary": ("dictionary", "PUT"),
    "separator-tokens": ("separatorTokens", "PUT"),
    "non-separator-tokens": ("nonSeparatorTokens", "PUT"),
    "embedders": ("embedders", "PATCH"),
    "facet-search": ("facetSearch", "PUT"),
    "prefix-search": ("prefixSearch", "PUT"),
}

SNAKE = {k: re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), k) for k in ACCEPTED}

RANKING_BUILTINS = {"words", "typo", "proximity", "attribute", "attributeRank",
                    "wordPosition", "sort", "exactness"}


def defaults():
    return copy.deepcopy(DEFAULTS)


def _code(key):
    return "invalid_settings_" + SNAKE[key]


def _path(key, root):
    return "" if root else "." + key


def _set_list(code, path, v):
    expect_str_list(code, path, v)
    return sorted(set(v))


def _attr_list(code, path, v):
    expect_str_list(code, path, v)
    if "*" in v:
        return ["*"]
    out = []
    for a in v:
        if a not in out:
            out.append(a)
    return out


def _check_keys(code, path, obj, accepted):
    for k in obj:
        if k not in accepted:
            raise MeiliError(code, "Unknown field `%s`%s: expected one of %s"
                             % (k, (" inside `%s`" % path) if path else "",
                                ", ".join("`%s`" % a for a in accepted)))


def _filterable(code, path, v):
    if not isinstance(v, list):
        raise type_error(code, path, "an array", v)
    out = []
    for i, item in enumerate(v):
        p = "%s[%d]" % (path, i)
        if isinstance(item, str):
            out.append(item)
            continue
        if not isinstance(item, dict):
            raise type_error(code, p, "a string or an object", item)
        _check_keys(code, p, item, ["attributePatterns", "features"])
        if "attributePatterns" not in item:
            raise MeiliError(code, "Missing field `attributePatterns` inside `%s`" % p)
        expect_str_list(code, p + ".attributePatterns", item["attributePatterns"])
        feats = item.get("features")
        f = {"facetSearch": False, "filter": {"equality": True, "comparison": False}}
        if feats is not None:
            if not isinstance(feats, dict):
                raise type_error(code, p + ".features", "an object", feats)
            _check_keys(code, p + ".features", feats, ["facetSearch", "filter"])
            if "facetSearch" in feats:
                if not isinstance(feats["facetSearch"], bool):
                    raise type_error(code, p + ".features.facetSearch", "a boolean", feats["facetSearch"])
                f["facetSearch"] = feats["facetSearch"]
            if "filter" in feats:
                fl = feats["filter"]
                if not isinstance(fl, dict):
                    raise type_error(code, p + ".features.filter", "an object", fl)
                _check_keys(code, p + ".features.filter", fl, ["equality", "comparison"])
                for kk in ("equality", "comparison"):
                    if kk in fl:
                        if not isinstance(fl[kk], bool):
                            raise type_error(code, "%s.features.filter.%s" % (p, kk), "a boolean", fl[kk])
                        f["filter"][kk] = fl[kk]
        out.append({"attributePatterns": list(item["attributePatterns"]), "features": f})
    return out


def _ranking(code, path, v):
    if not isinstance(v, list):
        raise type_error(code, path, "an array", v)
    out = []
    for i, r in enumerate(v):
        p = "%s[%d]" % (path, i)
        if not isinstance(r, str):
            raise type_error(code, p, "a string", r)
        ok = r in RANKING_BUILTINS or re.fullmatch(r".+:(asc|desc)", r)
        if not ok:
            raise value_error(code, p, "`%s` ranking rule is invalid. Valid ranking rules are words, "
                              "typo, sort, proximity, attribute, exactness and custom ranking rules." % r)
        if r not in out:
            out.append(r)
    if "attribute" in out and ("attributeRank" in out or "wordPosition" in out):
        raise value_error(code, path, "`attribute` ranking rule cannot be used together with "
                          "`attributeRank` or `wordPosition` ranking rules.")
    return out


def _synonyms(code, path, v):
    if not isinstance(v, dict):
        raise type_error(code, path, "an object", v)
    out = {}
    for k in sorted(v):
        expect_str_list(code, "%s.%s" % (path, k), v[k])
        vals = []
        for s in v[k]:
            if s not in vals:
                vals.append(s)
        out[k] = vals
    return out


def _enum(code, path, v, allowed):
    if not isinstance(v, str):
        raise type_error(code, path, "a string", v)
    if v not in allowed:
        raise MeiliError(code, "Unknown value `%s`%s: expected one of %s"
                         % (v, (" at `%s`" % path) if path else "",
                            ", ".join("`%s`" % a for a in allowed)))
    return v


def _typo(code, path, v):
    if not isinstance(v, dict):
        raise type_error(code, path, "an object", v)
    accepted = ["enabled", "minWordSizeForTypos", "disableOnWords", "disableOnAttributes",
                "disableOnNumbers"]
    _check_keys(code, path, v, accepted)
    out = {}
    for k, val in v.items():
        p = "%s.%s" % (path, k)
        if val is None:
            out[k] = None
            continue
        if k in ("enabled", "disableOnNumbers"):
            if not isinstance(val, bool):
                raise type_error(code, p, "a boolean", val)
            out[k] = val
        elif k == "minWordSizeForTypos":
            if not isinstance(val, dict):
                raise type_error(code, p, "an object", val)
            _check_keys(code, p, val, ["oneTypo", "twoTypos"])
            m = {}
            for kk, vv in val.items():
                if vv is None:
                    m[kk] = None
                    continue
                if not (isinstance(vv, int) and not isinstance(vv, bool) and 0 <= vv <= 255):
                    raise type_error(code, "%s.%s" % (p, kk), "a positive integer", vv)
                m[kk] = vv
            out[k] = m
        else:
            out[k] = _set_list(code, p, val)
    return out


def _faceting(code, path, v):
    if not isinstance(v, dict):
        raise type_error(code, path, "an object", v)
    _check_keys(code, path, v, ["maxValuesPerFacet", "sortFacetValuesBy"])
    out = {}
    if "maxValuesPerFacet" in v:
        m = v["maxValuesPerFacet"]
        if m is not None and not (isinstance(m, int) and not isinstance(m, bool) and m >= 0):
            raise type_error(code, path + ".maxValuesPerFacet", "a positive integer", m)
        out["maxValuesPerFacet"] = m
    if "sortFacetValuesBy" in v:
        s = v["sortFacetValuesBy"]
        if s is not None:
            if not isinstance(s, dict):
                raise type_error(code, path + ".sortFacetValuesBy", "an object", s)
            for k, val in s.items():
                _enum(code, "%s.sortFacetValuesBy.%s" % (path, k), val, ["alpha", "count"])
        out["sortFacetValuesBy"] = s
    return out


def _pagination(code, path, v):
    if not isinstance(v, dict):
        raise type_error(code, path, "an object", v)
    _check_keys(code, path, v, ["maxTotalHits"])
    out = {}
    if "maxTotalHits" in v:
        m = v["maxTotalHits"]
        if m is not None:
            if not (isinstance(m, int) and not isinstance(m, bool)) or m < 0:
                raise type_error(code, path + ".maxTotalHits", "a positive integer", m)
            if m == 0:
                raise value_error(code, path + ".maxTotalHits",
                                  "a non-zero integer value lower than `18446744073709551615` was expected, but found a zero")
        out["maxTotalHits"] = m
    return out


def validate_value(key, v, root=False):
    """Validate one settings value (not null). Returns the normalized value."""
    code = _code(key)
    path = _path(key, root)
    if key in ("displayedAttributes", "searchableAttributes"):
        return _attr_list(code, path, v)
    if key == "filterableAttributes":
        return _filterable(code, path, v)
    if key in ("sortableAttributes", "stopWords", "nonSeparatorTokens", "separatorTokens", "dictionary"):
        return _set_list(code, path, v)
    if key == "rankingRules":
        return _ranking(code, path, v)
    if key == "synonyms":
        return _synonyms(code, path, v)
    if key == "distinctAttribute":
        if not isinstance(v, str):
            raise type_error(code, path, "a string", v)
        return v
    if key == "proximityPrecision":
        return _enum(code, path, v, ["byWord", "byAttribute"])
    if key == "typoTolerance":
        return _typo(code, path, v)
    if key == "faceting":
        return _faceting(code, path, v)
    if key == "pagination":
        return _pagination(code, path, v)
    if key == "embedders":
        if not isinstance(v, dict):
            raise type_error(code, path, "an object", v)
        return v
    if key == "searchCutoffMs":
        if not (isinstance(v, int) and not isinstance(v, bool) and v >= 0):
            raise type_error(code, path, "a positive integer", v)
        return v
    if key == "localizedAttributes":
        if not isinstance(v, list):
            raise type_error(code, path, "an array", v)
        for i, item in enumerate(v):
            if not isinstance(item, dict):
                raise type_error(code, "%s[%d]" % (path, i), "an object", item)
        return v
    if key == "facetSearch":
        if not isinstance(v, bool):
            raise type_error(code, path, "a boolean", v)
        return v
    if key == "prefixSearch":
        return _enum(code, path, v, ["indexingTime", "disabled"])
    raise MeiliError("feature_not_enabled",
                     "`%s` setting requires an experimental feature to be enabled." % key)


def validate_patch(body):
    """Validate a PATCH /settings body. Returns {key: normalized value or None}."""
    if not isinstance(body, dict):
        raise type_error("bad_request", "", "an object", body)
    out = {}
    for k, v in body.items():
        if k not in ACCEPTED:
            raise unknown_field(k, ACCEPTED)
        if k in ("foreignKeys", "chat"):
            raise MeiliError("feature_not_enabled",
                             "Using `%s` requires enabling the `%s` experimental feature. See https://github.com/orgs/meilisearch/discussions/805"
                             % (k, "chatCompletions" if k == "chat" else "foreignKeys"))
        out[k] = None if v is None else validate_value(k, v)
    return out


def details_of(update):
    """Task details of a settings update (reset -> null, or ["*"])."""
    d = {}
    for k in ACCEPTED:
        if k not in update:
            continue
        v = update[k]
        if v is None and k in ("displayedAttributes", "searchableAttributes"):
            v = ["*"]
        d[k] = copy.deepcopy(v)
    return d


def clear_all():
    return {k: None for k in DEFAULTS}


def apply(current, update):
    """Apply a validated update to a full settings dict (in place)."""
    for k, v in update.items():
        if v is None:
            current[k] = copy.deepcopy(DEFAULTS[k])
        elif k == "typoTolerance":
            cur = current[k]
            for kk, vv in v.items():
                if kk == "minWordSizeForTypos":
                    if vv is None:
                        cur[kk] = copy.deepcopy(DEFAULTS[k][kk])
                    else:
                        for a, b in vv.items():
                            cur[kk][a] = DEFAULTS[k][kk][a] if b is None else b
                else:
                    cur[kk] = copy.deepcopy(DEFAULTS[k][kk]) if vv is None else vv
        elif k == "faceting":
            cur = current[k]
            if "maxValuesPerFacet" in v:
                m = v["maxValuesPerFacet"]
                cur["maxValuesPerFacet"] = 100 if m is None else m
            if "sortFacetValuesBy" in v:
                s = v["sortFacetValuesBy"]
                nv = {"*": "alpha"}
                if s:
                    nv.update(s)
                cur["sortFacetValuesBy"] = nv
        elif k == "pagination":
            m = v.get("maxTotalHits", current[k]["maxTotalHits"])
            current[k]["maxTotalHits"] = 1000 if m is None else m
        elif k == "embedders":
            emb = current[k]
            for name, conf in v.items():
                if conf is None:
                    emb.pop(name, None)
                else:
                    emb[name] = conf
        else:
            current[k] = copy.deepcopy(v)
    return current


def semantic_check(settings):
    """Checks Meilisearch does while processing the task (task errors)."""
    tt = settings["typoTolerance"]["minWordSizeForTypos"]
    if tt["oneTypo"] > tt["twoTypos"]:
        raise MeiliError("invalid_settings_typo_tolerance",
                         "`minWordSizeForTypos` setting is invalid. `oneTypo` and `twoTypos` fields should be "
                         "between `0` and `255`, and `twoTypos` should be greater or equals to `oneTypo` but "
                         "found `oneTypo: %d` and twoTypos: %d`." % (tt["oneTypo"], tt["twoTypos"]))


__all__ = ["DEFAULTS", "SUBROUTES", "ACCEPTED", "defaults", "validate_patch", "validate_value",
           "details_of", "apply", "clear_all", "semantic_check"]
