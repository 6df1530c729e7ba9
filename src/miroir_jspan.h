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

#include "miroir_common.h"


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
 * Next member: *key is the key string with its quotes, *val the value.
 * @return 1 for a member, 0 at the end, -1 on malformed text.
 */
int miroir_jobj_next(miroir_jiter_t *it, miroir_span_t *key,
    miroir_span_t *val);

/*
 * Step to the next member without scanning its value: @return 1 with *key
 * set and it->p at the value's first byte (the caller scans the value and
 * sets it->p past it), 0 at the end, -1 on malformed text.
 */
int miroir_jobj_step(miroir_jiter_t *it, miroir_span_t *key);

/* Next element: @return 1, 0 at the end, -1 on malformed text. */
int miroir_jarr_next(miroir_jiter_t *it, miroir_span_t *val);

/*
 * Step to the next element without scanning it: @return 1 with it->p at
 * the element's first byte (the caller scans it, then sets it->p past
 * it), 0 at the end, -1 on malformed text.
 */
int miroir_jarr_step(miroir_jiter_t *it);

/* 1 if the quoted key span equals the literal lit (raw bytes, no escapes). */
int miroir_jspan_key_eq(miroir_span_t key, const char *lit);

/* 1 if the quoted key span starts with the literal prefix. */
int miroir_jspan_key_prefix(miroir_span_t key, const char *prefix);

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

void miroir_buf_add(miroir_buf_t *b, const void *p, size_t n);
void miroir_buf_adds(miroir_buf_t *b, const char *s);
void miroir_buf_addc(miroir_buf_t *b, char c);
void miroir_buf_addu(miroir_buf_t *b, uint64_t v);
/* A double as serde_json prints f64: shortest round trip, "1.0" style. */
void miroir_buf_addf(miroir_buf_t *b, double v);
/* s as a quoted JSON string. */
void miroir_buf_addstr(miroir_buf_t *b, const char *s, size_t n);
void miroir_buf_free(miroir_buf_t *b);


#endif /* MIROIR_JSPAN_H */
