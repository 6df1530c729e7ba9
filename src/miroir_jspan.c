/*
 * miroir_jspan.c -- validating JSON span scanner and output buffer.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "miroir_jspan.h"


static const char *miroir_jspan_ws(const char *p, const char *end);
static const char *miroir_jspan_lit(const char *p, const char *end,
    const char *lit, size_t n);


static const char *
miroir_jspan_ws(const char *p, const char *end)
{
    return miroir_jspan_skip_ws(p, end);
}


static int
miroir_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
           || (c >= 'A' && c <= 'F');
}


#define MIROIR_ONES   UINT64_C(0x0101010101010101)
#define MIROIR_HIGHS  UINT64_C(0x8080808080808080)

/* Has the word a zero byte / a byte below n (n <= 128)?  Exact as yes/no. */
#define miroir_word_zero(w)     (((w) - MIROIR_ONES) & ~(w) & MIROIR_HIGHS)
#define miroir_word_less(w, n)                                               \
    (((w) - MIROIR_ONES * (n)) & ~(w) & MIROIR_HIGHS)

/* Has the word a byte '"', '\\' or below 0x20? */
#define miroir_word_special(w)                                               \
    (miroir_word_zero((w) ^ (MIROIR_ONES * '"'))                             \
     | miroir_word_zero((w) ^ (MIROIR_ONES * '\\'))                          \
     | miroir_word_less(w, 0x20))


#if defined(__GNUC__) && defined(__BYTE_ORDER__)                              \
    && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define MIROIR_JSPAN_WORDS  1
#else
#define MIROIR_JSPAN_WORDS  0
#endif


/* p at the opening quote; returns the byte after the closing quote. */
const char *
miroir_jspan_str_end(const char *p, const char *end)
{
    unsigned char   c;
#if MIROIR_JSPAN_WORDS
    uint64_t        w;
#endif

    p++;

    for ( ;; ) {

#if defined(__SSE2__)
        if (end - p >= 16) {
            /* sixteen bytes at a time: the lowest flag is the first
               special byte */
            __m128i   x, sp;
            unsigned  m;

            x = _mm_loadu_si128((const __m128i *) (const void *) p);
            sp = _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                              _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')));
            sp = _mm_or_si128(sp, _mm_cmpeq_epi8(
                                      _mm_min_epu8(x, _mm_set1_epi8(0x1f)),
                                      x));
            m = (unsigned) _mm_movemask_epi8(sp);

            if (m == 0) {
                p += 16;
                continue;
            }

            p += __builtin_ctz(m);

        } else
#endif
#if MIROIR_JSPAN_WORDS
        if (end - p >= 8) {
            /* eight bytes at a time; the lowest flag is the first special
               byte exactly */
            memcpy(&w, p, 8);
            w = miroir_word_special(w);

            if (w == 0) {
                p += 8;
                continue;
            }

            p += __builtin_ctzll(w) >> 3;

        } else
#endif
        {
            while (p < end && (unsigned char) *p >= 0x20 && *p != '"'
                   && *p != '\\')
            {
                p++;
            }

            if (p >= end) {
                return NULL;
            }
        }

        c = (unsigned char) *p;

        if (c == '"') {
            return p + 1;
        }

        if (c < 0x20 || end - p < 2) {
            return NULL;
        }

        /* an escape */

        switch (p[1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n':
        case 'r': case 't':
            p += 2;
            break;
        case 'u':
            if (end - p < 6 || !miroir_hex(p[2]) || !miroir_hex(p[3])
                || !miroir_hex(p[4]) || !miroir_hex(p[5]))
            {
                return NULL;
            }
            p += 6;
            break;
        default:
            return NULL;
        }
    }
}




static const char *
miroir_jspan_lit(const char *p, const char *end, const char *lit, size_t n)
{
    if ((size_t) (end - p) < n || memcmp(p, lit, n) != 0) {
        return NULL;
    }

    return p + n;
}


const char *
miroir_jspan_value(const char *p, const char *end, unsigned depth)
{
    miroir_jiter_t  it;
    miroir_span_t   k, v;
    int             rc;

    p = miroir_jspan_ws(p, end);
    if (p >= end) {
        return NULL;
    }

    switch (*p) {
    case '"':
        return miroir_jspan_str_skip(p, end);

    case '{':
    case '[':
        if (depth >= MIROIR_JSPAN_MAX_DEPTH) {
            return NULL;
        }

        it.p = p + 1;
        it.end = end;
        it.depth = depth + 1;
        it.first = 1;

        if (*p == '{') {
            while ((rc = miroir_jobj_next(&it, &k, &v)) == 1) { /* void */ }
        } else {
            while ((rc = miroir_jarr_next(&it, &v)) == 1) { /* void */ }
        }

        return rc == 0 ? it.p : NULL;

    case 't':
        return miroir_jspan_lit(p, end, "true", 4);
    case 'f':
        return miroir_jspan_lit(p, end, "false", 5);
    case 'n':
        return miroir_jspan_lit(p, end, "null", 4);
    default:
        return miroir_jspan_number(p, end);
    }
}


miroir_rc_t
miroir_jspan_doc(const char *p, size_t len, miroir_span_t *val)
{
    const char  *end, *s, *e;

    if (p == NULL) {
        return MIROIR_EINVAL;
    }

    end = p + len;
    s = miroir_jspan_ws(p, end);
    e = miroir_jspan_value(s, end, 0);

    if (e == NULL || miroir_jspan_ws(e, end) != end) {
        return MIROIR_EINVAL;
    }

    val->p = s;
    val->len = (size_t) (e - s);

    return MIROIR_OK;
}


int
miroir_jobj_begin(miroir_jiter_t *it, miroir_span_t val, unsigned depth)
{
    if (!miroir_jspan_is_obj(val)) {
        return 0;
    }

    it->p = val.p + 1;
    it->end = val.p + val.len;
    it->depth = depth + 1;
    it->first = 1;

    return 1;
}


int
miroir_jarr_begin(miroir_jiter_t *it, miroir_span_t val, unsigned depth)
{
    if (!miroir_jspan_is_arr(val)) {
        return 0;
    }

    it->p = val.p + 1;
    it->end = val.p + val.len;
    it->depth = depth + 1;
    it->first = 1;

    return 1;
}


/*
 * Exact powers of ten (10^22 is the largest one a double holds exactly).
 * With a mantissa up to 2^53 too, m * 10^e and m / 10^e are one correctly
 * rounded operation on exact values: the double strtod() gives (Clinger's
 * fast path).  Anything else goes to strtod().
 */
static const double  miroir_pow10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
    1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};


