/*
 * ngx_miroir_read_search.c -- GET and POST /indexes/:uid/search.
 *
 * The client's request is sent to every node of the read plan with three
 * changes: the filter gets the node's restriction (a user string U is sent
 * as the array [U, restriction], so that the node parses U on its own and
 * its error messages and positions stay those of one Meilisearch), paging
 * becomes offset 0 / limit offset+limit (page 1 / hitsPerPage
 * page*hitsPerPage), and showRankingScoreDetails is on.  Anything Miroir
 * cannot read (a limit that is not a number...) is sent unchanged, so the
 * nodes answer the exact Meilisearch error, which is forwarded as is.  The
 * answers are merged by miroir_merge_*().
 */

#include <math.h>

#include "ngx_miroir_read.h"
#include "ngx_miroir_keys.h"

#include "miroir_merge.h"
#include "miroir_rank.h"




static void ngx_miroir_search_body(ngx_http_request_t *r, ngx_str_t *body);
static ngx_int_t ngx_miroir_search_post(ngx_miroir_search_t *sc,
    ngx_str_t *body, miroir_error_t *err);
static ngx_int_t ngx_miroir_search_get(ngx_miroir_search_t *sc,
    miroir_error_t *err);
static ngx_int_t ngx_miroir_search_build(ngx_miroir_read_t *rd,
    ngx_miroir_call_t *call, const char *restr);
static void ngx_miroir_search_done(ngx_miroir_read_t *rd);
static ngx_int_t ngx_miroir_search_begin(ngx_miroir_search_t *sc);
static ngx_int_t ngx_miroir_docs_get_as_fetch(ngx_miroir_search_t *sc,
    ngx_int_t *rc, miroir_error_t *err);


static ngx_int_t ngx_miroir_search_entry(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_str_t *uid, ngx_uint_t docs);
static void ngx_miroir_docs_done(ngx_miroir_read_t *rd);
static void ngx_miroir_facet_done(ngx_miroir_read_t *rd);


/* POST /indexes/:uid/facet-search: a search kind without paging */
ngx_int_t
ngx_miroir_read_facet_search(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_str_t *uid)
{
    return ngx_miroir_search_entry(r, cl, uid, 2);
}


ngx_int_t
ngx_miroir_read_search(ngx_http_request_t *r, ngx_miroir_cluster_conf_t *cl,
    ngx_str_t *uid)
{
    return ngx_miroir_search_entry(r, cl, uid, 0);
}


/* GET /indexes/:uid/documents and POST /indexes/:uid/documents/fetch */
ngx_int_t
ngx_miroir_read_documents(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_str_t *uid, ngx_uint_t fetch)
{
    return ngx_miroir_search_entry(r, cl, uid, 1);
}


