"""Tokenisation and normalisation, a small imitation of charabia for Latin text."""

import unicodedata

# charabia's CONTEXT_SEPARATORS (Latin and CJK part): separators that add the
# "hard" position gap.  ". " and ", " are hard, a lone "." or "," is soft.
HARD_SEPARATORS = set("!:;?\u00a1\u00a7\u00b6\u00bf\u037e\u2024\u2025\u2026\u203b\u203c\u203d"
                      "\u2047\u2048\u2049\u3001\u3002\uff01\uff0c\uff0e\uff1a\uff1b\uff1f\uff61\uff64")


def is_hard_separator(seg):
    if any(c in HARD_SEPARATORS for c in seg):
        return True
    return ". " in seg or ", " in seg

_norm_cache = {}


def normalize(word):
    """Lower-case, compatibility-decompose and strip combining marks."""
    r = _norm_cache.get(word)
    if r is not None:
        return r
    w = unicodedata.normalize("NFKD", word.lower())
    if any(unicodedata.combining(c) for c in w):
        # diacritics are removed for Latin (and Greek) letters only
        out = []
        base = ""
        for c in w:
            if unicodedata.combining(c):
                o = ord(base) if base else 0
                if o < 0x250 or 0x1E00 <= o <= 0x1EFF or 0x370 <= o <= 0x3FF:
                    continue
            else:
                base = c
            out.append(c)
        w = "".join(out)
    w = w.replace("\u00df", "ss").replace("\u0153", "oe").replace("\u00e6", "ae").replace("\u00f8", "o")
    if len(_norm_cache) < 200000:
        _norm_cache[word] = w
    return w


def normalize_facet(value):
    """Normalisation used for facet strings, filters and sort values."""
    s = unicodedata.normalize("NFKD", value.strip()).lower()
    return s


def _is_word_char(c):
    return c.isalnum() or unicodedata.category(c) in ("Mn", "Mc")


def _is_cjk(c):
    o = ord(c)
    return (0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x3040 <= o <= 0x30FF
            or 0xAC00 <= o <= 0xD7AF or 0xF900 <= o <= 0xFAFF)


def raw_tokens(text):
    """Yield (kind, text, byte_start, byte_len) with kind 'w' (word) or 's' (separator)."""
    out = []
    i = 0
    n = len(text)
    byte = 0
    while i < n:
        c = text[i]
        if _is_cjk(c):
            b = len(c.encode("utf-8"))
            out.append(("w", c, byte, b))
            byte += b
            i += 1
            continue
        is_w = _is_word_char(c)
        j = i + 1
        while j < n and _is_word_char(text[j]) == is_w and not _is_cjk(text[j]):
            j += 1
        seg = text[i:j]
        b = len(seg.encode("utf-8"))
        out.append(("w" if is_w else "s", seg, byte, b))
        byte += b
        i = j
    return out


def tokenize(text, stop_words=(), start=0):
    """Tokenise a field value.

    Returns (tokens, last_position) where tokens is a list of
    (normalized_word, position, is_stop_word).  Positions follow milli: +1
    between words, +8 after a hard separator.
    """
    tokens = []
    pos = start
    prev = None  # None | 'w' | 'soft' | 'hard'
    for kind, seg, _b, _l in raw_tokens(text):
        if kind == "w":
            word = normalize(seg)
            if not word:
                continue
            if prev is None:
                pos = pos
            elif prev == "hard":
                pos += 8
            else:
                pos += 1
            tokens.append((word, pos, word in stop_words))
            prev = "w"
        else:
            if is_hard_separator(seg):
                prev = "hard" if prev is not None else None
            elif prev is not None and prev != "hard":
                prev = "soft"
    return tokens, pos


def query_tokens(text):
    """Tokens of a search query: list of (kind, text) with kind in
    'w' (word, normalized), 'hard', 'soft' where separators keep their raw text."""
    out = []
    for kind, seg, _b, _l in raw_tokens(text):
        if kind == "w":
            w = normalize(seg)
            if w:
                out.append(("w", w))
        else:
            out.append(("hard" if is_hard_separator(seg) else "soft", seg))
    return out


def bucketed_position(relative):
    if relative < 16:
        return relative
    if relative < 24:
        return 24
    p = 1
    while p < relative:
        p <<= 1
    return p


def value_to_text(value):
    """Text of a scalar for indexing / highlighting."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json_number_text(value)
    if isinstance(value, str):
        return value
    return None


def number_text(v):
    """Facet text of a number: integral floats print without decimals."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if v == int(v) and abs(v) < 1e16:
        return str(int(v))
    return repr(v)


def json_number_text(v):
    """serde_json's text of a number (used when indexing numbers)."""
    if isinstance(v, int):
        return str(v)
    return repr(float(v))


def levenshtein_bounded(a, b, k):
    """Levenshtein distance between a and b, or k+1 if it exceeds k."""
    la, lb = len(a), len(b)
    if abs(la - lb) > k:
        return k + 1
    if a == b:
        return 0
    prev = list(range(lb + 1))
    for i in range(1, la + 1):
        cur = [i] + [0] * lb
        ca = a[i - 1]
        rowmin = i
        for j in range(1, lb + 1):
            v = prev[j - 1] + (0 if ca == b[j - 1] else 1)
            x = prev[j] + 1
            if x < v:
                v = x
            y = cur[j - 1] + 1
            if y < v:
                v = y
            cur[j] = v
            if v < rowmin:
                rowmin = v
        if rowmin > k:
            return k + 1
        prev = cur
    return prev[lb] if prev[lb] <= k else k + 1


def prefix_levenshtein(q, w, k):
    """min over prefixes p of w of lev(q, p), or k+1 when above k."""
    lq, lw = len(q), len(w)
    if lw < lq - k:
        return k + 1
    if w.startswith(q):
        return 0
    # DP over q (rows) and w (columns); answer = min of last row
    prev = list(range(lw + 1))
    for i in range(1, lq + 1):
        cur = [i] + [0] * lw
        cq = q[i - 1]
        rowmin = i
        for j in range(1, lw + 1):
            v = prev[j - 1] + (0 if cq == w[j - 1] else 1)
            x = prev[j] + 1
            if x < v:
                v = x
            y = cur[j - 1] + 1
            if y < v:
                v = y
            cur[j] = v
            if v < rowmin:
                rowmin = v
        if rowmin > k:
            return k + 1
        prev = cur
    m = min(prev)
    return m if m <= k else k + 1
