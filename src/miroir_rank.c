/*
 * miroir_rank.c -- ranking details parsing and comparison.
 */

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "miroir_rank.h"


/* One entry while parsing, before it is sorted by `order`. */
typedef struct {
    double             order;
    miroir_rank_val_t  v;
    miroir_span_t      s;           /* SORT string span, still escaped */
} miroir_rank_tmp_t;


static miroir_rc_t miroir_rank_finish(miroir_rank_tmp_t *t, uint32_t n,
    miroir_rank_key_t *key, miroir_rank_arena_t *arena);


static miroir_rc_t
miroir_rank_bad(miroir_error_t *err, const char *what)
{
    return miroir_error_set(err, 500, "internal", "internal",
                            "a node answered invalid ranking details: %s",
                            what);
}


/* Look up member name in object obj. Returns 1 and *val when found. */
static int
miroir_rank_member(miroir_span_t obj, const char *name, miroir_span_t *val)
{
    miroir_jiter_t  it;
    miroir_span_t   k, v;

    if (!miroir_jobj_begin(&it, obj, 0)) {
        return 0;
    }

    while (miroir_jobj_next(&it, &k, &v) == 1) {
        if (miroir_jspan_key_eq(k, name)) {
            *val = v;
            return 1;
        }
    }

    return 0;
}


static int
miroir_rank_num_member(miroir_span_t obj, const char *name, double *out)
{
    miroir_span_t  v;

    if (!miroir_rank_member(obj, name, &v) || !miroir_jspan_is_num(v)) {
        return 0;
    }

    *out = miroir_jspan_num(v);

    return 1;
}


/* Classify a sort value span into t. */
static void
miroir_rank_sort_value(miroir_span_t v, miroir_rank_tmp_t *t)
{
    if (miroir_jspan_is_num(v)) {
        t->v.vtype = MIROIR_SV_NUM;
        t->v.num = miroir_jspan_num(v);

    } else if (miroir_jspan_is_str(v)) {
        t->v.vtype = MIROIR_SV_STR;
        t->s = v;

    } else if (miroir_jspan_is_null(v)) {
        t->v.vtype = MIROIR_SV_NULL;

    } else {
        t->v.vtype = MIROIR_SV_OTHER;
    }
}


/* Does the quoted key end with ":asc" / ":desc"?  Sets *asc. */
static int
miroir_rank_direction(miroir_span_t k, int *asc)
{
    if (k.len >= 6 && memcmp(k.p + k.len - 5, ":asc", 4) == 0) {
        *asc = 1;
        return 1;
    }

    if (k.len >= 7 && memcmp(k.p + k.len - 6, ":desc", 5) == 0) {
        *asc = 0;
        return 1;
    }

    return 0;
}


/*
 * One entry of the details (name k), its members read from et (begun
 * inside its object): 1 kept in *t, 0 ignored, -1 with *bad set.
 */
