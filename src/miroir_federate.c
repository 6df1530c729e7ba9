/*
 * miroir_federate.c -- federated multi-search merge.
 */

#include <stdlib.h>
#include <string.h>

#include "miroir_federate.h"


#define MIROIR_FED_NODE_BASE  ((size_t) 1 << 20)


typedef struct {
    size_t               order;     /* tie rank: qpos, or BASE + node */
    miroir_node_resp_t   r;
    miroir_rank_key_t   *keys;
    uint32_t            *qpos;      /* per hit */
    int                  is_node;
} miroir_fed_src_t;

typedef struct {
    const char       *uid;
    size_t            uid_len;
    miroir_facets_t  *facets;
    int               used;
} miroir_fed_facets_t;

struct miroir_federate_s {
    miroir_federate_params_t   p;
    miroir_fed_src_t          *src;
    size_t                     nsrc;
    size_t                     capsrc;
    miroir_fed_facets_t       *fi;        /* one per distinct index uid */
    size_t                     nfi;
    int                        has_fbi;   /* some source had facets */
};


static miroir_rc_t
miroir_fed_bad(miroir_error_t *err, const char *what)
{
    return miroir_error_set(err, 502, "remote_bad_response", "system",
                            "a node answered an invalid federated "
                            "response: %s", what);
}


miroir_rc_t
miroir_federate_create(const miroir_federate_params_t *p,
    miroir_federate_t **out, miroir_error_t *err)
{
    miroir_federate_t  *f;
    size_t              i, j;
    const char         *uid;

    if (p == NULL || out == NULL || p->nqueries == 0 || p->queries == NULL) {
        (void) miroir_error_set(err, 500, "internal", "internal",
                                "bad federation parameters");
        return MIROIR_EINVAL;
    }

    for (i = 0; i < p->nqueries; i++) {
        if (p->queries[i].index_uid == NULL) {
            (void) miroir_error_set(err, 500, "internal", "internal",
                                    "query %zu has no index", i);
            return MIROIR_EINVAL;
        }
    }

    f = calloc(1, sizeof(*f));
    if (f == NULL) {
        return MIROIR_ENOMEM;
    }

    f->p = *p;

    f->fi = calloc(p->nqueries, sizeof(miroir_fed_facets_t));
    if (f->fi == NULL) {
        free(f);
        return MIROIR_ENOMEM;
    }

    for (i = 0; i < p->nqueries; i++) {
        uid = p->queries[i].index_uid;
        for (j = 0; j < f->nfi; j++) {
            if (strcmp(f->fi[j].uid, uid) == 0) {
                break;
            }
        }
        if (j < f->nfi) {
            continue;
        }
        f->fi[j].uid = uid;
        f->fi[j].uid_len = strlen(uid);
        f->fi[j].facets = miroir_facets_create();
        f->nfi++;
        if (f->fi[j].facets == NULL) {
            miroir_federate_free(f);
            return MIROIR_ENOMEM;
        }
    }

    *out = f;

    return MIROIR_OK;
}


static miroir_fed_src_t *
miroir_fed_src_new(miroir_federate_t *f)
{
    miroir_fed_src_t  *s;
    size_t             cap;

    if (f->nsrc == f->capsrc) {
        cap = f->capsrc ? f->capsrc * 2 : 8;
        s = realloc(f->src, cap * sizeof(*s));
        if (s == NULL) {
            return NULL;
        }
        f->src = s;
        f->capsrc = cap;
    }

    s = &f->src[f->nsrc];
    memset(s, 0, sizeof(*s));

    return s;
}


static void
miroir_fed_src_clear(miroir_fed_src_t *s)
{
    size_t  i;

    if (s->keys != NULL) {
        for (i = 0; i < s->r.nhits; i++) {
            miroir_rank_key_free(&s->keys[i]);
        }
    }

    free(s->keys);
    free(s->qpos);
    miroir_node_resp_free(&s->r);
}


/* Parse src->r (already parsed) hits' per-hit arrays. */
static miroir_rc_t
miroir_fed_src_alloc(miroir_fed_src_t *s)
{
    size_t  n = s->r.nhits ? s->r.nhits : 1;

    s->keys = calloc(n, sizeof(miroir_rank_key_t));
    s->qpos = calloc(n, sizeof(uint32_t));

    return (s->keys == NULL || s->qpos == NULL) ? MIROIR_ENOMEM : MIROIR_OK;
}


