"""Meilisearch filter expressions: parser (with milli's error messages) and evaluation."""

import json
import math

from ..errors import MeiliError
from .text import normalize_facet

RESERVED = {"AND", "OR", "IN", "NOT", "TO", "EXISTS", "IS", "NULL", "EMPTY",
            "CONTAINS", "STARTS", "WITH", "_geoRadius", "_geoBoundingBox"}
OPS = ("<=", ">=", "!=", "<", ">", "=")

INVALID_PRIMARY = ("Was expecting an operation `=`, `!=`, `>=`, `>`, `<=`, `<`, `IN`, `NOT IN`, `TO`, "
                   "`EXISTS`, `NOT EXISTS`, `IS NULL`, `IS NOT NULL`, `IS EMPTY`, `IS NOT EMPTY`, "
                   "`CONTAINS`, `NOT CONTAINS`, `STARTS WITH`, `NOT STARTS WITH`, `_geoRadius`, or "
                   "`_geoBoundingBox` ")

# experimental features of the running emulator (see sim.search.configure)
FEATURES = {}

FILTER_CODES = {"search": "invalid_search_filter", "documents": "invalid_document_filter",
                "delete": "invalid_document_filter", "facet": "invalid_search_filter",
                "federated": "invalid_search_filter"}


class ParseError(Exception):
    def __init__(self, pos, size, message):
        super().__init__(message)
        self.pos = pos
        self.size = size
        self.message = message


class Tok:
    __slots__ = ("value", "pos", "size")

    def __init__(self, value, pos, size):
        self.value = value
        self.pos = pos
        self.size = size


def _escape(s):
    return s.encode("unicode_escape").decode("ascii") if any(c in s for c in "\n\r\t\\") else s


def _word_char(c):
    return c.isalnum() or c in "_-."