static int
miroir_rank_entry(miroir_span_t k, miroir_jiter_t *et, miroir_rank_tmp_t *t,
    const char **bad)
{
    miroir_span_t  ek, ev, x, order, score, dist, sim;
    int            rc, asc;

    memset(t, 0, sizeof(*t));

    /* one pass over the entry: order, score, value, distance... */
    order.len = score.len = x.len = dist.len = sim.len = 0;

    while ((rc = miroir_jobj_next(et, &ek, &ev)) == 1) {
        if (miroir_jspan_key_eq(ek, "order")) {
            order = ev;
        } else if (miroir_jspan_key_eq(ek, "score")) {
            score = ev;
        } else if (miroir_jspan_key_eq(ek, "value")) {
            x = ev;
        } else if (miroir_jspan_key_eq(ek, "distance")) {
            dist = ev;
        } else if (miroir_jspan_key_eq(ek, "similarity")) {
            sim = ev;
        }
    }

    if (rc < 0 || !miroir_jspan_is_num(order)) {
        *bad = "entry without \"order\"";
        return -1;
    }
    t->order = miroir_jspan_num(order);

    if (miroir_jspan_key_eq(k, "skipped")) {
        t->v.kind = MIROIR_RV_SKIPPED;

    } else if (miroir_jspan_key_eq(k, "vectorSort")) {
        t->v.kind = MIROIR_RV_VECTOR;
        if (miroir_jspan_is_num(sim)) {
            t->v.num = miroir_jspan_num(sim);
        }

    } else if (miroir_jspan_key_prefix(k, "_geoPoint(")
               && miroir_rank_direction(k, &asc))
    {
        t->v.kind = MIROIR_RV_GEO;
        t->v.asc = (uint8_t) asc;
        t->v.vtype = MIROIR_SV_NULL;
        if (miroir_jspan_is_num(dist)) {
            t->v.vtype = MIROIR_SV_NUM;
            t->v.num = miroir_jspan_num(dist);
        }

    } else if (miroir_jspan_is_num(score)) {
        /* words, typo, proximity, attribute, attributeRank,
         * wordPosition, exactness: the rule's local score */
        t->v.kind = MIROIR_RV_SCORE;
        t->v.num = miroir_jspan_num(score);

    } else if (miroir_jspan_key_prefix(k, "<hidden-rule-")) {
        /* redacted: direction unknown, value "<hidden>": all tie */
        t->v.kind = MIROIR_RV_SORT;
        t->v.asc = 1;
        t->v.vtype = MIROIR_SV_OTHER;

    } else if (miroir_rank_direction(k, &asc) && x.len) {
        t->v.kind = MIROIR_RV_SORT;
        t->v.asc = (uint8_t) asc;
        miroir_rank_sort_value(x, t);

    } else {
        /* an entry of a future Meilisearch: ignored, it ties */
        return 0;
    }

    return 1;
}


miroir_rc_t
miroir_rank_parse_details(miroir_span_t details, miroir_rank_key_t *key,
    miroir_error_t *err)
{
    miroir_rank_tmp_t  t[MIROIR_RANK_MAX_RULES];
    miroir_jiter_t     it, et;
    miroir_span_t      k, v;
    uint32_t           n;
    int                rc, kept;
    const char        *bad;

    key->v = NULL;
    key->n = 0;
    key->global = 0.0;

    if (!miroir_jobj_begin(&it, details, 0)) {
        return miroir_rank_bad(err, "_rankingScoreDetails is not an object");
    }

    n = 0;

    while ((rc = miroir_jobj_next(&it, &k, &v)) == 1) {
        if (n == MIROIR_RANK_MAX_RULES) {
            return miroir_rank_bad(err, "too many rules");
        }

        if (!miroir_jobj_begin(&et, v, 0)) {
            return miroir_rank_bad(err, "entry is not an object");
        }

        kept = miroir_rank_entry(k, &et, &t[n], &bad);
        if (kept < 0) {
            return miroir_rank_bad(err, bad);
        }

        n += (uint32_t) kept;
    }

    if (rc < 0) {
        return miroir_rank_bad(err, "malformed JSON");
    }

    return miroir_rank_finish(t, n, key, NULL);
}


const char *
miroir_rank_scan_details(const char *p, const char *end, unsigned depth,
    miroir_rank_key_t *key, miroir_rank_arena_t *arena)
{
    miroir_rank_tmp_t  t[MIROIR_RANK_MAX_RULES];
    miroir_rank_key_t  k0;
    miroir_jiter_t     it, et;
    miroir_span_t      k;
    uint32_t           n;
    int                rc, kept;
    const char        *bad;

    if (p >= end || *p != '{' || depth >= MIROIR_JSPAN_MAX_DEPTH) {
        return NULL;
    }

    it.p = p + 1;
    it.end = end;
    it.depth = depth + 1;
    it.first = 1;

    n = 0;

    while ((rc = miroir_jobj_step(&it, &k)) == 1) {
        if (n == MIROIR_RANK_MAX_RULES || it.p >= it.end || *it.p != '{'
            || it.depth >= MIROIR_JSPAN_MAX_DEPTH)
        {
            return NULL;
        }

        /* the entry is validated while it is read: one pass */
        et.p = it.p + 1;
        et.end = it.end;
        et.depth = it.depth + 1;
        et.first = 1;

        kept = miroir_rank_entry(k, &et, &t[n], &bad);
        if (kept < 0) {
            return NULL;
        }

        it.p = et.p;
        n += (uint32_t) kept;
    }

    if (rc < 0) {
        return NULL;
    }

    k0.v = NULL;
    k0.n = 0;
    k0.borrowed = 0;
    k0.global = 0.0;

    if (miroir_rank_finish(t, n, &k0, arena) != MIROIR_OK) {
        return NULL;
    }

    *key = k0;

    return it.p;
}


