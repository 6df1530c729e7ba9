/*
 * miroir_merge.c -- node answer parsing and the single-index merge.
 */

#include <stdlib.h>
#include <string.h>

#include "miroir_merge.h"


typedef struct {
    int                  added;
    miroir_node_resp_t   r;
    miroir_rank_key_t   *keys;
    miroir_rank_arena_t  arena;     /* the values of keys */
} miroir_merge_node_t;

typedef struct {
    miroir_span_t  *v;
    size_t          n;
    size_t          cap;
} miroir_seen_t;

struct miroir_merge_s {
    miroir_merge_params_t   p;
    size_t                  nnodes;
    miroir_merge_node_t    *nodes;
};


static miroir_rc_t miroir_resp_parse(const char *body, size_t len,
    miroir_node_resp_t *r, int want_keys, miroir_error_t *err);
static void miroir_resp_keys_free(miroir_node_resp_t *r);


static miroir_rc_t
miroir_resp_bad(miroir_error_t *err, const char *what)
{
    return miroir_error_set(err, 500, "internal", "internal",
                            "a node answered an invalid search response: %s",
                            what);
}


/*
 * Scan the next hit of the hits array in one pass, noting the members the
 * merger reads.  Returns 1, 0 at the end, -1 malformed, -2 not an object.
 */
static int
miroir_resp_hit(miroir_jiter_t *ai, miroir_hit_span_t *h,
    miroir_node_resp_t *r)
{
    miroir_jiter_t      it;
    miroir_span_t       k, v, *kv;
    miroir_rank_key_t  *key;
    const char         *e;
    size_t              cap;
    int                 rc;

    memset(h, 0, sizeof(*h));
    h->m0 = r->nkv;
    key = r->keys ? &r->keys[r->nhits] : NULL;

    rc = miroir_jarr_step(ai);
    if (rc != 1) {
        return rc;
    }

    if (*ai->p != '{') {
        return -2;
    }

    if (ai->depth >= MIROIR_JSPAN_MAX_DEPTH) {
        return -1;
    }

    /* bounded by the array's end; the object stops at its own '}' */
    it.p = ai->p + 1;
    it.end = ai->end;
    it.depth = ai->depth + 1;
    it.first = 1;

    while ((rc = miroir_jobj_step(&it, &k)) == 1) {
        v.p = it.p;
        e = NULL;

        if (key != NULL && miroir_jspan_key_eq(k, "_rankingScoreDetails")) {
            /* parsed while validated; else by miroir_merge_add() */
            miroir_rank_key_free(key);
            e = miroir_rank_scan_details(it.p, it.end, it.depth, key,
                                         &r->arena);

        } else if (r->want_keys == 2
                   && miroir_jspan_key_eq(k, "_rankingScoreDetails"))
        {
            /* checked while validated; the last one counts */
            e = miroir_rank_check_details(it.p, it.end, it.depth,
                                          &h->details_ok);
        }

        if (e == NULL) {
            e = miroir_jspan_value(it.p, it.end, it.depth);
            if (e == NULL) {
                rc = -1;
                break;
            }
        }

        v.len = (size_t) (e - it.p);
        it.p = e;

        if (r->nkv == r->kvcap) {
            cap = r->kvcap ? r->kvcap * 2 : 128;
            kv = realloc(r->kv, cap * 2 * sizeof(miroir_span_t));
            if (kv == NULL) {
                return -4;
            }
            r->kv = kv;
            r->kvcap = cap;
        }
        r->kv[2 * r->nkv] = k;
        r->kv[2 * r->nkv + 1] = v;
        r->nkv++;
        h->nm++;

        if (k.len < 3 || k.p[1] != '_') {
            continue;
        }
        if (miroir_jspan_key_eq(k, "_rankingScoreDetails")) {
            h->details = v;
        } else if (miroir_jspan_key_eq(k, "_rankingScore")) {
            h->score = v;
        } else if (miroir_jspan_key_eq(k, "_federation")) {
            h->federation = v;
        }
    }

    if (rc != 0) {
        return -1;
    }

    h->obj.p = ai->p;
    h->obj.len = (size_t) (it.p - ai->p);
    ai->p = it.p;

    return 1;
}