class Parser:
    def __init__(self, text):
        self.t = text
        self.n = len(text)

    def err(self, pos, size, msg):
        raise ParseError(pos, size, msg)

    def ws(self, i):
        while i < self.n and self.t[i].isspace():
            i += 1
        return i

    def word_at(self, i, word):
        """word_exact: the keyword followed by a non-word char or end."""
        j = i + len(word)
        if self.t[i:j] == word and (j >= self.n or not _word_char(self.t[j])):
            return j
        return None

    def parse(self):
        node, i = self.parse_or(0, 0)
        i = self.ws(i)
        if i < self.n:
            rest = self.t[i:]
            self.err(i, len(rest), "Found unexpected characters at the end of the filter: `%s`. "
                     "You probably forgot an `OR` or an `AND` rule." % _escape(rest))
        return node

    def parse_or(self, i, depth):
        if depth > 200:
            self.err(i, self.n - i, "The filter exceeded the maximum depth limit. Try rewriting the filter so that it contains fewer nested conditions.")
        first, i = self.parse_and(i, depth + 1)
        items = [first]
        while True:
            j = self.ws(i)
            k = self.word_at(j, "OR")
            if k is None:
                break
            node, i = self.parse_and(k, depth + 1)
            items.append(node)
        return (items[0] if len(items) == 1 else ("or", items)), i

    def parse_and(self, i, depth):
        first, i = self.parse_not(i, depth + 1)
        items = [first]
        while True:
            j = self.ws(i)
            k = self.word_at(j, "AND")
            if k is None:
                break
            node, i = self.parse_not(k, depth + 1)
            items.append(node)
        return (items[0] if len(items) == 1 else ("and", items)), i

    def parse_not(self, i, depth):
        if depth > 400:
            self.err(i, self.n - i, "The filter exceeded the maximum depth limit. Try rewriting the filter so that it contains fewer nested conditions.")
        j = self.ws(i)
        k = self.word_at(j, "NOT")
        if k is not None:
            # `NOT` followed by something parsable as a primary starting with NOT IN etc. is
            # still a negation: milli tries NOT first.
            node, i2 = self.parse_not(k, depth + 1)
            if node[0] == "not":
                return node[1], i2
            return ("not", node), i2
        return self.parse_primary(i, depth + 1)

    def parse_value(self, i, in_list=False):
        """Returns (Tok, next_index) or raises ParseError."""
        j = self.ws(i)
        if j >= self.n:
            self.err(j, 0, "Was expecting a value but instead got nothing.")
        c = self.t[j]
        if c in "'\"":
            k = j + 1
            buf = []
            while k < self.n:
                ch = self.t[k]
                if ch == "\\" and k + 1 < self.n:
                    nxt = self.t[k + 1]
                    if nxt == c:
                        buf.append(c)
                    else:
                        buf.append(ch + nxt)
                    k += 2
                    continue
                if ch == c:
                    break
                buf.append(ch)
                k += 1
            if k >= self.n:
                rest = self.t[j:]
                self.err(j, len(rest), "Expression `%s` is missing the following closing delimiter: `%s`."
                         % (_escape(rest), c))
            value = "".join(buf)
            tok = Tok(value, j + 1, k - j - 1)
            return tok, self.ws(k + 1)
        k = j
        while k < self.n and _word_char(self.t[k]):
            k += 1
        if k == j:
            rest = self.t[j:]
            if rest.startswith("_geoRadius") or rest.startswith("_geoBoundingBox"):
                name = "_geoRadius" if rest.startswith("_geoRadius") else "_geoBoundingBox"
                self.err(j, len(rest), "The `%s` filter is an operation and can't be used as a value." % name)
            self.err(j, len(rest), "Was expecting a value but instead got `%s`." % _escape(rest))
        word = self.t[j:k]
        if word in RESERVED:
            if word in ("_geoRadius", "_geoBoundingBox") and k < self.n and self.t[k] == "(":
                self.err(j, self.n - j, "The `%s` filter is an operation and can't be used as a value." % word)
            self.err(j, len(word), "Was expecting a value but instead got `%s`, which is a reserved keyword. "
                     "To use `%s` as a field name or a value, surround it by quotes." % (word, word))
        return Tok(word, j, k - j), self.ws(k)

    def parse_primary(self, i, depth):
        j = self.ws(i)
        if j < self.n and self.t[j] == "(":
            node, k = self.parse_or(j + 1, depth + 1)
            k = self.ws(k)
            if k >= self.n or self.t[k] != ")":
                rest = self.t[j:]
                self.err(j, len(rest), "Expression `%s` is missing the following closing delimiter: `)`."
                         % _escape(rest))
            return node, self.ws(k + 1)
        rest = self.t[j:]
        for geo in ("_geoRadius", "_geoBoundingBox"):
            k = self.word_at(j, geo)
            if k is not None or rest.startswith(geo + "("):
                return self.parse_geo(j, geo)
        for name in ("_geoPoint", "_geoDistance", "_geo"):
            if rest.startswith(name + "(") or (name == "_geo" and self.word_at(j, "_geo") is not None
                                              and self.t[self.ws(j + 4):self.ws(j + 4) + 1] == "("):
                self.err(j, len(rest), "`%s` is a reserved keyword and thus can't be used as a filter "
                         "expression. Use the `_geoRadius(latitude, longitude, distance)` or "
                         "`_geoBoundingBox([latitude, longitude], [latitude, longitude])` built-in rules "
                         "to filter on `_geo` coordinates." % name)
        try:
            fid, k = self.parse_value(j)
        except ParseError as e:
            if "reserved keyword" in e.message and "Was expecting a value" in e.message:
                # reserved keyword used as attribute name
                w = self.t[e.pos:e.pos + e.size]
                raise ParseError(e.pos, e.size, "`%s` is a reserved keyword and thus cannot be used as a "
                                 "field name unless it is put inside quotes. Use \"%s\" or '%s' instead."
                                 % (w, w, w))
            if e.message.startswith("Expression `"):
                raise
            self.err(j, len(rest), INVALID_PRIMARY + (("at `%s`." % _escape(rest)) if rest.strip()
                                                      else "but instead got nothing."))
        t = self.t
        # operators
        for op in OPS:
            if t.startswith(op, k):
                val, m = self.parse_value(k + len(op))
                return ("cond", fid, op, val), m
        kw = self.word_at(k, "IN")
        if kw is not None:
            return self.parse_in_body(fid, kw, k)
        kw = self.word_at(k, "NOT")
        if kw is not None:
            k2 = self.ws(kw)
            if self.word_at(k2, "IN") is not None:
                node, m = self.parse_in_body(fid, self.word_at(k2, "IN"), k2)
                return ("not", node), m
            if self.word_at(k2, "EXISTS") is not None:
                return ("not", ("exists", fid)), self.ws(self.word_at(k2, "EXISTS"))
            if self.word_at(k2, "CONTAINS") is not None:
                val, m = self.parse_value(self.word_at(k2, "CONTAINS"))
                return ("not", ("contains", fid, val, "CONTAINS")), m
            if self.word_at(k2, "STARTS") is not None:
                k3 = self.ws(self.word_at(k2, "STARTS"))
                if self.word_at(k3, "WITH") is not None:
                    val, m = self.parse_value(self.word_at(k3, "WITH"))
                    return ("not", ("contains", fid, val, "STARTS WITH")), m
        kw = self.word_at(k, "IS")
        if kw is not None:
            k2 = self.ws(kw)
            neg = False
            if self.word_at(k2, "NOT") is not None:
                neg = True
                k2 = self.ws(self.word_at(k2, "NOT"))
            for word, kind in (("NULL", "null"), ("EMPTY", "empty")):
                e = self.word_at(k2, word)
                if e is not None:
                    node = (kind, fid)
                    return (("not", node) if neg else node), self.ws(e)
        kw = self.word_at(k, "EXISTS")
        if kw is not None:
            return ("exists", fid), self.ws(kw)
        kw = self.word_at(k, "CONTAINS")
        if kw is not None:
            val, m = self.parse_value(kw)
            return ("contains", fid, val, "CONTAINS"), m
        kw = self.word_at(k, "STARTS")
        if kw is not None:
            k3 = self.ws(kw)
            if self.word_at(k3, "WITH") is not None:
                val, m = self.parse_value(self.word_at(k3, "WITH"))
                return ("contains", fid, val, "STARTS WITH"), m
        # TO
        try:
            frm, k2 = self.parse_value(k)
        except ParseError:
            frm = None
        if frm is not None:
            kw = self.word_at(k2, "TO")
            if kw is not None:
                to, m = self.parse_value(kw)
                return ("to", fid, frm, to), m
        self.err(j, len(rest), INVALID_PRIMARY + (("at `%s`." % _escape(rest)) if rest.strip()
                                                  else "but instead got nothing."))

    def parse_in_body(self, fid, k, kwpos):
        k = self.ws(k)
        if k >= self.n or self.t[k] != "[":
            self.err(k, self.n - k, "Expected `[` after `IN` keyword.")
        k += 1
        vals = []
        k = self.ws(k)
        if k < self.n and self.t[k] != "]":
            while True:
                try:
                    v, k = self.parse_value(k)
                except ParseError as e:
                    if k >= self.n or self.ws(k) >= self.n:
                        self.err(self.n, 0, "Expected matching `]` after the list of field names given to `IN[`")
                    rest = self.t[self.ws(k):]
                    if "reserved keyword" in e.message:
                        w = self.t[e.pos:e.pos + e.size]
                        self.err(self.ws(k), len(rest), "Expected only comma-separated field names inside `IN[..]` but instead found `%s`, which is a keyword. To use `%s` as a field name or a value, surround it by quotes." % (_escape(rest), _escape(rest)))
                    self.err(self.ws(k), len(rest), "Expected only comma-separated field names inside `IN[..]` but instead found `%s`." % _escape(rest))
                vals.append(v)
                k = self.ws(k)
                if k < self.n and self.t[k] == ",":
                    k = self.ws(k + 1)
                    if k < self.n and self.t[k] == "]":
                        break
                    continue
                break
        k = self.ws(k)
        if k >= self.n:
            self.err(k, 0, "Expected matching `]` after the list of field names given to `IN[`")
        if self.t[k] != "]":
            rest = self.t[k:]
            self.err(k, len(rest), "Expected only comma-separated field names inside `IN[..]` but instead found `%s`." % _escape(rest))
        return ("in", fid, vals), self.ws(k + 1)

    def parse_geo(self, j, name):
        rest = self.t[j:]
        msg = ("The `_geoRadius` filter expects three arguments: `_geoRadius(latitude, longitude, radius)`."
               if name == "_geoRadius" else
               "The `_geoBoundingBox` filter expects two pairs of arguments: `_geoBoundingBox([latitude, longitude], [latitude, longitude])`.")
        k = j + len(name)
        if k >= self.n or self.t[k] != "(":
            self.err(j, len(rest), msg)
        depth = 0
        e = k
        while e < self.n:
            if self.t[e] == "(":
                depth += 1
            elif self.t[e] == ")":
                depth -= 1
                if depth == 0:
                    break
            e += 1
        if e >= self.n:
            self.err(j, len(rest), msg)
        inner = self.t[k + 1:e]
        try:
            if name == "_geoRadius":
                parts = [float(p) for p in inner.split(",")]
                if len(parts) != 3:
                    raise ValueError
                node = ("geoRadius", parts[0], parts[1], parts[2], Tok(name, j, len(name)))
            else:
                s = inner.replace(" ", "")
                if not (s.startswith("[") and s.endswith("]")):
                    raise ValueError
                pairs = s[1:-1].split("],[")
                if len(pairs) != 2:
                    raise ValueError
                pts = [[float(x) for x in p.split(",")] for p in pairs]
                if any(len(p) != 2 for p in pts):
                    raise ValueError
                node = ("geoBox", pts[0], pts[1], Tok(name, j, len(name)))
        except ValueError:
            self.err(j, len(rest), msg)
        return node, self.ws(e + 1)


