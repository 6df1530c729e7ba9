"""Query terms, per-document matching and Meilisearch's ranking rules.

Every score is computed from one document, the query and the settings only:
the "query graph" that Meilisearch narrows bucket after bucket is narrowed
here with the paths matching this very document.
"""

import itertools

from .text import (tokenize, query_tokens, bucketed_position, levenshtein_bounded,
                   prefix_levenshtein, value_to_text, normalize)

MAX_DISTANCE = 4
WORDS_LIMIT = 10


# ---------------------------------------------------------------------------
# settings helpers

def searchable_weight_fn(settings):
    sa = settings.get("searchableAttributes") or ["*"]
    if "*" in sa:
        return (lambda field: 0), 0, None
    attrs = list(sa)

    def weight(field):
        for i, a in enumerate(attrs):
            if field == a or field.startswith(a + "."):
                return i
        return None
    return weight, len(attrs) - 1, attrs


def flatten_doc(doc):
    """[(field, [leaf values in order])] in first-seen order; nested keys dotted."""
    out = {}
    order = []

    def add(name, v):
        if name not in out:
            out[name] = []
            order.append(name)
        out[name].append(v)

    def walk(prefix, v):
        if isinstance(v, dict):
            for k, x in v.items():
                walk(prefix + "." + k if prefix else k, x)
        elif isinstance(v, list):
            for x in v:
                walk(prefix, x)
        else:
            add(prefix, v)
    for k, v in doc.items():
        walk(k, v)
    return [(n, out[n]) for n in order]


class DocData:
    """Searchable representation of one document."""
    __slots__ = ("fields", "occ", "wordcount", "fkey", "words")

    def __init__(self, doc, weight_fn, stop_words):
        # fields: list of (name, weight); occ: word -> list of (field_idx, pos)
        self.fields = []
        self.occ = {}
        self.wordcount = []
        for name, leaves in flatten_doc(doc):
            w = weight_fn(name)
            if w is None:
                continue
            fidx = len(self.fields)
            self.fields.append((name, w))
            pos = None
            count = 0
            for leaf in leaves:
                text = value_to_text(leaf)
                if text is None:
                    continue
                start = 0 if pos is None else pos + MAX_DISTANCE
                toks, last = tokenize(text, stop_words, start)
                if not toks:
                    continue
                for word, p, stop in toks:
                    if stop:
                        continue
                    count += 1
                    self.occ.setdefault(word, []).append((fidx, p))
                pos = toks[-1][1]
            self.wordcount.append(count)
        self.fkey = (tuple(self.fields), tuple(self.wordcount))
        self.words = tuple(sorted(self.occ))


# ---------------------------------------------------------------------------
# query terms

class Node:
    """A query-graph node: a single term, an n-gram or a phrase."""
    __slots__ = ("tid_start", "tid_end", "pos_start", "pos_end", "word", "phrase",
                 "is_prefix", "max_typo", "synonyms", "is_ngram", "exact_ok", "ntids",
                 "disable_typo", "_cache")

    def __init__(self):
        self._cache = {}

    def __repr__(self):
        return "Node(%s %d-%d)" % (self.word or self.phrase, self.tid_start, self.tid_end)


def typos_allowed(word, typo):
    if not typo.get("enabled", True):
        return 0
    mins = typo.get("minWordSizeForTypos") or {}
    one = mins.get("oneTypo", 5)
    two = mins.get("twoTypos", 9)
    n = len(word)
    if n < one:
        return 0
    if word in set(normalize(w) for w in (typo.get("disableOnWords") or [])):
        return 0
    if n < two:
        return 1
    return 2