/* Release the ranking keys of r and their array. */
static void
miroir_resp_keys_free(miroir_node_resp_t *r)
{
    size_t  i;

    if (r->keys == NULL) {
        return;
    }

    for (i = 0; i < r->hitcap; i++) {
        miroir_rank_key_free(&r->keys[i]);
    }

    free(r->keys);
    r->keys = NULL;
    r->hitcap = 0;
}


/* Scan the hits array at it->p in one pass into r->hits. */
static int
miroir_resp_hits(miroir_jiter_t *it, miroir_node_resp_t *r)
{
    miroir_jiter_t      ai;
    miroir_hit_span_t  *h;
    miroir_rank_key_t  *keys;
    size_t              cap;
    int                 rc;

    if (it->p >= it->end || *it->p != '[') {
        return -3;
    }

    ai.p = it->p + 1;
    ai.end = it->end;
    ai.depth = it->depth + 1;
    ai.first = 1;

    cap = 0;
    miroir_resp_keys_free(r);
    free(r->hits);
    r->hits = NULL;
    r->nhits = 0;
    r->nkv = 0;

    for ( ;; ) {
        if (r->nhits == cap) {
            cap = cap ? cap * 2 : 32;
            h = realloc(r->hits, cap * sizeof(*h));
            if (h == NULL) {
                return -4;
            }
            r->hits = h;

            if (r->want_keys == 1) {
                keys = realloc(r->keys, cap * sizeof(miroir_rank_key_t));
                if (keys == NULL) {
                    return -4;
                }
                memset(keys + r->hitcap, 0,
                       (cap - r->hitcap) * sizeof(miroir_rank_key_t));
                r->keys = keys;
                r->hitcap = cap;
            }
        }

        rc = miroir_resp_hit(&ai, &r->hits[r->nhits], r);
        if (rc != 1) {
            break;
        }
        r->nhits++;
    }

    it->p = ai.p;

    return rc;
}


miroir_rc_t
miroir_node_resp_parse(const char *body, size_t len, miroir_node_resp_t *r,
    miroir_error_t *err)
{
    return miroir_resp_parse(body, len, r, 0, err);
}


/* want_keys: also each hit's ranking key (r->keys), in the same pass. */
static miroir_rc_t
miroir_resp_parse(const char *body, size_t len, miroir_node_resp_t *r,
    int want_keys, miroir_error_t *err)
{
    miroir_jiter_t   it;
    miroir_span_t    k, v;
    const char      *end, *e;
    int              rc, has_hits, is_error;
    double           d;

    memset(r, 0, sizeof(*r));
    r->want_keys = want_keys;

    if (body == NULL) {
        return miroir_resp_bad(err, "no body");
    }

    end = body + len;
    it.p = body;
    while (it.p < end && (*it.p == ' ' || *it.p == '\n' || *it.p == '\r'
                          || *it.p == '\t'))
    {
        it.p++;
    }

    if (it.p >= end || *it.p != '{') {
        return miroir_resp_bad(err, "not an object");
    }

    it.p++;
    it.end = end;
    it.depth = 1;
    it.first = 1;

    has_hits = 0;
    is_error = 0;

    /* one pass: the hits are scanned in place, other values skipped */
    while ((rc = miroir_jobj_step(&it, &k)) == 1) {
        if (miroir_jspan_key_eq(k, "hits")) {
            rc = miroir_resp_hits(&it, r);
            if (rc != 0) {
                miroir_node_resp_free(r);
                if (rc == -4) {
                    return MIROIR_ENOMEM;
                }
                return miroir_resp_bad(err, rc == -2
                                       ? "a hit is not an object"
                                       : rc == -3 ? "\"hits\" is not an array"
                                                  : "malformed hits");
            }
            has_hits = 1;
            continue;
        }

        v.p = it.p;
        e = miroir_jspan_value(it.p, it.end, it.depth);
        if (e == NULL) {
            rc = -1;
            break;
        }
        v.len = (size_t) (e - it.p);
        it.p = e;

        if (miroir_jspan_key_eq(k, "query")) {
            r->query = v;

        } else if (miroir_jspan_key_eq(k, "estimatedTotalHits")
                   || miroir_jspan_key_eq(k, "totalHits"))
        {
            if (!miroir_jspan_is_num(v) || v.p[0] == '-') {
                miroir_node_resp_free(r);
                return miroir_resp_bad(err, "bad total");
            }
            d = miroir_jspan_num(v);
            r->total = d >= 1.8e19 ? UINT64_MAX : (uint64_t) d;

        } else if (miroir_jspan_key_eq(k, "facetDistribution")) {
            r->facet_dist = v;

        } else if (miroir_jspan_key_eq(k, "facetStats")) {
            r->facet_stats = v;

        } else if (miroir_jspan_key_eq(k, "facetsByIndex")) {
            r->facets_by_index = v;

        } else if (miroir_jspan_key_eq(k, "code")) {
            is_error = 1;
        }
    }

    if (rc == 0) {
        while (it.p < end && (*it.p == ' ' || *it.p == '\n'
                              || *it.p == '\r' || *it.p == '\t'))
        {
            it.p++;
        }
        if (it.p != end) {
            rc = -1;
        }
    }

    if (rc < 0) {
        miroir_node_resp_free(r);
        return miroir_resp_bad(err, "malformed or truncated JSON");
    }

    if (!has_hits) {
        miroir_node_resp_free(r);
        return miroir_resp_bad(err, is_error ? "an error object"
                                             : "no \"hits\"");
    }

    return MIROIR_OK;
}


