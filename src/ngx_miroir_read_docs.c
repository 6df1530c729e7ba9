/*
 * ngx_miroir_read_docs.c -- GET /indexes/:uid/documents/:id.
 *
 * The id (the decoded path segment is its canonical form) is routed to its
 * shard; its owners are asked one at a time in HRW order, live ones first,
 * until one answers.  A 404 document_not_found or any other client error
 * is the owner's answer, forwarded as is.  The _miroir_* fields are
 * removed from the document.
 */

#include "ngx_miroir_read.h"

#include "miroir_merge.h"
#include "miroir_split.h"


typedef struct {
    ngx_str_t                       uri;
    uint16_t                        order[MIROIR_MAX_RF];
    ngx_uint_t                      n;
    ngx_uint_t                      next;
    uint32_t                        shard;
} ngx_miroir_doc_t;


static ngx_int_t ngx_miroir_doc_try(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_miroir_doc_t *d);
static void ngx_miroir_doc_done(ngx_http_request_t *r,
    ngx_miroir_fanout_t *fo);


ngx_int_t
ngx_miroir_read_document(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_str_t *uid, ngx_str_t *id)
{
    u_char                      *p;
    size_t                       esc;
    ngx_int_t                    rc;
    ngx_uint_t                   i, k;
    ngx_miroir_doc_t            *d;
    const uint16_t              *owners;
    const miroir_route_table_t  *rt;

    rt = ngx_miroir_route_table(cl, r->connection->log);
    d = ngx_pcalloc(r->pool, sizeof(ngx_miroir_doc_t));
    if (rt == NULL || d == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    d->shard = miroir_split_route_id(rt, id->data, id->len, &owners);

    /* live owners first, then the ones passive health marked down */

    for (k = 0; k < 2; k++) {
        for (i = 0; i < rt->rf; i++) {
            if ((ngx_miroir_node_is_down(cl, owners[i]) ? 1 : 0) == k
                && owners[i] < cl->nodes.nelts)
            {
                d->order[d->n++] = owners[i];
            }
        }
    }

    if (ngx_miroir_read_index_uri(r, uid, "/documents/", &d->uri) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    esc = ngx_escape_uri(NULL, id->data, id->len, NGX_ESCAPE_URI_COMPONENT);

    p = ngx_pnalloc(r->pool, d->uri.len + id->len + 2 * esc);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(p, d->uri.data, d->uri.len);
    d->uri.len = (u_char *) ngx_escape_uri(p + d->uri.len, id->data, id->len,
                                           NGX_ESCAPE_URI_COMPONENT) - p;
    d->uri.data = p;

    r->main->count++;

    rc = ngx_miroir_doc_try(r, cl, d);

    if (rc != NGX_DONE) {
        r->main->count--;
    }

    return rc;
}


static ngx_int_t
ngx_miroir_doc_try(ngx_http_request_t *r, ngx_miroir_cluster_conf_t *cl,
    ngx_miroir_doc_t *d)
{
    miroir_error_t        err;
    ngx_miroir_fanout_t  *fo;

    if (d->next >= d->n) {
        miroir_error_set(&err, NGX_HTTP_SERVICE_UNAVAILABLE,
                         "miroir_shards_unavailable", "system",
                         "1 of %lu shards have no answering copy: %uD.",
                         (unsigned long) cl->shards, d->shard);
        return ngx_miroir_send_error(r, &err);
    }

    fo = ngx_miroir_fanout_create(r, cl, 1);
    if (fo == NULL
        || ngx_miroir_fanout_add(fo, d->order[d->next++], NGX_HTTP_GET,
                                 &d->uri, &r->args)
           == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_miroir_fanout_start(fo, ngx_miroir_doc_done, d) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_miroir_doc_done(ngx_http_request_t *r, ngx_miroir_fanout_t *fo)
{
    ngx_int_t            rc;
    ngx_str_t            type = ngx_string("application/json");
    miroir_buf_t         b;
    miroir_span_t        doc;
    miroir_strip_t       strip;
    ngx_miroir_doc_t    *d;
    ngx_miroir_call_t   *call;

    d = fo->data;
    call = fo->calls.elts;

    if (call->ok && call->status == NGX_HTTP_OK) {
        if (miroir_jspan_doc((char *) call->response.data,
                             call->response.len, &doc)
            != MIROIR_OK
            || !miroir_jspan_is_obj(doc))
        {
            ngx_miroir_finish(r, ngx_miroir_send_raw(r, call->status, &type,
                                                     &call->response));
            return;
        }

        ngx_memzero(&b, sizeof(b));
        ngx_memzero(&strip, sizeof(strip));

        if (miroir_merge_write_hit(&b, doc, &strip, NULL, 0) != MIROIR_OK
            || b.oom || ngx_miroir_pool_own(r, b.data) == NULL)
        {
            ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_miroir_finish(r, ngx_miroir_send_json(r, NGX_HTTP_OK,
                                                  (u_char *) b.data, b.len));
        return;
    }

    if (call->ok && call->status >= 400 && call->status < 500
        && call->status != NGX_HTTP_UNAUTHORIZED
        && call->status != NGX_HTTP_FORBIDDEN)
    {
        ngx_miroir_finish(r, ngx_miroir_send_raw(r, call->status, &type,
                                                 &call->response));
        return;
    }

    ngx_miroir_log_event(r->connection->log, NGX_LOG_WARN, "read_failover",
                         &fo->cluster->name,
                         &((ngx_miroir_node_conf_t *)
                           fo->cluster->nodes.elts)[call->node].id,
                         "node=%V path=%V status=%i timed_out=%ui",
                         &((ngx_miroir_node_conf_t *)
                           fo->cluster->nodes.elts)[call->node].id,
                         &call->uri, call->status,
                         (ngx_uint_t) call->timed_out);

    rc = fo->expired ? NGX_DECLINED : ngx_miroir_doc_try(r, fo->cluster, d);

    if (rc == NGX_DONE) {
        return;
    }

    if (rc == NGX_DECLINED) {
        d->next = d->n;
        rc = ngx_miroir_doc_try(r, fo->cluster, d);
    }

    ngx_miroir_finish(r, rc);
}