class Query:
    def __init__(self, q, settings):
        self.settings = settings
        stop = set(normalize(w) for w in settings.get("stopWords") or [])
        self.stop_words = stop
        typo = settings.get("typoTolerance") or {}
        prefix_ok = settings.get("prefixSearch", "indexingTime") != "disabled"
        syn = {}
        for k, vals in (settings.get("synonyms") or {}).items():
            key = tuple(t[1] for t in query_tokens(k) if t[0] == "w")
            if not key:
                continue
            lst = syn.setdefault(key, [])
            for v in vals:
                words = [t[1] for t in query_tokens(v) if t[0] == "w"]
                if words and words not in lst:
                    lst.append(words)
        self.synonyms = syn
        self.terms = []
        self.negative_words = []
        self.negative_phrases = []
        toks = query_tokens(q or "")
        # positions as milli: each word +1, hard separators +7
        position = -1
        phrase = None  # list of (word|None, pos)
        negative_next = False
        negative_phrase = False
        encountered_ws = True
        idx_words = [i for i, t in enumerate(toks) if t[0] == "w"]
        last_word_idx = idx_words[-1] if idx_words else -1

        def push_phrase(ph, neg):
            words = [w for w, _p in ph]
            if all(w is None for w in words):
                return
            if neg:
                self.negative_phrases.append(words)
                return
            n = Node()
            n.phrase = words
            n.word = None
            n.pos_start = ph[0][1]
            n.pos_end = ph[-1][1]
            n.is_prefix = False
            n.max_typo = 0
            n.synonyms = []
            n.is_ngram = False
            n.disable_typo = True
            self.terms.append(n)

        for i, (kind, text) in enumerate(toks):
            if len(self.terms) >= WORDS_LIMIT:
                break
            if kind == "w":
                position += 1
                is_stop = text in stop
                if phrase is not None:
                    phrase.append((None if is_stop else text, position))
                elif negative_next:
                    self.negative_words.append(text)
                    negative_next = False
                elif i != last_word_idx:
                    if not is_stop:
                        self._push_word(text, position, False, typo)
                else:
                    self._push_word(text, position, prefix_ok, typo)
                encountered_ws = False
            else:
                if kind == "hard":
                    position += 7
                    if phrase is not None:
                        push_phrase(phrase, negative_phrase)
                        phrase = []
                quotes = text.count('"')
                if quotes:
                    if phrase is not None:
                        quotes -= 1
                        push_phrase(phrase, negative_phrase)
                        negative_phrase = False
                        phrase = None
                    if quotes % 2 == 1:
                        negative_phrase = negative_next
                        phrase = []
                negative_next = phrase is None and text.strip(" ") == "-" and encountered_ws
                if text.endswith("-") and phrase is None and (text[:-1] == "" or text[:-1].isspace()):
                    negative_next = encountered_ws or text[:-1] != ""
                encountered_ws = text[-1].isspace() if text else False
        if phrase:
            push_phrase(phrase, negative_phrase)
        for tid, t in enumerate(self.terms):
            t.tid_start = t.tid_end = tid
            t.ntids = 1
            t.exact_ok = True
        self.n = len(self.terms)
        self.ngrams = self._make_ngrams(typo)

    def _push_word(self, word, position, is_prefix, typo):
        n = Node()
        n.word = word
        n.phrase = None
        n.pos_start = n.pos_end = position
        n.is_prefix = is_prefix
        n.max_typo = typos_allowed(word, typo)
        n.synonyms = list(self.synonyms.get((word,), []))
        n.is_ngram = False
        n.disable_typo = False
        self.terms.append(n)

    def _make_ngrams(self, typo):
        out = []
        terms = self.terms
        for size in (2, 3):
            for s in range(0, len(terms) - size + 1):
                grp = terms[s:s + size]
                if any(t.phrase is not None for t in grp):
                    continue
                if any(grp[i].pos_end + 1 != grp[i + 1].pos_start for i in range(size - 1)):
                    continue
                word = "".join(t.word for t in grp)
                if len(word.encode("utf-8")) > 250:
                    continue
                n = Node()
                n.word = word
                n.phrase = None
                n.tid_start = s
                n.tid_end = s + size - 1
                n.ntids = size
                n.pos_start = grp[0].pos_start
                n.pos_end = grp[-1].pos_end
                n.is_prefix = grp[-1].is_prefix
                n.max_typo = max(0, typos_allowed(word, typo) - (size - 1))
                n.synonyms = list(self.synonyms.get(tuple(t.word for t in grp), []))
                n.is_ngram = True
                n.exact_ok = False
                n.disable_typo = False
                out.append(n)
        return out

    def nodes_starting_at(self, tid):
        out = [self.terms[tid]]
        for g in self.ngrams:
            if g.tid_start == tid:
                out.append(g)
        return out

    def all_nodes(self):
        return self.terms + self.ngrams


# ---------------------------------------------------------------------------
# word derivation levels

