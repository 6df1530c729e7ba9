/*
 * miroir_jspan.h -- a validating JSON scanner that works on byte spans.
 *
 * The merger must copy hits byte for byte (cJSON would re-print 9.0 as 9
 * and re-escape strings), so node responses are not turned into trees:
 * this scanner walks the text once, validates it (RFC 8259 grammar, depth
 * limited, no UTF-8 check) and hands out the spans of object members and
 * array elements.  It never allocates; spans point into the caller's text.
 *
 * Also here: a growable output buffer and a few span helpers shared by the
 * merge, facet and federation code.
 */

#ifndef MIROIR_JSPAN_H
#define MIROIR_JSPAN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "miroir_common.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif


/*
 * Hidden: called on every byte of every node answer, from other files of
 * the same module, which is built position-independent: a default
 * visibility symbol would be called through the PLT and never inlined.
 */
#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif


#define MIROIR_JSPAN_MAX_DEPTH  128


/* A byte range of the input text; a string span includes its quotes. */
typedef struct {
    const char  *p;
    size_t       len;
} miroir_span_t;


/* Cursor over the members of an object or the elements of an array. */
typedef struct {
    const char  *p;
    const char  *end;
    unsigned     depth;
    int          first;
} miroir_jiter_t;


/*
 * Skip one JSON value (after optional whitespace), validating it.
 * @pre  p <= end.
 * @return the first byte after the value, or NULL if the text is not one
 *         well-formed value (truncated, bad token, nesting > max depth).
 */
const char *miroir_jspan_value(const char *p, const char *end,
    unsigned depth);

/*
 * Parse a whole document that must be exactly one JSON value.
 * @return MIROIR_OK with *val set, or MIROIR_EINVAL.
 */
miroir_rc_t miroir_jspan_doc(const char *p, size_t len, miroir_span_t *val);

/*
 * Start iterating the object (or array) val.
 * @return 1 when val is an object (array), else 0.
 */
int miroir_jobj_begin(miroir_jiter_t *it, miroir_span_t val, unsigned depth);
int miroir_jarr_begin(miroir_jiter_t *it, miroir_span_t val, unsigned depth);

/*
 * The iteration primitives below are inline: they run for every token of
 * every node answer.  miroir_jspan_str_end() is their string scanner.
 */

/* p at an opening quote: the byte after the closing one, or NULL. */
const char *miroir_jspan_str_end(const char *p, const char *end);


/*
 * miroir_jspan_str_end() without a call for a string of up to 15 bytes
 * without escapes (most keys and many values): 16 bytes compared at once.
 */
static inline const char *
miroir_jspan_str_skip(const char *p, const char *end)
{
#if defined(__SSE2__)
    __m128i   x, s;
    unsigned  m;

    if (end - p > 16) {
        x = _mm_loadu_si128((const __m128i *) (const void *) (p + 1));
        s = _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                         _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')));
        s = _mm_or_si128(s, _mm_cmpeq_epi8(
                                _mm_min_epu8(x, _mm_set1_epi8(0x1f)), x));
        m = (unsigned) _mm_movemask_epi8(s);

        if (m != 0 && p[1 + __builtin_ctz(m)] == '"') {
            return p + 2 + __builtin_ctz(m);
        }
    }
#endif

    return miroir_jspan_str_end(p, end);
}


static inline const char *
miroir_jspan_skip_ws(const char *p, const char *end)
{
    /* a byte above the space ends it; else one bit test */
    while (p < end && (unsigned char) *p <= ' '
           && ((UINT64_C(1) << (unsigned char) *p)
               & ((UINT64_C(1) << ' ') | (UINT64_C(1) << '\n')
                  | (UINT64_C(1) << '\r') | (UINT64_C(1) << '\t'))))
    {
        p++;
    }

    return p;
}

