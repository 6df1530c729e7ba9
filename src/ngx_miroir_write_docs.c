/*
 * ngx_miroir_write_docs.c -- document writes: add or replace (POST), add
 * or update (PUT), delete one, delete a batch.
 *
 * The payload is checked and split by miroir_split() before anything is
 * sent: a malformed payload is a synchronous 400, a payload Meilisearch
 * would accept and then fail (missing or invalid id, failed primary key
 * inference, conflicting primary key) becomes a failed Miroir task, and
 * in both cases no node receives anything.  Otherwise each node gets one
 * request carrying every document of the shards it owns.
 */

#include "ngx_miroir_write.h"
#include "ngx_miroir_rebalance.h"


/* the query parameters of POST/PUT /indexes/:uid/documents */
static const char *const  ngx_miroir_docs_args[] = {
    "primaryKey", "csvDelimiter", "customMetadata", "skipCreation", NULL
};

#include <zlib.h>


static void ngx_miroir_write_split_cleanup(void *data);
static ngx_int_t ngx_miroir_write_migration(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, const miroir_route_table_t *rt,
    miroir_route_table_t *mrt, miroir_split_conf_t *conf);
static void ngx_miroir_write_batch_send(ngx_http_request_t *r,
    ngx_miroir_write_t *w);
static ngx_int_t ngx_miroir_write_touch_ids(ngx_http_request_t *r,
    ngx_miroir_write_t *w, ngx_str_t *body);
static void ngx_miroir_write_one_send(ngx_http_request_t *r,
    ngx_miroir_write_t *w);


static ngx_str_t  ngx_miroir_ndjson_type = ngx_string("application/x-ndjson");
static ngx_str_t  ngx_miroir_json_type = ngx_string("application/json");
static ngx_str_t  ngx_miroir_indexes_uri = ngx_string("/indexes");


typedef struct {
    miroir_doc_format_t             format;
    unsigned char                   delimiter;
    ngx_str_t                       pk_param;
    ngx_uint_t                      has_pk_param;
    ngx_str_t                       body;
    ngx_str_t                       id;          /* delete one */
} ngx_miroir_docs_t;


static ngx_int_t
ngx_miroir_write_arg(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    u_char     *dst, *src;
    ngx_str_t   v;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &v) != NGX_OK) {
        return NGX_DECLINED;
    }

    value->data = ngx_pnalloc(r->pool, v.len + 1);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    dst = value->data;
    src = v.data;
    ngx_unescape_uri(&dst, &src, v.len, NGX_UNESCAPE_URI);
    *dst = '\0';
    value->len = dst - value->data;

    return NGX_OK;
}


static ngx_int_t
ngx_miroir_write_media_is(ngx_str_t *type, const char *media)
{
    u_char  *p, *end;
    size_t   len;

    p = type->data;
    end = p + type->len;

    while (p < end && *p == ' ') {
        p++;
    }

    len = ngx_strlen(media);

    if ((size_t) (end - p) < len || ngx_strncasecmp(p, (u_char *) media, len)
                                    != 0)
    {
        return 0;
    }

    p += len;

    while (p < end && *p == ' ') {
        p++;
    }

    return p == end || *p == ';';
}


/*
 * Decode a gzip or deflate request body (Content-Encoding) into a buffer
 * owned by the request; the decoded size is held to max_payload.
 * @return NGX_OK, NGX_DECLINED (corrupt: 400 sent), NGX_ABORT (413
 *         sent), NGX_ERROR.
 */