# ---------------------------------------------------------------------------
# filterable attribute rules

def filterable_rules(settings):
    """List of (patterns, features) from filterableAttributes (strings or objects)."""
    rules = []
    for item in settings.get("filterableAttributes") or []:
        if isinstance(item, str):
            rules.append(([item], {"legacy": True, "facetSearch": True, "equality": True,
                                   "comparison": True}))
        elif isinstance(item, dict):
            feats = item.get("features") or {}
            flt = feats.get("filter") or {}
            rules.append((list(item.get("attributePatterns") or []),
                          {"legacy": False, "facetSearch": bool(feats.get("facetSearch", False)),
                           "equality": bool(flt.get("equality", True)),
                           "comparison": bool(flt.get("comparison", False))}))
    return rules


def pattern_match(pattern, field, legacy=False):
    if legacy:
        return field == pattern or field.startswith(pattern + ".")
    if pattern == "*":
        return True
    if pattern.startswith("*") and pattern.endswith("*") and len(pattern) > 1:
        return pattern[1:-1] in field
    if pattern.startswith("*"):
        return field.endswith(pattern[1:])
    if pattern.endswith("*"):
        return field.startswith(pattern[:-1])
    return field == pattern or field.startswith(pattern + ".")


def rule_for(settings, field):
    for patterns, feats in filterable_rules(settings):
        for p in patterns:
            if pattern_match(p, field, feats["legacy"]):
                return feats
    return None