static int
miroir_jspan_num_fast(const char *p, const char *end, double *out)
{
    int       neg, eneg, ndig, e10, ex, nexp;
    uint64_t  m;
    double    d;

    neg = 0;
    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }

    m = 0;
    ndig = 0;
    e10 = 0;

    while (p < end && *p >= '0' && *p <= '9') {
        if (++ndig > 19) {
            return 0;
        }
        m = m * 10 + (uint64_t) (*p++ - '0');
    }

    if (ndig == 0) {
        return 0;
    }

    if (p < end && *p == '.') {
        p++;
        while (p < end && *p >= '0' && *p <= '9') {
            if (++ndig > 19) {
                return 0;
            }
            m = m * 10 + (uint64_t) (*p++ - '0');
            e10--;
        }
    }

    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        eneg = 0;
        if (p < end && (*p == '+' || *p == '-')) {
            eneg = (*p == '-');
            p++;
        }
        ex = 0;
        nexp = 0;
        while (p < end && *p >= '0' && *p <= '9') {
            if (++nexp > 4) {
                return 0;
            }
            ex = ex * 10 + (*p++ - '0');
        }
        if (nexp == 0) {
            return 0;
        }
        e10 += eneg ? -ex : ex;
    }

    if (p != end || m > (UINT64_C(1) << 53) || e10 < -22 || e10 > 22) {
        return 0;
    }

    d = (double) m;
    d = e10 < 0 ? d / miroir_pow10[-e10] : d * miroir_pow10[e10];
    *out = neg ? -d : d;

    return 1;
}


double
miroir_jspan_num(miroir_span_t v)
{
    char    tmp[64];
    char   *heap;
    double  d;

    if (miroir_jspan_num_fast(v.p, v.p + v.len, &d)) {
        return d;
    }

    if (v.len < sizeof(tmp)) {
        memcpy(tmp, v.p, v.len);
        tmp[v.len] = '\0';
        return strtod(tmp, NULL);
    }

    /* absurdly long digit strings: still exact, just slower */
    heap = malloc(v.len + 1);
    if (heap == NULL) {
        return 0.0;
    }

    memcpy(heap, v.p, v.len);
    heap[v.len] = '\0';
    d = strtod(heap, NULL);
    free(heap);

    return d;
}


static unsigned
miroir_hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return (unsigned) (c - '0');
    }

    return (unsigned) ((c | 0x20) - 'a' + 10);
}


static size_t
miroir_utf8_put(char *out, size_t size, size_t n, uint32_t cp)
{
    char    u[4];
    size_t  k, i;

    if (cp < 0x80) {
        u[0] = (char) cp; k = 1;
    } else if (cp < 0x800) {
        u[0] = (char) (0xc0 | (cp >> 6));
        u[1] = (char) (0x80 | (cp & 0x3f)); k = 2;
    } else if (cp < 0x10000) {
        u[0] = (char) (0xe0 | (cp >> 12));
        u[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char) (0x80 | (cp & 0x3f)); k = 3;
    } else {
        u[0] = (char) (0xf0 | (cp >> 18));
        u[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char) (0x80 | (cp & 0x3f)); k = 4;
    }

    for (i = 0; i < k; i++) {
        if (n + i < size) {
            out[n + i] = u[i];
        }
    }

    return n + k;
}