const char *
miroir_rank_check_details(const char *p, const char *end, unsigned depth,
    int *ok)
{
    miroir_jiter_t  it, et;
    miroir_span_t   k, ek, ev, order;
    uint32_t        n;
    int             rc;

    *ok = 0;

    if (p >= end || *p != '{' || depth >= MIROIR_JSPAN_MAX_DEPTH) {
        return NULL;
    }

    it.p = p + 1;
    it.end = end;
    it.depth = depth + 1;
    it.first = 1;

    n = 0;

    while ((rc = miroir_jobj_step(&it, &k)) == 1) {
        if (it.p >= it.end || *it.p != '{'
            || it.depth >= MIROIR_JSPAN_MAX_DEPTH)
        {
            return NULL;
        }

        et.p = it.p + 1;
        et.end = it.end;
        et.depth = it.depth + 1;
        et.first = 1;
        order.p = NULL;
        order.len = 0;

        /* the last "order" counts, as in miroir_rank_entry() */
        while ((rc = miroir_jobj_next(&et, &ek, &ev)) == 1) {
            if (ek.len == 7 && memcmp(ek.p, "\"order\"", 7) == 0) {
                order = ev;
            }
        }

        if (rc < 0 || !miroir_jspan_is_num(order)) {
            return NULL;
        }

        it.p = et.p;
        n++;
    }

    if (rc < 0) {
        return NULL;
    }

    /* up to MIROIR_RANK_MAX_RULES entries can never be too many */
    *ok = (n <= MIROIR_RANK_MAX_RULES);

    return it.p;
}


miroir_rc_t
miroir_rank_parse_weighted(miroir_span_t values, miroir_rank_key_t *key,
    miroir_error_t *err)
{
    miroir_rank_tmp_t  t[MIROIR_RANK_MAX_RULES];
    miroir_jiter_t     it, ot;
    miroir_span_t      e, k, v, x;
    uint32_t           n;
    int                rc;

    key->v = NULL;
    key->n = 0;
    key->global = 0.0;

    if (!miroir_jarr_begin(&it, values, 0)) {
        return miroir_rank_bad(err, "weightedScoreValues is not an array");
    }

    n = 0;

    while ((rc = miroir_jarr_next(&it, &e)) == 1) {
        if (n == MIROIR_RANK_MAX_RULES) {
            return miroir_rank_bad(err, "too many rules");
        }

        if (!miroir_jobj_begin(&ot, e, 0) || miroir_jobj_next(&ot, &k, &v) != 1)
        {
            return miroir_rank_bad(err, "bad weightedScoreValues entry");
        }

        memset(&t[n], 0, sizeof(t[n]));
        t[n].order = n;

        if (miroir_jspan_key_eq(k, "weightedScore")
            || miroir_jspan_key_eq(k, "vectorSort"))
        {
            if (!miroir_jspan_is_num(v)) {
                return miroir_rank_bad(err, "non-numeric weighted score");
            }
            t[n].v.kind = k.len == sizeof("\"vectorSort\"") - 1
                          ? MIROIR_RV_VECTOR : MIROIR_RV_SCORE;
            t[n].v.num = miroir_jspan_num(v);

        } else if (miroir_jspan_key_eq(k, "sort")
                   || miroir_jspan_key_eq(k, "geoSort"))
        {
            if (!miroir_rank_member(v, "asc", &x)) {
                return miroir_rank_bad(err, "sort without \"asc\"");
            }
            t[n].v.asc = x.len == 4 && x.p[0] == 't';

            if (k.len == sizeof("\"sort\"") - 1) {
                t[n].v.kind = MIROIR_RV_SORT;
                if (!miroir_rank_member(v, "value", &x)) {
                    return miroir_rank_bad(err, "sort without \"value\"");
                }
                miroir_rank_sort_value(x, &t[n]);

            } else {
                t[n].v.kind = MIROIR_RV_GEO;
                t[n].v.vtype = miroir_rank_num_member(v, "distance",
                                                      &t[n].v.num)
                               ? MIROIR_SV_NUM : MIROIR_SV_NULL;
            }

        } else {
            return miroir_rank_bad(err, "unknown weightedScoreValues entry");
        }

        n++;
    }

    if (rc < 0) {
        return miroir_rank_bad(err, "malformed JSON");
    }

    return miroir_rank_finish(t, n, key, NULL);
}