def filterable_patterns(settings):
    out = []
    for patterns, _f in filterable_rules(settings):
        out.extend(patterns)
    return sorted(set(out))


# ---------------------------------------------------------------------------
# document value access

_MISSING = object()


def field_values(doc, path):
    """(exists, leaves): leaves are scalar values (None for null) found at the
    dotted path, arrays flattened; objects/arrays themselves reported via exists."""
    if "." not in path:
        v = doc.get(path, _MISSING) if isinstance(doc, dict) else _MISSING
        if v is _MISSING:
            return False, [], []
        if isinstance(v, (str, int, float)) or v is None:
            return True, [v], [v]
        if isinstance(v, list) and all(isinstance(x, (str, int, float)) or x is None for x in v):
            return True, list(v), [v]
    leaves = []
    found = [False]
    raw = []

    def walk(obj, parts):
        if not parts:
            found[0] = True
            raw.append(obj)
            flatten(obj)
            return
        if isinstance(obj, dict):
            # try every split of the remaining path (keys may contain dots)
            for n in range(1, len(parts) + 1):
                key = ".".join(parts[:n])
                if key in obj:
                    walk(obj[key], parts[n:])
        elif isinstance(obj, list):
            for it in obj:
                walk(it, parts)

    def flatten(v):
        if isinstance(v, list):
            for it in v:
                flatten(it)
        elif isinstance(v, dict):
            for it in v.values():
                flatten(it)
        else:
            leaves.append(v)

    walk(doc, path.split("."))
    return found[0], leaves, raw