/* p at a number's first byte: the byte after it, or NULL. */
static inline const char *
miroir_jspan_number(const char *p, const char *end)
{
    const char  *s;

    if (p < end && *p == '-') {
        p++;
    }

    if (p >= end) {
        return NULL;
    }

    if (*p == '0') {
        p++;

    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }

    } else {
        return NULL;
    }

    if (p < end && *p == '.') {
        s = ++p;
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
        if (p == s) {
            return NULL;
        }
    }

    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) {
            p++;
        }
        s = p;
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
        if (p == s) {
            return NULL;
        }
    }

    return p;
}


/* miroir_jspan_value() with the scalar cases first, without a call. */
static inline const char *
miroir_jspan_value_at(const char *p, const char *end, unsigned depth)
{
    if (p < end) {
        if (*p == '"') {
            return miroir_jspan_str_skip(p, end);
        }

        if ((*p >= '0' && *p <= '9') || *p == '-') {
            return miroir_jspan_number(p, end);
        }
    }

    return miroir_jspan_value(p, end, depth);
}


/* Before the next item: ',' or the closer. Returns 1 item, 0 end, -1. */
static inline int
miroir_jiter_sep(miroir_jiter_t *it, char closer)
{
    const char  *p;

    p = miroir_jspan_skip_ws(it->p, it->end);
    if (p >= it->end) {
        return -1;
    }

    if (*p == closer) {
        it->p = p + 1;
        return 0;
    }

    if (!it->first) {
        if (*p != ',') {
            return -1;
        }
        p = miroir_jspan_skip_ws(p + 1, it->end);
        if (p >= it->end || *p == closer) {
            return -1;
        }
    }

    it->first = 0;
    it->p = p;

    return 1;
}

/*
 * Step to the next member without scanning its value: @return 1 with *key
 * set (the key string with its quotes) and it->p at the value's first
 * byte (the caller scans the value and sets it->p past it), 0 at the end,
 * -1 on malformed text.
 */
static inline int
miroir_jobj_step(miroir_jiter_t *it, miroir_span_t *key)
{
    const char  *e;
    int          rc;

    rc = miroir_jiter_sep(it, '}');
    if (rc != 1) {
        return rc;
    }

    if (*it->p != '"') {
        return -1;
    }

    e = miroir_jspan_str_skip(it->p, it->end);
    if (e == NULL) {
        return -1;
    }

    key->p = it->p;
    key->len = (size_t) (e - it->p);

    e = miroir_jspan_skip_ws(e, it->end);
    if (e >= it->end || *e != ':') {
        return -1;
    }

    it->p = miroir_jspan_skip_ws(e + 1, it->end);

    return 1;
}

/*
 * Next member: *key is the key string with its quotes, *val the value.
 * @return 1 for a member, 0 at the end, -1 on malformed text.
 */
static inline int
miroir_jobj_next(miroir_jiter_t *it, miroir_span_t *key, miroir_span_t *val)
{
    const char  *e;
    int          rc;

    rc = miroir_jobj_step(it, key);
    if (rc != 1) {
        return rc;
    }

    val->p = it->p;
    e = miroir_jspan_value_at(it->p, it->end, it->depth);
    if (e == NULL) {
        return -1;
    }

    val->len = (size_t) (e - val->p);
    it->p = e;

    return 1;
}

/*
 * Step to the next element without scanning it: @return 1 with it->p at
 * the element's first byte (the caller scans it, then sets it->p past
 * it), 0 at the end, -1 on malformed text.
 */
static inline int
miroir_jarr_step(miroir_jiter_t *it)
{
    return miroir_jiter_sep(it, ']');
}

/* Next element: @return 1, 0 at the end, -1 on malformed text. */
static inline int
miroir_jarr_next(miroir_jiter_t *it, miroir_span_t *val)
{
    const char  *e;
    int          rc;

    rc = miroir_jiter_sep(it, ']');
    if (rc != 1) {
        return rc;
    }

    val->p = it->p;
    e = miroir_jspan_value_at(it->p, it->end, it->depth);
    if (e == NULL) {
        return -1;
    }

    val->len = (size_t) (e - val->p);
    it->p = e;

    return 1;
}

/*
 * 1 if the quoted key span equals the literal lit (raw bytes, no escapes).
 * Inline: called with literals, whose strlen() the compiler folds.
 */
