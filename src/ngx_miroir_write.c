/*
 * ngx_miroir_write.c -- the write path: which route is a write, and the
 * steps every write shares.
 *
 * A write runs in up to three fan-outs:
 *
 *   1. probe   GET /indexes/<uid> on every node: which nodes have the
 *              index, and its primary key (index-scoped writes only);
 *   2. main    the operation itself: the same request to every node
 *              (broadcast), or each node's part of a document payload;
 *   3. after   on the nodes that did not have the index, make Miroir's
 *              _miroir_* fields filterable (every index Miroir lets a
 *              node create gets them); after a settings reset, on all.
 *
 * The main fan-out's answers decide the client's answer: a node's
 * synchronous refusal (4xx: the request itself is invalid, every node
 * says the same) is passed through; the write quorum decides between a
 * 202 with one Miroir task (ngx_miroir_tasks.c) and a 503
 * miroir_quorum_not_met; a node that missed an accepted write gets its
 * shards marked stale.
 *
 * Every write is counted in the zone's write buckets of the shards it may
 * touch, before any node gets it and again once the main fan-out is over
 * (ngx_miroir_write_begin(), ngx_miroir_write_end()): the helper's copy
 * passes wait for the writes in flight and copy a shard again when one
 * touched it meanwhile (docs/rebalancing.md, "Writes during a copy").
 */

#include "ngx_miroir_write.h"
#include "ngx_miroir_rebalance.h"


static ngx_int_t ngx_miroir_write_index_route(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_str_t *index, ngx_str_t *rest);
static ngx_int_t ngx_miroir_write_bcast(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_str_t *index, ngx_uint_t agg,
    ngx_uint_t ensure, ngx_str_t *sub);
static void ngx_miroir_write_bcast_body(ngx_http_request_t *r,
    ngx_str_t *body);
static void ngx_miroir_write_probed(ngx_http_request_t *r,
    ngx_miroir_fanout_t *fo);
static ngx_int_t ngx_miroir_write_settings_body(ngx_http_request_t *r,
    ngx_miroir_write_t *w, ngx_str_t *body);


static const char  *ngx_miroir_filter_fields[] = {
    "_miroir_shard", "_miroir_o0", "_miroir_o1", "_miroir_o2"
};

static ngx_str_t  ngx_miroir_json_type = ngx_string("application/json");


static ngx_miroir_write_t *
ngx_miroir_write_new(ngx_http_request_t *r, ngx_miroir_cluster_conf_t *cl)
{
    ngx_miroir_ctx_t    *ctx;
    ngx_miroir_write_t  *w;

    ctx = ngx_http_get_module_ctx(r, ngx_http_miroir_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_miroir_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_miroir_module);
    }

    w = ngx_pcalloc(r->pool, sizeof(ngx_miroir_write_t));
    if (w == NULL) {
        return NULL;
    }

    w->cl = cl;
    w->method = r->method;
    w->args = r->args;

    ngx_miroir_tasks_time(w->enqueued_at);

    /* the path as the client sent it (escaped), without the arguments */

    w->uri = r->unparsed_uri;

    if (r->args_start) {
        w->uri.len = r->args_start - 1 - r->unparsed_uri.data;
    }

    if (r->headers_in.content_type) {
        w->content_type = r->headers_in.content_type->value;
    }

    ctx->data = w;

    return w;
}


static ngx_miroir_write_t *
ngx_miroir_write_get(ngx_http_request_t *r)
{
    ngx_miroir_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_miroir_module);

    return ctx ? ctx->data : NULL;
}


/* NGX_OK when len bytes are within the cluster's max_payload. */
ngx_int_t
ngx_miroir_write_payload_limit(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, off_t len)
{
    if (cl->max_payload == 0 || len <= (off_t) cl->max_payload) {
        return NGX_OK;
    }

    return NGX_DECLINED;
}


/* Meilisearch's 413 for the cluster's max_payload. */
ngx_int_t
ngx_miroir_write_too_large(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl)
{
    miroir_error_t  err;

    if (cl->max_payload % 1000000 == 0) {
        miroir_error_set(&err, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                         "payload_too_large", "invalid_request",
                         "The provided payload reached the size limit. The "
                         "maximum accepted payload size is %lu MB.",
                         (unsigned long) (cl->max_payload / 1000000));
    } else {
        miroir_error_set(&err, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                         "payload_too_large", "invalid_request",
                         "The provided payload reached the size limit. The "
                         "maximum accepted payload size is %lu B.",
                         (unsigned long) cl->max_payload);
    }

    return ngx_miroir_send_error(r, &err);
}


/* ------------------------------------------------------------ routing */

ngx_int_t
ngx_miroir_write_route(ngx_http_request_t *r, ngx_miroir_cluster_conf_t *cl,
    ngx_str_t *path)
{
    u_char     *p, *end;
    ngx_int_t   rc;
    ngx_str_t   index, rest;

    rc = ngx_miroir_tasks_route(r, cl, path);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (path->len == 13 && ngx_strncmp(path->data, "/swap-indexes", 13) == 0)
    {
        if (r->method != NGX_HTTP_POST) {
            return NGX_DECLINED;
        }

        return ngx_miroir_write_bcast(r, cl, NULL, NGX_MIROIR_AGG_PLAIN, 0,
                                      NULL);
    }

    if (path->len < 8 || ngx_strncmp(path->data, "/indexes", 8) != 0
        || (path->len > 8 && path->data[8] != '/'))
    {
        return NGX_DECLINED;
    }

    if (path->len <= 9) {
        if (r->method == NGX_HTTP_GET) {
            rc = ngx_http_discard_request_body(r);
            if (rc != NGX_OK) {
                return rc;
            }

            return ngx_miroir_write_index_list(r, cl);
        }

        if (r->method == NGX_HTTP_POST) {
            return ngx_miroir_write_bcast(r, cl, NULL, NGX_MIROIR_AGG_PLAIN,
                                          1, NULL);
        }

        return NGX_DECLINED;
    }

    p = path->data + 9;
    end = path->data + path->len;

    index.data = p;
    p = ngx_strlchr(p, end, '/');
    if (p == NULL) {
        p = end;
    }
    index.len = p - index.data;

    rest.data = p;
    rest.len = end - p;

    return ngx_miroir_write_index_route(r, cl, &index, &rest);
}


static ngx_uint_t
ngx_miroir_write_is(ngx_str_t *s, const char *lit)
{
    size_t  len;

    len = ngx_strlen(lit);

    return s->len == len && ngx_strncmp(s->data, lit, len) == 0;
}