size_t
miroir_jspan_unescape(miroir_span_t v, char *out, size_t size)
{
    const char  *p, *end;
    size_t       n;
    uint32_t     cp, lo;
    char         c;

    if (!miroir_jspan_is_str(v) || v.len < 2) {
        return (size_t) -1;
    }

    p = v.p + 1;
    end = v.p + v.len - 1;
    n = 0;

    while (p < end) {
        if (*p != '\\') {
            if (n < size) {
                out[n] = *p;
            }
            n++;
            p++;
            continue;
        }

        if (end - p < 2) {
            return (size_t) -1;
        }

        c = p[1];
        p += 2;

        switch (c) {
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'u':
            if (end - p < 4) {
                return (size_t) -1;
            }
            cp = (miroir_hexval(p[0]) << 12) | (miroir_hexval(p[1]) << 8)
                 | (miroir_hexval(p[2]) << 4) | miroir_hexval(p[3]);
            p += 4;

            if (cp >= 0xd800 && cp < 0xdc00 && end - p >= 6 && p[0] == '\\'
                && p[1] == 'u')
            {
                lo = (miroir_hexval(p[2]) << 12) | (miroir_hexval(p[3]) << 8)
                     | (miroir_hexval(p[4]) << 4) | miroir_hexval(p[5]);
                if (lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    p += 6;
                }
            }

            n = miroir_utf8_put(out, size, n, cp);
            continue;
        default:
            break;
        }

        if (n < size) {
            out[n] = c;
        }
        n++;
    }

    return n;
}


/* output buffer */

static int
miroir_buf_grow(miroir_buf_t *b, size_t n)
{
    size_t  cap;
    char   *d;

    if (b->oom) {
        return 0;
    }

    if (b->len + n <= b->cap) {
        return 1;
    }

    cap = b->cap ? b->cap : 256;
    while (cap < b->len + n) {
        cap *= 2;
    }

    d = realloc(b->data, cap);
    if (d == NULL) {
        b->oom = 1;
        return 0;
    }

    b->data = d;
    b->cap = cap;

    return 1;
}


void
miroir_buf_add_slow(miroir_buf_t *b, const void *p, size_t n)
{
    if (n == 0 || !miroir_buf_grow(b, n)) {
        return;
    }

    memcpy(b->data + b->len, p, n);
    b->len += n;
}


void
miroir_buf_adds(miroir_buf_t *b, const char *s)
{
    miroir_buf_add(b, s, strlen(s));
}


void
miroir_buf_addc_slow(miroir_buf_t *b, char c)
{
    if (miroir_buf_grow(b, 1)) {
        b->data[b->len++] = c;
    }
}


void
miroir_buf_addu(miroir_buf_t *b, uint64_t v)
{
    char   tmp[24], *p;

    p = tmp + sizeof(tmp);

    do {
        *--p = (char) ('0' + v % 10);
        v /= 10;
    } while (v);

    miroir_buf_add(b, p, (size_t) (tmp + sizeof(tmp) - p));
}


void
miroir_buf_addf(miroir_buf_t *b, double v)
{
    char   tmp[40], *e, *d;
    int    n, prec;

    if (!isfinite(v)) {
        miroir_buf_adds(b, "null");
        return;
    }

    if (v == floor(v) && fabs(v) < 1e16) {
        n = snprintf(tmp, sizeof(tmp), "%.1f", v);
        miroir_buf_add(b, tmp, (size_t) n);
        return;
    }

    for (prec = 1; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v) {
            break;
        }
    }

    /* serde_json (ryu) writes exponents as "e-7" / "e20", not "e-07" */
    e = strchr(tmp, 'e');
    if (e != NULL) {
        d = e + 1;
        if (*d == '+') {
            memmove(d, d + 1, strlen(d));
        } else if (*d == '-') {
            d++;
        }
        while (d[0] == '0' && d[1] != '\0') {
            memmove(d, d + 1, strlen(d));
        }
        n = (int) strlen(tmp);
    }

    miroir_buf_add(b, tmp, (size_t) n);
}


void
miroir_buf_addstr(miroir_buf_t *b, const char *s, size_t n)
{
    static const char  hex[] = "0123456789abcdef";
    unsigned char      c;
    size_t             i, j;

    miroir_buf_addc(b, '"');

    for (i = 0; i < n; i++) {
        c = (unsigned char) s[i];

        if (c >= 0x20 && c != '"' && c != '\\') {
            /* a run of bytes written as they are */
            for (j = i + 1; j < n; j++) {
                c = (unsigned char) s[j];
                if (c < 0x20 || c == '"' || c == '\\') {
                    break;
                }
            }

            miroir_buf_add(b, s + i, j - i);
            i = j - 1;
            continue;
        }

        if (c == '"' || c == '\\') {
            miroir_buf_addc(b, '\\');
            miroir_buf_addc(b, (char) c);

        } else if (c < 0x20) {
            miroir_buf_adds(b, "\\u00");
            miroir_buf_addc(b, hex[c >> 4]);
            miroir_buf_addc(b, hex[c & 0xf]);

        } else {
            miroir_buf_addc(b, (char) c);
        }
    }

    miroir_buf_addc(b, '"');
}


void
miroir_buf_free(miroir_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}