def word_level(node, w, typo_disabled_word=False):
    """Typo level (0, 1, 2) at which doc word w matches node's word, or None.

    Returns (level, prefix_len) where prefix_len is the number of chars to
    highlight (None = whole word)."""
    q = node.word
    if w == q:
        return 0, None
    maxt = 0 if typo_disabled_word else node.max_typo
    if node.is_prefix and w.startswith(q):
        return 0, len(q)
    if maxt == 0:
        return None
    if node.is_prefix:
        if len(w) < len(q) - maxt:
            return None
    elif abs(len(w) - len(q)) > maxt:
        return None
    if w[0] != q[0]:
        if maxt < 2:
            return None
        d = prefix_levenshtein(q, w, 1) if node.is_prefix else levenshtein_bounded(q, w, 1)
        if d <= 1:
            return 2, (len(q) if node.is_prefix else None)
        return None
    d = prefix_levenshtein(q, w, maxt) if node.is_prefix else levenshtein_bounded(q, w, maxt)
    if d <= maxt:
        return d, (len(q) if node.is_prefix else None)
    return None


class Matcher:
    """Per-search cache of derivation levels over words."""

    def __init__(self, query, settings):
        self.query = query
        typo = settings.get("typoTolerance") or {}
        self.disable_numbers = bool(typo.get("disableOnNumbers", False))
        self.cache = {}
        self.node_words = {}

    def level(self, node, w):
        key = (id(node), w)
        r = self.cache.get(key, -1)
        if r != -1:
            return r
        r = word_level(node, w, self.disable_numbers and w.isdigit())
        self.cache[key] = r
        return r

    def prepare(self, cache):
        """Compute, over the index vocabulary, the words matching each node;
        returns the set of candidate internal ids (docs containing any of them)."""
        cand = set()
        postings = cache.postings
        for node in self.query.all_nodes():
            words = {}
            if node.phrase is not None:
                for w in node.phrase:
                    if w is not None:
                        p = postings.get(w)
                        if p:
                            cand |= p
                        break
                self.node_words[id(node)] = words
                continue
            if node.max_typo >= 2:
                pool = postings.keys()
            else:
                pool = cache.by_first.get(node.word[0], ())
            for w in pool:
                r = self.level(node, w)
                if r is not None:
                    words[w] = r
                    cand |= postings[w]
            for syn in node.synonyms:
                first = next((x for x in syn if x is not None), None)
                if first is not None and first in postings:
                    cand |= postings[first]
            if not node.is_ngram:
                w = node.word
                for i in range(1, len(w)):
                    pl, pr = postings.get(w[:i]), postings.get(w[i:])
                    if pl and pr:
                        cand |= pl & pr
            self.node_words[id(node)] = words
        return cand

    def relevant_words(self):
        """Every document word `evaluate` may look at for this query (after
        `prepare`): derivations of each node over the vocabulary, the node words,
        phrase, synonym and negative words, and the halves of split words. A
        document's ranking depends on its other words only through its fields
        and their word counts."""
        rel = set()
        q = self.query
        for node in q.all_nodes():
            nw = self.node_words.get(id(node))
            if nw is None:
                return None
            rel.update(nw)
            if node.word is not None:
                rel.add(node.word)
                w = node.word
                for i in range(1, len(w)):
                    rel.add(w[:i])
                    rel.add(w[i:])
            if node.phrase is not None:
                rel.update(x for x in node.phrase if x is not None)
            for syn in node.synonyms or ():
                rel.update(x for x in syn if x is not None)
        for t in q.terms:
            if t.phrase is not None:
                rel.update(x for x in t.phrase if x is not None)
            if t.word is not None:
                rel.add(t.word)
        rel.update(q.negative_words)
        for ph in q.negative_phrases:
            rel.update(x for x in ph if x is not None)
        return sorted(rel)


def phrase_occurrences(dd, words, fields_ok):
    """List of (field_idx, start_pos) where the phrase occurs in the doc."""
    first_i = next((i for i, w in enumerate(words) if w is not None), None)
    if first_i is None:
        return []
    out = []
    for fidx, p in dd.occ.get(words[first_i], ()):
        if fields_ok is not None and fidx not in fields_ok:
            continue
        start = p - first_i
        ok = True
        for i, w in enumerate(words):
            if w is None or i == first_i:
                continue
            if (fidx, start + i) not in _occ_set(dd, w):
                ok = False
                break
        if ok:
            out.append((fidx, start))
    return out


def _occ_set(dd, w):
    return set(dd.occ.get(w, ()))