static miroir_fed_facets_t *
miroir_fed_facets_of(miroir_federate_t *f, const char *uid, size_t len)
{
    size_t  i;

    for (i = 0; i < f->nfi; i++) {
        if (f->fi[i].uid_len == len && memcmp(f->fi[i].uid, uid, len) == 0) {
            return &f->fi[i];
        }
    }

    return NULL;
}


/*
 * Add a node's facetsByIndex {uid: {distribution, stats}}; with check set,
 * only validate it (into scratch mergers), so that a bad answer leaves no
 * trace.
 */
static miroir_rc_t
miroir_fed_add_fbi(miroir_federate_t *f, miroir_span_t fbi, int check,
    miroir_error_t *err)
{
    miroir_jiter_t        it, ot;
    miroir_span_t         uid, v, k, x;
    miroir_fed_facets_t  *fi;
    miroir_facets_t      *dst;
    miroir_rc_t           rc;

    if (!miroir_jobj_begin(&it, fbi, 0)) {
        return miroir_fed_bad(err, "facetsByIndex");
    }

    if (!check) {
        f->has_fbi = 1;
    }

    while (miroir_jobj_next(&it, &uid, &v) == 1) {
        fi = miroir_fed_facets_of(f, uid.p + 1, uid.len - 2);
        if (fi == NULL || !miroir_jobj_begin(&ot, v, 0)) {
            return miroir_fed_bad(err, "facetsByIndex");
        }

        dst = fi->facets;
        if (check) {
            dst = miroir_facets_create();
            if (dst == NULL) {
                return MIROIR_ENOMEM;
            }
        } else {
            fi->used = 1;
        }

        rc = MIROIR_OK;
        while (rc == MIROIR_OK && miroir_jobj_next(&ot, &k, &x) == 1) {
            if (miroir_jspan_key_eq(k, "distribution")) {
                rc = miroir_facets_add_distribution(dst, x, err);
            } else if (miroir_jspan_key_eq(k, "stats")) {
                rc = miroir_facets_add_stats(dst, x, err);
            }
        }

        if (check) {
            miroir_facets_free(dst);
        }

        if (rc != MIROIR_OK) {
            return rc;
        }
    }

    return MIROIR_OK;
}


/* Add (or with check, validate) a plain answer's facets to its index. */
static miroir_rc_t
miroir_fed_add_query_facets(miroir_federate_t *f, miroir_fed_facets_t *fi,
    const miroir_node_resp_t *r, int check, miroir_error_t *err)
{
    miroir_facets_t  *dst;
    miroir_rc_t       rc;

    dst = check ? miroir_facets_create() : fi->facets;
    if (dst == NULL) {
        return MIROIR_ENOMEM;
    }

    rc = MIROIR_OK;
    if (r->facet_dist.len) {
        rc = miroir_facets_add_distribution(dst, r->facet_dist, err);
    }
    if (rc == MIROIR_OK && r->facet_stats.len) {
        rc = miroir_facets_add_stats(dst, r->facet_stats, err);
    }

    if (check) {
        miroir_facets_free(dst);
    } else {
        fi->used = 1;
        f->has_fbi = 1;
    }

    return rc;
}