void
miroir_node_resp_free(miroir_node_resp_t *r)
{
    if (r == NULL) {
        return;
    }

    free(r->hits);
    r->hits = NULL;
    r->nhits = 0;
    free(r->kv);
    r->kv = NULL;
    r->nkv = 0;
    r->kvcap = 0;
    miroir_resp_keys_free(r);
    miroir_rank_arena_free(&r->arena);
}


/* Should the member named by key k (quoted) be dropped from a hit? */
static int
miroir_strip_attr(const miroir_strip_t *s, miroir_span_t k)
{
    size_t  i;

    if (miroir_jspan_key_prefix(k, "_miroir_")) {
        return 1;
    }

    for (i = 0; i < s->nattrs; i++) {
        if (miroir_jspan_key_eq(k, s->attrs[i])) {
            return 1;
        }
    }

    return 0;
}


/* Copy object obj without the members strip drops (and skip_key). */
static void
miroir_write_filtered(miroir_buf_t *out, miroir_span_t obj,
    const miroir_strip_t *s, const char *skip1, const char *skip2)
{
    miroir_jiter_t  it;
    miroir_span_t   k, v;
    int             first;

    if (!miroir_jobj_begin(&it, obj, 0)) {
        miroir_buf_add(out, obj.p, obj.len);
        return;
    }

    miroir_buf_addc(out, '{');
    first = 1;

    while (miroir_jobj_next(&it, &k, &v) == 1) {
        if (miroir_strip_attr(s, k)
            || (skip1 != NULL && miroir_jspan_key_eq(k, skip1))
            || (skip2 != NULL && miroir_jspan_key_eq(k, skip2)))
        {
            continue;
        }

        if (!first) {
            miroir_buf_addc(out, ',');
        }
        first = 0;

        miroir_buf_add(out, k.p, k.len);
        miroir_buf_addc(out, ':');
        miroir_buf_add(out, v.p, v.len);
    }

    miroir_buf_addc(out, '}');
}


/* Append member k:v (or k:filtered v) after a comma when needed. */
static void
miroir_write_member(miroir_buf_t *out, int *first, miroir_span_t k,
    miroir_span_t v)
{
    if (!*first) {
        miroir_buf_addc(out, ',');
    }
    *first = 0;

    miroir_buf_add(out, k.p, k.len);
    miroir_buf_addc(out, ':');
    miroir_buf_add(out, v.p, v.len);
}


/*
 * One member k:v of a hit, unless strip drops it; *extra is written (then
 * cleared) before `_rankingScore`/`_rankingScoreDetails`.
 */