class NodeMatch:
    """How one node matches one document.

    levels: level -> dict word -> list of (fidx, pos)   (single-word derivations)
    phrases: list of (words, occurrences) for the zero-typo phrases (query phrase or synonyms)
    """
    __slots__ = ("levels", "phrases", "split")

    def __init__(self):
        self.levels = {}
        self.phrases = []
        self.split = []     # one-typo phrases: the word split in two adjacent words

    def available(self):
        s = set(self.levels)
        if self.phrases:
            s.add(0)
        if self.split:
            s.add(1)
        return s


def match_node(node, dd, matcher, fields_ok, typo_off_fields):
    """Compute NodeMatch of node in doc (None if no match at all)."""
    m = NodeMatch()
    if node.phrase is not None:
        occ = phrase_occurrences(dd, node.phrase, fields_ok)
        if occ:
            m.phrases.append((node.phrase, occ))
            return m
        return None
    nw = matcher.node_words.get(id(node))
    if nw is not None and len(nw) < len(dd.occ):
        items = ((w, dd.occ[w], r) for w, r in nw.items() if w in dd.occ)
    else:
        items = ((w, occs, matcher.level(node, w)) for w, occs in dd.occ.items()
                 if not (w[0] != node.word[0] and node.max_typo < 2))
    for w, occs, r in items:
        if r is None:
            continue
        lvl = r[0]
        if fields_ok is not None or (lvl > 0 and typo_off_fields):
            occs2 = [o for o in occs if (fields_ok is None or o[0] in fields_ok)
                     and not (lvl > 0 and typo_off_fields and o[0] in typo_off_fields)]
            if not occs2:
                continue
        else:
            occs2 = occs
        m.levels.setdefault(lvl, {})[w] = occs2
    for syn in node.synonyms:
        if len(syn) == 1:
            occs = dd.occ.get(syn[0])
            if occs:
                occs2 = [o for o in occs if fields_ok is None or o[0] in fields_ok]
                if occs2:
                    m.levels.setdefault(0, {})[syn[0]] = occs2
        else:
            occ = phrase_occurrences(dd, syn, fields_ok)
            if occ:
                m.phrases.append((syn, occ))
    if not node.is_ngram and len(node.word) > 1:
        w = node.word
        for i in range(1, len(w)):
            left, right = w[:i], w[i:]
            if left in dd.occ and right in dd.occ:
                occ = phrase_occurrences(dd, [left, right], fields_ok)
                if occ:
                    m.split.append(([left, right], occ))
    if not m.levels and not m.phrases and not m.split:
        return None
    return m


# ---------------------------------------------------------------------------
# rules

def cost_from_distance(d):
    if d == 0:
        return 0
    if d == 1:
        return 1
    if d <= 4:
        return 2
    if d <= 7:
        return 3
    if d <= 11:
        return 4
    if d <= 16:
        return 5
    if d <= 24:
        return 6
    if d <= 64:
        return 7
    if d <= 256:
        return 8
    if d <= 1024:
        return 9
    return 10


class PNode:
    """A node inside a path, with the typo levels still allowed."""
    __slots__ = ("node", "match", "allowed")

    def __init__(self, node, match, allowed):
        self.node = node
        self.match = match
        self.allowed = allowed


def _enum_paths(query, tids_end, get_match, require_match):
    """All paths covering term ids [0, tids_end) (contiguous)."""
    results = []

    def rec(tid, acc):
        if tid == tids_end:
            results.append(list(acc))
            return
        for node in query.nodes_starting_at(tid):
            if node.tid_end >= tids_end:
                continue
            m = get_match(node)
            if m is None and require_match:
                continue
            acc.append(PNode(node, m, None))
            rec(node.tid_end + 1, acc)
            acc.pop()
    rec(0, [])
    return results


def _enum_paths_subset(query, tids, get_match):
    """Paths over a (possibly gapped) sorted list of term ids (single nodes + ngrams)."""
    results = []
    tidset = set(tids)

    def rec(i, acc):
        if i == len(tids):
            results.append(list(acc))
            return
        tid = tids[i]
        for node in query.nodes_starting_at(tid):
            if any(t not in tidset for t in range(node.tid_start, node.tid_end + 1)):
                continue
            j = i + (node.tid_end - node.tid_start) + 1
            if j > len(tids) or tids[j - 1] != node.tid_end:
                continue
            m = get_match(node)
            if m is None:
                continue
            acc.append(PNode(node, m, None))
            rec(j, acc)
            acc.pop()
    rec(0, [])
    return results