miroir_rc_t
miroir_federate_add_node(miroir_federate_t *f, size_t node, const char *body,
    size_t len, miroir_error_t *err)
{
    miroir_fed_src_t  *s;
    miroir_jiter_t     it;
    miroir_span_t      k, v, values, score, qp;
    miroir_rc_t        rc;
    size_t             i;
    double             q;

    if (f == NULL || node >= MIROIR_MAX_NODES) {
        return MIROIR_EINVAL;
    }

    s = miroir_fed_src_new(f);
    if (s == NULL) {
        return MIROIR_ENOMEM;
    }

    s->is_node = 1;
    s->order = MIROIR_FED_NODE_BASE + node;

    rc = miroir_node_resp_parse(body, len, &s->r, err);
    if (rc != MIROIR_OK) {
        return rc;
    }

    rc = miroir_fed_src_alloc(s);
    if (rc != MIROIR_OK) {
        goto failed;
    }

    for (i = 0; i < s->r.nhits; i++) {
        values.len = score.len = qp.len = 0;

        if (!miroir_jobj_begin(&it, s->r.hits[i].federation, 0)) {
            rc = miroir_fed_bad(err, "a hit without _federation");
            goto failed;
        }

        while (miroir_jobj_next(&it, &k, &v) == 1) {
            if (miroir_jspan_key_eq(k, "weightedScoreValues")) {
                values = v;
            } else if (miroir_jspan_key_eq(k, "weightedRankingScore")) {
                score = v;
            } else if (miroir_jspan_key_eq(k, "queriesPosition")) {
                qp = v;
            }
        }

        if (values.len == 0 || !miroir_jspan_is_num(score)
            || !miroir_jspan_is_num(qp))
        {
            rc = miroir_fed_bad(err, "weightedScoreValues, "
                                "weightedRankingScore or queriesPosition "
                                "missing");
            goto failed;
        }

        q = miroir_jspan_num(qp);
        if (!(q >= 0 && q < (double) f->p.nqueries)) {
            rc = miroir_fed_bad(err, "unknown queriesPosition");
            goto failed;
        }
        s->qpos[i] = (uint32_t) q;

        rc = miroir_rank_parse_weighted(values, &s->keys[i], err);
        if (rc != MIROIR_OK) {
            goto failed;
        }
        s->keys[i].global = miroir_jspan_num(score);
    }

    if (s->r.facets_by_index.len) {
        rc = miroir_fed_add_fbi(f, s->r.facets_by_index, 1, err);
        if (rc != MIROIR_OK) {
            goto failed;
        }
        (void) miroir_fed_add_fbi(f, s->r.facets_by_index, 0, err);
    }

    f->nsrc++;

    return MIROIR_OK;

failed:

    miroir_fed_src_clear(s);
    return rc;
}


/*
 * Weighted values of a plain answer's hit: the first relevancy run becomes
 * one weighted score (the global score x weight), later relevancy entries
 * stay per rule (x weight), sort / geo entries are kept, vector
 * similarity x weight.
 */
static void
miroir_fed_weigh(miroir_rank_key_t *k, double global, double weight)
{
    uint32_t  i, n;
    int       first_run_done, in_run;

    n = 0;
    first_run_done = 0;
    in_run = 0;

    for (i = 0; i < k->n; i++) {
        if (k->v[i].kind == MIROIR_RV_SCORE
            || k->v[i].kind == MIROIR_RV_SKIPPED)
        {
            if (!first_run_done) {
                if (!in_run) {
                    k->v[n] = k->v[i];
                    k->v[n].kind = MIROIR_RV_SCORE;
                    k->v[n].num = global * weight;
                    n++;
                    in_run = 1;
                }
                continue;
            }
            k->v[n] = k->v[i];
            k->v[n].num = (k->v[i].kind == MIROIR_RV_SKIPPED
                           ? 0.0 : k->v[i].num) * weight;
            k->v[n].kind = MIROIR_RV_SCORE;
            n++;
            continue;
        }

        if (in_run) {
            first_run_done = 1;
            in_run = 0;
        }

        k->v[n] = k->v[i];
        if (k->v[n].kind == MIROIR_RV_VECTOR) {
            k->v[n].num *= weight;
        }
        n++;
    }

    k->n = n;
    k->global = global * weight;
}


miroir_rc_t
miroir_federate_add_query(miroir_federate_t *f, size_t qpos,
    const char *body, size_t len, miroir_error_t *err)
{
    const miroir_fed_query_t  *q;
    miroir_fed_src_t          *s;
    miroir_fed_facets_t       *fi;
    miroir_hit_span_t         *h;
    miroir_rc_t                rc;
    size_t                     i;
    double                     global;

    if (f == NULL || qpos >= f->p.nqueries) {
        (void) miroir_error_set(err, 500, "internal", "internal",
                                "bad query position %zu", qpos);
        return MIROIR_EINVAL;
    }

    q = &f->p.queries[qpos];

    s = miroir_fed_src_new(f);
    if (s == NULL) {
        return MIROIR_ENOMEM;
    }

    s->order = qpos;

    rc = miroir_node_resp_parse(body, len, &s->r, err);
    if (rc != MIROIR_OK) {
        return rc;
    }

    rc = miroir_fed_src_alloc(s);
    if (rc != MIROIR_OK) {
        goto failed;
    }

    for (i = 0; i < s->r.nhits; i++) {
        h = &s->r.hits[i];
        s->qpos[i] = (uint32_t) qpos;

        /* Meilisearch: a hit without relevancy rules scores 1.0 */
        global = miroir_jspan_is_num(h->score) ? miroir_jspan_num(h->score)
                                               : 1.0;

        if (h->details.len) {
            rc = miroir_rank_parse_details(h->details, &s->keys[i], err);
            if (rc != MIROIR_OK) {
                goto failed;
            }
        }

        miroir_fed_weigh(&s->keys[i], global, q->weight);
    }

    if (s->r.facet_dist.len || s->r.facet_stats.len) {
        fi = miroir_fed_facets_of(f, q->index_uid, strlen(q->index_uid));
        rc = miroir_fed_add_query_facets(f, fi, &s->r, 1, err);
        if (rc != MIROIR_OK) {
            goto failed;
        }
        (void) miroir_fed_add_query_facets(f, fi, &s->r, 0, err);
    }

    f->nsrc++;

    return MIROIR_OK;

failed:

    miroir_fed_src_clear(s);
    return rc;
}