static void
miroir_write_hit_member(miroir_buf_t *out, int *first, miroir_span_t k,
    miroir_span_t v, const miroir_strip_t *s, const char **extra,
    size_t extra_len)
{
    int  details;

    if (k.len < 3 || k.p[1] != '_') {
        if (s->nattrs == 0 || !miroir_strip_attr(s, k)) {
            miroir_write_member(out, first, k, v);
        }
        return;
    }

    details = miroir_jspan_key_eq(k, "_rankingScoreDetails");

    if (details || miroir_jspan_key_eq(k, "_rankingScore")) {
        if (*extra != NULL) {
            if (!*first) {
                miroir_buf_addc(out, ',');
            }
            *first = 0;
            miroir_buf_add(out, *extra, extra_len);
            *extra = NULL;
        }

        if (details ? s->keep_details : s->keep_score) {
            miroir_write_member(out, first, k, v);
        }
        return;
    }

    if (miroir_strip_attr(s, k)) {
        return;
    }

    if (miroir_jspan_key_eq(k, "_formatted")
        || miroir_jspan_key_eq(k, "_matchesPosition")
        || (s->strip_proxy && miroir_jspan_key_eq(k, "_federation")))
    {
        if (!*first) {
            miroir_buf_addc(out, ',');
        }
        *first = 0;
        miroir_buf_add(out, k.p, k.len);
        miroir_buf_addc(out, ':');

        if (k.p[2] == 'f' && k.p[3] == 'e') {
            miroir_write_filtered(out, v, s, "weightedScoreValues",
                                  "extra_document");
        } else {
            miroir_write_filtered(out, v, s, NULL, NULL);
        }
        return;
    }

    miroir_write_member(out, first, k, v);
}


miroir_rc_t
miroir_merge_write_hit(miroir_buf_t *out, miroir_span_t hit,
    const miroir_strip_t *s, const char *extra, size_t extra_len)
{
    miroir_jiter_t  it;
    miroir_span_t   k, v;
    int             first;

    if (!miroir_jobj_begin(&it, hit, 0)) {
        return MIROIR_EINVAL;
    }

    miroir_buf_addc(out, '{');
    first = 1;

    while (miroir_jobj_next(&it, &k, &v) == 1) {
        miroir_write_hit_member(out, &first, k, v, s, &extra, extra_len);
    }

    if (extra != NULL) {
        if (!first) {
            miroir_buf_addc(out, ',');
        }
        miroir_buf_add(out, extra, extra_len);
    }

    miroir_buf_addc(out, '}');

    return out->oom ? MIROIR_ENOMEM : MIROIR_OK;
}


/* Copy n bytes to d without a call for short ones; returns d + n. */
static inline char *
miroir_copy_short(char *d, const char *q, size_t n)
{
    uint64_t  x, y;
    uint32_t  u, v;

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

    } else if (n > 0 && n < 4) {
        d[0] = q[0];
        d[n / 2] = q[n / 2];
        d[n - 1] = q[n - 1];

    } else {
        memcpy(d, q, n);
    }

    return d + n;
}


miroir_rc_t
miroir_merge_write_parsed_hit(miroir_buf_t *out, const miroir_node_resp_t *r,
    const miroir_hit_span_t *h, const miroir_strip_t *s)
{
    const miroir_span_t  *kv;
    const char           *extra;
    char                 *d;
    size_t                i;
    int                   first;
    miroir_span_t         k, v;

    if (h->m0 + h->nm > r->nkv) {
        return miroir_merge_write_hit(out, h->obj, s, NULL, 0);
    }

    kv = r->kv + 2 * h->m0;
    extra = NULL;
    first = 1;

    miroir_buf_addc(out, '{');

    for (i = 0; i < h->nm; i++) {
        k = kv[2 * i];
        v = kv[2 * i + 1];

        if (s->nattrs == 0 && (k.len < 3 || k.p[1] != '_') && !out->oom
            && out->cap - out->len >= k.len + v.len + 2)
        {
            /* a member written as it is, the common case: through a
               local pointer (a store via the buffer's own would make
               every length be read again) */
            d = out->data + out->len;
            if (!first) {
                *d++ = ',';
            }
            first = 0;
            d = miroir_copy_short(d, k.p, k.len);
            *d++ = ':';
            d = miroir_copy_short(d, v.p, v.len);
            out->len = (size_t) (d - out->data);
            continue;
        }

        miroir_write_hit_member(out, &first, k, v, s, &extra, 0);
    }

    miroir_buf_addc(out, '}');

    return out->oom ? MIROIR_ENOMEM : MIROIR_OK;
}