def _node_words(pn):
    """dict word -> occs for the derivations still allowed, plus phrase occurrences."""
    m = pn.match
    out = {}
    if m is None:
        return out, []
    for lvl, words in m.levels.items():
        if lvl in pn.allowed:
            out.update(words)
    phrases = m.phrases if 0 in pn.allowed else []
    if m.split and 1 in pn.allowed:
        phrases = phrases + m.split
    return out, phrases


def max_typo_cost(node, allowed):
    if node.phrase is not None:
        return 0
    if node.max_typo == 0:
        return 1
    if node.max_typo == 1:
        return 1 if 1 in allowed else 0
    if 2 in allowed:
        return 2
    return 1 if 1 in allowed else 0


def typo_path(path):
    cost = 0
    mx = 0
    for pn in path:
        base = 0 if pn.node.ntids == 1 else pn.node.ntids
        avail = pn.match.available() & pn.allowed if pn.match else set()
        cost += (min(avail) if avail else 99) + base
        mx += max_typo_cost(pn.node, pn.allowed) + base
    return cost, mx


def typo_narrow(path):
    out = []
    for pn in path:
        avail = pn.match.available() & pn.allowed
        out.append(PNode(pn.node, pn.match, {min(avail)}))
    return out


def _left_positions(pn):
    words, phrases = _node_words(pn)
    res = []
    for w, occs in words.items():
        res.extend(occs)
    for ph, occs in phrases:
        last = max(i for i, w in enumerate(ph) if w is not None)
        res.extend((f, p + last) for f, p in occs)
    return res, bool(phrases)


def _right_positions(pn):
    words, phrases = _node_words(pn)
    res = []
    for w, occs in words.items():
        res.extend(occs)
    for ph, occs in phrases:
        first = min(i for i, w in enumerate(ph) if w is not None)
        res.extend((f, p + first) for f, p in occs)
    return res, bool(phrases)


def proximity_path(path, by_attribute=False):
    cost = 0
    mx = 0
    prev = None
    for pn in path:
        rn = pn.node.ntids - 1
        if prev is None or prev.node.pos_end + 1 != pn.node.pos_start:
            cost += rn
            mx += rn
        else:
            mx += rn + (MAX_DISTANCE - 1)
            left, lph = _left_positions(prev)
            right, rph = _right_positions(pn)
            best = MAX_DISTANCE - 1
            if left and right and by_attribute:
                rf = set(f for f, _p in right)
                if any(f in rf for f, _p in left):
                    best = 0
            elif left and right:
                rmap = {}
                for f, p in right:
                    rmap.setdefault(f, []).append(p)
                for f, pl in left:
                    for pr in rmap.get(f, ()):
                        d = pr - pl
                        if 1 <= d <= MAX_DISTANCE - 1:
                            c = d - 1
                        elif d <= -1 and -d <= MAX_DISTANCE - 2 and not lph and not rph:
                            c = -d
                        else:
                            continue
                        if c < best:
                            best = c
                            if best == 0:
                                break
                    if best == 0:
                        break
            cost += rn + best
        prev = pn
    return cost, mx


def fid_path(path, max_weight, fields, fields_ok):
    cost = 0
    mx = 0
    for pn in path:
        k = pn.node.ntids
        words, phrases = _node_words(pn)
        best = None
        fidxs = set()
        for w, occs in words.items():
            for f, _p in occs:
                fidxs.add(f)
        for ph, occs in phrases:
            for f, _p in occs:
                fidxs.add(f)
        for f in fidxs:
            wgt = fields[f][1]
            if best is None or wgt < best:
                best = wgt
        if best is None:
            best = max_weight
        cost += best * k
        mx += max_weight * k
    return cost, mx


def position_path(path, dd, fields_ok):
    cost = 0
    mx = 0
    for pn in path:
        k = pn.node.ntids
        words, phrases = _node_words(pn)
        positions = set()
        for w, occs in words.items():
            for f, p in occs:
                positions.add(bucketed_position(p))
        for ph, _occs in phrases:
            first = next(w for w in ph if w is not None)
            for f, p in dd.occ.get(first, ()):
                if fields_ok is None or f in fields_ok:
                    positions.add(bucketed_position(p))
        best = 10 * k
        qs = pn.node.pos_start
        for p in positions:
            dist = abs(p - qs)
            c = 0
            for i in range(k):
                c += cost_from_distance(dist + i)
            if c < best:
                best = c
        cost += best
        mx += 10 * k
    return cost, mx