static int
miroir_fed_src_cmp(const void *a, const void *b)
{
    size_t  x = ((const miroir_fed_src_t *) a)->order;
    size_t  y = ((const miroir_fed_src_t *) b)->order;

    return (x > y) - (x < y);
}


/* The primary key value span of hit, or len 0. */
static miroir_span_t
miroir_fed_pk(miroir_span_t hit, const char *pk)
{
    miroir_jiter_t  it;
    miroir_span_t   k, v, none = { NULL, 0 };

    if (pk != NULL && miroir_jobj_begin(&it, hit, 0)) {
        while (miroir_jobj_next(&it, &k, &v) == 1) {
            if (miroir_jspan_key_eq(k, pk)) {
                return v;
            }
        }
    }

    return none;
}


static const miroir_facet_conf_t *
miroir_fed_conf(const miroir_federate_params_t *p, const char *uid)
{
    size_t  i;

    for (i = 0; i < p->nindexes; i++) {
        if (p->indexes[i].index_uid != NULL
            && strcmp(p->indexes[i].index_uid, uid) == 0)
        {
            return &p->indexes[i].facets;
        }
    }

    return NULL;
}


static void
miroir_fed_write_facets(miroir_federate_t *f, uint64_t total,
    miroir_buf_t *b)
{
    miroir_facet_conf_t         conf, mconf;
    const miroir_facet_conf_t  *c;
    miroir_facets_t            *all;
    miroir_buf_t               *tmp;
    miroir_span_t               sp;
    size_t                      i, j, first, n;

    if (!f->p.merge_facets) {
        miroir_buf_adds(b, ",\"facetsByIndex\":{");

        /* indexes by uid, as Meilisearch's map */
        first = 1;
        for (n = 0; n < f->nfi; n++) {
            j = f->nfi;
            for (i = 0; i < f->nfi; i++) {
                if (f->fi[i].used != 1) {
                    continue;
                }
                if (j == f->nfi || strcmp(f->fi[i].uid, f->fi[j].uid) < 0) {
                    j = i;
                }
            }
            if (j == f->nfi) {
                break;
            }
            f->fi[j].used = 2;

            c = miroir_fed_conf(&f->p, f->fi[j].uid);
            memset(&conf, 0, sizeof(conf));
            conf.max_values = 100;
            if (c != NULL) {
                conf = *c;
            }
            conf.candidates = total;

            if (!first) {
                miroir_buf_addc(b, ',');
            }
            first = 0;
            miroir_buf_addstr(b, f->fi[j].uid, f->fi[j].uid_len);
            miroir_buf_adds(b, ":{\"distribution\":");
            (void) miroir_facets_write_distribution(f->fi[j].facets, &conf,
                                                    b);
            miroir_buf_adds(b, ",\"stats\":");
            (void) miroir_facets_write_stats(f->fi[j].facets, b);
            miroir_buf_addc(b, '}');
        }

        miroir_buf_addc(b, '}');
        return;
    }

    /* mergeFacets: per index first, then across indexes */
    all = miroir_facets_create();
    tmp = calloc(f->nfi * 2 + 1, sizeof(miroir_buf_t));
    if (all == NULL || tmp == NULL) {
        b->oom = 1;
        miroir_facets_free(all);
        free(tmp);
        return;
    }

    memset(&mconf, 0, sizeof(mconf));
    mconf.max_values = f->p.merge_max_values ? f->p.merge_max_values
                                             : UINT32_MAX;
    mconf.candidates = total;

    for (i = 0; i < f->nfi; i++) {
        if (!f->fi[i].used) {
            continue;
        }

        c = miroir_fed_conf(&f->p, f->fi[i].uid);
        memset(&conf, 0, sizeof(conf));
        conf.max_values = 100;
        if (c != NULL) {
            conf = *c;
            if (mconf.rules == NULL) {
                mconf.rules = c->rules;
                mconf.nrules = c->nrules;
            }
        }
        conf.candidates = total;

        (void) miroir_facets_write_distribution(f->fi[i].facets, &conf,
                                                &tmp[2 * i]);
        (void) miroir_facets_write_stats(f->fi[i].facets, &tmp[2 * i + 1]);

        if (!tmp[2 * i].oom
            && miroir_jspan_doc(tmp[2 * i].data, tmp[2 * i].len, &sp)
               == MIROIR_OK)
        {
            (void) miroir_facets_add_distribution(all, sp, NULL);
        }
        if (!tmp[2 * i + 1].oom
            && miroir_jspan_doc(tmp[2 * i + 1].data, tmp[2 * i + 1].len, &sp)
               == MIROIR_OK)
        {
            (void) miroir_facets_add_stats(all, sp, NULL);
        }
    }

    miroir_buf_adds(b, ",\"facetDistribution\":");
    (void) miroir_facets_write_distribution(all, &mconf, b);
    miroir_buf_adds(b, ",\"facetStats\":");
    (void) miroir_facets_write_stats(all, b);

    miroir_facets_free(all);
    for (i = 0; i < f->nfi * 2 + 1; i++) {
        miroir_buf_free(&tmp[i]);
    }
    free(tmp);
}