miroir_rc_t
miroir_merge_create(const miroir_merge_params_t *p, size_t nnodes,
    miroir_merge_t **out, miroir_error_t *err)
{
    miroir_merge_t  *m;

    if (p == NULL || out == NULL || nnodes == 0 || nnodes > MIROIR_MAX_NODES)
    {
        (void) miroir_error_set(err, 500, "internal", "internal",
                                "bad merge parameters");
        return MIROIR_EINVAL;
    }

    m = calloc(1, sizeof(*m));
    if (m == NULL) {
        return MIROIR_ENOMEM;
    }

    m->nodes = calloc(nnodes, sizeof(miroir_merge_node_t));
    if (m->nodes == NULL) {
        free(m);
        return MIROIR_ENOMEM;
    }

    m->p = *p;
    m->nnodes = nnodes;
    *out = m;

    return MIROIR_OK;
}


static void
miroir_merge_node_clear(miroir_merge_node_t *n)
{
    size_t  i;

    if (n->keys != NULL) {
        for (i = 0; i < n->r.nhits; i++) {
            miroir_rank_key_free(&n->keys[i]);
        }
        free(n->keys);
        n->keys = NULL;
    }

    miroir_node_resp_free(&n->r);
    miroir_rank_arena_free(&n->arena);
    n->added = 0;
}


/* Refuse the node answer of n if its facet shapes are bad. */
static miroir_rc_t
miroir_merge_check_facets(miroir_merge_node_t *n, miroir_error_t *err)
{
    miroir_facets_t  *check;
    miroir_rc_t       rc;

    if (n->r.facet_dist.len == 0 && n->r.facet_stats.len == 0) {
        return MIROIR_OK;
    }

    check = miroir_facets_create();
    if (check == NULL) {
        return MIROIR_ENOMEM;
    }

    rc = MIROIR_OK;
    if (n->r.facet_dist.len) {
        rc = miroir_facets_add_distribution(check, n->r.facet_dist, err);
    }
    if (rc == MIROIR_OK && n->r.facet_stats.len) {
        rc = miroir_facets_add_stats(check, n->r.facet_stats, err);
    }
    miroir_facets_free(check);

    return rc;
}


/*
 * The answer of a merge of one node: nothing is compared, so no ranking
 * key is read; the details are only checked (the same refusals).
 */
static miroir_rc_t
miroir_merge_add_one(miroir_merge_t *m, miroir_merge_node_t *n,
    const char *body, size_t len, miroir_error_t *err)
{
    miroir_rank_key_t  key;
    miroir_rc_t        rc;
    size_t             i;

    (void) m;

    rc = miroir_resp_parse(body, len, &n->r, 2, err);
    if (rc != MIROIR_OK) {
        return rc;
    }

    for (i = 0; i < n->r.nhits; i++) {
        if (n->r.hits[i].details.len == 0 || n->r.hits[i].details_ok) {
            continue;
        }

        /* not surely accepted: parse it to know, as a merge of many */
        memset(&key, 0, sizeof(key));
        rc = miroir_rank_parse_details(n->r.hits[i].details, &key, err);
        miroir_rank_key_free(&key);
        if (rc != MIROIR_OK) {
            miroir_merge_node_clear(n);
            return rc;
        }
    }

    rc = miroir_merge_check_facets(n, err);
    if (rc != MIROIR_OK) {
        miroir_merge_node_clear(n);
        return rc;
    }

    n->added = 1;

    return MIROIR_OK;
}