static ngx_int_t
ngx_miroir_write_decode(ngx_http_request_t *r, ngx_miroir_write_t *w,
    ngx_str_t *body)
{
    int              rc, window;
    u_char          *out, *grown;
    size_t           cap, limit;
    z_stream         zs;
    ngx_str_t        enc;
    miroir_error_t   err;
    ngx_list_part_t *part;
    ngx_table_elt_t *h;
    ngx_uint_t       i;

    enc.len = 0;
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {
        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == 16
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Content-Encoding",
                               16) == 0)
        {
            enc = h[i].value;
        }
    }

    if (enc.len == 0 || (enc.len == 8 && ngx_strncasecmp(enc.data,
                                              (u_char *) "identity", 8) == 0))
    {
        return NGX_OK;
    }

    if (enc.len == 4 && ngx_strncasecmp(enc.data, (u_char *) "gzip", 4) == 0)
    {
        window = 15 + 16;

    } else if (enc.len == 7
               && ngx_strncasecmp(enc.data, (u_char *) "deflate", 7) == 0)
    {
        window = 15;

    } else {
        miroir_error_set(&err, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                         "invalid_content_type", "invalid_request",
                         "The Content-Encoding `%.*s` is not supported. "
                         "Miroir accepts `gzip` and `deflate`.",
                         (int) ngx_min(enc.len, 100), enc.data);
        ngx_miroir_finish(r, ngx_miroir_send_error(r, &err));
        return NGX_DECLINED;
    }

    limit = w->cl->max_payload ? w->cl->max_payload : (size_t) -1 / 2;
    cap = ngx_min(ngx_max(body->len * 4, 4096), limit + 1);

    out = malloc(cap);
    if (out == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(&zs, sizeof(z_stream));

    if (inflateInit2(&zs, window) != Z_OK) {
        free(out);
        return NGX_ERROR;
    }

    zs.next_in = body->data;
    zs.avail_in = (uInt) body->len;
    zs.next_out = out;
    zs.avail_out = (uInt) cap;

    for ( ;; ) {
        rc = inflate(&zs, Z_NO_FLUSH);

        if (rc == Z_STREAM_END) {
            break;
        }

        if (rc == Z_OK && zs.avail_out == 0) {
            if (zs.total_out > limit) {
                break;
            }

            grown = realloc(out, ngx_min(cap * 2, limit + 1));
            if (grown == NULL) {
                inflateEnd(&zs);
                free(out);
                return NGX_ERROR;
            }

            out = grown;
            zs.next_out = out + cap;
            zs.avail_out = (uInt) (ngx_min(cap * 2, limit + 1) - cap);
            cap = ngx_min(cap * 2, limit + 1);
            continue;
        }

        inflateEnd(&zs);
        free(out);

        miroir_error_set(&err, NGX_HTTP_BAD_REQUEST, "bad_request",
                         "invalid_request",
                         "The request body could not be decoded (%s).",
                         window > 15 ? "gzip" : "deflate");
        ngx_miroir_finish(r, ngx_miroir_send_error(r, &err));
        return NGX_DECLINED;
    }

    body->len = zs.total_out;
    inflateEnd(&zs);

    if (ngx_miroir_pool_own(r, out) == NULL) {
        return NGX_ERROR;
    }

    body->data = out;

    if (ngx_miroir_write_payload_limit(r, w->cl, body->len) != NGX_OK) {
        ngx_miroir_finish(r, ngx_miroir_write_too_large(r, w->cl));
        return NGX_ABORT;
    }

    return NGX_OK;
}