miroir_rc_t
miroir_federate_result(miroir_federate_t *f, uint64_t processing_ms,
    char **out, size_t *out_len, miroir_error_t *err)
{
    const miroir_fed_query_t  *q;
    miroir_fed_src_t          *s, *best;
    miroir_strip_t             strip;
    miroir_buf_t               b, ex;
    miroir_span_t              pk, *seen;
    const char               **seen_uid;
    size_t                    *pos, i, j, bi, nseen;
    uint64_t                   start, end, rank, total, pages;
    int                        c, first, dup;

    (void) err;

    if (f->nsrc > 1) {
        qsort(f->src, f->nsrc, sizeof(miroir_fed_src_t), miroir_fed_src_cmp);
    }

    /* the window; no maxTotalHits clip at this level */
    if (f->p.page_mode) {
        if (f->p.page == 0 || f->p.hits_per_page == 0
            || f->p.page - 1 > UINT64_MAX / f->p.hits_per_page)
        {
            start = end = 0;
        } else {
            start = (f->p.page - 1) * f->p.hits_per_page;
            end = start + f->p.hits_per_page < start
                  ? UINT64_MAX : start + f->p.hits_per_page;
        }
    } else {
        start = f->p.offset;
        end = start + f->p.limit < start ? UINT64_MAX : start + f->p.limit;
    }

    pos = calloc(f->nsrc + 1, sizeof(size_t));
    nseen = 0;
    for (i = 0; i < f->nsrc; i++) {
        nseen += f->src[i].r.nhits;
    }
    seen = calloc(nseen + 1, sizeof(miroir_span_t));
    seen_uid = calloc(nseen + 1, sizeof(char *));

    if (pos == NULL || seen == NULL || seen_uid == NULL) {
        free(pos);
        free(seen);
        free(seen_uid);
        return MIROIR_ENOMEM;
    }

    memset(&b, 0, sizeof(b));
    memset(&ex, 0, sizeof(ex));
    miroir_buf_adds(&b, "{\"hits\":[");

    first = 1;
    nseen = 0;
    bi = 0;

    for (rank = 0; rank < end; ) {
        best = NULL;

        for (i = 0; i < f->nsrc; i++) {
            s = &f->src[i];
            if (pos[i] >= s->r.nhits) {
                continue;
            }
            if (best == NULL) {
                best = s;
                bi = i;
                continue;
            }
            c = miroir_rank_cmp(&s->keys[pos[i]], &best->keys[pos[bi]],
                                MIROIR_RANK_FEDERATED);
            if (c < 0 || (c == 0 && s->qpos[pos[i]] < best->qpos[pos[bi]])) {
                best = s;
                bi = i;
            }
        }

        if (best == NULL) {
            break;
        }

        j = pos[bi]++;
        q = &f->p.queries[best->qpos[j]];

        /* documents found by several queries of one index: keep the best */
        if (!best->is_node && q->primary_key != NULL) {
            pk = miroir_fed_pk(best->r.hits[j].obj, q->primary_key);
            dup = 0;
            for (i = 0; pk.len && i < nseen; i++) {
                if (seen[i].len == pk.len
                    && memcmp(seen[i].p, pk.p, pk.len) == 0
                    && strcmp(seen_uid[i], q->index_uid) == 0)
                {
                    dup = 1;
                    break;
                }
            }
            if (dup) {
                continue;
            }
            if (pk.len) {
                seen[nseen] = pk;
                seen_uid[nseen++] = q->index_uid;
            }
        }

        if (rank++ < start) {
            continue;
        }

        strip.keep_score = q->show_ranking_score;
        strip.keep_details = q->show_ranking_score_details;
        strip.strip_proxy = 1;
        strip.attrs = f->p.strip_attrs;
        strip.nattrs = f->p.nstrip_attrs;

        if (!first) {
            miroir_buf_addc(&b, ',');
        }
        first = 0;

        if (best->is_node) {
            (void) miroir_merge_write_hit(&b, best->r.hits[j].obj, &strip,
                                          NULL, 0);
            continue;
        }

        ex.len = 0;
        miroir_buf_adds(&ex, "\"_federation\":{\"indexUid\":");
        miroir_buf_addstr(&ex, q->index_uid, strlen(q->index_uid));
        miroir_buf_adds(&ex, ",\"queriesPosition\":");
        miroir_buf_addu(&ex, best->qpos[j]);
        miroir_buf_adds(&ex, ",\"weightedRankingScore\":");
        miroir_buf_addf(&ex, best->keys[j].global);
        miroir_buf_addc(&ex, '}');
        if (ex.oom) {
            b.oom = 1;
            break;
        }

        (void) miroir_merge_write_hit(&b, best->r.hits[j].obj, &strip,
                                      ex.data, ex.len);
    }

    miroir_buf_free(&ex);
    free(pos);
    free(seen);
    free(seen_uid);

    total = 0;
    for (i = 0; i < f->nsrc; i++) {
        total = total + f->src[i].r.total < total
                ? UINT64_MAX : total + f->src[i].r.total;
    }

    miroir_buf_adds(&b, "],\"processingTimeMs\":");
    miroir_buf_addu(&b, processing_ms);

    if (f->p.page_mode) {
        pages = f->p.hits_per_page == 0
                ? 0 : total / f->p.hits_per_page
                      + (total % f->p.hits_per_page != 0);
        miroir_buf_adds(&b, ",\"hitsPerPage\":");
        miroir_buf_addu(&b, f->p.hits_per_page);
        miroir_buf_adds(&b, ",\"page\":");
        miroir_buf_addu(&b, f->p.page);
        miroir_buf_adds(&b, ",\"totalPages\":");
        miroir_buf_addu(&b, pages);
        miroir_buf_adds(&b, ",\"totalHits\":");
        miroir_buf_addu(&b, total);

    } else {
        miroir_buf_adds(&b, ",\"limit\":");
        miroir_buf_addu(&b, f->p.limit);
        miroir_buf_adds(&b, ",\"offset\":");
        miroir_buf_addu(&b, f->p.offset);
        miroir_buf_adds(&b, ",\"estimatedTotalHits\":");
        miroir_buf_addu(&b, total);
    }

    if (f->has_fbi) {
        miroir_fed_write_facets(f, total, &b);
    }

    if (f->p.request_uid != NULL) {
        miroir_buf_adds(&b, ",\"requestUid\":");
        miroir_buf_addstr(&b, f->p.request_uid, strlen(f->p.request_uid));
    }

    miroir_buf_addc(&b, '}');
    miroir_buf_addc(&b, '\0');

    if (b.oom) {
        miroir_buf_free(&b);
        return MIROIR_ENOMEM;
    }

    *out = b.data;
    *out_len = b.len - 1;

    return MIROIR_OK;
}


void
miroir_federate_free(miroir_federate_t *f)
{
    size_t  i;

    if (f == NULL) {
        return;
    }

    for (i = 0; i < f->nsrc; i++) {
        miroir_fed_src_clear(&f->src[i]);
    }

    for (i = 0; i < f->nfi; i++) {
        miroir_facets_free(f->fi[i].facets);
    }

    free(f->src);
    free(f->fi);
    free(f);
}