miroir_rc_t
miroir_merge_add(miroir_merge_t *m, size_t node, const char *body, size_t len,
    miroir_error_t *err)
{
    miroir_merge_node_t  *n;
    miroir_facets_t      *check;
    miroir_rc_t           rc;
    size_t                i;

    if (m == NULL || node >= m->nnodes || m->nodes[node].added) {
        (void) miroir_error_set(err, 500, "internal", "internal",
                                "bad node index %zu", node);
        return MIROIR_EINVAL;
    }

    n = &m->nodes[node];

    if (m->nnodes == 1) {
        return miroir_merge_add_one(m, n, body, len, err);
    }

    rc = miroir_resp_parse(body, len, &n->r, 1, err);
    if (rc != MIROIR_OK) {
        return rc;
    }

    /* the keys read with the answer are the node's from now on */
    n->keys = n->r.keys;
    n->arena = n->r.arena;
    n->r.keys = NULL;
    n->r.hitcap = 0;
    memset(&n->r.arena, 0, sizeof(miroir_rank_arena_t));

    if (n->keys == NULL) {
        n->keys = calloc(n->r.nhits ? n->r.nhits : 1,
                         sizeof(miroir_rank_key_t));
        if (n->keys == NULL) {
            miroir_node_resp_free(&n->r);
            return MIROIR_ENOMEM;
        }
    }

    for (i = 0; i < n->r.nhits; i++) {
        if (n->r.hits[i].details.len == 0) {
            continue;       /* no details: ties with everything */
        }

        if (n->keys[i].v == NULL) {
            /* not read in the scan: empty, or refused (the error) */
            rc = miroir_rank_parse_details(n->r.hits[i].details,
                                           &n->keys[i], err);
            if (rc != MIROIR_OK) {
                miroir_merge_node_clear(n);
                return rc;
            }
        }

        if (n->r.hits[i].score.len && miroir_jspan_is_num(n->r.hits[i].score))
        {
            n->keys[i].global = miroir_jspan_num(n->r.hits[i].score);
        }
    }

    /* check the facet shapes now, so that a bad node is refused */
    if (n->r.facet_dist.len || n->r.facet_stats.len) {
        check = miroir_facets_create();
        if (check == NULL) {
            miroir_merge_node_clear(n);
            return MIROIR_ENOMEM;
        }
        rc = MIROIR_OK;
        if (n->r.facet_dist.len) {
            rc = miroir_facets_add_distribution(check, n->r.facet_dist, err);
        }
        if (rc == MIROIR_OK && n->r.facet_stats.len) {
            rc = miroir_facets_add_stats(check, n->r.facet_stats, err);
        }
        miroir_facets_free(check);
        if (rc != MIROIR_OK) {
            miroir_merge_node_clear(n);
            return rc;
        }
    }

    n->added = 1;

    return MIROIR_OK;
}


/* The client's window [*start, *end) clipped to maxTotalHits. */
static void
miroir_merge_window(const miroir_merge_params_t *p, uint64_t *start,
    uint64_t *end)
{
    uint64_t  s, e, cap;

    if (p->page_mode) {
        if (p->page == 0 || p->hits_per_page == 0) {
            s = e = 0;
        } else if (p->page - 1 > UINT64_MAX / p->hits_per_page) {
            s = e = UINT64_MAX;
        } else {
            s = (p->page - 1) * p->hits_per_page;
            e = s + p->hits_per_page < s ? UINT64_MAX
                                         : s + p->hits_per_page;
        }

    } else {
        s = p->offset;
        e = s + p->limit < s ? UINT64_MAX : s + p->limit;
    }

    cap = p->max_total_hits;
    *start = s < cap ? s : cap;
    *end = e < cap ? e : cap;
}


/* Same distinct value?  Numbers by value, strings ASCII-caseless. */
static int
miroir_distinct_eq(miroir_span_t a, miroir_span_t b)
{
    size_t  i;
    char    x, y;

    if (miroir_jspan_is_num(a) && miroir_jspan_is_num(b)) {
        return miroir_jspan_num(a) == miroir_jspan_num(b);
    }

    if (a.len != b.len) {
        return 0;
    }

    for (i = 0; i < a.len; i++) {
        x = a.p[i];
        y = b.p[i];
        if (x >= 'A' && x <= 'Z') {
            x |= 0x20;
        }
        if (y >= 'A' && y <= 'Z') {
            y |= 0x20;
        }
        if (x != y) {
            return 0;
        }
    }

    return 1;
}


/*
 * Has a better hit already taken one of hit's distinct values?  If not,
 * remember its values.  Returns 1 (drop), 0 (keep), -1 out of memory.
 */
