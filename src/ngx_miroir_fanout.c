/*
 * ngx_miroir_fanout.c -- parallel requests to nodes on behalf of one client
 * request.
 *
 * Each call runs as a background subrequest of the client request r to r's
 * own location; the module's content handler recognises it by its context
 * and hands it to ngx_miroir_upstream.c.  A post-subrequest handler counts
 * the calls still pending; when none is left (or the deadline fires) the
 * fan-out's done handler runs once, in the context of r.  A late call that
 * finishes after the deadline is recorded and otherwise ignored: the client
 * request stays alive until then, since every subrequest holds a reference.
 *
 * Passive health: every finished call reports success or failure for its
 * node in the shared zone; consecutive failures mark the node down.
 */

#include "ngx_miroir.h"


#define NGX_MIROIR_FAILS_DOWN  3


static ngx_int_t ngx_miroir_call_done(ngx_http_request_t *sr, void *data,
    ngx_int_t rc);
static void ngx_miroir_fanout_resume(ngx_http_request_t *r);
static void ngx_miroir_fanout_expire(ngx_event_t *ev);
static void ngx_miroir_fanout_cleanup(void *data);
static void ngx_miroir_call_log(ngx_http_request_t *r,
    ngx_miroir_call_t *call);
static void ngx_miroir_node_health(ngx_miroir_cluster_conf_t *cl,
    ngx_uint_t node, ngx_uint_t ok, const char *reason);


ngx_miroir_fanout_t *
ngx_miroir_fanout_create(ngx_http_request_t *r, ngx_miroir_cluster_conf_t *cl,
    ngx_uint_t n)
{
    ngx_miroir_ctx_t     *ctx;
    ngx_pool_cleanup_t   *cln;
    ngx_miroir_fanout_t  *fo;

    fo = ngx_pcalloc(r->pool, sizeof(ngx_miroir_fanout_t));
    if (fo == NULL) {
        return NULL;
    }

    if (ngx_array_init(&fo->calls, r->pool, n ? n : 1,
                       sizeof(ngx_miroir_call_t))
        != NGX_OK)
    {
        return NULL;
    }

    fo->request = r;
    fo->cluster = cl;

    ctx = ngx_http_get_module_ctx(r, ngx_http_miroir_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_miroir_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_miroir_module);
    }

    ctx->fanout = fo;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_miroir_fanout_cleanup;
    cln->data = fo;

    return fo;
}


ngx_miroir_call_t *
ngx_miroir_fanout_add(ngx_miroir_fanout_t *fo, ngx_uint_t node,
    ngx_uint_t method, ngx_str_t *uri, ngx_str_t *args)
{
    ngx_miroir_call_t  *call;

    /*
     * Calls are referenced by pointer from running subrequests: the array
     * must not move once the fan-out has started.
     */

    if (fo->pending && fo->calls.nelts == fo->calls.nalloc) {
        return NULL;
    }

    call = ngx_array_push(&fo->calls);
    if (call == NULL) {
        return NULL;
    }

    ngx_memzero(call, sizeof(ngx_miroir_call_t));

    call->fanout = fo;
    call->node = node;
    call->method = method;
    call->uri = *uri;

    if (args) {
        call->args = *args;
    }

    switch (method) {
    case NGX_HTTP_POST:
        ngx_str_set(&call->method_name, "POST");
        break;
    case NGX_HTTP_PUT:
        ngx_str_set(&call->method_name, "PUT");
        break;
    case NGX_HTTP_PATCH:
        ngx_str_set(&call->method_name, "PATCH");
        break;
    case NGX_HTTP_DELETE:
        ngx_str_set(&call->method_name, "DELETE");
        break;
    case NGX_HTTP_HEAD:
        ngx_str_set(&call->method_name, "HEAD");
        break;
    default:
        ngx_str_set(&call->method_name, "GET");
        break;
    }

    return call;
}