static ngx_int_t
ngx_miroir_search_entry(ngx_http_request_t *r, ngx_miroir_cluster_conf_t *cl,
    ngx_str_t *uid, ngx_uint_t docs)
{
    ngx_int_t             rc;
    miroir_error_t        err;
    ngx_miroir_read_t    *rd;
    ngx_miroir_search_t  *sc;

    rd = ngx_miroir_read_create(r, cl);
    sc = ngx_pcalloc(r->pool, sizeof(ngx_miroir_search_t));
    if (rd == NULL || sc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    sc->rd = rd;
    sc->uid = *uid;
    sc->docs = (docs != 0);
    sc->facet = (docs == 2);
    rd->uid = *uid;
    rd->data = sc;
    rd->build = ngx_miroir_search_build;
    rd->done = docs == 2 ? ngx_miroir_facet_done
               : docs ? ngx_miroir_docs_done : ngx_miroir_search_done;

    if (ngx_miroir_read_index_uri(r, uid,
                                  docs == 2 ? "/facet-search"
                                  : !docs ? "/search"
                                  : (r->method == NGX_HTTP_POST
                                     ? "/documents/fetch" : "/documents"),
                                  &rd->uri)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    sc->params.limit = 20;
    sc->params.page = 1;
    sc->params.hits_per_page = 20;

    if (r->method == NGX_HTTP_GET) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        sc->get = 1;
        rd->method = NGX_HTTP_GET;

        if (docs && ngx_miroir_docs_get_as_fetch(sc, &rc, &err) == NGX_OK) {
            if (rc == NGX_HTTP_BAD_REQUEST) {
                return ngx_miroir_send_error(r, &err);
            }

            if (rc != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            return ngx_miroir_search_begin(sc);
        }

        rc = ngx_miroir_search_get(sc, &err);
        if (rc == NGX_HTTP_BAD_REQUEST) {
            return ngx_miroir_send_error(r, &err);
        }

        if (rc != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_miroir_search_begin(sc);
    }

    rd->method = NGX_HTTP_POST;
    rd->in_body = 1;

    return ngx_miroir_read_json_body(r, ngx_miroir_search_body, sc);
}


static void
ngx_miroir_search_body(ngx_http_request_t *r, ngx_str_t *body)
{
    ngx_int_t             rc;
    miroir_error_t        err;
    ngx_miroir_ctx_t     *ctx;
    ngx_miroir_search_t  *sc;

    ctx = ngx_http_get_module_ctx(r, ngx_http_miroir_module);
    sc = ctx->data;

    rc = ngx_miroir_search_post(sc, body, &err);

    if (rc == NGX_HTTP_BAD_REQUEST) {
        ngx_miroir_finish(r, ngx_miroir_send_error(r, &err));
        return;
    }

    if (rc != NGX_OK) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_miroir_search_begin(sc);

    if (rc != NGX_DONE) {
        ngx_miroir_finish(r, rc);
    }
}


static ngx_int_t
ngx_miroir_search_begin(ngx_miroir_search_t *sc)
{
    ngx_miroir_read_t  *rd;

    rd = sc->rd;

    sc->settings = ngx_miroir_read_settings_get(rd->cl, &rd->uid);

    if (sc->settings == NULL && (!sc->docs || sc->facet)) {
        if (ngx_miroir_read_index_uri(rd->request, &rd->uid, "/settings",
                                      &rd->extra_uri)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* stable_ties: the primary key names the hidden rule */
        if (rd->cl->stable_ties
            && ngx_miroir_read_index_uri(rd->request, &rd->uid, "",
                                         &rd->pk_uri)
               != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_miroir_read_start(rd);
}


/*
 * Searches (search, facet search, multi-search queries) AND the tenant
 * token's filter into the user's, as Meilisearch does, and refuse indexes
 * the key or token does not allow (ngx_miroir_keys.c).  The symbol below
 * tells the access control that this is done.
 */

const ngx_uint_t  ngx_miroir_read_auth_compose = 1;


static ngx_int_t
ngx_miroir_search_auth(ngx_miroir_search_t *sc, miroir_error_t *err)
{
    ngx_int_t  rc;

    if (sc->docs && !sc->facet) {
        return NGX_OK;          /* documents: no tenant tokens there */
    }

    err->status = 0;

    rc = ngx_miroir_auth_compose(sc->rd->request, &sc->uid, &sc->user, err);

    if (rc == NGX_DECLINED) {
        return NGX_ERROR;       /* err set: 403 or 400 */
    }

    if (rc != NGX_OK) {
        err->status = 0;
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* Read a JSON bool member: 1/0, or -1 when absent or not a bool. */
static ngx_int_t
ngx_miroir_json_flag(cJSON *root, const char *name, ngx_uint_t *bad)
{
    cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(root, name);

    if (v == NULL) {
        return 0;
    }

    if (!cJSON_IsBool(v)) {
        *bad = 1;
        return 0;
    }

    return cJSON_IsTrue(v) ? 1 : 0;
}


/* A JSON non-negative integer member; NGX_DECLINED when absent. */
static ngx_int_t
ngx_miroir_json_uint(cJSON *root, const char *name, uint64_t *out)
{
    cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(root, name);

    if (v == NULL) {
        return NGX_DECLINED;
    }

    if (!cJSON_IsNumber(v) || v->valuedouble < 0
        || v->valuedouble != floor(v->valuedouble))
    {
        return NGX_ERROR;
    }

    /*
     * Meilisearch takes any u64 (usize); cJSON holds numbers as doubles, so
     * 2^64 - 1 arrives as 2^64, which no cast may convert: saturate.
     */

    if (v->valuedouble >= 18446744073709551615.0) {
        *out = UINT64_MAX;
        return NGX_OK;
    }

    *out = (uint64_t) v->valuedouble;

    return NGX_OK;
}


/*
 * What the nodes are asked for is written as a JSON number by cJSON, which
 * prints 15 significant digits: saturate at the largest 15-digit integer,
 * which it writes exactly (a node never holds that many documents).
 */
#define NGX_MIROIR_JSON_UINT_MAX  999999999999999ULL

static uint64_t
ngx_miroir_sat_add(uint64_t a, uint64_t b)
{
    if (a >= NGX_MIROIR_JSON_UINT_MAX || b >= NGX_MIROIR_JSON_UINT_MAX - a) {
        return NGX_MIROIR_JSON_UINT_MAX;
    }

    return a + b;
}


static uint64_t
ngx_miroir_sat_mul(uint64_t a, uint64_t b)
{
    if (a && b >= NGX_MIROIR_JSON_UINT_MAX / a) {
        return NGX_MIROIR_JSON_UINT_MAX;
    }

    return a * b;
}


/*
 * The rewrite of ngx_miroir_search_prepare() without cJSON, for the common
 * search body whose text is already exactly what cJSON would print again:
 * no whitespace outside strings, no escapes, numbers as small integers, no
 * repeated member, and none of the members whose rewrite needs the tree
 * (distinct, attributesToRetrieve, a filter neither null, string nor
 * array).  The node bodies are then byte for byte those of the cJSON path.
 * NGX_DECLINED: not such a body (nothing was changed in sc).
 */

#define NGX_MIROIR_FAST_MEMBERS  32

static ngx_uint_t
ngx_miroir_search_canonical(u_char *p, u_char *last)
{
    u_char  *s;

    while (p < last) {
        if (*p == '"') {
            for (p++; p < last && *p != '"'; p++) {
                if (*p == '\\') {
                    return 0;       /* cJSON may write it otherwise */
                }
            }

            p++;
            continue;
        }

        if (*p == '-' || (*p >= '0' && *p <= '9')) {
            /* an integer as cJSON prints one: -?[1-9][0-9]{0,8} or 0 */
            s = p;

            if (*p == '-') {
                p++;
            }

            if (p < last && *p == '0' && s == p) {
                p++;

            } else if (p < last && *p >= '1' && *p <= '9') {
                while (p < last && *p >= '0' && *p <= '9') {
                    p++;
                }

            } else {
                return 0;
            }

            if (p - s > 9 + (*s == '-')
                || (p < last && (*p == '.' || *p == 'e' || *p == 'E')))
            {
                return 0;
            }

            continue;
        }

        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
            return 0;
        }

        p++;
    }

    return 1;
}


/* A canonical integer member (see above) as ngx_miroir_json_uint() reads. */
static ngx_int_t
ngx_miroir_search_fast_uint(miroir_span_t *v, uint64_t *out)
{
    size_t    i;
    uint64_t  n;

    if (v->p == NULL) {
        return NGX_DECLINED;
    }

    if (!miroir_jspan_is_num(*v) || v->p[0] == '-') {
        return NGX_ERROR;
    }

    n = 0;

    for (i = 0; i < v->len; i++) {
        n = n * 10 + (uint64_t) (v->p[i] - '0');
    }

    *out = n;

    return NGX_OK;
}


/* As ngx_miroir_json_flag(): 1/0, bad set when not a bool. */
static ngx_int_t
ngx_miroir_search_fast_flag(miroir_span_t *v, ngx_uint_t *bad)
{
    if (v->p == NULL) {
        return 0;
    }

    if (v->len == 4 && ngx_strncmp(v->p, "true", 4) == 0) {
        return 1;
    }

    if (!(v->len == 5 && ngx_strncmp(v->p, "false", 5) == 0)) {
        *bad = 1;
    }

    return 0;
}


static ngx_int_t
ngx_miroir_search_fast(ngx_miroir_search_t *sc, ngx_str_t *body,
    miroir_error_t *err)
{
    u_char                       *p, *last, *out;
    char                         *text;
    size_t                        n_attr;
    uint64_t                      v, total;
    ngx_uint_t                    i, j, n, bad, paging_ok, page_mode;
    ngx_uint_t                    drop_paging, drop_details;
    miroir_jiter_t                it;
    miroir_span_t                 doc, k[NGX_MIROIR_FAST_MEMBERS];
    miroir_span_t                 val[NGX_MIROIR_FAST_MEMBERS];
    miroir_span_t                 filter, offset, limit, page, hpp, show;
    miroir_span_t                 details;
    ngx_http_request_t           *r;
    ngx_miroir_index_settings_t  *st;

    if (sc->docs || sc->facet || sc->fed) {
        return NGX_DECLINED;
    }

    r = sc->rd->request;
    p = body->data;
    last = body->data + body->len;

    while (p < last && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    {
        p++;
    }

    while (last > p && (last[-1] == ' ' || last[-1] == '\t'
                        || last[-1] == '\n' || last[-1] == '\r'))
    {
        last--;
    }

    if (last - p < 2 || *p != '{'
        || miroir_jspan_doc((char *) p, last - p, &doc) != MIROIR_OK
        || !ngx_miroir_search_canonical(p, last)
        || !miroir_jobj_begin(&it, doc, 0))
    {
        return NGX_DECLINED;
    }

    /* the members, each once, none of those that need the tree */

    n = 0;
    filter.p = offset.p = limit.p = page.p = hpp.p = show.p = details.p
        = NULL;
    filter.len = offset.len = limit.len = page.len = hpp.len = show.len
        = details.len = 0;

    while (miroir_jobj_next(&it, &k[n], &val[n]) == 1) {
        for (j = 0; j < n; j++) {
            if (k[j].len == k[n].len
                && ngx_memcmp(k[j].p, k[n].p, k[n].len) == 0)
            {
                return NGX_DECLINED;
            }
        }

#define ngx_miroir_fast_is(s)  miroir_jspan_key_eq(k[n], s)

        if (ngx_miroir_fast_is("distinct")
            || ngx_miroir_fast_is("attributesToRetrieve"))
        {
            return NGX_DECLINED;
        }

        if (ngx_miroir_fast_is("filter")) {
            if (!(miroir_jspan_is_null(val[n]) || miroir_jspan_is_str(val[n])
                  || miroir_jspan_is_arr(val[n])))
            {
                return NGX_DECLINED;
            }

            filter = val[n];

        } else if (ngx_miroir_fast_is("offset")) {
            offset = val[n];

        } else if (ngx_miroir_fast_is("limit")) {
            limit = val[n];

        } else if (ngx_miroir_fast_is("page")) {
            page = val[n];

        } else if (ngx_miroir_fast_is("hitsPerPage")) {
            hpp = val[n];

        } else if (ngx_miroir_fast_is("showRankingScore")) {
            show = val[n];

        } else if (ngx_miroir_fast_is("showRankingScoreDetails")) {
            details = val[n];
        }

#undef ngx_miroir_fast_is

        if (++n == NGX_MIROIR_FAST_MEMBERS) {
            return NGX_DECLINED;
        }
    }

    /* from here on as ngx_miroir_search_prepare() */

    sc->params.limit = 20;
    sc->params.page = 1;
    sc->params.hits_per_page = 20;

    sc->user = NULL;

    if (miroir_jspan_is_str(filter)) {
        if (miroir_filter_check(filter.p + 1, filter.len - 2, err)
            != MIROIR_OK)
        {
            return NGX_HTTP_BAD_REQUEST;
        }

        /* ["U"]: U has no escape, cJSON prints it as it is */
        sc->user = ngx_pnalloc(r->pool, filter.len + 3);
        if (sc->user == NULL) {
            return NGX_ERROR;
        }

        sc->user[0] = '[';
        ngx_memcpy(sc->user + 1, filter.p, filter.len);
        sc->user[filter.len + 1] = ']';
        sc->user[filter.len + 2] = '\0';

    } else if (miroir_jspan_is_arr(filter)) {
        sc->user = ngx_pnalloc(r->pool, filter.len + 1);
        if (sc->user == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(sc->user, filter.p, filter.len);
        sc->user[filter.len] = '\0';

        text = NULL;
        if (miroir_filter_compose(sc->user, filter.len, NULL, &text, err)
            != MIROIR_OK)
        {
            return NGX_HTTP_BAD_REQUEST;
        }

        free(text);
    }

    if (ngx_miroir_search_auth(sc, err) != NGX_OK) {
        return err->status ? NGX_HTTP_BAD_REQUEST : NGX_ERROR;
    }

    /* paging */

    paging_ok = 1;
    page_mode = (page.p != NULL || hpp.p != NULL);
    drop_paging = 0;
    total = 0;

    if (page_mode) {
        sc->params.page_mode = 1;

        if (ngx_miroir_search_fast_uint(&page, &sc->params.page)
            == NGX_ERROR)
        {
            paging_ok = 0;
        }

        if (ngx_miroir_search_fast_uint(&hpp, &sc->params.hits_per_page)
            == NGX_ERROR)
        {
            paging_ok = 0;
        }

        if (paging_ok && sc->params.page >= 1) {
            total = ngx_miroir_sat_mul(sc->params.page,
                                       sc->params.hits_per_page);
            drop_paging = 1;
        }

    } else {
        v = 0;
        if (ngx_miroir_search_fast_uint(&offset, &v) == NGX_ERROR) {
            paging_ok = 0;
        }

        sc->params.offset = v;

        v = 20;
        if (ngx_miroir_search_fast_uint(&limit, &v) == NGX_ERROR) {
            paging_ok = 0;
        }

        sc->params.limit = v;

        if (paging_ok) {
            total = ngx_miroir_sat_add(sc->params.offset, sc->params.limit);
            drop_paging = 1;
        }
    }

    bad = 0;
    sc->params.show_ranking_score = ngx_miroir_search_fast_flag(&show, &bad);
    sc->params.show_ranking_score_details =
        ngx_miroir_search_fast_flag(&details, &bad);
    drop_details = !bad;

    /* distinct (ngx_miroir_search_distinct()): the index's, if cached */

    sc->retrieve_all = 1;

    st = ngx_miroir_read_settings_get(sc->rd->cl,
                                      sc->uid.len ? &sc->uid : &sc->rd->uid);

    if (st && st->distinct_attr) {
        n_attr = ngx_strlen(st->distinct_attr) + 1;

        sc->distinct = ngx_pnalloc(r->pool, n_attr);
        if (sc->distinct == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(sc->distinct, st->distinct_attr, n_attr);
    }

    /* the text: the members kept, then what cJSON would have appended */

    out = ngx_pnalloc(r->pool, body->len + 128 + NGX_INT64_LEN);
    if (out == NULL) {
        return NGX_ERROR;
    }

    sc->raw.data = out;
    *out++ = '{';

    for (i = 0; i < n; i++) {
        if (val[i].p == filter.p
            || (drop_details && val[i].p == details.p)
            || (drop_paging
                && (val[i].p == (page_mode ? page.p : offset.p)
                    || val[i].p == (page_mode ? hpp.p : limit.p))))
        {
            continue;
        }

        if (out[-1] != '{') {
            *out++ = ',';
        }

        /* key ':' value, contiguous in a canonical text */
        out = ngx_cpymem(out, k[i].p, val[i].p + val[i].len - k[i].p);
    }

    if (drop_paging) {
        if (out[-1] != '{') {
            *out++ = ',';
        }

        out = page_mode
              ? ngx_sprintf(out, "\"page\":1,\"hitsPerPage\":%uL", total)
              : ngx_sprintf(out, "\"offset\":0,\"limit\":%uL", total);
    }

    if (drop_details) {
        if (out[-1] != '{') {
            *out++ = ',';
        }

        out = ngx_cpymem(out, "\"showRankingScoreDetails\":true",
                         sizeof("\"showRankingScoreDetails\":true") - 1);
    }

    *out++ = '}';

    sc->raw.len = out - sc->raw.data;
    sc->rest.data = sc->raw.data + 1;
    sc->rest.len = sc->raw.len - 1;

    return NGX_OK;
}


static ngx_int_t
ngx_miroir_search_post(ngx_miroir_search_t *sc, ngx_str_t *body,
    miroir_error_t *err)
{
    cJSON               *root;
    ngx_int_t            rc;
    ngx_http_request_t  *r;

    r = sc->rd->request;

    rc = ngx_miroir_search_fast(sc, body, err);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    root = ngx_miroir_json_parse(r, body->data, body->len);

    if (root == NULL || !cJSON_IsObject(root)) {
        /* not an object: the nodes give Meilisearch's own error */
        sc->keep_filter = 1;
        sc->raw = *body;
        return NGX_OK;
    }

    return ngx_miroir_search_prepare(sc, root, err);
}


/*
 * Rewrite one search object for the nodes (see the top of the file);
 * root is modified.  NGX_HTTP_BAD_REQUEST with err for a filter Miroir
 * refuses.
 */
/*
 * distinct: each node dedupes only its own documents, so the merger
 * dedupes across nodes (miroir_merge_params_t.distinct_attr), which needs
 * the attribute in every hit: it is added to the client's
 * attributesToRetrieve when missing there, and stripped from the answer.
 * The attribute is the request's `distinct`, else the index's
 * distinctAttribute when its settings are cached; when they are not, the
 * merge uses the fetched setting if the nodes return every attribute
 * (ngx_miroir_search_distinct_attr()).
 */
static ngx_int_t
ngx_miroir_search_distinct(ngx_miroir_search_t *sc, cJSON *root)
{
    char                         *attr;
    size_t                        len;
    cJSON                        *d, *atr, *it, *s;
    ngx_str_t                    *uid;
    ngx_uint_t                    has;
    ngx_http_request_t           *r;
    ngx_miroir_index_settings_t  *st;

    r = sc->rd->request;
    attr = NULL;

    d = cJSON_GetObjectItemCaseSensitive(root, "distinct");

    if (cJSON_IsString(d)) {
        attr = d->valuestring;

    } else if (d == NULL || cJSON_IsNull(d)) {
        uid = sc->uid.len ? &sc->uid : &sc->rd->uid;
        st = ngx_miroir_read_settings_get(sc->rd->cl, uid);
        attr = st ? st->distinct_attr : NULL;

    } else {
        return NGX_OK;              /* the nodes refuse it */
    }

    sc->retrieve_all = 1;

    atr = cJSON_GetObjectItemCaseSensitive(root, "attributesToRetrieve");

    if (cJSON_IsArray(atr)) {
        sc->retrieve_all = 0;
        has = 0;

        cJSON_ArrayForEach(it, atr) {
            if (!cJSON_IsString(it)) {
                return NGX_OK;      /* the nodes refuse it */
            }

            if (ngx_strcmp(it->valuestring, "*") == 0) {
                sc->retrieve_all = 1;
                has = 1;

            } else if (attr && ngx_strcmp(it->valuestring, attr) == 0) {
                has = 1;
            }
        }

        if (attr && !has) {
            s = cJSON_CreateString(attr);
            if (s == NULL) {
                return NGX_ERROR;
            }

            cJSON_AddItemToArray(atr, s);
            sc->strip[0] = NULL;    /* set below, once copied */
            sc->params.nstrip_attrs = 1;
        }
    }

    if (attr == NULL) {
        return NGX_OK;
    }

    len = ngx_strlen(attr) + 1;

    sc->distinct = ngx_pnalloc(r->pool, len);
    if (sc->distinct == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(sc->distinct, attr, len);

    if (sc->params.nstrip_attrs) {
        sc->strip[0] = sc->distinct;
        sc->params.strip_attrs = sc->strip;
    }

    return NGX_OK;
}


/* The distinct attribute of the merge (see ngx_miroir_search_distinct()). */
const char *
ngx_miroir_search_distinct_attr(ngx_miroir_search_t *sc)
{
    if (sc->docs || sc->facet || sc->fed) {
        return NULL;
    }

    if (sc->distinct) {
        return sc->distinct;
    }

    return sc->retrieve_all && sc->settings ? sc->settings->distinct_attr
                                            : NULL;
}


ngx_int_t
ngx_miroir_search_prepare(ngx_miroir_search_t *sc, cJSON *root,
    miroir_error_t *err)
{
    cJSON               *f, *arr, *s;
    char                *text;
    ngx_int_t            rc;
    uint64_t             v, total;
    ngx_str_t            printed;
    ngx_uint_t           bad, paging_ok;
    ngx_http_request_t  *r;

    r = sc->rd->request;

    sc->params.limit = 20;
    sc->params.page = 1;
    sc->params.hits_per_page = 20;

    if (sc->facet) {
        f = cJSON_GetObjectItemCaseSensitive(root, "facetName");

        if (cJSON_IsString(f)) {
            sc->facet_name = ngx_pnalloc(r->pool,
                                         ngx_strlen(f->valuestring) + 1);
            if (sc->facet_name == NULL) {
                return NGX_ERROR;
            }

            ngx_cpystrn((u_char *) sc->facet_name, (u_char *) f->valuestring,
                        ngx_strlen(f->valuestring) + 1);
        }
    }

    if (sc->docs && !sc->facet) {
        f = cJSON_GetObjectItemCaseSensitive(root, "sort");
        sc->doc_sort = (f != NULL && !cJSON_IsNull(f));
    }

    /* the filter */

    f = cJSON_DetachItemFromObjectCaseSensitive(root, "filter");

    if (f == NULL || cJSON_IsNull(f)) {
        sc->user = NULL;

    } else if (cJSON_IsString(f)) {
        if (miroir_filter_check(f->valuestring, ngx_strlen(f->valuestring),
                                err)
            != MIROIR_OK)
        {
            cJSON_Delete(f);
            return NGX_HTTP_BAD_REQUEST;
        }

        arr = cJSON_CreateArray();
        s = cJSON_CreateString(f->valuestring);
        if (arr == NULL || s == NULL) {
            cJSON_Delete(arr);
            cJSON_Delete(s);
            cJSON_Delete(f);
            return NGX_ERROR;
        }

        cJSON_AddItemToArray(arr, s);
        sc->user = ngx_miroir_pool_own(r, cJSON_PrintUnformatted(arr));
        cJSON_Delete(arr);

        if (sc->user == NULL) {
            cJSON_Delete(f);
            return NGX_ERROR;
        }

    } else if (cJSON_IsArray(f)) {
        sc->user = ngx_miroir_pool_own(r, cJSON_PrintUnformatted(f));
        if (sc->user == NULL) {
            cJSON_Delete(f);
            return NGX_ERROR;
        }

        text = NULL;
        if (miroir_filter_compose(sc->user, ngx_strlen(sc->user), NULL,
                                  &text, err)
            != MIROIR_OK)
        {
            cJSON_Delete(f);
            return NGX_HTTP_BAD_REQUEST;
        }

        free(text);

    } else {
        /* not a filter at all: the nodes refuse it with their message */
        cJSON_AddItemToObject(root, "filter", f);
        f = NULL;
        sc->keep_filter = 1;
    }

    cJSON_Delete(f);

    if (ngx_miroir_search_auth(sc, err) != NGX_OK) {
        return err->status ? NGX_HTTP_BAD_REQUEST : NGX_ERROR;
    }

    /* paging */

    paging_ok = 1;

    if (sc->facet || sc->fed) {
        /* no paging in a facet search nor a federated query */

    } else if (!sc->docs
        && (cJSON_GetObjectItemCaseSensitive(root, "page")
            || cJSON_GetObjectItemCaseSensitive(root, "hitsPerPage")))
    {
        sc->params.page_mode = 1;

        rc = ngx_miroir_json_uint(root, "page", &sc->params.page);
        if (rc == NGX_ERROR) {
            paging_ok = 0;
        }

        rc = ngx_miroir_json_uint(root, "hitsPerPage",
                                  &sc->params.hits_per_page);
        if (rc == NGX_ERROR) {
            paging_ok = 0;
        }

        if (paging_ok && sc->params.page >= 1) {
            total = ngx_miroir_sat_mul(sc->params.page,
                                       sc->params.hits_per_page);
            cJSON_DeleteItemFromObjectCaseSensitive(root, "page");
            cJSON_DeleteItemFromObjectCaseSensitive(root, "hitsPerPage");
            cJSON_AddNumberToObject(root, "page", 1);
            cJSON_AddNumberToObject(root, "hitsPerPage", (double) total);
        }

    } else {
        v = 0;
        rc = ngx_miroir_json_uint(root, "offset", &v);
        if (rc == NGX_ERROR) {
            paging_ok = 0;
        }

        sc->params.offset = v;

        v = 20;
        rc = ngx_miroir_json_uint(root, "limit", &v);
        if (rc == NGX_ERROR) {
            paging_ok = 0;
        }

        sc->params.limit = v;

        if (paging_ok) {
            total = ngx_miroir_sat_add(sc->params.offset, sc->params.limit);
            cJSON_DeleteItemFromObjectCaseSensitive(root, "offset");
            cJSON_DeleteItemFromObjectCaseSensitive(root, "limit");
            cJSON_AddNumberToObject(root, "offset", 0);
            cJSON_AddNumberToObject(root, "limit", (double) total);
        }
    }

    bad = sc->docs || sc->fed;
    sc->params.show_ranking_score =
        ngx_miroir_json_flag(root, "showRankingScore", &bad);
    sc->params.show_ranking_score_details =
        ngx_miroir_json_flag(root, "showRankingScoreDetails", &bad);

    if (!bad) {
        cJSON_DeleteItemFromObjectCaseSensitive(root,
                                                "showRankingScoreDetails");
        cJSON_AddTrueToObject(root, "showRankingScoreDetails");
    }

    if (!sc->docs && !sc->facet && !sc->fed
        && ngx_miroir_search_distinct(sc, root) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_miroir_json_print(r, root, &printed) != NGX_OK) {
        return NGX_ERROR;
    }

    /* printed is "{...}": keep what follows the '{' */

    sc->raw = printed;

    sc->rest.data = printed.data + 1;
    sc->rest.len = printed.len - 1;

    return NGX_OK;
}


static ngx_int_t
ngx_miroir_search_get(ngx_miroir_search_t *sc, miroir_error_t *err)
{
    u_char              *p, *last, *end, *eq, *d;
    size_t               nlen;
    uint64_t             v;
    ngx_str_t            val, raw, args;
    ngx_int_t            page_mode;
    ngx_uint_t           keep, paging_ok, i;
    ngx_http_request_t  *r;
    uint64_t             num[4];
    ngx_uint_t           has[4];
    static const char   *names[] = { "offset", "limit", "page",
                                     "hitsPerPage" };

    r = sc->rd->request;
    args = r->args;

    page_mode = 0;
    paging_ok = 1;

    for (i = 0; i < 4; i++) {
        has[i] = 0;

        if (sc->docs && i >= 2) {
            continue;
        }

        num[i] = 0;

        if (ngx_miroir_read_args_get(&args, names[i], &raw, &val, r->pool)
            == NGX_OK)
        {
            has[i] = 1;

            if (ngx_miroir_read_parse_uint(&val, &v) != NGX_OK) {
                paging_ok = 0;

            } else {
                num[i] = v;
            }

            if (i >= 2) {
                page_mode = 1;
            }
        }
    }

    sc->params.page_mode = page_mode;
    sc->params.offset = has[0] ? num[0] : 0;
    sc->params.limit = has[1] ? num[1] : 20;
    sc->params.page = has[2] ? num[2] : 1;
    sc->params.hits_per_page = has[3] ? num[3] : 20;

    if (page_mode && sc->params.page == 0) {
        paging_ok = 0;      /* page 0 is sent as it is */
    }

    /* the user's filter */

    sc->user = NULL;

    if (ngx_miroir_read_args_get(&args, "filter", &raw, &val, r->pool)
        == NGX_OK && val.len)
    {
        if (val.data[0] == '[' && cJSON_ParseWithLength((char *) val.data,
                                                        val.len))
        {
            /* an array in JSON form, as Meilisearch reads it (leaks
               nothing: parsed again by the composer) */
            sc->user = ngx_pnalloc(r->pool, val.len + 1);
            if (sc->user == NULL) {
                return NGX_ERROR;
            }

            ngx_memcpy(sc->user, val.data, val.len);
            sc->user[val.len] = '\0';

        } else {
            if (miroir_filter_check((char *) val.data, val.len, err)
                != MIROIR_OK)
            {
                return NGX_HTTP_BAD_REQUEST;
            }

            {
                miroir_buf_t  b;

                ngx_memzero(&b, sizeof(b));
                miroir_buf_addc(&b, '[');
                miroir_buf_addstr(&b, (char *) val.data, val.len);
                miroir_buf_addc(&b, ']');
                miroir_buf_addc(&b, '\0');

                if (b.oom) {
                    miroir_buf_free(&b);
                    return NGX_ERROR;
                }

                sc->user = ngx_miroir_pool_own(r, b.data);
                if (sc->user == NULL) {
                    return NGX_ERROR;
                }
            }
        }
    }

    if (ngx_miroir_search_auth(sc, err) != NGX_OK) {
        return err->status ? NGX_HTTP_BAD_REQUEST : NGX_ERROR;
    }

    /* the show flags */

    keep = sc->docs;

    if (!sc->docs
        && ngx_miroir_read_args_get(&args, "showRankingScore", &raw, &val,
                                 r->pool)
        == NGX_OK)
    {
        sc->params.show_ranking_score = (val.len == 4
                                         && ngx_strncmp(val.data, "true", 4)
                                            == 0);
    }

    if (!sc->docs
        && ngx_miroir_read_args_get(&args, "showRankingScoreDetails", &raw,
                                 &val, r->pool)
        == NGX_OK)
    {
        if (val.len == 4 && ngx_strncmp(val.data, "true", 4) == 0) {
            sc->params.show_ranking_score_details = 1;

        } else if (!(val.len == 5
                     && ngx_strncmp(val.data, "false", 5) == 0))
        {
            keep = 1;       /* invalid: the node reports it */
        }
    }

    /* copy the other arguments as they are */

    sc->args.data = ngx_pnalloc(r->pool, args.len + 64);
    if (sc->args.data == NULL) {
        return NGX_ERROR;
    }

    d = sc->args.data;
    p = args.data;
    last = args.data + args.len;

    while (p < last) {
        end = ngx_strlchr(p, last, '&');
        if (end == NULL) {
            end = last;
        }

        eq = ngx_strlchr(p, end, '=');
        nlen = (eq ? eq : end) - p;

#define ngx_miroir_arg_is(s)                                                 \
        (nlen == sizeof(s) - 1 && ngx_strncmp(p, s, nlen) == 0)

        if (!((paging_ok && (ngx_miroir_arg_is("offset")
                             || ngx_miroir_arg_is("limit")
                             || (!sc->docs
                                 && (ngx_miroir_arg_is("page")
                                     || ngx_miroir_arg_is("hitsPerPage")))))
              || ngx_miroir_arg_is("filter")
              || (!keep && ngx_miroir_arg_is("showRankingScoreDetails"))))
        {
            if (d != sc->args.data) {
                *d++ = '&';
            }

            d = ngx_cpymem(d, p, end - p);
        }

#undef ngx_miroir_arg_is

        p = end + 1;
    }

    if (!keep) {
        if (d != sc->args.data) {
            *d++ = '&';
        }

        d = ngx_cpymem(d, "showRankingScoreDetails=true",
                       sizeof("showRankingScoreDetails=true") - 1);
    }

    sc->args.len = d - sc->args.data;

    /*
     * distinct (see ngx_miroir_search_distinct()): a GET is deduped across
     * nodes when the nodes return every attribute (no attributesToRetrieve)
     */

    if (!sc->docs && !sc->facet
        && ngx_miroir_read_args_get(&args, "attributesToRetrieve", &raw,
                                    NULL, r->pool)
           == NGX_DECLINED)
    {
        sc->retrieve_all = 1;

        if (ngx_miroir_read_args_get(&args, "distinct", &raw, &val, r->pool)
            == NGX_OK && val.len)
        {
            sc->distinct = ngx_pnalloc(r->pool, val.len + 1);
            if (sc->distinct == NULL) {
                return NGX_ERROR;
            }

            *ngx_cpymem(sc->distinct, val.data, val.len) = '\0';

        } else {
            sc->settings = ngx_miroir_read_settings_get(sc->rd->cl,
                                                        &sc->rd->uid);
            if (sc->settings && sc->settings->distinct_attr) {
                sc->distinct = ngx_pnalloc(r->pool,
                                   ngx_strlen(sc->settings->distinct_attr)
                                   + 1);
                if (sc->distinct == NULL) {
                    return NGX_ERROR;
                }

                ngx_cpystrn((u_char *) sc->distinct,
                            (u_char *) sc->settings->distinct_attr,
                            ngx_strlen(sc->settings->distinct_attr) + 1);
            }
        }
    }

    sc->paging.data = ngx_pnalloc(r->pool, 64);
    if (sc->paging.data == NULL) {
        return NGX_ERROR;
    }

    if (!paging_ok) {
        sc->paging.len = 0;

    } else if (page_mode) {
        sc->paging.len = ngx_sprintf(sc->paging.data,
                                     "&page=1&hitsPerPage=%uL",
                                     ngx_miroir_sat_mul(sc->params.page,
                                                 sc->params.hits_per_page))
                         - sc->paging.data;

    } else {
        sc->paging.len = ngx_sprintf(sc->paging.data, "&offset=0&limit=%uL",
                                     ngx_miroir_sat_add(sc->params.offset,
                                                        sc->params.limit))
                         - sc->paging.data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_miroir_search_build(ngx_miroir_read_t *rd, ngx_miroir_call_t *call,
    const char *restr)
{
    u_char               *p;
    char                 *filter;
    size_t                len;
    ngx_str_t             esc;
    miroir_error_t        err;
    ngx_http_request_t   *r;
    ngx_miroir_search_t  *sc;

    sc = rd->data;
    r = rd->request;

    if (!sc->get) {
        if (ngx_miroir_search_text(sc, restr, &esc) != NGX_OK) {
            return NGX_ERROR;
        }

        if (sc->doc_sort) {
            /* each document then carries its sort values */
            ngx_str_set(&call->headers, "Meili-Proxy-Search: true" CRLF);
        }

        return ngx_miroir_read_set_body(r, call, esc.data, esc.len);
    }

    filter = NULL;

    if (!sc->keep_filter) {
        if (sc->get && sc->user == NULL && restr) {
            /* a plain restriction needs no JSON */
            filter = (char *) restr;

        } else if (miroir_filter_compose(sc->user,
                                         sc->user ? ngx_strlen(sc->user) : 0,
                                         restr, &filter, &err)
                   != MIROIR_OK)
        {
            return NGX_ERROR;

        } else if (ngx_miroir_pool_own(r, filter) == NULL && filter) {
            return NGX_ERROR;
        }
    }

    if (sc->get) {
        esc.len = 0;

        if (filter) {
            if (ngx_miroir_read_escape_arg(r, (u_char *) filter,
                                           ngx_strlen(filter), &esc)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        len = sc->args.len + sc->paging.len + sizeof("&filter=") + esc.len;

        p = ngx_pnalloc(r->pool, len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        call->args.data = p;
        p = ngx_cpymem(p, sc->args.data, sc->args.len);
        p = ngx_cpymem(p, sc->paging.data, sc->paging.len);

        if (esc.len) {
            p = ngx_cpymem(p, "&filter=", sizeof("&filter=") - 1);
            p = ngx_cpymem(p, esc.data, esc.len);
        }

        call->args.len = p - call->args.data;

        if (call->args.len && call->args.data[0] == '&') {
            call->args.data++;
            call->args.len--;
        }

        return NGX_OK;
    }

    return NGX_ERROR;
}


/* The JSON text of the search object for a node with restriction restr. */
ngx_int_t
ngx_miroir_search_text(ngx_miroir_search_t *sc, const char *restr,
    ngx_str_t *out)
{
    u_char              *p;
    char                *filter;
    size_t               len, flen;
    miroir_error_t       err;
    ngx_http_request_t  *r;

    r = sc->rd->request;

    if (sc->keep_filter) {
        *out = sc->raw;
        return NGX_OK;
    }

    filter = NULL;

    if (miroir_filter_compose(sc->user, sc->user ? ngx_strlen(sc->user) : 0,
                              restr, &filter, &err)
        != MIROIR_OK)
    {
        return NGX_ERROR;
    }

    if (filter && ngx_miroir_pool_own(r, filter) == NULL) {
        return NGX_ERROR;
    }

    if (filter == NULL) {
        out->data = sc->rest.data - 1;
        out->len = sc->rest.len + 1;
        return NGX_OK;
    }

    /* "{" "filter": F "," rest  -- rest is "}" for an empty object */

    flen = ngx_strlen(filter);
    len = sizeof("{\"filter\":,") + flen + sc->rest.len;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;

    p = ngx_cpymem(p, "{\"filter\":", sizeof("{\"filter\":") - 1);
    p = ngx_cpymem(p, filter, flen);

    if (!(sc->rest.len == 1 && sc->rest.data[0] == '}')) {
        *p++ = ',';
    }

    p = ngx_cpymem(p, sc->rest.data, sc->rest.len);

    out->len = p - out->data;

    return NGX_OK;
}


/*
 * What every search-like done handler does first: forward a node error,
 * take the index settings that came with the answers (or the defaults),
 * and answer for missing shards.  NGX_OK: go on; else r is finished.
 */
static ngx_int_t
ngx_miroir_search_settle(ngx_miroir_read_t *rd)
{
    ngx_int_t             rc;
    ngx_http_request_t   *r;
    ngx_miroir_search_t  *sc;

    r = rd->request;
    sc = rd->data;

    if (rd->error) {
        ngx_miroir_finish(r, ngx_miroir_read_forward_error(rd));
        return NGX_DONE;
    }

    if (rd->extra_status == NGX_HTTP_OK && rd->extra_body.len) {
        ngx_miroir_read_settings_put(rd->cl, &rd->uid, &rd->extra_body,
                                     r->connection->log);

        if (rd->pk_status == NGX_HTTP_OK) {
            ngx_miroir_ties_read_settings(rd->cl, &rd->uid, &rd->extra_body,
                                          &rd->pk_body);
        }

        sc->settings = ngx_miroir_read_settings_get(rd->cl, &rd->uid);
    }

    if (sc->settings == NULL) {
        ngx_miroir_read_settings_default(&sc->defaults);
        sc->settings = &sc->defaults;
    }

    rc = ngx_miroir_read_missing(rd);
    if (rc != NGX_OK || rd->sent) {
        ngx_miroir_finish(r, rc);
        return NGX_DONE;
    }

    return NGX_OK;
}


static void
ngx_miroir_search_done(ngx_miroir_read_t *rd)
{
    char                      *out;
    size_t                     len;
    ngx_uint_t                 i;
    miroir_rc_t                mrc;
    miroir_error_t             err;
    miroir_merge_t            *m;
    ngx_http_request_t        *r;
    ngx_miroir_search_t       *sc;
    ngx_miroir_read_answer_t  *a;

    r = rd->request;
    sc = rd->data;

    if (ngx_miroir_search_settle(rd) != NGX_OK) {
        return;
    }

    sc->params.max_total_hits = sc->settings->max_total_hits;
    sc->params.facets.max_values = sc->settings->max_values;
    sc->params.facets.rules = sc->settings->rules;
    sc->params.facets.nrules = sc->settings->nrules;
    sc->params.request_uid = ngx_miroir_read_request_uid(r);
    sc->params.distinct_attr = ngx_miroir_search_distinct_attr(sc);

    m = NULL;
    if (miroir_merge_create(&sc->params, rd->answers.nelts, &m, &err)
        != MIROIR_OK)
    {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    a = rd->answers.elts;

    for (i = 0; i < rd->answers.nelts; i++) {
        mrc = miroir_merge_add(m, i, (char *) a[i].body.data, a[i].body.len,
                               &err);

        if (mrc == MIROIR_ENOMEM) {
            miroir_merge_free(m);
            ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        if (mrc != MIROIR_OK) {
            ngx_miroir_log_node_error(r->connection->log, NGX_LOG_ERR,
                                      rd->cl, a[i].node, rd->method,
                                      &rd->uri, "bad_answer", NGX_HTTP_OK,
                                      err.message);
            miroir_merge_free(m);
            ngx_miroir_finish(r, ngx_miroir_send_error(r, &err));
            return;
        }
    }

    out = NULL;
    mrc = miroir_merge_result(m, ngx_current_msec - rd->start, &out, &len,
                              &err);
    miroir_merge_free(m);

    if (mrc != MIROIR_OK || ngx_miroir_pool_own(r, out) == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (sc->params.show_ranking_score_details) {
        ngx_miroir_ties_hide_details(sc->settings, out, &len);
    }

    ngx_miroir_finish(r, ngx_miroir_send_json(r, NGX_HTTP_OK, (u_char *) out,
                                              len));
}




/*
 * Documents: each node listed offset 0, limit offset+limit of its part;
 * the global order is the nodes' answers one after the other (the plan's
 * node order, then each node's own order) or, for a fetch with `sort`
 * (asked in proxy mode), the order of each document's
 * `_federation.weightedScoreValues` (miroir_rank_cmp), ties by node then
 * node order; the window is cut from that, totals are summed and the
 * _miroir_* fields (and _federation) removed.
 */

typedef struct {
    miroir_span_t              doc;
    miroir_rank_key_t          key;
    ngx_uint_t                 seq;
} ngx_miroir_doc_entry_t;


static int
ngx_miroir_doc_cmp(const void *a, const void *b)
{
    int                            c;
    const ngx_miroir_doc_entry_t  *x = a, *y = b;

    c = miroir_rank_cmp(&x->key, &y->key, MIROIR_RANK_FEDERATED);
    if (c) {
        return c;
    }

    return (x->seq > y->seq) - (x->seq < y->seq);
}


static void
ngx_miroir_docs_keys_free(ngx_array_t *entries)
{
    ngx_uint_t               i;
    ngx_miroir_doc_entry_t  *e;

    e = entries->elts;

    for (i = 0; i < entries->nelts; i++) {
        miroir_rank_key_free(&e[i].key);
    }

    entries->nelts = 0;
}


/* Append doc without its _miroir_* members and _federation. */
static void
ngx_miroir_doc_write(miroir_buf_t *b, miroir_span_t doc)
{
    int             rc, first;
    miroir_span_t   key, val;
    miroir_jiter_t  it;

    if (!miroir_jobj_begin(&it, doc, 1)) {
        miroir_buf_add(b, doc.p, doc.len);
        return;
    }

    miroir_buf_addc(b, '{');
    first = 1;

    while ((rc = miroir_jobj_next(&it, &key, &val)) == 1) {
        if (miroir_jspan_key_prefix(key, "_miroir_")
            || miroir_jspan_key_eq(key, "_federation"))
        {
            continue;
        }

        if (!first) {
            miroir_buf_addc(b, ',');
        }

        first = 0;
        miroir_buf_add(b, key.p, key.len);
        miroir_buf_addc(b, ':');
        miroir_buf_add(b, val.p, val.len);
    }

    miroir_buf_addc(b, '}');
}


static void
ngx_miroir_docs_done(ngx_miroir_read_t *rd)
{
    int                        rc;
    uint64_t                   total, end;
    ngx_int_t                  nrc;
    ngx_uint_t                 i, k, n, first;
    miroir_buf_t               b;
    miroir_span_t              doc, key, val, results, fed, wsv;
    miroir_error_t             err;
    miroir_jiter_t             it, rit, fit;
    ngx_array_t                entries;
    ngx_http_request_t        *r;
    ngx_miroir_search_t       *sc;
    ngx_miroir_doc_entry_t    *e;
    ngx_miroir_read_answer_t  *a;

    r = rd->request;
    sc = rd->data;

    if (rd->error) {
        ngx_miroir_finish(r, ngx_miroir_read_forward_error(rd));
        return;
    }

    nrc = ngx_miroir_read_missing(rd);
    if (nrc != NGX_OK || rd->sent) {
        ngx_miroir_finish(r, nrc);
        return;
    }

    if (ngx_array_init(&entries, r->pool, 64, sizeof(ngx_miroir_doc_entry_t))
        != NGX_OK)
    {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_memzero(&b, sizeof(b));

    a = rd->answers.elts;
    total = 0;

    for (i = 0; i < rd->answers.nelts; i++) {
        if (miroir_jspan_doc((char *) a[i].body.data, a[i].body.len, &doc)
            != MIROIR_OK
            || !miroir_jobj_begin(&it, doc, 0))
        {
            goto bad;
        }

        results.len = 0;

        while ((rc = miroir_jobj_next(&it, &key, &val)) == 1) {
            if (miroir_jspan_key_eq(key, "results")) {
                results = val;

            } else if (miroir_jspan_key_eq(key, "total")
                       && miroir_jspan_is_num(val))
            {
                total += (uint64_t) miroir_jspan_num(val);
            }
        }

        if (rc < 0 || !miroir_jarr_begin(&rit, results, 1)) {
            goto bad;
        }

        while ((rc = miroir_jarr_next(&rit, &val)) == 1) {
            e = ngx_array_push(&entries);
            if (e == NULL) {
                goto failed;
            }

            ngx_memzero(e, sizeof(ngx_miroir_doc_entry_t));
            e->doc = val;
            e->seq = entries.nelts;

            if (!sc->doc_sort) {
                continue;
            }

            /* _federation.weightedScoreValues */

            fed.len = 0;
            wsv.len = 0;

            if (miroir_jobj_begin(&fit, val, 2)) {
                while (miroir_jobj_next(&fit, &key, &fed) == 1) {
                    if (miroir_jspan_key_eq(key, "_federation")) {
                        break;
                    }

                    fed.len = 0;
                }
            }

            if (fed.len && miroir_jobj_begin(&fit, fed, 3)) {
                while (miroir_jobj_next(&fit, &key, &wsv) == 1) {
                    if (miroir_jspan_key_eq(key, "weightedScoreValues")) {
                        break;
                    }

                    wsv.len = 0;
                }
            }

            if (wsv.len
                && miroir_rank_parse_weighted(wsv, &e->key, &err)
                   != MIROIR_OK)
            {
                ngx_memzero(&e->key, sizeof(miroir_rank_key_t));
            }
        }

        if (rc < 0) {
            goto bad;
        }
    }

    e = entries.elts;
    n = entries.nelts;

    if (sc->doc_sort && n > 1) {
        ngx_qsort(e, n, sizeof(ngx_miroir_doc_entry_t), ngx_miroir_doc_cmp);
    }

    end = ngx_miroir_sat_add(sc->params.offset, sc->params.limit);
    first = 1;

    miroir_buf_adds(&b, "{\"results\":[");

    for (k = sc->params.offset; k < n && k < end; k++) {
        if (!first) {
            miroir_buf_addc(&b, ',');
        }

        first = 0;
        ngx_miroir_doc_write(&b, e[k].doc);
    }

    miroir_buf_adds(&b, "],\"offset\":");
    miroir_buf_addu(&b, sc->params.offset);
    miroir_buf_adds(&b, ",\"limit\":");
    miroir_buf_addu(&b, sc->params.limit);
    miroir_buf_adds(&b, ",\"total\":");
    miroir_buf_addu(&b, total);
    miroir_buf_addc(&b, '}');

    ngx_miroir_docs_keys_free(&entries);

    if (b.oom || ngx_miroir_pool_own(r, b.data) == NULL) {
        goto failed;
    }

    ngx_miroir_finish(r, ngx_miroir_send_json(r, NGX_HTTP_OK,
                                              (u_char *) b.data, b.len));
    return;

bad:

    ngx_miroir_log_node_error(r->connection->log, NGX_LOG_ERR, rd->cl,
                              a[i].node, rd->method, &rd->uri, "bad_answer",
                              NGX_HTTP_OK, "bad documents answer");

failed:

    ngx_miroir_docs_keys_free(&entries);
    miroir_buf_free(&b);
    ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
}


/*
 * Facet search: each node counted the values over its part; the counts are
 * summed per value, sorted and truncated by the facet merger of the core
 * (the same grouping, order and limit as facetDistribution), then written
 * back as facetHits.
 */
static void
ngx_miroir_facet_done(ngx_miroir_read_t *rd)
{
    char                      *text;
    cJSON                     *in, *hits, *h, *v, *c, *dist, *vals, *fq;
    cJSON                     *out, *arr, *merged, *it, *o;
    ngx_str_t                  res;
    ngx_uint_t                 i;
    miroir_buf_t               b;
    miroir_span_t              span;
    miroir_error_t             err;
    miroir_facets_t           *fm;
    miroir_facet_conf_t        conf;
    ngx_http_request_t        *r;
    ngx_miroir_search_t       *sc;
    ngx_miroir_read_answer_t  *a;

    r = rd->request;
    sc = rd->data;

    if (ngx_miroir_search_settle(rd) != NGX_OK) {
        return;
    }

    fm = miroir_facets_create();
    out = cJSON_CreateObject();
    if (fm == NULL || out == NULL || sc->facet_name == NULL) {
        goto failed;
    }

    a = rd->answers.elts;
    fq = NULL;

    for (i = 0; i < rd->answers.nelts; i++) {
        in = ngx_miroir_json_parse(r, a[i].body.data, a[i].body.len);
        if (in == NULL) {
            goto failed;
        }

        if (fq == NULL) {
            fq = cJSON_GetObjectItemCaseSensitive(in, "facetQuery");
        }

        dist = cJSON_CreateObject();
        vals = cJSON_AddObjectToObject(dist, sc->facet_name);
        hits = cJSON_GetObjectItemCaseSensitive(in, "facetHits");

        cJSON_ArrayForEach(h, hits) {
            v = cJSON_GetObjectItemCaseSensitive(h, "value");
            c = cJSON_GetObjectItemCaseSensitive(h, "count");

            if (cJSON_IsString(v) && cJSON_IsNumber(c)
                && cJSON_GetObjectItemCaseSensitive(vals, v->valuestring)
                   == NULL)
            {
                cJSON_AddNumberToObject(vals, v->valuestring,
                                        c->valuedouble);
            }
        }

        text = cJSON_PrintUnformatted(dist);
        cJSON_Delete(dist);

        if (ngx_miroir_pool_own(r, text) == NULL) {
            goto failed;
        }

        if (miroir_jspan_doc(text, ngx_strlen(text), &span) != MIROIR_OK
            || miroir_facets_add_distribution(fm, span, &err) != MIROIR_OK)
        {
            goto failed;
        }
    }

    ngx_memzero(&conf, sizeof(conf));
    conf.max_values = sc->settings->max_values;
    conf.rules = sc->settings->rules;
    conf.nrules = sc->settings->nrules;
    conf.candidates = 0;

    ngx_memzero(&b, sizeof(b));

    if (miroir_facets_write_distribution(fm, &conf, &b) != MIROIR_OK
        || b.oom || ngx_miroir_pool_own(r, b.data) == NULL)
    {
        goto failed;
    }

    merged = ngx_miroir_json_parse(r, (u_char *) b.data, b.len);
    arr = cJSON_AddArrayToObject(out, "facetHits");
    if (merged == NULL || arr == NULL) {
        goto failed;
    }

    vals = cJSON_GetObjectItemCaseSensitive(merged, sc->facet_name);

    cJSON_ArrayForEach(it, vals) {
        o = cJSON_CreateObject();
        if (o == NULL) {
            goto failed;
        }

        cJSON_AddStringToObject(o, "value", it->string);
        cJSON_AddNumberToObject(o, "count", it->valuedouble);
        cJSON_AddItemToArray(arr, o);
    }

    if (fq && cJSON_IsString(fq)) {
        cJSON_AddStringToObject(out, "facetQuery", fq->valuestring);

    } else {
        cJSON_AddNullToObject(out, "facetQuery");
    }

    cJSON_AddNumberToObject(out, "processingTimeMs",
                            (double) (ngx_current_msec - rd->start));

    if (ngx_miroir_json_print(r, out, &res) != NGX_OK) {
        goto failed;
    }

    cJSON_Delete(out);
    miroir_facets_free(fm);

    ngx_miroir_finish(r, ngx_miroir_send_json(r, NGX_HTTP_OK, res.data,
                                              res.len));
    return;

failed:

    cJSON_Delete(out);
    miroir_facets_free(fm);
    ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
}


/* Split "a,b,c" into a JSON array of strings. */
static cJSON *
ngx_miroir_args_list(ngx_str_t *v)
{
    u_char  *p, *last, *comma;
    cJSON   *arr, *it;
    char     buf[1024];
    size_t   n;

    arr = cJSON_CreateArray();
    if (arr == NULL) {
        return NULL;
    }

    p = v->data;
    last = v->data + v->len;

    while (p <= last) {
        comma = ngx_strlchr(p, last, ',');
        if (comma == NULL) {
            comma = last;
        }

        n = comma - p;
        if (n >= sizeof(buf)) {
            cJSON_Delete(arr);
            return NULL;
        }

        ngx_memcpy(buf, p, n);
        buf[n] = '\0';

        it = cJSON_CreateString(buf);
        if (it == NULL) {
            cJSON_Delete(arr);
            return NULL;
        }

        cJSON_AddItemToArray(arr, it);
        p = comma + 1;
    }

    return arr;
}


/*
 * GET /documents with `sort`: the nodes must be asked in proxy mode, which
 * only POST /documents/fetch has; the query string is turned into the same
 * fetch body.  NGX_DECLINED (the GET is sent as it is) without `sort`, or
 * for a parameter Miroir does not convert exactly (the nodes then answer
 * the GET, and its errors, themselves).
 */
static ngx_int_t
ngx_miroir_docs_get_as_fetch(ngx_miroir_search_t *sc, ngx_int_t *rc,
    miroir_error_t *err)
{
    char                *f;
    u_char              *p, *last, *end, *eq;
    cJSON               *root, *v;
    uint64_t             num;
    ngx_str_t            args, name, raw, val, one;
    ngx_http_request_t  *r;

    r = sc->rd->request;
    args = r->args;

    if (ngx_miroir_read_args_get(&args, "sort", &raw, NULL, r->pool)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    root = ngx_miroir_json_parse(r, (u_char *) "{}", 2);
    if (root == NULL) {
        return NGX_DECLINED;
    }

    p = args.data;
    last = args.data + args.len;

    while (p < last) {
        end = ngx_strlchr(p, last, '&');
        if (end == NULL) {
            end = last;
        }

        eq = ngx_strlchr(p, end, '=');
        name.data = p;
        name.len = (eq ? eq : end) - p;

        one.data = p;
        one.len = end - p;

        if (name.len == 0) {
            return NGX_DECLINED;
        }

        /* the value of this one argument, decoded */

        {
            u_char  buf[64];

            if (name.len >= sizeof(buf)) {
                return NGX_DECLINED;
            }

            ngx_memcpy(buf, name.data, name.len);
            buf[name.len] = '\0';

            if (ngx_miroir_read_args_get(&one, (char *) buf, &raw, &val,
                                         r->pool)
                != NGX_OK
                || cJSON_GetObjectItemCaseSensitive(root, (char *) buf))
            {
                return NGX_DECLINED;
            }

#define ngx_miroir_is(s)  (ngx_strcmp(buf, s) == 0)

            if (ngx_miroir_is("offset") || ngx_miroir_is("limit")) {
                if (ngx_miroir_read_parse_uint(&val, &num) != NGX_OK) {
                    return NGX_DECLINED;
                }

                v = cJSON_CreateNumber((double) num);

            } else if (ngx_miroir_is("fields") || ngx_miroir_is("ids")
                       || ngx_miroir_is("sort"))
            {
                v = ngx_miroir_args_list(&val);

            } else if (ngx_miroir_is("filter")) {
                v = cJSON_ParseWithLength((char *) val.data, val.len);

                if (!cJSON_IsArray(v)) {
                    /* not a JSON array: the filter string itself */
                    cJSON_Delete(v);

                    f = ngx_pnalloc(r->pool, val.len + 1);
                    if (f == NULL) {
                        return NGX_DECLINED;
                    }

                    ngx_memcpy(f, val.data, val.len);
                    f[val.len] = '\0';
                    v = cJSON_CreateString(f);
                }

            } else if (ngx_miroir_is("retrieveVectors")) {
                if (val.len == 4 && ngx_strncmp(val.data, "true", 4) == 0) {
                    v = cJSON_CreateTrue();

                } else if (val.len == 5
                           && ngx_strncmp(val.data, "false", 5) == 0)
                {
                    v = cJSON_CreateFalse();

                } else {
                    return NGX_DECLINED;
                }

            } else {
                return NGX_DECLINED;
            }

#undef ngx_miroir_is

            if (v == NULL) {
                return NGX_DECLINED;
            }

            cJSON_AddItemToObject(root, (char *) buf, v);
        }

        p = end + 1;
    }

    if (ngx_miroir_read_index_uri(r, &sc->rd->uid, "/documents/fetch",
                                  &sc->rd->uri)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    sc->get = 0;
    sc->rd->method = NGX_HTTP_POST;

    *rc = ngx_miroir_search_prepare(sc, root, err);

    return NGX_OK;
}