static int
miroir_distinct_check(miroir_seen_t *seen, miroir_span_t hit,
    const char *attr)
{
    miroir_jiter_t  it, ai;
    miroir_span_t   k, v, e, *nv;
    size_t          i, first, cap;
    int             found;

    found = 0;
    if (miroir_jobj_begin(&it, hit, 0)) {
        while (miroir_jobj_next(&it, &k, &v) == 1) {
            if (miroir_jspan_key_eq(k, attr)) {
                found = 1;
                break;
            }
        }
    }

    if (!found || miroir_jspan_is_null(v)) {
        return 0;
    }

    first = seen->n;

    /* a scalar is a one-value list */
    ai.p = NULL;
    if (miroir_jspan_is_arr(v)) {
        (void) miroir_jarr_begin(&ai, v, 0);
    }

    for ( ;; ) {
        if (ai.p != NULL) {
            if (miroir_jarr_next(&ai, &e) != 1) {
                break;
            }
        } else {
            if (seen->n > first) {
                break;
            }
            e = v;
        }

        for (i = 0; i < first; i++) {
            if (miroir_distinct_eq(seen->v[i], e)) {
                seen->n = first;
                return 1;
            }
        }

        if (seen->n == seen->cap) {
            cap = seen->cap ? seen->cap * 2 : 64;
            nv = realloc(seen->v, cap * sizeof(*nv));
            if (nv == NULL) {
                return -1;
            }
            seen->v = nv;
            seen->cap = cap;
        }
        seen->v[seen->n++] = e;

        if (ai.p == NULL) {
            break;
        }
    }

    return 0;
}


uint64_t
miroir_merge_node_limit(const miroir_merge_params_t *p)
{
    uint64_t  start, end;

    miroir_merge_window(p, &start, &end);

    return end;
}