static ngx_int_t
ngx_miroir_write_index_route(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_str_t *index, ngx_str_t *rest)
{
    size_t               i;
    ngx_int_t            rc;
    ngx_str_t            sub, id;
    miroir_error_t       err;
    ngx_miroir_write_t  *w;

    /* an invalid uid never reaches a node, nor a task (nor JSON text) */

    if ((rest->len >= 10 && ngx_strncmp(rest->data, "/documents", 10) == 0
         && r->method == NGX_HTTP_GET)
        || ngx_miroir_write_is(rest, "/documents/fetch")
        || ngx_miroir_write_is(rest, "/search")
        || ngx_miroir_write_is(rest, "/facet-search")
        || ngx_miroir_write_is(rest, "/similar")
        || ngx_miroir_write_is(rest, "/stats"))
    {
        return NGX_DECLINED;        /* the read path's */
    }

    for (i = 0; i < index->len; i++) {
        if (!(isalnum(index->data[i]) || index->data[i] == '-'
              || index->data[i] == '_'))
        {
            break;
        }
    }

    if (i < index->len || index->len == 0 || index->len > 512) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        miroir_error_set(&err, NGX_HTTP_BAD_REQUEST, "invalid_index_uid",
                         "invalid_request",
                         "`%.*s` is not a valid index uid. Index uid can be "
                         "an integer or a string containing only "
                         "alphanumeric characters, hyphens (-) and "
                         "underscores (_), and can not be more than 512 "
                         "bytes.", (int) ngx_min(index->len, 600),
                         index->data);
        return ngx_miroir_send_error(r, &err);
    }

    if (rest->len == 0) {
        switch (r->method) {

        case NGX_HTTP_GET:
            rc = ngx_http_discard_request_body(r);
            if (rc != NGX_OK) {
                return rc;
            }

            return ngx_miroir_write_index_get(r, cl, index);

        case NGX_HTTP_PATCH:
            return ngx_miroir_write_bcast(r, cl, index, NGX_MIROIR_AGG_PLAIN,
                                          0, NULL);

        case NGX_HTTP_DELETE:
            return ngx_miroir_write_bcast(r, cl, index, NGX_MIROIR_AGG_DIV_RF,
                                          0, NULL);
        }

        return NGX_DECLINED;
    }

    if (ngx_miroir_write_is(rest, "/documents")) {
        if (r->method == NGX_HTTP_POST || r->method == NGX_HTTP_PUT) {
            w = ngx_miroir_write_new(r, cl);
            if (w == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            w->index = *index;
            w->agg = NGX_MIROIR_AGG_DOCS;
            w->ensure_filter = 1;

            if (ngx_miroir_write_payload_limit(r, cl,
                                               r->headers_in.content_length_n)
                != NGX_OK)
            {
                rc = ngx_http_discard_request_body(r);
                if (rc != NGX_OK) {
                    return rc;
                }

                return ngx_miroir_write_too_large(r, cl);
            }

            return ngx_miroir_read_body(r, ngx_miroir_write_docs_body,
                                        NULL);
        }

        if (r->method == NGX_HTTP_DELETE) {
            /* delete all: a new owner may lack the index (see main) */
            return ngx_miroir_write_bcast(r, cl, index, NGX_MIROIR_AGG_DIV_RF,
                                          2, NULL);
        }

        return NGX_DECLINED;
    }

    if (ngx_miroir_write_is(rest, "/documents/delete-batch")) {
        if (r->method != NGX_HTTP_POST) {
            return NGX_DECLINED;
        }

        w = ngx_miroir_write_new(r, cl);
        if (w == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        w->index = *index;
        w->agg = NGX_MIROIR_AGG_DIV_RF;

        return ngx_miroir_read_body(r, ngx_miroir_write_delete_batch_body,
                                    NULL);
    }

    if (ngx_miroir_write_is(rest, "/documents/delete")) {
        if (r->method != NGX_HTTP_POST) {
            return NGX_DECLINED;
        }

        return ngx_miroir_write_bcast(r, cl, index, NGX_MIROIR_AGG_DIV_RF, 2,
                                      NULL);
    }

    if (rest->len > 11 && ngx_strncmp(rest->data, "/documents/", 11) == 0) {
        if (r->method != NGX_HTTP_DELETE) {
            return NGX_DECLINED;     /* GET: the read path */
        }

        id.data = rest->data + 11;
        id.len = rest->len - 11;

        if (ngx_strlchr(id.data, id.data + id.len, '/')) {
            return NGX_DECLINED;
        }

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        w = ngx_miroir_write_new(r, cl);
        if (w == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        w->index = *index;
        w->agg = NGX_MIROIR_AGG_DIV_RF;
        w->received = -1;

        return ngx_miroir_write_delete_one(r, w, &id);
    }

    if (ngx_miroir_write_is(rest, "/settings")
        || (rest->len > 10 && ngx_strncmp(rest->data, "/settings/", 10) == 0))
    {
        sub.data = rest->data + 9;
        sub.len = rest->len - 9;

        if (sub.len) {
            sub.data++;
            sub.len--;
        }

        if (r->method == NGX_HTTP_GET) {
            rc = ngx_http_discard_request_body(r);
            if (rc != NGX_OK) {
                return rc;
            }

            return ngx_miroir_write_settings_get(r, cl, index, &sub);
        }

        if (r->method != NGX_HTTP_PATCH && r->method != NGX_HTTP_PUT
            && r->method != NGX_HTTP_DELETE)
        {
            return NGX_DECLINED;
        }

        return ngx_miroir_write_bcast(r, cl, index, NGX_MIROIR_AGG_PLAIN, 1,
                                      &sub);
    }

    return NGX_DECLINED;
}


/* ------------------------------------------------------------ broadcast */

static ngx_int_t
ngx_miroir_write_bcast(ngx_http_request_t *r, ngx_miroir_cluster_conf_t *cl,
    ngx_str_t *index, ngx_uint_t agg, ngx_uint_t ensure, ngx_str_t *sub)
{
    ngx_int_t            rc;
    ngx_miroir_write_t  *w;

    w = ngx_miroir_write_new(r, cl);
    if (w == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (index) {
        w->index = *index;
    }

    w->agg = agg;
    w->received = -1;
    w->next = ngx_miroir_write_main;

    if (ensure == 2) {
        /* a delete of documents: probe the index while shards move */
        w->doc_delete = 1;
        w->ensure_filter = ngx_miroir_write_moving(cl);

    } else {
        w->ensure_filter = ensure;
    }


    if (sub) {
        w->settings = 1;
        w->sub = *sub;
    }

    if (ngx_miroir_write_payload_limit(r, cl, r->headers_in.content_length_n)
        != NGX_OK)
    {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_miroir_write_too_large(r, cl);
    }

    return ngx_miroir_read_body(r, ngx_miroir_write_bcast_body, NULL);
}


static void
ngx_miroir_write_bcast_body(ngx_http_request_t *r, ngx_str_t *body)
{
    cJSON               *json, *uid;
    ngx_miroir_write_t  *w;

    w = ngx_miroir_write_get(r);

    if (ngx_miroir_write_payload_limit(r, w->cl, body->len) != NGX_OK) {
        ngx_miroir_finish(r, ngx_miroir_write_too_large(r, w->cl));
        return;
    }

    /* POST /indexes: the index is named in the body */

    if (w->index.len == 0 && w->ensure_filter && body->len) {
        json = ngx_miroir_json_parse(r, body->data, body->len);
        uid = json ? cJSON_GetObjectItemCaseSensitive(json, "uid") : NULL;

        if (cJSON_IsString(uid) && ngx_strlen(uid->valuestring) <= 512) {
            w->index.data = (u_char *) uid->valuestring;
            w->index.len = ngx_strlen(uid->valuestring);
        }
    }

    /* settings writes keep Miroir's fields filterable */

    if (w->settings) {
        if (ngx_miroir_write_settings_body(r, w, body) != NGX_OK) {
            ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

    } else if (ngx_miroir_write_chain(r, body->data, body->len, &w->body)
               != NGX_OK)
    {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* any document may change: counted in every bucket, before the probe
       (ngx_miroir_write_begin()) */

    if (ngx_miroir_write_begin(r, w, 1) != NGX_OK
        || ngx_miroir_write_start(r, w, 1) != NGX_OK)
    {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


ngx_int_t
ngx_miroir_write_chain(ngx_http_request_t *r, u_char *data, size_t len,
    ngx_chain_t **out)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    *out = NULL;

    if (data == NULL || len == 0) {
        return NGX_OK;     /* no body: a zero size buffer is an error */
    }

    b = ngx_calloc_buf(r->pool);
    cl = ngx_alloc_chain_link(r->pool);
    if (b == NULL || cl == NULL) {
        return NGX_ERROR;
    }

    b->pos = data;
    b->last = data + len;
    b->start = data;
    b->end = data + len;
    b->memory = 1;

    cl->buf = b;
    cl->next = NULL;

    *out = cl;

    return NGX_OK;
}


/* The JSON array of Miroir's filterable fields for this cluster's rf. */
ngx_str_t *
ngx_miroir_write_filter_list(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl)
{
    u_char      *p;
    ngx_str_t   *s;
    ngx_uint_t   i;

    s = ngx_palloc(r->pool, sizeof(ngx_str_t));
    if (s == NULL) {
        return NULL;
    }

    s->data = ngx_pnalloc(r->pool, 128);
    if (s->data == NULL) {
        return NULL;
    }

    p = ngx_sprintf(s->data, "[\"_miroir_shard\"");

    for (i = 0; i < cl->replication && i < MIROIR_MAX_RF; i++) {
        p = ngx_sprintf(p, ",\"%s\"", ngx_miroir_filter_fields[i + 1]);
    }

    p = ngx_sprintf(p, "]");
    s->len = p - s->data;

    return s;
}


static void
ngx_miroir_write_add_fields(ngx_miroir_cluster_conf_t *cl, cJSON *array)
{
    cJSON       *item;
    ngx_uint_t   i, have;

    for (i = 0; i <= cl->replication && i <= MIROIR_MAX_RF; i++) {
        have = 0;

        cJSON_ArrayForEach(item, array) {
            if (cJSON_IsString(item)
                && ngx_strcmp(item->valuestring,
                              ngx_miroir_filter_fields[i]) == 0)
            {
                have = 1;
            }
        }

        if (!have) {
            cJSON_AddItemToArray(array,
                cJSON_CreateString(ngx_miroir_filter_fields[i]));
        }
    }
}


/*
 * The body a settings write sends to the nodes: filterableAttributes
 * keeps Miroir's fields; a reset of them becomes a write of Miroir's
 * fields alone.  sub: the length of the sub-route (0: whole settings).
 */
static ngx_int_t
ngx_miroir_write_settings_body(ngx_http_request_t *r, ngx_miroir_write_t *w,
    ngx_str_t *body)
{
    cJSON      *json, *fa;
    ngx_str_t   out, *list;

    if (w->sub.len == 0) {
        if (w->method == NGX_HTTP_DELETE) {
            w->reset_filter = 1;
            return NGX_OK;
        }

        json = body->len ? ngx_miroir_json_parse(r, body->data, body->len)
                         : NULL;
        fa = json ? cJSON_GetObjectItemCaseSensitive(json,
                                                     "filterableAttributes")
                  : NULL;

        if (fa == NULL || !(cJSON_IsArray(fa) || cJSON_IsNull(fa))) {
            return ngx_miroir_write_chain(r, body->data, body->len, &w->body);
        }

        if (cJSON_IsNull(fa)) {
            fa = cJSON_CreateArray();
            cJSON_ReplaceItemInObjectCaseSensitive(json,
                                                   "filterableAttributes", fa);
        }

        ngx_miroir_write_add_fields(w->cl, fa);

    } else {
        if (!(w->sub.len == 21
              && ngx_strncmp(w->sub.data, "filterable-attributes", 21) == 0))
        {
            return ngx_miroir_write_chain(r, body->data, body->len, &w->body);
        }

        if (w->method == NGX_HTTP_DELETE) {
            /* a reset: Miroir's fields alone */
            list = ngx_miroir_write_filter_list(r, w->cl);
            if (list == NULL) {
                return NGX_ERROR;
            }

            w->method = NGX_HTTP_PUT;
            w->content_type = ngx_miroir_json_type;
            w->body_len = list->len;

            return ngx_miroir_write_chain(r, list->data, list->len, &w->body);
        }

        json = body->len ? ngx_miroir_json_parse(r, body->data, body->len)
                         : NULL;

        if (json == NULL || !(cJSON_IsArray(json) || cJSON_IsNull(json))) {
            return ngx_miroir_write_chain(r, body->data, body->len, &w->body);
        }

        if (cJSON_IsNull(json)) {
            json = cJSON_CreateArray();
            if (json == NULL) {
                return NGX_ERROR;
            }

            ngx_miroir_write_add_fields(w->cl, json);

            if (ngx_miroir_json_print(r, json, &out) != NGX_OK) {
                cJSON_Delete(json);
                return NGX_ERROR;
            }

            cJSON_Delete(json);

            return ngx_miroir_write_chain(r, out.data, out.len, &w->body);
        }

        ngx_miroir_write_add_fields(w->cl, json);
    }

    if (ngx_miroir_json_print(r, json, &out) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_miroir_write_chain(r, out.data, out.len, &w->body);
}


/*
 * Meilisearch lists the filterable attributes in some error messages
 * ("Available filterable attribute patterns are: `_miroir_o0`, `a`."):
 * drop Miroir's own from the list, in place, as if they did not exist.
 */
void
ngx_miroir_write_sanitize(char *msg)
{
    char        *p, *q, *list, *end, *out;
    size_t       len;
    ngx_uint_t   kept;
    static char  head[] = "Available filterable attribute patterns are: ";
    static char  none[] = "This index does not have configured filterable "
                          "attributes.";

    p = strstr(msg, head);
    if (p == NULL || strstr(msg, "`_miroir_") == NULL) {
        return;
    }

    list = p + sizeof(head) - 1;
    end = strchr(list, '.');

    while (end && end[-1] != '`') {
        end = strchr(end + 1, '.');
    }

    if (end == NULL) {
        return;
    }

    /* rebuild the list in place: it only shrinks */

    out = list;
    kept = 0;
    q = list;

    while (q < end) {
        p = strchr(q + 1, '`');
        if (p == NULL || p > end) {
            return;
        }

        len = p + 1 - q;                /* `name` */

        if (strncmp(q, "`_miroir_", 9) != 0) {
            if (kept) {
                memmove(out, ", ", 2);
                out += 2;
            }

            memmove(out, q, len);
            out += len;
            kept++;
        }

        q = p + 1;

        if (strncmp(q, ", ", 2) == 0) {
            q += 2;
        }
    }

    if (kept) {
        memmove(out, end, strlen(end) + 1);
        return;
    }

    /* nothing left: Meilisearch's sentence for an index without any */

    p = list - (sizeof(head) - 1);
    len = strlen(end + 1);

    if (sizeof(none) - 1 <= (size_t) (end + 1 - p)) {
        memcpy(p, none, sizeof(none) - 1);
        memmove(p + sizeof(none) - 1, end + 1, len + 1);
    }
}


/* A node's own answer to the client, its error message sanitized. */
void
ngx_miroir_write_pass(ngx_http_request_t *r, ngx_miroir_call_t *call)
{
    char       *text;
    cJSON      *json, *msg;
    ngx_str_t   out;

    if (call->status >= NGX_HTTP_BAD_REQUEST && call->response.len
        && ngx_strlcasestrn(call->response.data,
                            call->response.data + call->response.len,
                            (u_char *) "`_miroir_", 9 - 1))
    {
        json = ngx_miroir_json_parse(r, call->response.data,
                                     call->response.len);
        msg = json ? cJSON_GetObjectItemCaseSensitive(json, "message") : NULL;

        if (cJSON_IsString(msg)) {
            text = msg->valuestring;
            ngx_miroir_write_sanitize(text);

            if (ngx_miroir_json_print(r, json, &out) == NGX_OK) {
                ngx_miroir_finish(r, ngx_miroir_send_json(r, call->status,
                                                          out.data,
                                                          out.len));
                return;
            }
        }
    }

    ngx_miroir_finish(r, ngx_miroir_send_raw(r, call->status,
                                             call->resp_type.len
                                             ? &call->resp_type : NULL,
                                             &call->response));
}


/* ------------------------------------------------------------ counts */

ngx_int_t
ngx_miroir_write_touch(ngx_http_request_t *r, ngx_miroir_write_t *w,
    ngx_uint_t shard)
{
    if (w->wbuckets == NULL) {
        w->wbuckets = ngx_pcalloc(r->pool, NGX_MIROIR_WRITE_BUCKETS);
        if (w->wbuckets == NULL) {
            return NGX_ERROR;
        }
    }

    w->wbuckets[shard % NGX_MIROIR_WRITE_BUCKETS] = 1;

    return NGX_OK;
}


/* The shards of a split payload: each line starts {"_miroir_shard":<s>, */
ngx_int_t
ngx_miroir_write_touch_parts(ngx_http_request_t *r, ngx_miroir_write_t *w,
    miroir_split_result_t *res)
{
    u_char      *p, *end;
    uint32_t     s;
    ngx_uint_t   i;

    if (w->cl->shm == NULL || w->cl->shm->rebalance == NULL) {
        return NGX_OK;          /* no helper has run: nothing to count */
    }

    for (i = 0; i < res->nparts; i++) {
        if (res->parts[i].body == NULL) {
            continue;
        }

        p = res->parts[i].body;
        end = p + res->parts[i].len;

        while (p < end) {
            if (end - p > 17
                && ngx_strncmp(p, "{\"_miroir_shard\":", 17) == 0)
            {
                s = 0;
                p += 17;

                while (p < end && *p >= '0' && *p <= '9') {
                    s = s * 10 + (*p++ - '0');
                }

                if (ngx_miroir_write_touch(r, w, s) != NGX_OK) {
                    return NGX_ERROR;
                }
            }

            p = memchr(p, '\n', end - p);
            if (p == NULL) {
                break;
            }

            p++;
        }
    }

    return NGX_OK;
}


static void
ngx_miroir_write_end_cleanup(void *data)
{
    ngx_miroir_write_end(data);
}


/*
 * Counted before any node gets the write: a helper copy pass that began
 * before this point sees `started` move and copies again; one that begins
 * after waits for `done` (ngx_miroir_rebalance_mig.c).
 */
ngx_int_t
ngx_miroir_write_begin(ngx_http_request_t *r, ngx_miroir_write_t *w,
    ngx_uint_t all)
{
    ngx_uint_t                 b;
    ngx_pool_cleanup_t        *cln;
    ngx_miroir_write_count_t  *wc;

    if (w->wbegun || w->cl->shm == NULL || w->cl->shm->writes == NULL
        || w->cl->shm->rebalance == NULL        /* no helper has run */
        || (!all && w->wbuckets == NULL))
    {
        return NGX_OK;          /* nothing to count */
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_miroir_write_end_cleanup;
    cln->data = w;

    wc = w->cl->shm->writes;
    w->wall = all;

    for (b = 0; b < NGX_MIROIR_WRITE_BUCKETS; b++) {
        if (w->wall || w->wbuckets[b]) {
            (void) ngx_atomic_fetch_add(&wc[b].started, 1);
        }
    }

    w->wbegun = 1;

    return NGX_OK;
}


void
ngx_miroir_write_end(ngx_miroir_write_t *w)
{
    ngx_uint_t                 b;
    ngx_miroir_write_count_t  *wc;

    if (!w->wbegun || w->wended) {
        return;
    }

    w->wended = 1;
    wc = w->cl->shm->writes;

    for (b = 0; b < NGX_MIROIR_WRITE_BUCKETS; b++) {
        if (w->wall || w->wbuckets[b]) {
            (void) ngx_atomic_fetch_add(&wc[b].done, 1);
        }
    }
}


/* ------------------------------------------------------------ steps */

/*
 * Start a write: the probe when the write names an index, else the main
 * fan-out.  in_body: called from a request body handler (no reference to
 * take).
 */
ngx_int_t
ngx_miroir_write_start(ngx_http_request_t *r, ngx_miroir_write_t *w,
    ngx_uint_t in_body)
{
    u_char               *p;
    ngx_str_t             uri;
    ngx_uint_t            i;
    ngx_miroir_fanout_t  *fo;

    if (w->body && w->body_len == 0) {
        w->body_len = ngx_buf_size(w->body->buf);
    }

    if (w->index.len == 0 || !w->ensure_filter) {
        if (!in_body) {
            r->main->count++;
        }

        w->next(r, w);
        return NGX_OK;
    }

    uri.len = sizeof("/indexes/") - 1 + 3 * w->index.len;
    uri.data = ngx_pnalloc(r->pool, uri.len);
    if (uri.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(uri.data, "/indexes/", sizeof("/indexes/") - 1);
    p = (u_char *) ngx_escape_uri(p, w->index.data, w->index.len,
                                  NGX_ESCAPE_URI_COMPONENT);
    uri.len = p - uri.data;

    w->index_esc.data = uri.data + sizeof("/indexes/") - 1;
    w->index_esc.len = p - w->index_esc.data;

    fo = ngx_miroir_fanout_create(r, w->cl, w->cl->nodes.nelts);
    if (fo == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < w->cl->nodes.nelts; i++) {
        if (ngx_miroir_fanout_add(fo, i, NGX_HTTP_GET, &uri, NULL) == NULL) {
            return NGX_ERROR;
        }
    }

    if (!in_body) {
        r->main->count++;
    }

    if (ngx_miroir_fanout_start(fo, ngx_miroir_write_probed, w) != NGX_OK) {
        if (!in_body) {
            r->main->count--;
        }

        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_miroir_write_probed(ngx_http_request_t *r, ngx_miroir_fanout_t *fo)
{
    cJSON               *json, *pk;
    ngx_uint_t           i;
    ngx_miroir_call_t   *call;
    ngx_miroir_write_t  *w;

    w = fo->data;
    call = fo->calls.elts;

    for (i = 0; i < fo->calls.nelts; i++) {
        if (!call[i].ok) {
            continue;
        }

        if (call[i].status == NGX_HTTP_NOT_FOUND) {
            w->reached[call[i].node] = 1;
            continue;
        }

        if (call[i].status != NGX_HTTP_OK) {
            continue;
        }

        w->reached[call[i].node] = 1;
        w->exists[call[i].node] = 1;

        json = ngx_miroir_json_parse(r, call[i].response.data,
                                     call[i].response.len);
        pk = json ? cJSON_GetObjectItemCaseSensitive(json, "primaryKey")
                  : NULL;

        if (cJSON_IsString(pk)) {
            w->exists[call[i].node] = 2;        /* with a primary key */

            if (w->pk == NULL) {
                w->pk = (u_char *) pk->valuestring;
                w->pk_len = ngx_strlen(pk->valuestring);
            }
        }
    }

    w->next(r, w);
}


/* The broadcast: the client's request to every node. */
void
ngx_miroir_write_main(ngx_http_request_t *r, ngx_miroir_write_t *w)
{
    ngx_uint_t            i;
    ngx_miroir_call_t    *call;
    ngx_miroir_fanout_t  *fo;

    if (ngx_miroir_write_begin(r, w, 1) != NGX_OK) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* stable_ties: the hidden rule in the rules the nodes get */

    if (ngx_miroir_ties_write(r, w) != NGX_OK) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    fo = ngx_miroir_fanout_create(r, w->cl, w->cl->nodes.nelts);
    if (fo == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    for (i = 0; i < w->cl->nodes.nelts; i++) {
        if (w->doc_delete && ngx_miroir_write_lacks_index(w, i)) {
            /*
             * A new owner of a moving shard that has no index yet holds
             * nothing to delete (its task would fail index_not_found).
             * Should the helper create and fill it meanwhile, the write
             * counted above makes it copy the shard again.
             */
            continue;
        }

        call = ngx_miroir_fanout_add(fo, i, w->method, &w->uri, &w->args);
        if (call == NULL) {
            ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        call->body = w->body;
        call->body_len = w->body_len;
        call->content_type = w->content_type;
    }

    if (w->doc_delete) {
        /* the probe served ngx_miroir_write_lacks_index() only */
        w->ensure_filter = 0;
    }

    if (ngx_miroir_fanout_start(fo, ngx_miroir_write_accepted, w) != NGX_OK) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static const char *
ngx_miroir_write_quorum_name(ngx_miroir_cluster_conf_t *cl)
{
    switch (cl->write_quorum) {
    case NGX_MIROIR_QUORUM_ONE:
        return "one";
    case NGX_MIROIR_QUORUM_MAJORITY:
        return "majority";
    default:
        return "all";
    }
}


/*
 * event=quorum_failed (rate limited per index): the nodes that failed,
 * and the node tasks of those that accepted (they run anyway).
 */
static void
ngx_miroir_write_log_quorum(ngx_http_request_t *r, ngx_miroir_write_t *w,
    ngx_miroir_fanout_t *fo, uint8_t *failed, miroir_error_t *err)
{
    u_char                  *p, *q, *plast, *qlast;
    cJSON                   *json, *uid;
    ngx_str_t                none = ngx_string("-");
    ngx_uint_t               i;
    ngx_miroir_call_t       *call;
    ngx_miroir_node_conf_t  *node;
    u_char                   nodes[256], tasks[256];
    u_char                   detail[MIROIR_ERROR_MSG_LEN];

    node = w->cl->nodes.elts;
    call = fo->calls.elts;

    p = nodes;
    plast = nodes + sizeof(nodes);

    for (i = 0; i < w->cl->nodes.nelts; i++) {
        if (failed[i]) {
            p = ngx_slprintf(p, plast, "%s%V", p == nodes ? "" : ",",
                             &node[i].id);
        }
    }

    q = tasks;
    qlast = tasks + sizeof(tasks);

    for (i = 0; i < fo->calls.nelts; i++) {
        if (failed[call[i].node] || call[i].node >= w->cl->nodes.nelts) {
            continue;
        }

        json = ngx_miroir_json_parse(r, call[i].response.data,
                                     call[i].response.len);
        uid = json ? cJSON_GetObjectItemCaseSensitive(json, "taskUid") : NULL;

        if (cJSON_IsNumber(uid)) {
            q = ngx_slprintf(q, qlast, "%s%V:%uL", q == tasks ? "" : ",",
                             &node[call[i].node].id,
                             (uint64_t) uid->valuedouble);
        }
    }

    if (p == nodes) {
        p = ngx_cpymem(p, "-", 1);
    }

    if (q == tasks) {
        q = ngx_cpymem(q, "-", 1);
    }

    /* one quoted value (the client's message itself is left as is) */

    for (i = 0; err->message[i] && i < sizeof(detail) - 1; i++) {
        detail[i] = (err->message[i] == '"' || err->message[i] == '\\')
                    ? '\'' : (u_char) err->message[i];
    }

    detail[i] = '\0';

    ngx_miroir_log_event(r->connection->log, NGX_LOG_ERR, "quorum_failed",
                         &w->cl->name, w->index.len ? &w->index : &none,
                         "index=%V quorum=%s failed=%*s accepted_tasks=%*s "
                         "method=%V path=%V detail=\"%s\"",
                         w->index.len ? &w->index : &none,
                         ngx_miroir_write_quorum_name(w->cl),
                         (size_t) (p - nodes), nodes,
                         (size_t) (q - tasks), tasks,
                         &r->method_name, &r->uri, detail);
}


/*
 * Whether every shard kept its quorum of owners; the failed nodes'
 * shards are marked stale when it did.
 */
ngx_int_t
ngx_miroir_write_quorum(ngx_http_request_t *r, ngx_miroir_cluster_conf_t *cl,
    uint8_t *failed, uint8_t *touched, miroir_error_t *err)
{
    u_char                      names[512], *p, *last;
    uint16_t                    reach[2 * MIROIR_MAX_RF];
    uint16_t                    tag[2 * MIROIR_MAX_RF];
    uint32_t                    s, k, ok, need, n;
    uint32_t                    nstale[MIROIR_MAX_NODES];
    ngx_uint_t                  i, nfailed, nreach, ntag;
    const uint16_t             *owners;
    ngx_miroir_node_conf_t     *node;
    const miroir_route_table_t *rt;

    rt = ngx_miroir_route_table(cl, r->connection->log);
    if (rt == NULL) {
        miroir_error_set(err, 500, "internal", "internal",
                         "Miroir has no shard table.");
        return NGX_ERROR;
    }

    node = cl->nodes.elts;
    nfailed = 0;
    p = names;
    last = names + sizeof(names) - 1;

    for (i = 0; i < cl->nodes.nelts; i++) {
        if (failed[i]) {
            p = ngx_slprintf(p, last, "%s`%V`", nfailed ? ", " : "",
                             &node[i].id);
            nfailed++;
        }
    }

    *p = '\0';

    if (nfailed == 0) {
        return NGX_OK;
    }

    switch (cl->write_quorum) {
    case NGX_MIROIR_QUORUM_ONE:
        need = 1;
        break;
    case NGX_MIROIR_QUORUM_MAJORITY:
        need = rt->rf / 2 + 1;
        break;
    default:
        need = rt->rf;
    }

    for (s = 0; s < rt->nshards; s++) {
        if (touched && !touched[s]) {
            continue;
        }

        owners = miroir_route_owners(rt, s);
        ok = 0;

        for (k = 0; k < rt->rf; k++) {
            if (!failed[owners[k]]) {
                ok++;
            }
        }

        /*
         * A shard being migrated must keep its quorum among the new
         * owners too, whichever table ends up true.  A new owner this
         * worker cannot reach is not failed: the helper copies it.
         */

        if (ok >= need
            && ngx_miroir_rebalance_write_owners(cl, s, reach, &nreach, tag,
                                                 &ntag)
               == NGX_OK)
        {
            ok = 0;

            for (k = 0; k < ntag; k++) {
                if (tag[k] >= cl->nodes.nelts || !failed[tag[k]]) {
                    ok++;
                }
            }
        }

        if (ok < need) {
            ngx_miroir_metrics_count(cl, NGX_MIROIR_COUNTER_QUORUM_FAILURES);
            miroir_error_set(err, NGX_HTTP_SERVICE_UNAVAILABLE,
                             "miroir_quorum_not_met", "system",
                             "The write quorum `%s` was not met: node%s %s "
                             "did not accept the write (shard %u has %u of "
                             "%u copies, %u needed).",
                             cl->write_quorum == NGX_MIROIR_QUORUM_ONE
                             ? "one"
                             : cl->write_quorum == NGX_MIROIR_QUORUM_MAJORITY
                               ? "majority" : "all",
                             nfailed > 1 ? "s" : "", (char *) names,
                             (unsigned) s, (unsigned) ok, (unsigned) rt->rf,
                             (unsigned) need);
            return NGX_DECLINED;
        }
    }

    ngx_memzero(nstale, sizeof(nstale));

    for (s = 0; s < rt->nshards; s++) {
        if (touched && !touched[s]) {
            continue;
        }

        owners = miroir_route_owners(rt, s);
        n = rt->rf;

        if (ngx_miroir_rebalance_write_owners(cl, s, reach, &nreach, tag,
                                              &ntag)
            == NGX_OK)
        {
            owners = reach;                 /* old and new owners */
            n = nreach;
        }

        for (k = 0; k < n; k++) {
            if (failed[owners[k]]) {
                ngx_miroir_stale_mark(cl, s, owners[k], r->connection->log);
                nstale[owners[k]]++;
            }
        }
    }

    (void) ngx_miroir_stale_save(cl, r->connection->log);

    for (i = 0; i < cl->nodes.nelts; i++) {
        if (failed[i] && nstale[i]) {
            ngx_miroir_log_event(r->connection->log, NGX_LOG_WARN,
                                 "replica_stale", &cl->name, &node[i].id,
                                 "node=%V shards=%uD quorum=%s path=%V",
                                 &node[i].id, nstale[i],
                                 ngx_miroir_write_quorum_name(cl), &r->uri);
        }
    }

    return NGX_OK;
}


static ngx_uint_t
ngx_miroir_write_failed(ngx_miroir_call_t *call)
{
    return !call->ok || call->timed_out || call->status == 0
           || call->status >= NGX_HTTP_INTERNAL_SERVER_ERROR
           || call->status == NGX_HTTP_UNAUTHORIZED
           || call->status == NGX_HTTP_FORBIDDEN;
}


/*
 * For a document write, the shards that had documents on a failed node:
 * only their copies missed the write (NULL: every shard counts).
 */
static uint8_t *
ngx_miroir_write_touched(ngx_http_request_t *r, ngx_miroir_write_t *w,
    uint8_t *failed)
{
    u_char                      *p, *end;
    uint8_t                     *touched;
    uint32_t                     s;
    ngx_uint_t                   i;
    miroir_split_result_t       *res;
    const miroir_route_table_t  *rt;

    res = w->split;
    rt = ngx_miroir_route_table(w->cl, r->connection->log);

    if (w->agg != NGX_MIROIR_AGG_DOCS || res == NULL || rt == NULL
        || res->ndocs == 0)
    {
        return NULL;
    }

    touched = ngx_pcalloc(r->pool, rt->nshards);
    if (touched == NULL) {
        return NULL;
    }

    for (i = 0; i < res->nparts && i < w->cl->nodes.nelts; i++) {
        if (!failed[i] || res->parts[i].body == NULL) {
            continue;
        }

        p = res->parts[i].body;
        end = p + res->parts[i].len;

        while (p < end) {
            if (end - p > 17
                && ngx_strncmp(p, "{\"_miroir_shard\":", 17) == 0)
            {
                s = 0;
                p += 17;

                while (p < end && *p >= '0' && *p <= '9') {
                    s = s * 10 + (*p++ - '0');
                }

                if (s < rt->nshards) {
                    touched[s] = 1;
                }
            }

            p = ngx_strlchr(p, end, '\n');
            if (p == NULL) {
                break;
            }

            p++;
        }
    }

    return touched;
}


/* Count, for each accepted document, the first accepting owner. */
static void
ngx_miroir_write_primaries(ngx_http_request_t *r, ngx_miroir_write_t *w,
    uint8_t *failed, ngx_miroir_task_part_t *parts, ngx_uint_t nparts)
{
    u_char                      *p, *end;
    uint32_t                     s, k;
    ngx_uint_t                   i, node;
    const uint16_t              *owners;
    miroir_split_result_t       *res;
    const miroir_route_table_t  *rt;

    res = w->split;
    rt = ngx_miroir_route_table(w->cl, r->connection->log);

    if (res == NULL || rt == NULL) {
        return;
    }

    for (i = 0; i < nparts; i++) {
        node = parts[i].node;
        parts[i].primary = 0;

        if (node >= res->nparts || res->parts[node].body == NULL) {
            continue;
        }

        p = res->parts[node].body;
        end = p + res->parts[node].len;

        while (p < end) {
            /* each line starts with {"_miroir_shard":<s>, */

            if (end - p > 17 && ngx_strncmp(p, "{\"_miroir_shard\":", 17)
                                == 0)
            {
                s = 0;
                p += 17;

                while (p < end && *p >= '0' && *p <= '9') {
                    s = s * 10 + (*p++ - '0');
                }

                if (s < rt->nshards) {
                    owners = miroir_route_owners(rt, s);

                    for (k = 0; k < rt->rf; k++) {
                        if (!failed[owners[k]] && !w->aux[owners[k]]) {
                            break;
                        }
                    }

                    if (k < rt->rf && owners[k] == node) {
                        parts[i].primary++;
                    }
                }
            }

            p = ngx_strlchr(p, end, '\n');
            if (p == NULL) {
                break;
            }

            p++;
        }
    }
}


/* The main fan-out finished: the client's answer. */
void
ngx_miroir_write_accepted(ngx_http_request_t *r, ngx_miroir_fanout_t *fo)
{
    cJSON                   *json, *uid, *type, *index;
    ngx_str_t                idx;
    ngx_uint_t               i, nparts;
    miroir_error_t           err;
    uint8_t                  failed[MIROIR_MAX_NODES];
    uint8_t                  sent[MIROIR_MAX_NODES];
    uint8_t                 *touched;
    ngx_miroir_call_t       *call;
    cJSON                  **answers;
    ngx_miroir_write_t      *w;
    ngx_miroir_task_part_t  *parts;
    const char              *tname;

    w = fo->data;
    call = fo->calls.elts;

    answers = ngx_pcalloc(r->pool, fo->calls.nelts * sizeof(cJSON *));
    if (answers == NULL) {
        ngx_miroir_write_end(w);
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* every node answered: the write is in their task queues */
    ngx_miroir_write_end(w);

    ngx_memzero(failed, sizeof(failed));
    ngx_memzero(sent, sizeof(sent));

    /* a node that refuses the request itself answers for all */

    for (i = 0; i < fo->calls.nelts; i++) {
        sent[call[i].node] = 1;

        if (ngx_miroir_write_failed(&call[i])) {
            failed[call[i].node] = 1;
            continue;
        }

        if (call[i].status != NGX_HTTP_ACCEPTED && !w->aux[call[i].node]) {
            ngx_miroir_write_pass(r, &call[i]);
            return;
        }

        if (w->aux[call[i].node]) {
            continue;
        }

        /*
         * A 202 whose body holds no task uid cannot be followed: the node
         * may have the write or not, so it counts as failed (quorum and
         * stale marks), not as accepted.
         */

        answers[i] = ngx_miroir_json_parse(r, call[i].response.data,
                                           call[i].response.len);
        uid = answers[i] ? cJSON_GetObjectItemCaseSensitive(answers[i],
                                                            "taskUid")
                         : NULL;

        if (!cJSON_IsNumber(uid)) {
            ngx_miroir_log_node_error(r->connection->log, NGX_LOG_WARN,
                                      w->cl, call[i].node, call[i].method,
                                      &call[i].uri, "no_task",
                                      call[i].status,
                                      "accepted without a task uid");
            failed[call[i].node] = 1;
        }
    }

    touched = ngx_miroir_write_touched(r, w, failed);

    if (ngx_miroir_write_quorum(r, w->cl, failed, touched, &err) != NGX_OK) {
        ngx_miroir_write_log_quorum(r, w, fo, failed, &err);
        ngx_miroir_finish(r, ngx_miroir_send_error(r, &err));
        return;
    }

    parts = ngx_palloc(r->pool, fo->calls.nelts
                                * sizeof(ngx_miroir_task_part_t));
    if (parts == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    nparts = 0;
    tname = NULL;
    idx.len = 0;
    idx.data = NULL;

    for (i = 0; i < fo->calls.nelts; i++) {
        if (failed[call[i].node] || w->aux[call[i].node]) {
            continue;
        }

        json = answers[i];
        uid = json ? cJSON_GetObjectItemCaseSensitive(json, "taskUid") : NULL;

        if (!cJSON_IsNumber(uid)) {
            continue;
        }

        if (tname == NULL) {
            type = cJSON_GetObjectItemCaseSensitive(json, "type");
            index = cJSON_GetObjectItemCaseSensitive(json, "indexUid");
            tname = cJSON_IsString(type) ? type->valuestring : "unknown";

            if (cJSON_IsString(index)) {
                idx.data = (u_char *) index->valuestring;
                idx.len = ngx_strlen(index->valuestring);
            }
        }

        parts[nparts].node = (uint16_t) call[i].node;
        parts[nparts].task = (uint64_t) uid->valuedouble;
        parts[nparts].primary = 0;
        parts[nparts].wait = 0;
        nparts++;
    }

    if (nparts == 0) {
        ngx_miroir_metrics_count(w->cl, NGX_MIROIR_COUNTER_QUORUM_FAILURES);
        miroir_error_set(&err, NGX_HTTP_SERVICE_UNAVAILABLE,
                         "miroir_quorum_not_met", "system",
                         "No node accepted the write.");
        ngx_miroir_write_log_quorum(r, w, fo, failed, &err);
        ngx_miroir_finish(r, ngx_miroir_send_error(r, &err));
        return;
    }

    if (w->agg == NGX_MIROIR_AGG_DOCS) {
        ngx_miroir_write_primaries(r, w, failed, parts, nparts);
    }

    w->parts = parts;
    w->nparts = nparts;
    w->tname = tname;
    w->tindex = idx;

    ngx_miroir_ties_accepted(r, w, failed, sent);

    (void) ngx_atomic_fetch_add(&w->cl->shm->settings_epoch, 1);

    /* after: Miroir's fields filterable where the index is new */

    if ((w->ensure_filter || w->reset_filter) && w->index.len) {
        for (i = 0; i < w->cl->nodes.nelts; i++) {
            if (failed[i] || !sent[i]
                || (!w->reset_filter && (w->exists[i] || !w->reached[i])))
            {
                w->exists[i] = 1;       /* nothing to do there */

            } else {
                w->exists[i] = 0;
            }
        }

        if (ngx_miroir_write_after(r, w, ngx_miroir_write_after_done)
            == NGX_OK)
        {
            return;
        }
    }

    ngx_miroir_write_answer(r, w);
}


/*
 * PUT Miroir's fields as filterableAttributes on every node whose
 * exists[] is 0 (a node creates the index on a settings write if needed).
 * @return NGX_OK: started; NGX_DECLINED: nothing to do; NGX_ERROR.
 */
ngx_int_t
ngx_miroir_write_after(ngx_http_request_t *r, ngx_miroir_write_t *w,
    ngx_miroir_fanout_done_pt done)
{
    u_char               *p;
    ngx_int_t             rc;
    ngx_str_t             uri, *list;
    ngx_uint_t            i;
    ngx_miroir_call_t    *call;
    ngx_miroir_fanout_t  *after;

    if (w->ties_fetch) {
        rc = ngx_miroir_ties_fetch(r, w, done);
        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    list = ngx_miroir_write_filter_list(r, w->cl);
    if (list == NULL) {
        return NGX_ERROR;
    }

    uri.len = sizeof("/indexes/") - 1 + 3 * w->index.len
              + sizeof("/settings/filterable-attributes") - 1;
    uri.data = ngx_pnalloc(r->pool, uri.len);
    if (uri.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(uri.data, "/indexes/", sizeof("/indexes/") - 1);
    p = (u_char *) ngx_escape_uri(p, w->index.data, w->index.len,
                                  NGX_ESCAPE_URI_COMPONENT);
    p = ngx_cpymem(p, "/settings/filterable-attributes",
                   sizeof("/settings/filterable-attributes") - 1);
    uri.len = p - uri.data;

    after = NULL;

    for (i = 0; i < w->cl->nodes.nelts; i++) {
        if (w->ties_rules.len) {
            /* stable_ties: the fields and the rules in one PATCH */
            if (ngx_miroir_ties_after_add(r, w, i, list, &after) != NGX_OK) {
                return NGX_ERROR;
            }

            continue;
        }

        if (w->exists[i]) {
            continue;
        }

        if (after == NULL) {
            after = ngx_miroir_fanout_create(r, w->cl, w->cl->nodes.nelts);
            if (after == NULL) {
                return NGX_ERROR;
            }
        }

        call = ngx_miroir_fanout_add(after, i, NGX_HTTP_PUT, &uri, NULL);
        if (call == NULL
            || ngx_miroir_write_chain(r, list->data, list->len, &call->body)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        call->body_len = list->len;
        call->content_type = ngx_miroir_json_type;
    }

    if (after == NULL) {
        return NGX_DECLINED;
    }

    return ngx_miroir_fanout_start(after, done, w);
}


void
ngx_miroir_write_answer(ngx_http_request_t *r, ngx_miroir_write_t *w)
{
    if (ngx_miroir_tasks_add(r, w->cl, &w->tindex, w->tname, w->agg,
                             w->received, w->parts, w->nparts, w->failed,
                             w->enqueued_at, w->ties, &w->answer)
        != NGX_OK)
    {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_miroir_finish(r, ngx_miroir_send_json(r, NGX_HTTP_ACCEPTED,
                                              w->answer.data,
                                              w->answer.len));
}


void
ngx_miroir_write_after_done(ngx_http_request_t *r, ngx_miroir_fanout_t *fo)
{
    cJSON                   *json, *uid;
    ngx_uint_t               i, n;
    ngx_miroir_call_t       *call;
    ngx_miroir_write_t      *w;
    ngx_miroir_task_part_t  *parts;

    w = fo->data;
    call = fo->calls.elts;

    parts = ngx_palloc(r->pool, (w->nparts + fo->calls.nelts)
                                * sizeof(ngx_miroir_task_part_t));
    if (parts == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (w->nparts) {
        ngx_memcpy(parts, w->parts,
                   w->nparts * sizeof(ngx_miroir_task_part_t));
    }
    n = w->nparts;

    for (i = 0; i < fo->calls.nelts; i++) {
        json = NULL;

        if (call[i].ok && call[i].status == NGX_HTTP_ACCEPTED) {
            json = ngx_miroir_json_parse(r, call[i].response.data,
                                         call[i].response.len);
        }

        uid = json ? cJSON_GetObjectItemCaseSensitive(json, "taskUid") : NULL;

        if (!cJSON_IsNumber(uid)) {
            ngx_miroir_log_node_error(r->connection->log, NGX_LOG_WARN,
                                      w->cl, call[i].node, call[i].method,
                                      &call[i].uri, "no_task",
                                      call[i].status,
                                      "could not make Miroir's fields "
                                      "filterable");
            continue;
        }

        /* the client's task ends only once these are applied too */

        parts[n].node = (uint16_t) call[i].node;
        parts[n].task = (uint64_t) uid->valuedouble;
        parts[n].primary = 0;
        parts[n].wait = 1;
        n++;
    }

    w->parts = parts;
    w->nparts = n;

    ngx_miroir_write_answer(r, w);
}