static inline int
miroir_jspan_key_eq(miroir_span_t key, const char *lit)
{
    size_t  n = strlen(lit);

    return key.len == n + 2 && memcmp(key.p + 1, lit, n) == 0;
}

/* 1 if the quoted key span starts with the literal prefix. */
static inline int
miroir_jspan_key_prefix(miroir_span_t key, const char *prefix)
{
    size_t  n = strlen(prefix);

    return key.len >= n + 2 && memcmp(key.p + 1, prefix, n) == 0;
}

/* Kind of a value span by its first byte. */
static inline int miroir_jspan_is_obj(miroir_span_t v)
    { return v.len > 0 && v.p[0] == '{'; }
static inline int miroir_jspan_is_arr(miroir_span_t v)
    { return v.len > 0 && v.p[0] == '['; }
static inline int miroir_jspan_is_str(miroir_span_t v)
    { return v.len > 0 && v.p[0] == '"'; }
static inline int miroir_jspan_is_null(miroir_span_t v)
    { return v.len == 4 && v.p[0] == 'n'; }
static inline int miroir_jspan_is_num(miroir_span_t v)
    { return v.len > 0 && (v.p[0] == '-' || (v.p[0] >= '0' && v.p[0] <= '9')); }

/*
 * Value of a number span.
 * @pre  miroir_jspan_is_num(v) and v was validated.
 */
double miroir_jspan_num(miroir_span_t v);

/*
 * Unescape the string span v into out (up to size bytes, not terminated).
 * @return the unescaped length (may exceed size: then out is truncated),
 *         or (size_t) -1 if v is not a valid string span.
 */
size_t miroir_jspan_unescape(miroir_span_t v, char *out, size_t size);


/* Growable output buffer; on allocation failure it sets oom and stops. */
typedef struct {
    char    *data;
    size_t   len;
    size_t   cap;
    int      oom;
} miroir_buf_t;

void miroir_buf_add_slow(miroir_buf_t *b, const void *p, size_t n);
void miroir_buf_addc_slow(miroir_buf_t *b, char c);
void miroir_buf_adds(miroir_buf_t *b, const char *s);

/* Inline when the bytes fit (the common case), else the buffer grows. */
static inline void
miroir_buf_add(miroir_buf_t *b, const void *p, size_t n)
{
    uint64_t     x, y;
    uint32_t     u, v;
    char        *d;
    const char  *q;

    if (n && b->cap - b->len >= n && !b->oom) {
        d = b->data + b->len;
        q = p;
        b->len += n;

        /* short copies (keys, numbers) without a call: two overlapping
           fixed-size moves */
        if (n >= 8 && n <= 16) {
            memcpy(&x, q, 8);
            memcpy(&y, q + n - 8, 8);
            memcpy(d, &x, 8);
            memcpy(d + n - 8, &y, 8);

        } else if (n >= 4 && n < 8) {
            memcpy(&u, q, 4);
            memcpy(&v, q + n - 4, 4);
            memcpy(d, &u, 4);
            memcpy(d + n - 4, &v, 4);

        } else if (n < 4) {
            d[0] = q[0];
            d[n / 2] = q[n / 2];
            d[n - 1] = q[n - 1];

        } else {
            memcpy(d, q, n);
        }

        return;
    }

    miroir_buf_add_slow(b, p, n);
}

static inline void
miroir_buf_addc(miroir_buf_t *b, char c)
{
    if (b->len < b->cap && !b->oom) {
        b->data[b->len++] = c;
        return;
    }

    miroir_buf_addc_slow(b, c);
}

void miroir_buf_addu(miroir_buf_t *b, uint64_t v);
/* A double as serde_json prints f64: shortest round trip, "1.0" style. */
void miroir_buf_addf(miroir_buf_t *b, double v);
/* s as a quoted JSON string. */
void miroir_buf_addstr(miroir_buf_t *b, const char *s, size_t n);
void miroir_buf_free(miroir_buf_t *b);


#if defined(__GNUC__)
#pragma GCC visibility pop
#endif


#endif /* MIROIR_JSPAN_H */