/* size bytes (16-aligned) from arena: a new 4 KB block when needed. */
static void *
miroir_rank_arena_alloc(miroir_rank_arena_t *a, size_t size)
{
    char    *b;
    size_t   cap;

    size = (size + 15) & ~(size_t) 15;

    if (a->block == NULL || a->cap - a->used < size) {
        cap = size + 16 > 4096 ? size + 16 : 4096;

        b = malloc(cap);
        if (b == NULL) {
            return NULL;
        }

        memcpy(b, &a->block, sizeof(char *));
        a->block = b;
        a->used = 16;
        a->cap = cap;
    }

    b = a->block + a->used;
    a->used += size;

    return b;
}


void
miroir_rank_arena_free(miroir_rank_arena_t *a)
{
    char  *b, *next;

    for (b = a->block; b != NULL; b = next) {
        memcpy(&next, b, sizeof(char *));
        free(b);
    }

    a->block = NULL;
    a->used = 0;
    a->cap = 0;
}


/* Sort t by order, then copy into one block (malloc()ed or in arena). */
static miroir_rc_t
miroir_rank_finish(miroir_rank_tmp_t *t, uint32_t n, miroir_rank_key_t *key,
    miroir_rank_arena_t *arena)
{
    miroir_rank_tmp_t   tmp;
    miroir_rank_val_t  *v;
    uint32_t            i, j;
    size_t              strbytes, len;
    char               *s;

    if (n == 0) {
        return MIROIR_OK;
    }

    /* insertion sort: n is small and usually already in order */
    for (i = 1; i < n; i++) {
        tmp = t[i];
        for (j = i; j > 0 && t[j - 1].order > tmp.order; j--) {
            t[j] = t[j - 1];
        }
        t[j] = tmp;
    }

    strbytes = 0;
    for (i = 0; i < n; i++) {
        if (t[i].v.vtype == MIROIR_SV_STR && t[i].v.kind == MIROIR_RV_SORT) {
            strbytes += t[i].s.len;   /* unescaped is never longer */
        }
    }

    v = arena ? miroir_rank_arena_alloc(arena, n * sizeof(*v) + strbytes)
              : malloc(n * sizeof(*v) + strbytes);
    if (v == NULL) {
        return MIROIR_ENOMEM;
    }

    s = (char *) (v + n);

    for (i = 0; i < n; i++) {
        v[i] = t[i].v;

        if (v[i].vtype == MIROIR_SV_STR && v[i].kind == MIROIR_RV_SORT) {
            len = miroir_jspan_unescape(t[i].s, s, t[i].s.len);
            if (len == (size_t) -1) {
                len = 0;
            }
            v[i].str = s;
            v[i].len = (uint32_t) len;
            s += len;
        }
    }

    key->v = v;
    key->n = n;
    key->borrowed = (arena != NULL);

    return MIROIR_OK;
}


void
miroir_rank_key_free(miroir_rank_key_t *key)
{
    if (key == NULL) {
        return;
    }

    if (!key->borrowed) {
        free(key->v);
    }

    key->v = NULL;
    key->n = 0;
    key->borrowed = 0;
}