def _num(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    return None


def _parse_number(s):
    try:
        f = float(s.strip())
    except (ValueError, AttributeError):
        return None
    if math.isnan(f) or math.isinf(f):
        return None
    return f


def _facet_string(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return normalize_facet(v)
    return None


_FS_CACHE = {}


def _fs(leaf):
    """Facet string of a leaf (cached), None for numbers/null."""
    if isinstance(leaf, str):
        r = _FS_CACHE.get(leaf)
        if r is None:
            r = normalize_facet(leaf)
            if len(_FS_CACHE) < 500000:
                _FS_CACHE[leaf] = r
        return r
    if isinstance(leaf, bool):
        return "true" if leaf else "false"
    return None


def _eq_prepared(leaves, target, num):
    for leaf in leaves:
        s = _fs(leaf)
        if s is not None:
            if s == target:
                return True
        elif num is not None and leaf is not None and leaf == num:
            return True
    return False


def _eq(leaves, value):
    return _eq_prepared(leaves, normalize_facet(value), _parse_number(value))


def _cmp(leaves, op, value):
    num = _parse_number(value)
    target = normalize_facet(value)
    for leaf in leaves:
        n = _num(leaf)
        if n is not None:
            if num is None:
                continue
            a, b = n, num
        else:
            if isinstance(leaf, str):
                a, b = normalize_facet(leaf), target
            else:
                continue
        if (op == ">" and a > b) or (op == ">=" and a >= b) or (op == "<" and a < b) or (op == "<=" and a <= b):
            return True
    return False


def _between(leaves, lo, hi):
    nlo, nhi = _parse_number(lo), _parse_number(hi)
    slo, shi = normalize_facet(lo), normalize_facet(hi)
    for leaf in leaves:
        n = _num(leaf)
        if n is not None:
            if nlo is not None and nhi is not None and nlo <= n <= nhi:
                return True
        elif isinstance(leaf, str):
            s = normalize_facet(leaf)
            if slo <= s <= shi:
                return True
    return False


def _haversine(lat1, lng1, lat2, lng2):
    r = 6371008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(min(1.0, a)))


def geo_point(doc):
    g = doc.get("_geo") if isinstance(doc, dict) else None
    if not isinstance(g, dict):
        return None
    try:
        lat = float(g.get("lat"))
        lng = float(g.get("lng"))
    except (TypeError, ValueError):
        return None
    return lat, lng


def compile_node(node):
    kind = node[0]
    if kind == "and":
        subs = [compile_node(n) for n in node[1]]
        return lambda d: all(f(d) for f in subs)
    if kind == "or":
        subs = [compile_node(n) for n in node[1]]
        return lambda d: any(f(d) for f in subs)
    if kind == "not":
        sub = compile_node(node[1])
        return lambda d: not sub(d)
    if kind == "true":
        return lambda d: True
    if kind == "geoRadius":
        _, lat, lng, radius, _t = node

        def geo_r(d):
            p = geo_point(d)
            return p is not None and _haversine(lat, lng, p[0], p[1]) <= radius
        return geo_r
    if kind == "geoBox":
        _, tr, bl, _t = node

        def geo_b(d):
            p = geo_point(d)
            if p is None:
                return False
            lat, lng = p
            if not (bl[0] <= lat <= tr[0]):
                return False
            if bl[1] <= tr[1]:
                return bl[1] <= lng <= tr[1]
            return lng >= bl[1] or lng <= tr[1]
        return geo_b
    path = node[1].value
    if kind == "cond" and node[2] in ("=", "!=") and "." not in path:
        target, num = normalize_facet(node[3].value), _parse_number(node[3].value)
        neg = node[2] == "!="

        def eq_fast(d):
            v = d.get(path, _MISSING) if isinstance(d, dict) else _MISSING
            if v is _MISSING:
                r = False
            elif isinstance(v, list):
                r = _eq_prepared(field_values(d, path)[1], target, num)
            elif isinstance(v, dict):
                r = _eq_prepared(field_values(d, path)[1], target, num)
            else:
                s = _fs(v)
                if s is not None:
                    r = s == target
                else:
                    r = num is not None and v is not None and v == num
            return not r if neg else r
        return eq_fast
    if kind == "cond":
        op, val = node[2], node[3].value
        target, num = normalize_facet(val), _parse_number(val)
        if op == "=":
            return lambda d: _eq_prepared(field_values(d, path)[1], target, num)
        if op == "!=":
            return lambda d: not _eq_prepared(field_values(d, path)[1], target, num)
        return lambda d: _cmp(field_values(d, path)[1], op, val)
    if kind == "in":
        vals = [(normalize_facet(v.value), _parse_number(v.value)) for v in node[2]]
        return lambda d: any(_eq_prepared(field_values(d, path)[1], t, n) for t, n in vals)
    if kind == "to":
        lo, hi = node[2].value, node[3].value
        return lambda d: _between(field_values(d, path)[1], lo, hi)
    if kind == "exists":
        return lambda d: field_values(d, path)[0]
    if kind == "null":
        def is_null(d):
            found, _leaves, raw = field_values(d, path)
            return found and any(r is None for r in raw)
        return is_null
    if kind == "empty":
        def is_empty(d):
            found, _leaves, raw = field_values(d, path)
            return found and any(r == "" or r == [] or r == {} for r in raw)
        return is_empty
    if kind == "contains":
        val = normalize_facet(node[2].value)
        starts = node[3] == "STARTS WITH"

        def contains(d):
            for leaf in field_values(d, path)[1]:
                s = _facet_string(leaf) if not isinstance(leaf, (int, float)) or isinstance(leaf, bool) else None
                if s is None:
                    continue
                if (s.startswith(val) if starts else val in s):
                    return True
            return False
        return contains
    raise ValueError(kind)


# ---------------------------------------------------------------------------
# validation against filterable attributes

def _fids(node):
    kind = node[0]
    if kind in ("and", "or"):
        for n in node[1]:
            yield from _fids(n)
    elif kind == "not":
        yield from _fids(node[1])
    elif kind in ("geoRadius", "geoBox"):
        yield ("_geo", node[-1], kind)
    elif kind == "true":
        return
    else:
        op = node[2] if kind == "cond" else kind
        yield (node[1].value, node[1], op)


def serialize(node):
    """Re-serialisation of a parsed filter (1.50 search path), with token spans."""
    parts = []
    spans = {}

    def q(s):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    def emit(s):
        parts.append(s)

    def length():
        return sum(len(p) for p in parts)

    def fid(tok):
        emit('"')
        spans[id(tok)] = length()
        emit(tok.value.replace("\\", "\\\\").replace('"', '\\"'))
        emit('"')

    def walk(n):
        k = n[0]
        if k in ("and", "or"):
            for i, sub in enumerate(n[1]):
                if i:
                    emit(" AND " if k == "and" else " OR ")
                emit("(")
                walk(sub)
                emit(")")
        elif k == "not":
            emit("NOT (")
            walk(n[1])
            emit(")")
        elif k == "cond":
            fid(n[1])
            emit(" %s %s" % (n[2], q(n[3].value)))
        elif k == "in":
            fid(n[1])
            emit(" IN [" + ", ".join(q(v.value) for v in n[2]) + "]")
        elif k == "to":
            fid(n[1])
            emit(" %s TO %s" % (q(n[2].value), q(n[3].value)))
        elif k == "exists":
            fid(n[1])
            emit(" EXISTS")
        elif k == "null":
            fid(n[1])
            emit(" IS NULL")
        elif k == "empty":
            fid(n[1])
            emit(" IS EMPTY")
        elif k == "contains":
            fid(n[1])
            emit(" %s %s" % (n[3], q(n[2].value)))
        elif k == "geoRadius":
            spans[id(n[-1])] = length()
            emit("_geoRadius(%s, %s, %s)" % (n[1], n[2], n[3]))
        elif k == "geoBox":
            spans[id(n[-1])] = length()
            emit("_geoBoundingBox([%s, %s], [%s, %s])" % (n[1][0], n[1][1], n[2][0], n[2][1]))
    walk(node)
    return "".join(parts), spans


def _err(code, msg, pos, size, text):
    return MeiliError(code, "%s\n%d:%d %s" % (msg, pos + 1, pos + 1 + size, text))


def check_filterable(index, node, text, context):
    code = FILTER_CODES.get(context, "invalid_search_filter")
    settings = index.settings
    prefix = "Index `%s`: " % index.uid if context in ("search", "federated", "facet") else ""
    for name, tok, op in _fids(node):
        feats = rule_for(settings, name) if name != "_geo" else rule_for(settings, "_geo")
        if feats is None or not (feats["equality"] or feats["comparison"]):
            pats = filterable_patterns(settings)
            if name == "_geo":
                msg = ("Attribute `_geo` is not filterable. " + (
                    "Available filterable attribute patterns are: %s." % ", ".join("`%s`" % p for p in pats)
                    if pats else "This index does not have configured filterable attributes."))
            elif pats:
                msg = "Attribute `%s` is not filterable. Available filterable attribute patterns are: %s." % (
                    name, ", ".join("`%s`" % p for p in pats))
            else:
                msg = "Attribute `%s` is not filterable. This index does not have configured filterable attributes." % name
            if prefix:
                stext, spans = serialize(node)
                pos = spans.get(id(tok), tok.pos)
                raise _err(code, prefix + msg, pos, tok.size, stext)
            raise _err(code, msg, tok.pos, tok.size, text)
        allowed = True
        if op in ("=", "!=", "in"):
            allowed = feats["equality"]
        elif op in ("<", ">", "<=", ">=", "to"):
            allowed = feats["comparison"]
        if not allowed:
            ops = []
            if feats["equality"]:
                ops += ["=", "!=", "IN"]
            if feats["comparison"]:
                ops += ["<", ">", "<=", ">=", "TO"]
            ops += ["EXISTS", "IS NULL", "IS EMPTY", "IS NOT NULL", "IS NOT EMPTY"]
            disp = {"in": "IN", "to": "TO"}.get(op, op)
            msg = "Filter operator `%s` is not allowed for the attribute `%s`.\n - Note: allowed operators: %s.\n - Note: field `%s` matched rule #%d in `filterableAttributes`" % (
                disp, name, ", ".join(ops), name, 0)
            raise _err(code, prefix + msg, tok.pos, tok.size, text)
        if op == "contains" and not FEATURES.get("containsFilter"):
            raise MeiliError("feature_not_enabled",
                             "Using `CONTAINS` or `STARTS WITH` in a filter requires enabling the `contains filter` experimental feature. See https://github.com/orgs/meilisearch/discussions/763\n%d:%d %s"
                             % (tok.pos + 1, tok.pos + 1 + tok.size, text))


def parse_string(text, code):
    try:
        return Parser(text).parse()
    except ParseError as e:
        raise MeiliError(code, "%s\n%d:%d %s" % (e.message, e.pos + 1, e.pos + 1 + e.size, text))


def _type_name(v):
    if isinstance(v, bool):
        return "Bool"
    if v is None:
        return "Null"
    if isinstance(v, (int, float)):
        return "Number"
    if isinstance(v, str):
        return "String"
    if isinstance(v, list):
        return "Array"
    return "Object"


def _json_text(v):
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def parse_filter_value(index, value, context):
    """Parse a filter (string or array form). Returns an AST or None (no filter)."""
    code = FILTER_CODES.get(context, "invalid_search_filter")
    if value is None:
        return None
    if isinstance(value, str):
        if not value.strip():
            return None
        node = parse_string(value, code)
        check_filterable(index, node, value, context)
        return node
    if isinstance(value, list):
        ands = []
        for item in value:
            if isinstance(item, str):
                if not item.strip():
                    continue
                node = parse_string(item, code)
                check_filterable(index, node, item, context)
                ands.append(node)
            elif isinstance(item, list):
                ors = []
                for sub in item:
                    if not isinstance(sub, str):
                        raise MeiliError(code, "Invalid syntax for the filter parameter: `expected String, found: %s`."
                                         % _json_text(sub))
                    if not sub.strip():
                        continue
                    node = parse_string(sub, code)
                    check_filterable(index, node, sub, context)
                    ors.append(node)
                if ors:
                    ands.append(ors[0] if len(ors) == 1 else ("or", ors))
            else:
                raise MeiliError(code, "Invalid syntax for the filter parameter: `expected String, Array, found: %s`."
                                 % _json_text(item))
        if not ands:
            return None
        return ands[0] if len(ands) == 1 else ("and", ands)
    raise MeiliError(code, "Invalid syntax for the filter parameter: `expected String, Array, found: %s`."
                     % _json_text(value))


def compile_filter(index, filter_value, context="search"):
    """Compile a filter into callable(doc) -> bool (always-true when no filter)."""
    if context == "delete" and (filter_value is None or filter_value == "" or filter_value == []):
        pass
    node = parse_filter_value(index, filter_value, context)
    if node is None:
        return lambda d: True
    return compile_node(node)


def compile_filters(index, filter_value, extra_filters, context="search"):
    """User filter AND-ed with extra (tenant token) filters; returns callable or None."""
    nodes = []
    node = parse_filter_value(index, filter_value, context)
    if node is not None:
        nodes.append(node)
    for extra in extra_filters or ():
        n = parse_filter_value(index, extra, context)
        if n is not None:
            nodes.append(n)
    if not nodes:
        return None
    return compile_node(nodes[0] if len(nodes) == 1 else ("and", nodes))