def _exact_term_words(pn, dd):
    """The exact term of a node (list of words, None for stop words) if it applies."""
    node = pn.node
    if node.is_ngram:
        return None
    if 0 not in pn.allowed:
        return None
    if node.phrase is not None:
        return node.phrase
    if node.word in dd.occ:
        return [node.word]
    return None


def exact_attribute(paths, dd, all_fields_count):
    nodes = {}
    for path in paths:
        for pn in path:
            ex = _exact_term_words(pn, dd)
            if ex is None:
                continue
            key = pn.node.tid_start
            if key not in nodes:
                nodes[key] = (pn.node, ex)
    if not nodes:
        return "noExactMatch"
    tids = sorted(nodes)
    if tids[0] != 0:
        return "noExactMatch"
    prev = 0
    for t in tids:
        if t < prev or t - prev > 1:
            return "noExactMatch"
        prev = t
    count_all = sum(nodes[t][0].pos_end - nodes[t][0].pos_start + 1 for t in tids)
    all_words = []
    for t in tids:
        node, words = nodes[t]
        for off, w in enumerate(words):
            if w is None:
                continue
            bp = bucketed_position(node.pos_start + off)
            if not any(bucketed_position(p) == bp for _f, p in dd.occ.get(w, ())):
                return "noExactMatch"
            all_words.append(w)
    start_with = False
    exact = False
    for fidx in range(all_fields_count):
        if all(any(f == fidx for f, _p in dd.occ.get(w, ())) for w in all_words):
            start_with = True
            if count_all <= 255 and dd.wordcount[fidx] == count_all and dd.wordcount[fidx] <= 30:
                exact = True
                break
    if exact:
        return "exactMatch"
    if start_with:
        return "matchesStart"
    return "noExactMatch"


def exact_words_path(path, dd):
    cost = 0
    mx = 0
    for pn in path:
        k = pn.node.ntids
        mx += k
        ex = _exact_term_words(pn, dd)
        ok = False
        if ex is not None:
            if pn.node.phrase is not None:
                ok = bool(pn.match and pn.match.phrases)
            else:
                ok = ex[0] in dd.occ
        if not ok:
            cost += k
    return cost, mx


def _best(paths, fn):
    """Apply a cost function to paths: (cost, max, kept_paths)."""
    results = [(fn(p), p) for p in paths]
    mx = max(r[0][1] for r in results)
    cost = min(r[0][0] for r in results)
    kept = [p for (c, _m), p in results if c == cost]
    return cost, mx, kept


# ---------------------------------------------------------------------------
# ranking of one document

class Rank:
    __slots__ = ("rank", "max")

    def __init__(self, rank, mx):
        self.rank = rank
        self.max = mx


def global_score(ranks):
    r, m = 1, 1
    for rk in ranks:
        r = max(r - 1, 0) * rk.max + rk.rank
        m = m * rk.max
    return r / m


class DocScore:
    __slots__ = ("details", "ranks", "key", "score")