/* -1 when x ranks first, 1 when y does, 0 tie ("greater is better"). */
static int
miroir_rank_cmp_dbl(double x, double y, int smaller_first, int eps)
{
    if (eps && fabs(x - y) <= DBL_EPSILON) {
        return 0;
    }

    if (x == y || (isnan(x) && isnan(y))) {
        return 0;
    }

    if (isnan(x)) {
        return 1;
    }

    if (isnan(y)) {
        return -1;
    }

    if (smaller_first) {
        return x < y ? -1 : 1;
    }

    return x > y ? -1 : 1;
}


static int
miroir_rank_cmp_sort(const miroir_rank_val_t *a, const miroir_rank_val_t *b)
{
    size_t  n;
    int     c;

    /* missing last, numbers before strings, whatever the direction */
    if (a->vtype == MIROIR_SV_NULL || b->vtype == MIROIR_SV_NULL) {
        return (a->vtype == MIROIR_SV_NULL) - (b->vtype == MIROIR_SV_NULL);
    }

    if (a->vtype == MIROIR_SV_OTHER || b->vtype == MIROIR_SV_OTHER) {
        return 0;
    }

    if (a->vtype != b->vtype) {
        return a->vtype == MIROIR_SV_NUM ? -1 : 1;
    }

    if (a->vtype == MIROIR_SV_NUM) {
        return miroir_rank_cmp_dbl(a->num, b->num, a->asc, 0);
    }

    n = a->len < b->len ? a->len : b->len;
    c = memcmp(a->str, b->str, n);
    if (c == 0) {
        c = (a->len > b->len) - (a->len < b->len);
    }

    if (c == 0) {
        return 0;
    }

    /* asc: the smaller string first */
    return a->asc ? (c < 0 ? -1 : 1) : (c < 0 ? 1 : -1);
}


static int
miroir_rank_is_score(const miroir_rank_val_t *v)
{
    return v->kind <= MIROIR_RV_SKIPPED;
}


int
miroir_rank_cmp(const miroir_rank_key_t *a, const miroir_rank_key_t *b,
    miroir_rank_mode_e mode)
{
    const miroir_rank_val_t  *x, *y;
    uint32_t                  i, ra, rb;
    double                    sx, sy;
    int                       c, eps;

    eps = (mode == MIROIR_RANK_FEDERATED);

    for (i = 0; ; i++) {
        if (i >= a->n || i >= b->n) {
            /* the key that runs out first goes last */
            return (i >= a->n) - (i >= b->n);
        }

        x = &a->v[i];
        y = &b->v[i];

        if (miroir_rank_is_score(x) && miroir_rank_is_score(y)) {
            sx = x->kind == MIROIR_RV_SKIPPED ? 0.0 : x->num;
            sy = y->kind == MIROIR_RV_SKIPPED ? 0.0 : y->num;
            c = miroir_rank_cmp_dbl(sx, sy, 0, eps);

        } else if (x->kind == MIROIR_RV_SORT && y->kind == MIROIR_RV_SORT
                   && x->asc == y->asc)
        {
            c = miroir_rank_cmp_sort(x, y);

        } else if (x->kind == MIROIR_RV_GEO && y->kind == MIROIR_RV_GEO) {
            if (x->asc != y->asc) {
                continue;
            }
            if (x->vtype == MIROIR_SV_NULL || y->vtype == MIROIR_SV_NULL) {
                c = (x->vtype == MIROIR_SV_NULL)
                    - (y->vtype == MIROIR_SV_NULL);
            } else {
                c = miroir_rank_cmp_dbl(x->num, y->num, x->asc, eps);
            }

        } else if (x->kind == MIROIR_RV_SORT && y->kind == MIROIR_RV_SORT) {
            /* opposite directions: the global scores decide */
            return miroir_rank_cmp_dbl(a->global, b->global, 0, 0);

        } else {
            /* incomparable: more remaining entries first, then global */
            ra = a->n - i;
            rb = b->n - i;
            if (ra != rb) {
                return ra > rb ? -1 : 1;
            }
            return miroir_rank_cmp_dbl(a->global, b->global, 0, 0);
        }

        if (c != 0) {
            return c;
        }
    }
}