ngx_int_t
ngx_miroir_fanout_start(ngx_miroir_fanout_t *fo,
    ngx_miroir_fanout_done_pt done, void *data)
{
    ngx_uint_t            i;
    ngx_miroir_call_t    *call;
    ngx_http_request_t   *r;

    r = fo->request;

    fo->done_handler = done;
    fo->data = data;
    fo->start = ngx_current_msec;

    fo->deadline.handler = ngx_miroir_fanout_expire;
    fo->deadline.data = fo;
    fo->deadline.log = r->connection->log;
    ngx_add_timer(&fo->deadline, fo->cluster->deadline);

    call = fo->calls.elts;

    for (i = 0; i < fo->calls.nelts; i++) {
        if (ngx_miroir_call_start(&call[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    /*
     * The caller keeps r alive until the done handler finalizes it: a
     * content handler increments r->main->count and returns NGX_DONE; a
     * request body handler already holds that reference.
     */

    if (fo->pending == 0) {
        ngx_miroir_fanout_resume(r);
    }

    return NGX_OK;
}


ngx_int_t
ngx_miroir_call_start(ngx_miroir_call_t *call)
{
    ngx_miroir_ctx_t             *ctx;
    ngx_http_request_t           *r, *sr;
    ngx_miroir_fanout_t          *fo;
    ngx_http_post_subrequest_t   *ps;

    fo = call->fanout;
    r = fo->request;

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    ctx = ngx_pcalloc(r->pool, sizeof(ngx_miroir_ctx_t));
    if (ps == NULL || ctx == NULL) {
        return NGX_ERROR;
    }

    ps->handler = ngx_miroir_call_done;
    ps->data = call;

    if (ngx_http_subrequest(r, &r->uri, NULL, &sr, ps,
                            NGX_HTTP_SUBREQUEST_IN_MEMORY
                            |NGX_HTTP_SUBREQUEST_BACKGROUND)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ctx->call = call;
    ngx_http_set_ctx(sr, ctx, ngx_http_miroir_module);

    call->elapsed = ngx_current_msec;
    fo->pending++;

    ngx_miroir_metrics_call_start(fo->cluster, call->node);

    return NGX_OK;
}


static ngx_int_t
ngx_miroir_call_done(ngx_http_request_t *sr, void *data, ngx_int_t rc)
{
    ngx_miroir_call_t  *call = data;

    ngx_http_request_t   *r;
    ngx_miroir_fanout_t  *fo;

    if (call->done) {
        return NGX_OK;
    }

    call->done = 1;
    call->elapsed = ngx_current_msec - call->elapsed;

    if (rc == NGX_HTTP_GATEWAY_TIME_OUT) {
        call->timed_out = 1;
    }

    fo = call->fanout;
    r = fo->request;

    ngx_miroir_call_log(r, call);

    if (!call->too_large) {
        /* an answer above max_response says nothing of the node's health */
        ngx_miroir_node_health(fo->cluster, call->node,
                               call->ok && call->status < 500,
                               call->fail ? call->fail
                                          : call->ok ? "status" : "unknown");
    }

    ngx_miroir_metrics_call_done(fo->cluster, call->node,
                                 !call->ok || call->status >= 500,
                                 call->elapsed);

    if (fo->pending) {
        fo->pending--;
    }

    if (fo->pending == 0 && !fo->finished) {
        r->write_event_handler = ngx_miroir_fanout_resume;
        ngx_http_post_request(r, NULL);

    } else if (fo->pending && !fo->finished && !fo->early && fo->ready
               && fo->ready(fo))
    {
        fo->early = 1;
        r->write_event_handler = ngx_miroir_fanout_resume;
        ngx_http_post_request(r, NULL);
    }

    /*
     * The outcome is in the call; the subrequest itself must end quietly,
     * never with an error page nor by terminating the client request.
     */

    return NGX_OK;
}


/*
 * event=node_error: a call without a usable answer (no connection, no
 * complete HTTP answer, a 5xx, or the node refusing its own key).  Only the
 * method and path are logged: never the arguments, headers or body.
 */
static void
ngx_miroir_call_log(ngx_http_request_t *r, ngx_miroir_call_t *call)
{
    ngx_uint_t                  level;
    const char                 *reason;
    ngx_miroir_node_conf_t     *node;
    ngx_miroir_cluster_conf_t  *cl;

    cl = call->fanout->cluster;

    if (call->fail) {
        reason = call->fail;
        level = call->ok ? NGX_LOG_WARN : NGX_LOG_ERR;

    } else if (call->ok && call->status >= NGX_HTTP_INTERNAL_SERVER_ERROR) {
        reason = "status";
        level = NGX_LOG_WARN;

    } else if (call->ok && (call->status == NGX_HTTP_UNAUTHORIZED
                            || call->status == NGX_HTTP_FORBIDDEN))
    {
        reason = "unauthorized";
        level = NGX_LOG_WARN;

    } else {
        return;
    }

    if (call->node >= cl->nodes.nelts) {
        return;
    }

    node = (ngx_miroir_node_conf_t *) cl->nodes.elts + call->node;

    ngx_miroir_log_event(r->connection->log, level, "node_error", &cl->name,
                         &node->id,
                         "node=%V addr=%V method=%V path=%V reason=%s "
                         "status=%i elapsed_ms=%M",
                         &node->id, &node->addr_text, &call->method_name,
                         &call->uri, reason, call->status, call->elapsed);
}


static void
ngx_miroir_fanout_resume(ngx_http_request_t *r)
{
    ngx_miroir_ctx_t     *ctx;
    ngx_miroir_fanout_t  *fo;

    ctx = ngx_http_get_module_ctx(r, ngx_http_miroir_module);
    fo = ctx ? ctx->fanout : NULL;

    if (fo == NULL || fo->finished
        || (fo->pending && !fo->expired && !fo->early))
    {
        return;
    }

    fo->finished = 1;

    if (fo->deadline.timer_set) {
        ngx_del_timer(&fo->deadline);
    }

    r->write_event_handler = ngx_http_request_empty_handler;

    fo->done_handler(r, fo);
}


static void
ngx_miroir_fanout_expire(ngx_event_t *ev)
{
    u_char                  *p, *last;
    ngx_uint_t               i;
    ngx_miroir_call_t       *call;
    ngx_connection_t        *c;
    ngx_http_request_t      *r;
    ngx_miroir_fanout_t     *fo;
    ngx_miroir_node_conf_t  *node;
    u_char                   nodes[256];

    fo = ev->data;
    r = fo->request;
    c = r->connection;

    fo->expired = 1;

    call = fo->calls.elts;

    for (i = 0; i < fo->calls.nelts; i++) {
        if (!call[i].done) {
            call[i].timed_out = 1;
        }
    }

    p = nodes;
    last = nodes + sizeof(nodes);
    node = fo->cluster->nodes.elts;

    for (i = 0; i < fo->calls.nelts; i++) {
        if (!call[i].done && call[i].node < fo->cluster->nodes.nelts) {
            p = ngx_slprintf(p, last, "%s%V", p == nodes ? "" : ",",
                             &node[call[i].node].id);
        }
    }

    if (p == nodes) {
        *p++ = '-';
    }

    ngx_miroir_log_event(c->log, NGX_LOG_ERR, "deadline",
                         &fo->cluster->name, &fo->cluster->name,
                         "deadline_ms=%M pending=%ui nodes=%*s path=%V",
                         fo->cluster->deadline, fo->pending,
                         (size_t) (p - nodes), nodes, &r->uri);

    ngx_miroir_fanout_resume(r);
    ngx_http_run_posted_requests(c);
}


static void
ngx_miroir_fanout_cleanup(void *data)
{
    ngx_miroir_fanout_t  *fo = data;

    if (fo->deadline.timer_set) {
        ngx_del_timer(&fo->deadline);
    }
}


/*
 * max_response: when a call of fo was aborted because its answer was too
 * large (ngx_miroir_upstream.c), answer the client request with 502
 * miroir_response_too_large and return what ngx_miroir_send_error()
 * returned; NGX_DECLINED when no call was.
 */
ngx_int_t
ngx_miroir_fanout_too_large(ngx_miroir_fanout_t *fo)
{
    ngx_uint_t               i;
    miroir_error_t           err;
    ngx_miroir_call_t       *call;
    ngx_miroir_node_conf_t  *node;

    call = fo->calls.elts;

    for (i = 0; i < fo->calls.nelts; i++) {
        if (call[i].too_large) {
            break;
        }
    }

    if (i == fo->calls.nelts) {
        return NGX_DECLINED;
    }

    node = fo->cluster->nodes.elts;

    miroir_error_set(&err, NGX_HTTP_BAD_GATEWAY, "miroir_response_too_large",
                     "system",
                     "The answer of node `%.*s` is larger than the "
                     "`max_response` of %zu bytes of cluster `%.*s` (the "
                     "limit holds for one answer and for all the answers "
                     "to one request together).",
                     call[i].node < fo->cluster->nodes.nelts
                     ? (int) node[call[i].node].id.len : 0,
                     call[i].node < fo->cluster->nodes.nelts
                     ? (char *) node[call[i].node].id.data : "",
                     fo->cluster->max_response,
                     (int) fo->cluster->name.len,
                     (char *) fo->cluster->name.data);

    return ngx_miroir_send_error(fo->request, &err);
}


/* ------------------------------------------------------------ health */

void
ngx_miroir_node_report(ngx_miroir_cluster_conf_t *cl, ngx_uint_t node,
    ngx_uint_t ok)
{
    ngx_miroir_node_health(cl, node, ok, NULL);
}


/*
 * Passive health.  The shared flag flips with a compare-and-set, so that
 * exactly one worker logs each transition (event=node_down / node_up, not
 * rate limited: there is at most one per failure streak).
 */
static void
ngx_miroir_node_health(ngx_miroir_cluster_conf_t *cl, ngx_uint_t node,
    ngx_uint_t ok, const char *reason)
{
    ngx_atomic_uint_t       fails;
    ngx_miroir_shm_node_t  *sn;

    if (cl->shm == NULL || node >= cl->shm->nnodes) {
        return;
    }

    sn = &cl->shm->nodes[node];

    if (ok) {
        if (sn->fails) {
            sn->fails = 0;
        }

        if (sn->down && ngx_atomic_cmp_set(&sn->down, 1, 0)) {
            ngx_miroir_log_event(ngx_cycle->log, NGX_LOG_NOTICE, "node_up",
                                 &cl->name, NULL, "node=%*s addr=%*s",
                                 (size_t) sn->id_len, sn->id,
                                 (size_t) sn->addr_len, sn->addr);
        }

        return;
    }

    fails = ngx_atomic_fetch_add(&sn->fails, 1) + 1;

    if (fails >= NGX_MIROIR_FAILS_DOWN && !sn->down
        && ngx_atomic_cmp_set(&sn->down, 0, 1))
    {
        ngx_miroir_log_event(ngx_cycle->log, NGX_LOG_WARN, "node_down",
                             &cl->name, NULL,
                             "node=%*s addr=%*s fails=%uA reason=%s",
                             (size_t) sn->id_len, sn->id,
                             (size_t) sn->addr_len, sn->addr, fails,
                             reason ? reason : "unknown");
    }
}


ngx_uint_t
ngx_miroir_node_is_down(ngx_miroir_cluster_conf_t *cl, ngx_uint_t node)
{
    if (cl->shm == NULL || node >= cl->shm->nnodes) {
        return 0;
    }

    return cl->shm->nodes[node].down ? 1 : 0;
}