/* POST/PUT /indexes/:uid/documents: the body has arrived. */
void
ngx_miroir_write_docs_body(ngx_http_request_t *r, ngx_str_t *body)
{
    ngx_int_t            rc;
    ngx_str_t            delim;
    miroir_error_t       err;
    ngx_miroir_docs_t   *d;
    ngx_miroir_write_t  *w;
    ngx_miroir_ctx_t    *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_miroir_module);
    w = ctx->data;

    d = ngx_pcalloc(r->pool, sizeof(ngx_miroir_docs_t));
    if (d == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    w->split = NULL;

    /* query parameters, Content-Type, then csvDelimiter: Meilisearch's order */

    if (ngx_miroir_check_args(r, ngx_miroir_docs_args, &err) != NGX_OK) {
        ngx_miroir_finish(r, ngx_miroir_send_error(r, &err));
        return;
    }


    if (w->content_type.len == 0) {
        miroir_error_set(&err, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                         "missing_content_type", "invalid_request",
                         "A Content-Type header is missing. Accepted values "
                         "for the Content-Type header are: "
                         "`application/json`, `application/x-ndjson`, "
                         "`text/csv`");
        ngx_miroir_finish(r, ngx_miroir_send_error(r, &err));
        return;
    }

    if (ngx_miroir_write_media_is(&w->content_type, "application/json")) {
        d->format = MIROIR_DOC_JSON;

    } else if (ngx_miroir_write_media_is(&w->content_type,
                                         "application/x-ndjson"))
    {
        d->format = MIROIR_DOC_NDJSON;

    } else if (ngx_miroir_write_media_is(&w->content_type, "text/csv")) {
        d->format = MIROIR_DOC_CSV;

    } else {
        miroir_error_set(&err, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                         "invalid_content_type", "invalid_request",
                         "The Content-Type `%.*s` is invalid. Accepted "
                         "values for the Content-Type header are: "
                         "`application/json`, `application/x-ndjson`, "
                         "`text/csv`",
                         (int) ngx_min(w->content_type.len, 200),
                         w->content_type.data);
        ngx_miroir_finish(r, ngx_miroir_send_error(r, &err));
        return;
    }

    rc = ngx_miroir_write_arg(r, "csvDelimiter", &delim);
    if (rc == NGX_ERROR) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (rc == NGX_OK) {
        if (d->format != MIROIR_DOC_CSV) {
            miroir_error_set(&err, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                             "invalid_content_type", "invalid_request",
                             "The Content-Type `%s` does not support the use "
                             "of a csv delimiter. The csv delimiter can only "
                             "be used with the Content-Type `text/csv`.",
                             d->format == MIROIR_DOC_JSON
                             ? "application/json" : "application/x-ndjson");
            ngx_miroir_finish(r, ngx_miroir_send_error(r, &err));
            return;
        }

        if (delim.len != 1 || delim.data[0] >= 0x80) {
            miroir_error_set(&err, NGX_HTTP_BAD_REQUEST,
                             "invalid_document_csv_delimiter",
                             "invalid_request",
                             "Invalid value in parameter `csvDelimiter`: "
                             "expected a string of one character, but found "
                             "the following string of %lu characters: "
                             "`%.*s`", (unsigned long) delim.len,
                             (int) ngx_min(delim.len, 100), delim.data);
            ngx_miroir_finish(r, ngx_miroir_send_error(r, &err));
            return;
        }

        d->delimiter = delim.data[0];
    }

    rc = ngx_miroir_write_arg(r, "primaryKey", &d->pk_param);
    if (rc == NGX_ERROR) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    d->has_pk_param = (rc == NGX_OK);

    d->body = *body;

    rc = ngx_miroir_write_decode(r, w, &d->body);
    if (rc != NGX_OK) {
        if (rc == NGX_ERROR) {
            ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        }

        return;
    }

    if (ngx_miroir_write_payload_limit(r, w->cl, d->body.len) != NGX_OK) {
        ngx_miroir_finish(r, ngx_miroir_write_too_large(r, w->cl));
        return;
    }

    w->docs = d;
    w->next = ngx_miroir_write_docs_send;

    if (ngx_miroir_write_start(r, w, 1) != NGX_OK) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static void
ngx_miroir_write_split_cleanup(void *data)
{
    miroir_split_result_free(data);
    free(data);
}


static miroir_split_result_t *
ngx_miroir_write_split_new(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t     *cln;
    miroir_split_result_t  *res;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    res = calloc(1, sizeof(miroir_split_result_t));
    if (res == NULL) {
        return NULL;
    }

    cln->handler = ngx_miroir_write_split_cleanup;
    cln->data = res;

    return res;
}


/* The uri /indexes/<uid>/documents<suffix>. */
static ngx_int_t
ngx_miroir_write_docs_uri(ngx_http_request_t *r, ngx_miroir_write_t *w,
    const char *suffix, ngx_str_t *uri)
{
    u_char  *p;
    size_t   len;

    len = sizeof("/indexes/") - 1 + 3 * w->index.len
          + sizeof("/documents") - 1 + ngx_strlen(suffix);

    uri->data = ngx_pnalloc(r->pool, len);
    if (uri->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(uri->data, "/indexes/", sizeof("/indexes/") - 1);
    p = (u_char *) ngx_escape_uri(p, w->index.data, w->index.len,
                                  NGX_ESCAPE_URI_COMPONENT);
    p = ngx_cpymem(p, "/documents", sizeof("/documents") - 1);
    p = ngx_cpymem(p, suffix, ngx_strlen(suffix));

    uri->len = p - uri->data;

    return NGX_OK;
}


/*
 * A payload Meilisearch accepts and then fails: a failed Miroir task, no
 * document sent; like Meilisearch, the index exists afterwards (without
 * a primary key when it was new): the task is finished for the client
 * once the nodes that lacked the index have it.
 */
static void
ngx_miroir_write_failed_task(ngx_http_request_t *r, ngx_miroir_write_t *w,
    int64_t received, miroir_error_t *err)
{
    ngx_int_t   rc;
    ngx_uint_t  i;

    w->failed = ngx_palloc(r->pool, sizeof(miroir_error_t));
    if (w->failed == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    *w->failed = *err;
    w->received = received;
    w->tname = "documentAdditionOrUpdate";
    w->tindex = w->index;
    w->parts = NULL;
    w->nparts = 0;

    for (i = 0; i < w->cl->nodes.nelts; i++) {
        w->exists[i] = w->exists[i] || !w->reached[i];
    }

    rc = ngx_miroir_write_after(r, w, ngx_miroir_write_after_done);

    if (rc == NGX_OK) {
        return;
    }

    ngx_miroir_write_answer(r, w);
}


/* Whether any shard is being migrated (a delete then probes the index). */
ngx_uint_t
ngx_miroir_write_moving(ngx_miroir_cluster_conf_t *cl)
{
    const uint8_t   *mig;
    const uint16_t  *src;

    return ngx_miroir_rebalance_read_state(cl, &mig, &src) > 0;
}


/*
 * A new owner of a migrating shard may not have the index yet (the helper
 * creates it when it starts copying): a delete has nothing to remove
 * there, and would fail its task with index_not_found.  Known from the
 * probe, and only when another node has the index (otherwise the client
 * gets Meilisearch's index_not_found as usual).
 */
ngx_uint_t
ngx_miroir_write_lacks_index(ngx_miroir_write_t *w, ngx_uint_t node)
{
    ngx_uint_t  i;

    if (!w->ensure_filter || !w->reached[node] || w->exists[node]) {
        return 0;
    }

    for (i = 0; i < w->cl->nodes.nelts; i++) {
        if (w->exists[i]) {
            return 1;
        }
    }

    return 0;
}


/*
 * Shards being migrated (ngx_miroir_rebalance_write_owners()): their
 * documents must reach the old and the new owners, tagged with the new
 * owners.  On NGX_OK, *mrt is a copy of rt whose rows of those shards hold
 * the new owners, conf->route points at it and conf->extra holds, per
 * shard, the other nodes to reach.  NGX_DECLINED (the common case, no
 * shard moves): conf is untouched and costs nothing per document.
 */
static ngx_int_t
ngx_miroir_write_migration(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, const miroir_route_table_t *rt,
    miroir_route_table_t *mrt, miroir_split_conf_t *conf)
{
    uint16_t    reach[2 * MIROIR_MAX_RF], tag[2 * MIROIR_MAX_RF];
    uint16_t   *owners, *extra;
    uint32_t    s;
    ngx_uint_t  i, k, nreach, ntag, n;

    owners = NULL;
    extra = NULL;

    for (s = 0; s < rt->nshards; s++) {
        if (ngx_miroir_rebalance_write_owners(cl, s, reach, &nreach, tag,
                                              &ntag)
            != NGX_OK
            || ntag != rt->rf)
        {
            continue;
        }

        for (k = 0; k < ntag; k++) {
            if (tag[k] >= rt->nnodes) {
                break;
            }
        }

        if (k < ntag) {
            continue;           /* a node this table does not know yet */
        }

        if (owners == NULL) {
            n = (size_t) rt->nshards * rt->rf;

            owners = ngx_palloc(r->pool, n * sizeof(uint16_t));
            extra = ngx_palloc(r->pool, n * 2 * sizeof(uint16_t));
            if (owners == NULL || extra == NULL) {
                return NGX_ERROR;
            }

            ngx_memcpy(owners, rt->owners, n * sizeof(uint16_t));

            for (i = 0; i < n * 2; i++) {
                extra[i] = MIROIR_SPLIT_NO_NODE;
            }
        }

        ngx_memcpy(owners + (size_t) s * rt->rf, tag,
                   rt->rf * sizeof(uint16_t));

        /* the splitter skips the tagged owners among these */
        for (k = 0; k < nreach && k < 2 * rt->rf; k++) {
            extra[(size_t) s * 2 * rt->rf + k] = reach[k];
        }
    }

    if (owners == NULL) {
        return NGX_DECLINED;
    }

    *mrt = *rt;
    mrt->owners = owners;
    conf->route = mrt;
    conf->extra = extra;
    conf->nextra = 2 * rt->rf;

    return NGX_OK;
}


/* After the probe: split, then one request per node. */
void
ngx_miroir_write_docs_send(ngx_http_request_t *r, ngx_miroir_write_t *w)
{
    char                        *pk, *text;
    cJSON                       *json;
    u_char                      *p;
    ngx_str_t                    uri, args, iuri;
    ngx_uint_t                   i, n;
    miroir_rc_t                  rc;
    miroir_error_t               err;
    ngx_miroir_call_t           *call;
    ngx_miroir_docs_t           *d;
    ngx_miroir_fanout_t         *fo;
    miroir_split_conf_t          conf;
    miroir_route_table_t         mrt;
    miroir_split_result_t       *res;
    const miroir_route_table_t  *rt;

    d = w->docs;

    rt = ngx_miroir_route_table(w->cl, r->connection->log);
    res = ngx_miroir_write_split_new(r);

    if (rt == NULL || res == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    pk = NULL;

    if (w->pk) {
        pk = ngx_pnalloc(r->pool, w->pk_len + 1);
        if (pk == NULL) {
            ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_memcpy(pk, w->pk, w->pk_len);
        pk[w->pk_len] = '\0';

    } else if (d->has_pk_param) {
        pk = (char *) d->pk_param.data;
    }

    ngx_memzero(&conf, sizeof(conf));
    conf.format = d->format;
    conf.csv_delimiter = d->delimiter;
    conf.primary_key = pk;
    conf.route = rt;

    if (ngx_miroir_write_migration(r, w->cl, rt, &mrt, &conf) == NGX_ERROR) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = miroir_split(&conf, d->body.data, d->body.len, res);

    if (rc != MIROIR_OK) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    w->split = res;
    w->received = (int64_t) res->ndocs;

    if (res->err_kind == MIROIR_SPLIT_ERR_REQUEST) {
        ngx_miroir_finish(r, ngx_miroir_send_error(r, &res->err));
        return;
    }

    if (w->pk && d->has_pk_param
        && (d->pk_param.len != w->pk_len
            || ngx_strncmp(d->pk_param.data, w->pk, w->pk_len) != 0))
    {
        miroir_error_set(&err, NGX_HTTP_BAD_REQUEST,
                         "index_primary_key_already_exists",
                         "invalid_request",
                         "Index already has a primary key: `%s`.", pk);
        ngx_miroir_write_failed_task(r, w, w->received, &err);
        return;
    }

    if (res->err_kind == MIROIR_SPLIT_ERR_TASK) {
        ngx_miroir_write_failed_task(r, w, w->received, &res->err);
        return;
    }

    if (ngx_miroir_write_docs_uri(r, w, "", &uri) != NGX_OK) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    args.len = 0;
    args.data = NULL;

    if (res->primary_key) {
        n = ngx_strlen(res->primary_key);
        args.data = ngx_pnalloc(r->pool, sizeof("primaryKey=") - 1 + 3 * n);
        if (args.data == NULL) {
            ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        p = ngx_cpymem(args.data, "primaryKey=", sizeof("primaryKey=") - 1);
        p = (u_char *) ngx_escape_uri(p, (u_char *) res->primary_key, n,
                                      NGX_ESCAPE_ARGS);
        args.len = p - args.data;
    }

    /* the copies of these shards change: the helper must know */

    if (ngx_miroir_write_touch_parts(r, w, res) != NGX_OK
        || ngx_miroir_write_begin(r, w, w->wbuckets == NULL && res->ndocs)
           != NGX_OK)
    {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    fo = ngx_miroir_fanout_create(r, w->cl, w->cl->nodes.nelts);
    if (fo == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    for (i = 0; i < w->cl->nodes.nelts && i < res->nparts; i++) {

        if (res->parts[i].ndocs || res->ndocs == 0) {
            call = ngx_miroir_fanout_add(fo, i, w->method, &uri, &args);
            if (call == NULL) {
                ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }

            if (res->ndocs == 0) {
                /* an empty payload: Meilisearch's empty task everywhere */
                if (ngx_miroir_write_chain(r, (u_char *) "[]", 2,
                                           &call->body)
                    != NGX_OK)
                {
                    ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
                    return;
                }

                call->body_len = 2;
                call->content_type = ngx_miroir_json_type;
                continue;
            }

            if (ngx_miroir_write_chain(r, res->parts[i].body,
                                       res->parts[i].len, &call->body)
                != NGX_OK)
            {
                ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }

            call->body_len = res->parts[i].len;
            call->content_type = ngx_miroir_ndjson_type;
            continue;
        }

        /*
         * No document for this node: it still gets the index and its
         * primary key, so that every node agrees on them.
         */

        if (w->exists[i] == 2 || !w->reached[i] || res->primary_key == NULL)
        {
            continue;
        }

        json = cJSON_CreateObject();
        if (json == NULL) {
            ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        if (!w->exists[i]) {
            p = ngx_pnalloc(r->pool, w->index.len + 1);
            if (p == NULL) {
                cJSON_Delete(json);
                ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }

            *ngx_cpymem(p, w->index.data, w->index.len) = '\0';
            cJSON_AddStringToObject(json, "uid", (char *) p);
        }

        cJSON_AddStringToObject(json, "primaryKey", res->primary_key);
        text = cJSON_PrintUnformatted(json);
        cJSON_Delete(json);

        if (text == NULL || ngx_miroir_pool_own(r, text) == NULL) {
            ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        if (w->exists[i]) {
            iuri.len = sizeof("/indexes/") - 1 + w->index_esc.len;
            iuri.data = ngx_pnalloc(r->pool, iuri.len);
            if (iuri.data == NULL) {
                ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }

            p = ngx_cpymem(iuri.data, "/indexes/", sizeof("/indexes/") - 1);
            ngx_memcpy(p, w->index_esc.data, w->index_esc.len);

            call = ngx_miroir_fanout_add(fo, i, NGX_HTTP_PATCH, &iuri, NULL);

        } else {
            call = ngx_miroir_fanout_add(fo, i, NGX_HTTP_POST,
                                         &ngx_miroir_indexes_uri, NULL);
        }

        if (call == NULL
            || ngx_miroir_write_chain(r, (u_char *) text, ngx_strlen(text),
                                      &call->body)
               != NGX_OK)
        {
            ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        call->body_len = ngx_strlen(text);
        call->content_type = ngx_miroir_json_type;
        w->aux[i] = 1;
    }

    if (ngx_miroir_fanout_start(fo, ngx_miroir_write_accepted, w) != NGX_OK) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


/* ------------------------------------------------------------ deletes */

/* DELETE /indexes/:uid/documents/:id goes to the owners of its shard. */
ngx_int_t
ngx_miroir_write_delete_one(ngx_http_request_t *r, ngx_miroir_write_t *w,
    ngx_str_t *id)
{
    uint32_t                     s;
    const uint16_t              *owners;
    ngx_miroir_docs_t           *d;
    const miroir_route_table_t  *rt;

    d = ngx_pcalloc(r->pool, sizeof(ngx_miroir_docs_t));
    if (d == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    d->id = *id;
    w->docs = d;
    w->received = 1;
    w->next = ngx_miroir_write_one_send;
    w->ensure_filter = ngx_miroir_write_moving(w->cl);

    /* counted before the probe: see ngx_miroir_write_begin() */

    rt = ngx_miroir_route_table(w->cl, r->connection->log);
    if (rt == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    s = miroir_split_route_id(rt, id->data, id->len, &owners);

    if (ngx_miroir_write_touch(r, w, s) != NGX_OK
        || ngx_miroir_write_begin(r, w, 0) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_miroir_write_start(r, w, 0) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_miroir_write_one_send(ngx_http_request_t *r, ngx_miroir_write_t *w)
{
    uint16_t                     reach[2 * MIROIR_MAX_RF];
    uint16_t                     tag[2 * MIROIR_MAX_RF];
    uint32_t                     s;
    ngx_uint_t                   k, n, ntag;
    const uint16_t              *owners;
    ngx_miroir_docs_t           *d;
    ngx_miroir_fanout_t         *fo;
    const miroir_route_table_t  *rt;

    d = w->docs;

    rt = ngx_miroir_route_table(w->cl, r->connection->log);
    if (rt == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    s = miroir_split_route_id(rt, d->id.data, d->id.len, &owners);
    n = rt->rf;

    /* a shard being migrated: the old and the new owners lose it */

    if (ngx_miroir_rebalance_write_owners(w->cl, s, reach, &n, tag, &ntag)
        == NGX_OK)
    {
        owners = reach;

    } else {
        n = rt->rf;
    }

    fo = ngx_miroir_fanout_create(r, w->cl, n);
    if (fo == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    for (k = 0; k < n; k++) {
        if (ngx_miroir_write_lacks_index(w, owners[k])) {
            continue;
        }

        if (ngx_miroir_fanout_add(fo, owners[k], NGX_HTTP_DELETE, &w->uri,
                                  &w->args)
            == NULL)
        {
            ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    /* the probe served ngx_miroir_write_lacks_index() only: no settings
     * write afterwards */
    w->ensure_filter = 0;

    if (ngx_miroir_fanout_start(fo, ngx_miroir_write_accepted, w) != NGX_OK) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


/*
 * The shards of a delete-batch body's ids, counted as started.  An id
 * routed here by its unescaped string; any other item (or a body that is
 * not an array: the request fails anyway) counts in every bucket.
 */
static ngx_int_t
ngx_miroir_write_touch_ids(ngx_http_request_t *r, ngx_miroir_write_t *w,
    ngx_str_t *body)
{
    u_char                      *p, num[NGX_INT64_LEN + 1];
    cJSON                       *json, *item;
    uint32_t                     s;
    ngx_uint_t                   all;
    const uint16_t              *owners;
    const miroir_route_table_t  *rt;

    if (w->cl->shm == NULL || w->cl->shm->rebalance == NULL) {
        return NGX_OK;          /* no helper has run: nothing to count */
    }

    rt = ngx_miroir_route_table(w->cl, r->connection->log);
    if (rt == NULL) {
        return NGX_ERROR;
    }

    json = ngx_miroir_json_parse(r, body->data, body->len);
    all = !cJSON_IsArray(json);

    if (all) {
        json = NULL;
    }

    cJSON_ArrayForEach(item, json) {
        if (cJSON_IsString(item)) {
            s = miroir_split_route_id(rt, item->valuestring,
                                      ngx_strlen(item->valuestring),
                                      &owners);

        } else if (cJSON_IsNumber(item) && item->valuedouble >= 0
                   && item->valuedouble < 9007199254740992.0
                   && item->valuedouble == (double) (int64_t) item->valuedouble)
        {
            /* an integer id: its JSON text is its digits */
            p = ngx_sprintf(num, "%L", (int64_t) item->valuedouble);
            s = miroir_split_route_id(rt, num, p - num, &owners);

        } else {
            all = 1;
            break;
        }

        if (ngx_miroir_write_touch(r, w, s) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return ngx_miroir_write_begin(r, w, all);
}


/* POST /indexes/:uid/documents/delete-batch: each node its ids. */
void
ngx_miroir_write_delete_batch_body(ngx_http_request_t *r, ngx_str_t *body)
{
    ngx_miroir_ctx_t    *ctx;
    ngx_miroir_docs_t   *d;
    ngx_miroir_write_t  *w;

    ctx = ngx_http_get_module_ctx(r, ngx_http_miroir_module);
    w = ctx->data;

    if (ngx_miroir_write_payload_limit(r, w->cl, body->len) != NGX_OK) {
        ngx_miroir_finish(r, ngx_miroir_write_too_large(r, w->cl));
        return;
    }

    d = ngx_pcalloc(r->pool, sizeof(ngx_miroir_docs_t));
    if (d == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    d->body = *body;
    w->docs = d;
    w->next = ngx_miroir_write_batch_send;
    w->ensure_filter = ngx_miroir_write_moving(w->cl);

    /* counted before the probe: see ngx_miroir_write_begin() */

    if (ngx_miroir_write_touch_ids(r, w, body) != NGX_OK) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_miroir_write_start(r, w, 1) != NGX_OK) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static void
ngx_miroir_write_batch_send(ngx_http_request_t *r, ngx_miroir_write_t *w)
{
    ngx_uint_t                   i;
    miroir_error_t               err;
    ngx_miroir_call_t           *call;
    ngx_miroir_docs_t           *d;
    ngx_miroir_fanout_t         *fo;
    miroir_split_conf_t          conf;
    miroir_route_table_t         mrt;
    miroir_split_result_t       *res;
    const miroir_route_table_t  *rt;

    d = w->docs;

    if (ngx_miroir_check_json_type(r, &err) != NGX_OK) {
        ngx_miroir_finish(r, ngx_miroir_send_error(r, &err));
        return;
    }

    rt = ngx_miroir_route_table(w->cl, r->connection->log);
    res = ngx_miroir_write_split_new(r);

    if (rt == NULL || res == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_memzero(&conf, sizeof(conf));
    conf.route = rt;

    if (ngx_miroir_write_migration(r, w->cl, rt, &mrt, &conf) == NGX_ERROR
        || miroir_split_ids_conf(&conf, d->body.data, d->body.len, res)
           != MIROIR_OK)
    {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (res->err_kind != MIROIR_SPLIT_ERR_NONE) {
        ngx_miroir_finish(r, ngx_miroir_send_error(r, &res->err));
        return;
    }

    w->received = (int64_t) res->ndocs;

    fo = ngx_miroir_fanout_create(r, w->cl, w->cl->nodes.nelts);
    if (fo == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    for (i = 0; i < w->cl->nodes.nelts && i < res->nparts; i++) {
        if ((res->parts[i].ndocs == 0 && res->ndocs != 0)
            || ngx_miroir_write_lacks_index(w, i))
        {
            continue;
        }

        call = ngx_miroir_fanout_add(fo, i, NGX_HTTP_POST, &w->uri, &w->args);
        if (call == NULL) {
            ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        if (res->ndocs == 0) {
            (void) ngx_miroir_write_chain(r, (u_char *) "[]", 2, &call->body);
            call->body_len = 2;

        } else {
            (void) ngx_miroir_write_chain(r, res->parts[i].body,
                                          res->parts[i].len, &call->body);
            call->body_len = res->parts[i].len;
        }

        if (call->body == NULL) {
            ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        call->content_type = ngx_miroir_json_type;
    }

    /* the probe served ngx_miroir_write_lacks_index() only: no settings
     * write afterwards */
    w->ensure_filter = 0;

    if (ngx_miroir_fanout_start(fo, ngx_miroir_write_accepted, w) != NGX_OK) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}