miroir_rc_t
miroir_merge_result(miroir_merge_t *m, uint64_t processing_ms, char **out,
    size_t *out_len, miroir_error_t *err)
{
    miroir_merge_node_t  *n, *best;
    miroir_hit_span_t    *hs;
    miroir_facets_t      *facets;
    miroir_facet_conf_t   fconf;
    miroir_strip_t        strip;
    miroir_buf_t          b;
    miroir_span_t         query, hit;
    miroir_seen_t         seen;
    size_t               *pos, i, j, bi, cap;
    uint64_t              start, end, rank, total, pages, dropped;
    int                   first, has_facets, complete, dup;
    miroir_rc_t           rc;

    (void) err;

    pos = calloc(m->nnodes, sizeof(size_t));
    if (pos == NULL) {
        return MIROIR_ENOMEM;
    }

    memset(&b, 0, sizeof(b));

    strip.keep_score = m->p.show_ranking_score;
    strip.keep_details = m->p.show_ranking_score_details;
    strip.strip_proxy = 0;
    strip.attrs = m->p.strip_attrs;
    strip.nattrs = m->p.nstrip_attrs;

    miroir_merge_window(&m->p, &start, &end);

    /* room for the hits that may be written, at once (no regrowth) */
    cap = 512;
    for (i = 0; i < m->nnodes; i++) {
        n = &m->nodes[i];
        for (j = 0; n->added && j < n->r.nhits && j < end; j++) {
            cap += n->r.hits[j].obj.len + 1;
        }
    }

    b.data = malloc(cap < 1048576 ? cap : 1048576);
    if (b.data == NULL) {
        free(pos);
        return MIROIR_ENOMEM;
    }
    b.cap = cap < 1048576 ? cap : 1048576;

    miroir_buf_adds(&b, "{\"hits\":[");

    /* with distinct and complete node lists, walk them all to count */
    complete = m->p.distinct_attr != NULL;
    for (i = 0; complete && i < m->nnodes; i++) {
        n = &m->nodes[i];
        if (n->added && n->r.nhits < n->r.total) {
            complete = 0;
        }
    }

    memset(&seen, 0, sizeof(seen));
    dropped = 0;

    /* k-way merge; ties go to the lower node, then to the node's order */
    first = 1;
    bi = 0;

    for (rank = 0; rank < end || complete; ) {
        best = NULL;

        for (i = 0; i < m->nnodes; i++) {
            n = &m->nodes[i];
            if (!n->added || pos[i] >= n->r.nhits) {
                continue;
            }
            if (best == NULL
                || miroir_rank_cmp(&n->keys[pos[i]], &best->keys[pos[bi]],
                                   MIROIR_RANK_EXACT) < 0)
            {
                best = n;
                bi = i;
            }
        }

        if (best == NULL) {
            break;
        }

        hs = &best->r.hits[pos[bi]++];
        hit = hs->obj;

        if (m->p.distinct_attr != NULL) {
            dup = miroir_distinct_check(&seen, hit, m->p.distinct_attr);
            if (dup < 0) {
                b.oom = 1;
                break;
            }
            if (dup) {
                dropped++;
                continue;
            }
        }

        if (rank >= start && rank < end) {
            if (!first) {
                miroir_buf_addc(&b, ',');
            }
            first = 0;
            (void) miroir_merge_write_parsed_hit(&b, &best->r, hs, &strip);
        }

        rank++;
    }

    free(pos);
    free(seen.v);

    /* totals, query, facets, in node order */
    total = 0;
    query.p = "\"\"";
    query.len = 2;
    has_facets = 0;

    facets = miroir_facets_create();
    if (facets == NULL) {
        miroir_buf_free(&b);
        return MIROIR_ENOMEM;
    }

    for (i = m->nnodes; i-- > 0; ) {
        n = &m->nodes[i];
        if (!n->added) {
            continue;
        }
        total = total + n->r.total < total ? UINT64_MAX : total + n->r.total;
        if (n->r.query.len) {
            query = n->r.query;
        }
    }

    for (i = 0; i < m->nnodes; i++) {
        n = &m->nodes[i];
        if (!n->added) {
            continue;
        }
        /* shapes were not checked at add time: a bad one is skipped */
        if (n->r.facet_dist.len) {
            has_facets = 1;
            (void) miroir_facets_add_distribution(facets, n->r.facet_dist,
                                                  NULL);
        }
        if (n->r.facet_stats.len) {
            (void) miroir_facets_add_stats(facets, n->r.facet_stats, NULL);
        }
    }

    if (complete) {
        total = rank;                   /* every candidate was seen */
    } else {
        total = total > dropped ? total - dropped : 0;
    }

    if (m->p.cap_totals && total > m->p.max_total_hits) {
        total = m->p.max_total_hits;
    }

    miroir_buf_adds(&b, "],\"query\":");
    miroir_buf_add(&b, query.p, query.len);
    miroir_buf_adds(&b, ",\"processingTimeMs\":");
    miroir_buf_addu(&b, processing_ms);

    if (m->p.page_mode) {
        pages = m->p.hits_per_page == 0
                ? 0 : total / m->p.hits_per_page
                      + (total % m->p.hits_per_page != 0);
        miroir_buf_adds(&b, ",\"hitsPerPage\":");
        miroir_buf_addu(&b, m->p.hits_per_page);
        miroir_buf_adds(&b, ",\"page\":");
        miroir_buf_addu(&b, m->p.page);
        miroir_buf_adds(&b, ",\"totalPages\":");
        miroir_buf_addu(&b, pages);
        miroir_buf_adds(&b, ",\"totalHits\":");
        miroir_buf_addu(&b, total);

    } else {
        miroir_buf_adds(&b, ",\"limit\":");
        miroir_buf_addu(&b, m->p.limit);
        miroir_buf_adds(&b, ",\"offset\":");
        miroir_buf_addu(&b, m->p.offset);
        miroir_buf_adds(&b, ",\"estimatedTotalHits\":");
        miroir_buf_addu(&b, total);
    }

    if (has_facets) {
        fconf = m->p.facets;
        fconf.candidates = total;
        miroir_buf_adds(&b, ",\"facetDistribution\":");
        (void) miroir_facets_write_distribution(facets, &fconf, &b);
    }

    if (miroir_facets_has_stats(facets)) {
        miroir_buf_adds(&b, ",\"facetStats\":");
        (void) miroir_facets_write_stats(facets, &b);
    }

    miroir_facets_free(facets);

    if (m->p.request_uid != NULL) {
        miroir_buf_adds(&b, ",\"requestUid\":");
        miroir_buf_addstr(&b, m->p.request_uid, strlen(m->p.request_uid));
    }

    miroir_buf_addc(&b, '}');
    miroir_buf_addc(&b, '\0');

    if (b.oom) {
        miroir_buf_free(&b);
        return MIROIR_ENOMEM;
    }

    rc = MIROIR_OK;
    *out = b.data;
    *out_len = b.len - 1;

    return rc;
}


void
miroir_merge_free(miroir_merge_t *m)
{
    size_t  i;

    if (m == NULL) {
        return;
    }

    for (i = 0; i < m->nnodes; i++) {
        miroir_merge_node_clear(&m->nodes[i]);
    }

    free(m->nodes);
    free(m);
}