def evaluate(query, dd, matcher, rules, strategy, sort_values_fn, doc, ctx):
    """Returns DocScore or None when the document does not match the query.

    rules: list of rule descriptors ('words'|'typo'|'proximity'|'attributeRank'|
    'wordPosition'|'attribute'|'exactness'|('sort', field, asc)...)."""
    fields_ok = ctx["fields_ok"]
    typo_off = ctx["typo_off_fields"]
    cache = {}

    def get_match(node):
        key = id(node)
        if key not in cache:
            cache[key] = match_node(node, dd, matcher, fields_ok, typo_off)
        return cache[key]

    # negative words
    for w in query.negative_words:
        if w in dd.occ:
            return None
    for ph in query.negative_phrases:
        if phrase_occurrences(dd, ph, None):
            return None

    n = query.n
    has_words = "words" in [r if isinstance(r, str) else None for r in rules]
    details = []
    ranks = []
    alive = None
    struct_paths = None

    # words rule / candidate resolution
    words_detail = None
    if strategy == "all":
        paths = _enum_paths(query, n, get_match, True)
        if not paths:
            return None
        alive = paths
        for p in alive:
            for pn in p:
                pn.allowed = {0, 1, 2}
        struct_paths = ctx["struct_paths"]
    else:
        phrase_words = sum(len([w for w in t.phrase if w is not None]) for t in query.terms if t.phrase)
        base = 1 + max(0, phrase_words - 1)
        mandatory = [t.tid_start for t in query.terms if t.phrase is not None]
        optional = [t.tid_start for t in query.terms if t.phrase is None]
        max_steps = len(optional) - (0 if mandatory else 1)
        if max_steps < 0:
            max_steps = 0
        if any(get_match(query.terms[t]) is None for t in mandatory):
            return None
        if strategy == "frequency":
            matched = [t for t in optional if get_match(query.terms[t]) is not None]
            if not matched and not mandatory:
                return None
            paths = _enum_paths_subset(query, sorted(mandatory + matched), get_match)
            if not paths:
                return None
            removed = len(optional) - len(matched)
        else:
            paths = None
            removed = 0
            for steps in range(0, max_steps + 1):
                kept = sorted(mandatory + optional[:len(optional) - steps])
                paths = _enum_paths_subset(query, kept, get_match)
                if paths:
                    removed = steps
                    break
            if not paths:
                return None
        mx = base + max_steps
        rank = mx - removed
        for p in paths:
            for pn in p:
                pn.allowed = {0, 1, 2}
        alive = paths
        if has_words:
            words_detail = ("words", Rank(rank, mx))

    for rule in rules:
        if isinstance(rule, tuple):
            details.append(("sortv", rule, sort_values_fn(doc, rule)))
            continue
        if rule == "words":
            if words_detail is not None:
                details.append(words_detail)
                ranks.append(words_detail[1])
            continue
        if rule == "sort":
            for crit in ctx["sort_criteria"]:
                details.append(("sortv", crit, sort_values_fn(doc, crit)))
            continue
        maxpaths = struct_paths if struct_paths is not None else alive
        if rule == "typo":
            cost, _m, kept = _best(alive, typo_path)
            mx = max(typo_path(p)[1] for p in maxpaths)
            alive = [typo_narrow(p) for p in kept]
            rk = Rank(mx + 1 - cost, mx + 1)
            details.append(("typo", rk))
        elif rule == "proximity":
            by_attr = ctx.get("prox_by_attribute", False)
            cost, _m, kept = _best(alive, lambda p: proximity_path(p, by_attr))
            mx = max(proximity_path(p)[1] for p in maxpaths) if struct_paths is None else ctx["struct_prox_max"]
            alive = kept
            rk = Rank(mx + 1 - cost, mx + 1)
            details.append(("proximity", rk))
        elif rule in ("attributeRank", "attribute"):
            mw = ctx["max_weight"]
            f = lambda p: fid_path(p, mw, dd.fields, fields_ok)
            cost, _m, kept = _best(alive, f)
            mx = max(sum(mw * pn.node.ntids for pn in p) for p in maxpaths)
            alive = kept
            rk = Rank(mx + 1 - cost, mx + 1)
            details.append(("attributeRank", rk))
            if rule == "attribute":
                f2 = lambda p: position_path(p, dd, fields_ok)
                cost2, _m, kept2 = _best(alive, f2)
                mx2 = max(sum(10 * pn.node.ntids for pn in p) for p in maxpaths)
                alive = kept2
                rk2 = Rank(mx2 + 1 - cost2, mx2 + 1)
                details[-1] = ("attribute", rk, rk2)
                ranks.append(rk)
                ranks.append(rk2)
                struct_paths = None
                continue
        elif rule == "wordPosition":
            f2 = lambda p: position_path(p, dd, fields_ok)
            cost, _m, kept = _best(alive, f2)
            mx = max(sum(10 * pn.node.ntids for pn in p) for p in maxpaths)
            alive = kept
            rk = Rank(mx + 1 - cost, mx + 1)
            details.append(("wordPosition", rk))
        elif rule == "exactness":
            kind = exact_attribute(alive, dd, len(dd.fields))
            rk1 = Rank({"exactMatch": 3, "matchesStart": 2, "noExactMatch": 1}[kind], 3)
            f3 = lambda p: exact_words_path(p, dd)
            cost, _m, kept = _best(alive, f3)
            mx = max(sum(pn.node.ntids for pn in p) for p in maxpaths)
            rk2 = Rank(mx + 1 - cost, mx + 1)
            alive = kept
            details.append(("exactness", kind, rk1, rk2))
            ranks.append(rk1)
            ranks.append(rk2)
            struct_paths = None
            continue
        else:
            continue
        ranks.append(rk)
        struct_paths = None
    ds = DocScore()
    ds.details = details
    ds.ranks = ranks
    ds.score = global_score(ranks)
    return ds


