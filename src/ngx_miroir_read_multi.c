/*
 * ngx_miroir_read_multi.c -- POST /multi-search, plain and federated.
 *
 * Each query is rewritten like a single search (ngx_miroir_search_prepare:
 * restriction AND-ed to its filter, paging from 0, ranking details on) and
 * every node of the read plan gets one multi-search with all the queries
 * rewritten for it: one subrequest per node, whatever the number of
 * queries.  Query i of the answer is the merge (miroir_merge_*) of the
 * nodes' results[i].  The index settings the merges need are fetched first
 * for the indexes missing from the per-worker cache.
 *
 * Federated: the nodes are asked in proxy mode (`Meili-Proxy-Search:
 * true`, meilisearch-api.md 9.6) with the federation window from 0 and
 * mergeFacets null; each hit then carries its exact weighted score values
 * and miroir_federate_*() merges the nodes' answers as one Meilisearch
 * would.  Proxy mode needs the `network` experimental feature: a node that
 * answers feature_not_enabled gets it switched on once, and the read is
 * started again.
 *
 * A body Miroir cannot take apart (not an object, queries not an array of
 * objects, a query without a string indexUid, unknown top-level keys) is
 * sent as it is to one live node, whose answer (an error) is forwarded.
 */

#include "ngx_miroir_read.h"

#include "miroir_federate.h"


typedef struct {
    ngx_miroir_read_t              *rd;
    ngx_uint_t                      nq;
    ngx_miroir_search_t            *q;          /* nq queries */
    char                          **uids;       /* nq, NUL-terminated */
    ngx_str_t                       raw;
    ngx_uint_t                      passthrough;
    char                          **settings_uids;  /* per call */

    /* federated */
    ngx_uint_t                      fed;
    ngx_uint_t                      retried;
    ngx_str_t                       federation;     /* rewritten, JSON */
    miroir_federate_params_t        fp;
    miroir_fed_query_t             *fq;
} ngx_miroir_multi_t;


static void ngx_miroir_multi_body(ngx_http_request_t *r, ngx_str_t *body);
static ngx_int_t ngx_miroir_multi_parse(ngx_miroir_multi_t *ms,
    ngx_str_t *body, miroir_error_t *err);
static ngx_int_t ngx_miroir_multi_settings(ngx_miroir_multi_t *ms);
static void ngx_miroir_multi_settings_done(ngx_http_request_t *r,
    ngx_miroir_fanout_t *fo);
static ngx_int_t ngx_miroir_multi_passthrough(ngx_miroir_multi_t *ms);
static void ngx_miroir_multi_passthrough_done(ngx_http_request_t *r,
    ngx_miroir_fanout_t *fo);
static ngx_int_t ngx_miroir_multi_build(ngx_miroir_read_t *rd,
    ngx_miroir_call_t *call, const char *restr);
static void ngx_miroir_multi_done(ngx_miroir_read_t *rd);


static ngx_int_t ngx_miroir_multi_federation(ngx_miroir_multi_t *ms,
    cJSON *fed);
static void ngx_miroir_fed_done(ngx_miroir_read_t *rd);
static void ngx_miroir_fed_network_done(ngx_http_request_t *r,
    ngx_miroir_fanout_t *fo);


static ngx_str_t  ngx_miroir_multi_uri = ngx_string("/multi-search");
static ngx_str_t  ngx_miroir_features_uri =
    ngx_string("/experimental-features");