def placeholder_score(rules, ctx, doc, sort_values_fn):
    details = []
    for rule in rules:
        if isinstance(rule, tuple):
            details.append(("sortv", rule, sort_values_fn(doc, rule)))
        elif rule == "sort":
            for crit in ctx["sort_criteria"]:
                details.append(("sortv", crit, sort_values_fn(doc, crit)))
    ds = DocScore()
    ds.details = details
    ds.ranks = []
    ds.score = 1.0
    return ds


def struct_info(query):
    """Structural paths over all terms (used for maxima when no words rule)."""
    paths = _enum_paths(query, query.n, lambda n: None, False)
    for p in paths:
        for pn in p:
            pn.allowed = {0, 1, 2}
    prox_max = 0
    for p in paths:
        mx = 0
        prev = None
        for pn in p:
            rn = pn.node.ntids - 1
            if prev is None or prev.node.pos_end + 1 != pn.node.pos_start:
                mx += rn
            else:
                mx += rn + MAX_DISTANCE - 1
            prev = pn
        prox_max = max(prox_max, mx)
    return paths, prox_max


def details_json(ds, displayed_ok):
    """The _rankingScoreDetails object."""
    out = {}
    order = 0
    hidden = 0
    for d in ds.details:
        kind = d[0]
        if kind == "words":
            rk = d[1]
            out["words"] = {"order": order, "matchingWords": rk.rank, "maxMatchingWords": rk.max,
                            "score": rk.rank / rk.max}
        elif kind == "typo":
            rk = d[1]
            out["typo"] = {"order": order, "typoCount": rk.max - rk.rank, "maxTypoCount": rk.max - 1,
                           "score": rk.rank / rk.max}
        elif kind in ("proximity", "attributeRank", "wordPosition"):
            rk = d[1]
            out[kind] = {"order": order, "score": rk.rank / rk.max}
        elif kind == "attribute":
            rk, rk2 = d[1], d[2]
            out["attribute"] = {"order": order, "attributeRankingOrderScore": rk.rank / rk.max,
                                "queryWordDistanceScore": rk2.rank / rk2.max,
                                "score": global_score([rk, rk2])}
        elif kind == "exactness":
            mt, rk1, rk2 = d[1], d[2], d[3]
            if mt == "noExactMatch":
                out["exactness"] = {"order": order, "matchType": mt, "matchingWords": rk2.rank - 1,
                                    "maxMatchingWords": rk2.max - 1,
                                    "score": global_score([rk1, rk2])}
            else:
                out["exactness"] = {"order": order, "matchType": mt, "score": rk1.rank / rk1.max}
        elif kind == "sortv":
            crit, value = d[1], d[2]
            field, asc = crit[1], crit[2]
            if crit[0] == "geo":
                lat, lng = crit[3]
                key = "_geoPoint(%s, %s):%s" % (_fmt_coord(lat), _fmt_coord(lng), "asc" if asc else "desc")
                out[key] = {"order": order, "value": value[0], "distance": value[1]}
            elif displayed_ok(field):
                out["%s:%s" % (field, "asc" if asc else "desc")] = {"order": order, "value": value}
            else:
                out["<hidden-rule-%d>" % order] = {"order": order, "value": "<hidden>"}
        order += 1
    return out


def _fmt_coord(v):
    f = float(v)
    if f == int(f):
        return str(int(f)) if abs(f) < 1e16 else repr(f)
    return repr(f)


def weighted_score_values(ds, weight):
    """§9.4 list: consecutive relevancy ranks folded."""
    out = []
    cur = None
    for d in ds.details:
        kind = d[0]
        if kind in ("words", "typo", "proximity", "attributeRank", "wordPosition"):
            rks = [d[1]]
        elif kind == "attribute":
            rks = [d[1], d[2]]
        elif kind == "exactness":
            rks = [d[2], d[3]]
        else:
            rks = None
        if rks is not None:
            if cur is None:
                cur = [1, 1]
            for rk in rks:
                cur = [max(cur[0] - 1, 0) * rk.max + rk.rank, cur[1] * rk.max]
            continue
        if cur is not None:
            out.append(("score", cur[0] / cur[1] * weight))
            cur = None
        crit, value = d[1], d[2]
        if crit[0] == "geo":
            out.append(("geo", crit[2], value[1]))
        else:
            out.append(("sort", crit[2], value))
    if cur is not None:
        out.append(("score", cur[0] / cur[1] * weight))
    return out