ngx_int_t
ngx_miroir_read_multi(ngx_http_request_t *r, ngx_miroir_cluster_conf_t *cl)
{
    ngx_miroir_read_t   *rd;
    ngx_miroir_multi_t  *ms;

    rd = ngx_miroir_read_create(r, cl);
    ms = ngx_pcalloc(r->pool, sizeof(ngx_miroir_multi_t));
    if (rd == NULL || ms == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ms->rd = rd;
    rd->data = ms;
    rd->method = NGX_HTTP_POST;
    rd->uri = ngx_miroir_multi_uri;
    rd->build = ngx_miroir_multi_build;
    rd->done = ngx_miroir_multi_done;
    rd->in_body = 1;

    return ngx_miroir_read_json_body(r, ngx_miroir_multi_body, ms);
}


static void
ngx_miroir_multi_body(ngx_http_request_t *r, ngx_str_t *body)
{
    ngx_int_t            rc;
    miroir_error_t       err;
    ngx_miroir_ctx_t    *ctx;
    ngx_miroir_multi_t  *ms;

    ctx = ngx_http_get_module_ctx(r, ngx_http_miroir_module);
    ms = ctx->data;

    rc = ngx_miroir_multi_parse(ms, body, &err);

    if (rc == NGX_HTTP_BAD_REQUEST) {
        ngx_miroir_finish(r, ngx_miroir_send_error(r, &err));
        return;
    }

    if (rc != NGX_OK) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ms->passthrough ? ngx_miroir_multi_passthrough(ms)
                         : ngx_miroir_multi_settings(ms);

    if (rc != NGX_DONE) {
        ngx_miroir_finish(r, rc);
    }
}


static ngx_int_t
ngx_miroir_multi_parse(ngx_miroir_multi_t *ms, ngx_str_t *body,
    miroir_error_t *err)
{
    char                 *msg;
    cJSON                *root, *queries, *it, *uid;
    ngx_int_t             rc;
    ngx_uint_t            i;
    ngx_http_request_t   *r;
    ngx_miroir_search_t  *sc;

    r = ms->rd->request;
    ms->raw = *body;

    root = ngx_miroir_json_parse(r, body->data, body->len);

    if (root == NULL || !cJSON_IsObject(root)) {
        ms->passthrough = 1;
        return NGX_OK;
    }

    cJSON_ArrayForEach(it, root) {
        if (ngx_strcmp(it->string, "federation") == 0) {
            if (cJSON_IsObject(it)) {
                ms->fed = 1;

            } else if (!cJSON_IsNull(it)) {
                ms->passthrough = 1;
                return NGX_OK;
            }

        } else if (ngx_strcmp(it->string, "queries") != 0) {
            /* an unknown key: the nodes give the error */
            ms->passthrough = 1;
            return NGX_OK;
        }
    }

    queries = cJSON_GetObjectItemCaseSensitive(root, "queries");

    if (!cJSON_IsArray(queries)) {
        ms->passthrough = 1;
        return NGX_OK;
    }

    ms->nq = cJSON_GetArraySize(queries);

    ms->q = ngx_pcalloc(r->pool, (ms->nq + 1) * sizeof(ngx_miroir_search_t));
    ms->uids = ngx_pcalloc(r->pool, (ms->nq + 1) * sizeof(char *));
    ms->settings_uids = ngx_pcalloc(r->pool,
                                    (2 * ms->nq + 1) * sizeof(char *));
    if (ms->q == NULL || ms->uids == NULL || ms->settings_uids == NULL) {
        return NGX_ERROR;
    }

    i = 0;

    cJSON_ArrayForEach(it, queries) {
        uid = cJSON_GetObjectItemCaseSensitive(it, "indexUid");

        if (!cJSON_IsObject(it) || !cJSON_IsString(uid)) {
            ms->passthrough = 1;
            return NGX_OK;
        }

        ms->uids[i] = ngx_pnalloc(r->pool, ngx_strlen(uid->valuestring) + 1);
        if (ms->uids[i] == NULL) {
            return NGX_ERROR;
        }

        ngx_cpystrn((u_char *) ms->uids[i], (u_char *) uid->valuestring,
                    ngx_strlen(uid->valuestring) + 1);

        sc = &ms->q[i];
        sc->rd = ms->rd;
        sc->fed = ms->fed;
        sc->uid.data = (u_char *) ms->uids[i];
        sc->uid.len = ngx_strlen(ms->uids[i]);

        {
            cJSON  *fo, *w;

            fo = cJSON_GetObjectItemCaseSensitive(it, "federationOptions");
            w = cJSON_GetObjectItemCaseSensitive(fo, "weight");
            sc->weight = cJSON_IsNumber(w) ? w->valuedouble : 1.0;
        }

        rc = ngx_miroir_search_prepare(sc, it, err);

        if (rc == NGX_HTTP_BAD_REQUEST) {
            /* as Meilisearch names the query in multi-search errors */
            msg = ngx_pnalloc(r->pool, MIROIR_ERROR_MSG_LEN);
            if (msg == NULL) {
                return NGX_ERROR;
            }

            ngx_cpystrn((u_char *) msg, (u_char *) err->message,
                        MIROIR_ERROR_MSG_LEN);
            ngx_snprintf((u_char *) err->message, MIROIR_ERROR_MSG_LEN - 1,
                         "Inside `.queries[%ui]`: %s%Z", i, msg);
            return rc;
        }

        if (rc != NGX_OK) {
            return rc;
        }

        if (sc->keep_filter) {
            ms->passthrough = 1;
            return NGX_OK;
        }

        i++;
    }

    if (ms->nq == 0) {
        ms->passthrough = 1;
        return NGX_OK;
    }

    if (ms->fed) {
        ms->rd->done = ngx_miroir_fed_done;
        return ngx_miroir_multi_federation(ms,
                   cJSON_GetObjectItemCaseSensitive(root, "federation"));
    }

    return NGX_OK;
}


/* A federation paging member: *ok = 0 when present but not a count. */
static void
ngx_miroir_fed_uint(cJSON *fed, const char *name, uint64_t *dst,
    ngx_uint_t *ok)
{
    cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(fed, name);

    if (v == NULL) {
        return;
    }

    if (cJSON_IsNumber(v) && v->valuedouble >= 0
        && v->valuedouble == (double) (uint64_t) v->valuedouble)
    {
        *dst = (uint64_t) v->valuedouble;

    } else {
        *ok = 0;
    }
}


/*
 * The federation object for the nodes: window from 0, mergeFacets null;
 * and the federate parameters: the client's window, weights, facets.
 */
static ngx_int_t
ngx_miroir_multi_federation(ngx_miroir_multi_t *ms, cJSON *fed)
{
    cJSON                     *v, *mf;
    uint64_t                   n, off, lim, page, hpp;
    ngx_uint_t                 i, ok, page_mode;
    ngx_http_request_t        *r;
    miroir_federate_params_t  *fp;

    r = ms->rd->request;
    fp = &ms->fp;

    fp->offset = 0;
    fp->limit = 20;
    fp->page = 1;
    fp->hits_per_page = 20;

    ok = 1;
    page_mode = cJSON_GetObjectItemCaseSensitive(fed, "page") != NULL
                || cJSON_GetObjectItemCaseSensitive(fed, "hitsPerPage")
                   != NULL;

    off = 0;
    lim = 20;
    page = 1;
    hpp = 20;

    ngx_miroir_fed_uint(fed, "offset", &off, &ok);
    ngx_miroir_fed_uint(fed, "limit", &lim, &ok);
    ngx_miroir_fed_uint(fed, "page", &page, &ok);
    ngx_miroir_fed_uint(fed, "hitsPerPage", &hpp, &ok);

    fp->page_mode = page_mode;
    fp->offset = off;
    fp->limit = lim;
    fp->page = page;
    fp->hits_per_page = hpp;

    if (ok && !page_mode) {
        n = (off + lim < off) ? UINT64_MAX : off + lim;
        cJSON_DeleteItemFromObjectCaseSensitive(fed, "offset");
        cJSON_DeleteItemFromObjectCaseSensitive(fed, "limit");
        cJSON_AddNumberToObject(fed, "offset", 0);
        cJSON_AddNumberToObject(fed, "limit", (double) n);

    } else if (ok && page >= 1) {
        n = (hpp && page > UINT64_MAX / hpp) ? UINT64_MAX : page * hpp;
        cJSON_DeleteItemFromObjectCaseSensitive(fed, "page");
        cJSON_DeleteItemFromObjectCaseSensitive(fed, "hitsPerPage");
        cJSON_AddNumberToObject(fed, "page", 1);
        cJSON_AddNumberToObject(fed, "hitsPerPage", (double) n);
    }

    mf = cJSON_GetObjectItemCaseSensitive(fed, "mergeFacets");

    if (cJSON_IsObject(mf)) {
        fp->merge_facets = 1;

        v = cJSON_GetObjectItemCaseSensitive(mf, "maxValuesPerFacet");
        if (cJSON_IsNumber(v) && v->valuedouble >= 0) {
            fp->merge_max_values = (uint32_t) v->valuedouble;
        }

        cJSON_ReplaceItemInObjectCaseSensitive(fed, "mergeFacets",
                                               cJSON_CreateNull());
    }

    if (ngx_miroir_json_print(r, fed, &ms->federation) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the queries: index, weight and what the client asked to see */

    ms->fq = ngx_pcalloc(r->pool, ms->nq * sizeof(miroir_fed_query_t));
    if (ms->fq == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < ms->nq; i++) {
        ms->fq[i].index_uid = ms->uids[i];
        ms->fq[i].weight = ms->q[i].weight;
        ms->fq[i].show_ranking_score = ms->q[i].params.show_ranking_score;
        ms->fq[i].show_ranking_score_details =
            ms->q[i].params.show_ranking_score_details;
        ms->fq[i].primary_key = NULL;
    }

    fp->queries = ms->fq;
    fp->nqueries = ms->nq;

    return NGX_OK;
}


/* Fetch the settings of the indexes missing from the cache, then read. */
static ngx_int_t
ngx_miroir_multi_settings(ngx_miroir_multi_t *ms)
{
    ngx_str_t             uid, uri;
    ngx_uint_t            i, j, node, n;
    ngx_miroir_read_t    *rd;
    ngx_miroir_fanout_t  *fo;

    rd = ms->rd;
    fo = NULL;
    n = rd->cl->nodes.nelts;

    for (node = 0; node < n; node++) {
        if (!rd->down[node]) {
            break;
        }
    }

    if (node == n) {
        node = 0;
    }

    for (i = 0; i < ms->nq; i++) {
        uid.data = (u_char *) ms->uids[i];
        uid.len = ngx_strlen(ms->uids[i]);

        ms->q[i].settings = ngx_miroir_read_settings_get(rd->cl, &uid);

        if (ms->q[i].settings) {
            continue;
        }

        for (j = 0; j < i; j++) {
            if (ngx_strcmp(ms->uids[j], ms->uids[i]) == 0) {
                break;
            }
        }

        if (j < i) {
            continue;
        }

        if (fo == NULL) {
            fo = ngx_miroir_fanout_create(rd->request, rd->cl,
                                          2 * ms->nq);
            if (fo == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        if (ngx_miroir_read_index_uri(rd->request, &uid, "/settings", &uri)
            != NGX_OK
            || ngx_miroir_fanout_add(fo, node, NGX_HTTP_GET, &uri, NULL)
               == NULL)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* remember which index the call is for */
        ms->settings_uids[fo->calls.nelts - 1] = ms->uids[i];

        /* stable_ties: its primary key next (settings_uids NULL) */
        if (rd->cl->stable_ties
            && (ngx_miroir_read_index_uri(rd->request, &uid, "", &uri)
                != NGX_OK
                || ngx_miroir_fanout_add(fo, node, NGX_HTTP_GET, &uri, NULL)
                   == NULL))
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (fo == NULL) {
        return ngx_miroir_read_start(rd);
    }

    if (ngx_miroir_fanout_start(fo, ngx_miroir_multi_settings_done, ms)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_miroir_multi_settings_done(ngx_http_request_t *r, ngx_miroir_fanout_t *fo)
{
    ngx_int_t            rc;
    ngx_str_t            uid;
    ngx_uint_t           i;
    ngx_miroir_call_t   *call;
    ngx_miroir_multi_t  *ms;

    ms = fo->data;
    call = fo->calls.elts;

    for (i = 0; i < fo->calls.nelts; i++) {
        if (ms->settings_uids[i] && call[i].ok
            && call[i].status == NGX_HTTP_OK)
        {
            uid.data = (u_char *) ms->settings_uids[i];
            uid.len = ngx_strlen(uid.data);

            ngx_miroir_read_settings_put(ms->rd->cl, &uid, &call[i].response,
                                         r->connection->log);

            if (i + 1 < fo->calls.nelts && ms->settings_uids[i + 1] == NULL
                && call[i + 1].ok && call[i + 1].status == NGX_HTTP_OK)
            {
                ngx_miroir_ties_read_settings(ms->rd->cl, &uid,
                                              &call[i].response,
                                              &call[i + 1].response);
            }
        }
    }

    rc = ngx_miroir_read_start(ms->rd);

    if (rc != NGX_DONE) {
        ngx_miroir_finish(r, rc);
    }
}


static ngx_int_t
ngx_miroir_multi_build(ngx_miroir_read_t *rd, ngx_miroir_call_t *call,
    const char *restr)
{
    u_char              *p;
    size_t               len;
    ngx_str_t           *t;
    ngx_uint_t           i;
    ngx_miroir_multi_t  *ms;

    ms = rd->data;

    t = ngx_palloc(rd->request->pool, ms->nq * sizeof(ngx_str_t));
    if (t == NULL) {
        return NGX_ERROR;
    }

    len = sizeof("{\"queries\":[]}") + sizeof("\"federation\":,")
          + ms->federation.len;

    if (ms->fed) {
        ngx_str_set(&call->headers, "Meili-Proxy-Search: true" CRLF);
    }

    for (i = 0; i < ms->nq; i++) {
        if (ngx_miroir_search_text(&ms->q[i], restr, &t[i]) != NGX_OK) {
            return NGX_ERROR;
        }

        len += t[i].len + 1;
    }

    p = ngx_pnalloc(rd->request->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    call->body = NULL;
    len = 0;

    {
        u_char  *start = p;

        if (ms->fed) {
            p = ngx_cpymem(p, "{\"federation\":",
                           sizeof("{\"federation\":") - 1);
            p = ngx_cpymem(p, ms->federation.data, ms->federation.len);
            p = ngx_cpymem(p, ",\"queries\":[",
                           sizeof(",\"queries\":[") - 1);

        } else {
            p = ngx_cpymem(p, "{\"queries\":[",
                           sizeof("{\"queries\":[") - 1);
        }

        for (i = 0; i < ms->nq; i++) {
            if (i) {
                *p++ = ',';
            }

            p = ngx_cpymem(p, t[i].data, t[i].len);
        }

        p = ngx_cpymem(p, "]}", 2);

        return ngx_miroir_read_set_body(rd->request, call, start, p - start);
    }
}


static void
ngx_miroir_multi_done(ngx_miroir_read_t *rd)
{
    int                        rc2;
    char                      *out;
    size_t                     len, i, k, na;
    ngx_int_t                  rc;
    ngx_str_t                  uid;
    miroir_rc_t                mrc;
    miroir_buf_t               b;
    miroir_span_t              doc, key, val, results, el;
    miroir_jiter_t             it;
    miroir_error_t             err;
    miroir_merge_t            *m;
    ngx_http_request_t        *r;
    ngx_miroir_multi_t        *ms;
    ngx_miroir_search_t       *sc;
    miroir_span_t            **spans;
    ngx_miroir_read_answer_t  *a;

    r = rd->request;
    ms = rd->data;

    if (rd->error) {
        ngx_miroir_finish(r, ngx_miroir_read_forward_error(rd));
        return;
    }

    rc = ngx_miroir_read_missing(rd);
    if (rc != NGX_OK || rd->sent) {
        ngx_miroir_finish(r, rc);
        return;
    }

    a = rd->answers.elts;
    na = rd->answers.nelts;

    /* spans[answer][query]: each node's results[i] */

    spans = ngx_pcalloc(r->pool, (na + 1) * sizeof(miroir_span_t *));
    if (spans == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    for (i = 0; i < na; i++) {
        spans[i] = ngx_pcalloc(r->pool, (ms->nq + 1) * sizeof(miroir_span_t));
        if (spans[i] == NULL) {
            ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        results.len = 0;

        if (miroir_jspan_doc((char *) a[i].body.data, a[i].body.len, &doc)
            != MIROIR_OK
            || !miroir_jobj_begin(&it, doc, 0))
        {
            goto bad;
        }

        while ((rc2 = miroir_jobj_next(&it, &key, &val)) == 1) {
            if (miroir_jspan_key_eq(key, "results")) {
                results = val;
            }
        }

        if (rc2 < 0 || !miroir_jarr_begin(&it, results, 1)) {
            goto bad;
        }

        k = 0;

        while ((rc2 = miroir_jarr_next(&it, &el)) == 1) {
            if (k < ms->nq) {
                spans[i][k] = el;
            }

            k++;
        }

        if (rc2 < 0 || k != ms->nq) {
            goto bad;
        }
    }

    ngx_memzero(&b, sizeof(b));
    miroir_buf_adds(&b, "{\"results\":[");

    for (k = 0; k < ms->nq; k++) {
        sc = &ms->q[k];

        if (sc->settings == NULL) {
            uid.data = (u_char *) ms->uids[k];
            uid.len = ngx_strlen(ms->uids[k]);
            sc->settings = ngx_miroir_read_settings_get(rd->cl, &uid);
        }

        if (sc->settings == NULL) {
            ngx_miroir_read_settings_default(&sc->defaults);
            sc->settings = &sc->defaults;
        }

        sc->params.max_total_hits = sc->settings->max_total_hits;
        sc->params.facets.max_values = sc->settings->max_values;
        sc->params.facets.rules = sc->settings->rules;
        sc->params.facets.nrules = sc->settings->nrules;
        sc->params.request_uid = ngx_miroir_read_request_uid(r);
        sc->params.distinct_attr = ngx_miroir_search_distinct_attr(sc);

        m = NULL;
        if (miroir_merge_create(&sc->params, na ? na : 1, &m, &err)
            != MIROIR_OK)
        {
            goto failed;
        }

        for (i = 0; i < na; i++) {
            mrc = miroir_merge_add(m, i, spans[i][k].p, spans[i][k].len,
                                   &err);
            if (mrc != MIROIR_OK) {
                miroir_merge_free(m);
                goto failed;
            }
        }

        out = NULL;
        mrc = miroir_merge_result(m, ngx_current_msec - rd->start, &out,
                                  &len, &err);
        miroir_merge_free(m);

        if (mrc != MIROIR_OK) {
            goto failed;
        }

        if (sc->params.show_ranking_score_details) {
            ngx_miroir_ties_hide_details(sc->settings, out, &len);
        }

        if (k) {
            miroir_buf_addc(&b, ',');
        }

        /* {"indexUid":"<uid>", then the merged answer after its '{' */

        miroir_buf_adds(&b, "{\"indexUid\":");
        miroir_buf_addstr(&b, ms->uids[k], ngx_strlen(ms->uids[k]));

        if (len > 2) {
            miroir_buf_addc(&b, ',');
        }

        miroir_buf_add(&b, out + 1, len - 1);
        free(out);
    }

    miroir_buf_adds(&b, "]}");

    if (b.oom || ngx_miroir_pool_own(r, b.data) == NULL) {
        goto failed;
    }

    ngx_miroir_finish(r, ngx_miroir_send_json(r, NGX_HTTP_OK,
                                              (u_char *) b.data, b.len));
    return;

bad:

    ngx_miroir_log_node_error(r->connection->log, NGX_LOG_ERR, rd->cl,
                              a[i].node, rd->method, &rd->uri, "bad_answer",
                              NGX_HTTP_OK, "bad multi-search answer");
    ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    return;

failed:

    miroir_buf_free(&b);
    ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
}


/* ------------------------------------------------------------ as is */

static ngx_int_t
ngx_miroir_multi_passthrough(ngx_miroir_multi_t *ms)
{
    ngx_uint_t            node, n;
    ngx_miroir_read_t    *rd;
    ngx_miroir_call_t    *call;
    ngx_miroir_fanout_t  *fo;

    rd = ms->rd;
    n = rd->cl->nodes.nelts;

    for (node = 0; node < n; node++) {
        if (!rd->down[node]) {
            break;
        }
    }

    if (node == n) {
        node = 0;
    }

    fo = ngx_miroir_fanout_create(rd->request, rd->cl, 1);
    if (fo == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    call = ngx_miroir_fanout_add(fo, node, NGX_HTTP_POST,
                                 &ngx_miroir_multi_uri, NULL);
    if (call == NULL
        || ngx_miroir_read_set_body(rd->request, call, ms->raw.data,
                                    ms->raw.len)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_miroir_fanout_start(fo, ngx_miroir_multi_passthrough_done, ms)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_miroir_multi_passthrough_done(ngx_http_request_t *r,
    ngx_miroir_fanout_t *fo)
{
    ngx_str_t            type = ngx_string("application/json");
    miroir_error_t       err;
    ngx_miroir_call_t   *call;
    ngx_miroir_read_t   *rd;
    ngx_miroir_multi_t  *ms;

    ms = fo->data;
    rd = ms->rd;
    call = fo->calls.elts;

    if (call->ok && call->status >= 400 && call->status < 500) {
        rd->error = call;
        ngx_miroir_finish(r, ngx_miroir_read_forward_error(rd));
        return;
    }

    if (call->ok && call->status == NGX_HTTP_OK) {
        /* a federated search Miroir does not merge yet */
        miroir_error_set(&err, NGX_HTTP_NOT_IMPLEMENTED,
                         "miroir_not_implemented", "system",
                         "Federated multi-search is not supported by "
                         "Miroir yet.");
        ngx_miroir_finish(r, ngx_miroir_send_error(r, &err));
        return;
    }

    (void) type;

    miroir_error_set(&err, NGX_HTTP_SERVICE_UNAVAILABLE,
                     "miroir_nodes_unavailable", "system",
                     "No node of cluster `%.*s` answered.",
                     (int) rd->cl->name.len, rd->cl->name.data);
    ngx_miroir_finish(r, ngx_miroir_send_error(r, &err));
}


/* ------------------------------------------------------------ federated */

static void
ngx_miroir_fed_done(ngx_miroir_read_t *rd)
{
    char                       *out;
    size_t                      len, i, j, k, nidx;
    ngx_int_t                   rc;
    ngx_str_t                   uid, body;
    miroir_rc_t                 mrc;
    miroir_error_t              err;
    miroir_federate_t          *f;
    ngx_http_request_t         *r;
    ngx_miroir_call_t          *call;
    ngx_miroir_multi_t         *ms;
    ngx_miroir_fanout_t        *fo;
    miroir_fed_index_t         *idx;
    ngx_miroir_read_answer_t   *a;
    ngx_miroir_index_settings_t  *st, def;

    r = rd->request;
    ms = rd->data;

    if (rd->error) {
        if (!ms->retried
            && ngx_strlcasestrn(rd->error->response.data,
                                rd->error->response.data
                                + rd->error->response.len,
                                (u_char *) "\"feature_not_enabled\"",
                                sizeof("\"feature_not_enabled\"") - 2))
        {
            /* switch the network feature on for proxy mode, then again */

            ms->retried = 1;

            fo = ngx_miroir_fanout_create(r, rd->cl, rd->cl->nodes.nelts);
            if (fo == NULL) {
                ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }

            for (i = 0; i < rd->cl->nodes.nelts; i++) {
                if (rd->down[i]) {
                    continue;
                }

                call = ngx_miroir_fanout_add(fo, i, NGX_HTTP_PATCH,
                                             &ngx_miroir_features_uri, NULL);
                if (call == NULL
                    || ngx_miroir_read_set_body(r, call,
                                                (u_char *) "{\"network\":true}",
                                                sizeof("{\"network\":true}")
                                                - 1)
                       != NGX_OK)
                {
                    ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
                    return;
                }
            }

            ngx_miroir_log_event(r->connection->log, NGX_LOG_NOTICE,
                                 "network_feature_enabled", &rd->cl->name,
                                 &rd->cl->name, "reason=federated_search");

            if (ngx_miroir_fanout_start(fo, ngx_miroir_fed_network_done, ms)
                != NGX_OK)
            {
                ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            }

            return;
        }

        ngx_miroir_finish(r, ngx_miroir_read_forward_error(rd));
        return;
    }

    rc = ngx_miroir_read_missing(rd);
    if (rc != NGX_OK || rd->sent) {
        ngx_miroir_finish(r, rc);
        return;
    }

    /* faceting of each index that appears */

    idx = ngx_pcalloc(r->pool, ms->nq * sizeof(miroir_fed_index_t));
    if (idx == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    nidx = 0;

    for (i = 0; i < ms->nq; i++) {
        for (j = 0; j < nidx; j++) {
            if (ngx_strcmp(idx[j].index_uid, ms->uids[i]) == 0) {
                break;
            }
        }

        if (j < nidx) {
            continue;
        }

        uid.data = (u_char *) ms->uids[i];
        uid.len = ngx_strlen(ms->uids[i]);

        st = ngx_miroir_read_settings_get(rd->cl, &uid);
        if (st == NULL) {
            ngx_miroir_read_settings_default(&def);
            st = ngx_palloc(r->pool, sizeof(ngx_miroir_index_settings_t));
            if (st == NULL) {
                ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }

            *st = def;
        }

        idx[nidx].index_uid = ms->uids[i];
        idx[nidx].facets.max_values = st->max_values;
        idx[nidx].facets.rules = st->rules;
        idx[nidx].facets.nrules = st->nrules;
        nidx++;
    }

    ms->fp.indexes = idx;
    ms->fp.nindexes = nidx;
    ms->fp.request_uid = ngx_miroir_read_request_uid(r);

    f = NULL;
    if (miroir_federate_create(&ms->fp, &f, &err) != MIROIR_OK) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    a = rd->answers.elts;

    for (k = 0; k < rd->answers.nelts; k++) {
        body = a[k].body;

        mrc = miroir_federate_add_node(f, k, (char *) body.data, body.len,
                                       &err);
        if (mrc != MIROIR_OK) {
            ngx_miroir_log_node_error(r->connection->log, NGX_LOG_ERR,
                                      rd->cl, a[k].node, rd->method,
                                      &rd->uri, "bad_answer", NGX_HTTP_OK,
                                      err.message);
            miroir_federate_free(f);
            ngx_miroir_finish(r, mrc == MIROIR_ENOMEM
                                 ? NGX_HTTP_INTERNAL_SERVER_ERROR
                                 : ngx_miroir_send_error(r, &err));
            return;
        }
    }

    out = NULL;
    mrc = miroir_federate_result(f, ngx_current_msec - rd->start, &out, &len,
                                 &err);
    miroir_federate_free(f);

    if (mrc != MIROIR_OK || ngx_miroir_pool_own(r, out) == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (rd->cl->stable_ties) {
        /* the hidden rule of each index out of the hits' details */
        for (k = 0; k < nidx; k++) {
            uid.data = (u_char *) idx[k].index_uid;
            uid.len = ngx_strlen(idx[k].index_uid);

            ngx_miroir_ties_hide_details(
                ngx_miroir_read_settings_get(rd->cl, &uid), out, &len);
        }
    }

    ngx_miroir_finish(r, ngx_miroir_send_json(r, NGX_HTTP_OK, (u_char *) out,
                                              len));
}


static void
ngx_miroir_fed_network_done(ngx_http_request_t *r, ngx_miroir_fanout_t *fo)
{
    ngx_int_t            rc;
    ngx_uint_t           i;
    ngx_miroir_read_t   *rd, *old;
    ngx_miroir_multi_t  *ms;

    ms = fo->data;
    old = ms->rd;

    rd = ngx_miroir_read_create(r, old->cl);
    if (rd == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rd->data = ms;
    rd->method = NGX_HTTP_POST;
    rd->uri = ngx_miroir_multi_uri;
    rd->build = ngx_miroir_multi_build;
    rd->done = ngx_miroir_fed_done;
    rd->in_body = 1;
    rd->start = old->start;

    ms->rd = rd;

    for (i = 0; i < ms->nq; i++) {
        ms->q[i].rd = rd;
    }

    rc = ngx_miroir_read_start(rd);

    if (rc != NGX_DONE) {
        ngx_miroir_finish(r, rc);
    }
}
