/*
 * ngx_miroir_upstream.c -- one HTTP/1.1 exchange with one node, run by
 * nginx's upstream machinery inside a background, in-memory subrequest.
 *
 * Why not proxy_pass: the answer must land in memory whatever its size
 * (nginx's in-memory subrequests are capped by subrequest_output_buffer_size
 * and drop the body of 4xx/5xx answers), node errors must reach the merger
 * verbatim, and every node needs its own key.  So Miroir speaks HTTP to the
 * node itself: it parses the status line and headers, tells the upstream
 * module the answer is "200" (the real status stays in the call), and grows
 * the receive buffer to the Content-Length so the body is read straight
 * into its final place, with no copy.  Chunked answers are decoded in place.
 * What an answer, and all the answers of one fan-out, may hold is bounded
 * by the cluster's max_response (ngx_miroir_room()): a larger answer is cut
 * off (call->too_large) and its buffer released.
 *
 * Idle connections to each node are cached per worker (like the upstream
 * keepalive module) and reused.
 */

#include "ngx_miroir.h"


#define NGX_MIROIR_KEEPALIVE_IDLE 60000


typedef struct {
    ngx_queue_t                     queue;
    ngx_connection_t               *connection;
    ngx_miroir_node_conf_t         *node;
} ngx_miroir_keepalive_t;


typedef struct {
    ngx_miroir_call_t              *call;
    ngx_http_status_t               status;
    off_t                           content_length;
    ngx_http_chunked_t              chunked;
    u_char                         *wpos;
    u_char                         *body;       /* Content-Length body */
    u_char                         *alloc;      /* the grown buffer */
    unsigned                        is_chunked:1;
    unsigned                        close:1;
    unsigned                        complete:1;
} ngx_miroir_upstream_ctx_t;


typedef struct {
    ngx_miroir_node_conf_t         *node;
    ngx_http_upstream_t            *upstream;
} ngx_miroir_peer_data_t;


static ngx_int_t ngx_miroir_peer_init(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_miroir_peer_get(ngx_peer_connection_t *pc, void *data);
static void ngx_miroir_peer_free(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state);
static void ngx_miroir_keepalive_dummy(ngx_event_t *ev);
static void ngx_miroir_keepalive_close(ngx_event_t *ev);

static ngx_int_t ngx_miroir_create_request(ngx_http_request_t *r);
static ngx_int_t ngx_miroir_reinit_request(ngx_http_request_t *r);
static ngx_int_t ngx_miroir_process_status_line(ngx_http_request_t *r);
static ngx_int_t ngx_miroir_process_header(ngx_http_request_t *r);
static ngx_int_t ngx_miroir_input_init(void *data);
static ngx_int_t ngx_miroir_input(void *data, ssize_t bytes);
static ngx_int_t ngx_miroir_grow(ngx_http_request_t *r,
    ngx_miroir_upstream_ctx_t *uc, size_t need);
static ngx_int_t ngx_miroir_room(ngx_http_request_t *r,
    ngx_miroir_upstream_ctx_t *uc, size_t *need, size_t min);
static void ngx_miroir_abort_request(ngx_http_request_t *r);
static void ngx_miroir_finalize_request(ngx_http_request_t *r, ngx_int_t rc);
static const char *ngx_miroir_upstream_fail(ngx_http_upstream_t *u,
    ngx_miroir_call_t *call, ngx_int_t rc);


ngx_int_t
ngx_miroir_upstream_conf(ngx_conf_t *cf, ngx_miroir_cluster_conf_t *cl,
    ngx_miroir_node_conf_t *node)
{
    ngx_uint_t                     i;
    ngx_hash_init_t                hash;
    ngx_http_upstream_conf_t      *conf;
    ngx_miroir_keepalive_t        *items;
    ngx_http_upstream_srv_conf_t  *us;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_upstream_conf_t));
    us = ngx_pcalloc(cf->pool, sizeof(ngx_http_upstream_srv_conf_t));
    if (conf == NULL || us == NULL) {
        return NGX_ERROR;
    }

    us->peer.init = ngx_miroir_peer_init;
    us->peer.data = node;
    us->host = node->addr_text;

    conf->upstream = us;
    conf->connect_timeout = cl->connect_timeout;
    conf->send_timeout = cl->node_timeout;
    conf->read_timeout = cl->node_timeout;
    conf->buffer_size = 4 * ngx_pagesize;
    conf->next_upstream = NGX_HTTP_UPSTREAM_FT_OFF;
    conf->next_upstream_tries = 1;
    conf->local = NULL;
    conf->module.len = sizeof("miroir") - 1;
    conf->module.data = (u_char *) "miroir";

    /* nothing is hidden: the header list stays empty (see process_header) */

    hash.hash = &conf->hide_headers_hash;
    hash.key = ngx_hash_key_lc;
    hash.max_size = 64;
    hash.bucket_size = ngx_cacheline_size;
    hash.name = "miroir_hide_headers_hash";
    hash.pool = cf->pool;
    hash.temp_pool = NULL;

    if (ngx_hash_init(&hash, NULL, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    node->upstream = conf;

    node->cache = ngx_palloc(cf->pool, sizeof(ngx_queue_t));
    node->free = ngx_palloc(cf->pool, sizeof(ngx_queue_t));
    items = ngx_pcalloc(cf->pool,
                        sizeof(ngx_miroir_keepalive_t) * cl->keepalive);

    if (node->cache == NULL || node->free == NULL
        || (cl->keepalive && items == NULL))
    {
        return NGX_ERROR;
    }

    ngx_queue_init(node->cache);
    ngx_queue_init(node->free);

    for (i = 0; i < cl->keepalive; i++) {
        items[i].node = node;
        ngx_queue_insert_head(node->free, &items[i].queue);
    }

    return NGX_OK;
}


ngx_int_t
ngx_miroir_upstream_start(ngx_http_request_t *r, ngx_miroir_call_t *call)
{
    ngx_http_upstream_t        *u;
    ngx_miroir_node_conf_t     *node;
    ngx_miroir_upstream_ctx_t  *uc;

    node = (ngx_miroir_node_conf_t *) call->fanout->cluster->nodes.elts
           + call->node;

    if (ngx_http_upstream_create(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    uc = ngx_pcalloc(r->pool, sizeof(ngx_miroir_upstream_ctx_t));
    if (uc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    uc->call = call;
    uc->content_length = -1;

    u = r->upstream;

    ngx_str_set(&u->schema, "http://");
    u->output.tag = (ngx_buf_tag_t) &ngx_http_miroir_module;
    u->conf = node->upstream;

    u->create_request = ngx_miroir_create_request;
    u->reinit_request = ngx_miroir_reinit_request;
    u->process_header = ngx_miroir_process_status_line;
    u->abort_request = ngx_miroir_abort_request;
    u->finalize_request = ngx_miroir_finalize_request;
    u->input_filter_init = ngx_miroir_input_init;
    u->input_filter = ngx_miroir_input;
    u->input_filter_ctx = r;
    u->buffering = 0;

    /*
     * A failed exchange is logged once, rate limited, as event=node_error
     * (ngx_miroir_call_done); nginx's own connect()/recv() lines about it
     * go to the info level.
     */

    r->upstream->peer.log_error = NGX_ERROR_INFO;

    ngx_http_set_ctx(r, uc, ngx_http_miroir_module);

    r->main->count++;

    ngx_http_upstream_init(r);

    return NGX_DONE;
}


/* ------------------------------------------------------------ peers */

static ngx_int_t
ngx_miroir_peer_init(ngx_http_request_t *r, ngx_http_upstream_srv_conf_t *us)
{
    ngx_miroir_peer_data_t  *pd;

    pd = ngx_palloc(r->pool, sizeof(ngx_miroir_peer_data_t));
    if (pd == NULL) {
        return NGX_ERROR;
    }

    pd->node = us->peer.data;
    pd->upstream = r->upstream;

    r->upstream->peer.data = pd;
    r->upstream->peer.get = ngx_miroir_peer_get;
    r->upstream->peer.free = ngx_miroir_peer_free;
    r->upstream->peer.tries = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_miroir_peer_get(ngx_peer_connection_t *pc, void *data)
{
    ngx_miroir_peer_data_t  *pd = data;

    ngx_queue_t             *q;
    ngx_connection_t        *c;
    ngx_miroir_node_conf_t  *node;
    ngx_miroir_keepalive_t  *item;

    node = pd->node;

    pc->sockaddr = node->addr.sockaddr;
    pc->socklen = node->addr.socklen;
    pc->name = &node->addr_text;
    pc->cached = 0;
    pc->connection = NULL;

    if (ngx_queue_empty(node->cache)) {
        return NGX_OK;
    }

    q = ngx_queue_head(node->cache);
    item = ngx_queue_data(q, ngx_miroir_keepalive_t, queue);

    ngx_queue_remove(q);
    ngx_queue_insert_head(node->free, q);

    c = item->connection;
    item->connection = NULL;

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    c->idle = 0;
    c->sent = 0;
    c->data = NULL;
    c->log = pc->log;
    c->read->log = pc->log;
    c->write->log = pc->log;
    c->pool->log = pc->log;

    pc->connection = c;
    pc->cached = 1;

    return NGX_DONE;
}


static void
ngx_miroir_peer_free(ngx_peer_connection_t *pc, void *data, ngx_uint_t state)
{
    ngx_miroir_peer_data_t  *pd = data;

    ngx_queue_t             *q;
    ngx_connection_t        *c;
    ngx_http_upstream_t     *u;
    ngx_miroir_node_conf_t  *node;
    ngx_miroir_keepalive_t  *item;

    node = pd->node;
    u = pd->upstream;
    c = pc->connection;

    pc->tries = 0;

    if (state & NGX_PEER_FAILED
        || c == NULL
        || c->read->eof
        || c->read->error
        || c->read->timedout
        || c->write->error
        || c->write->timedout
        || !u->keepalive
        || !u->request_body_sent
        || c->requests >= 10000
        || ngx_terminate
        || ngx_exiting)
    {
        return;
    }

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        return;
    }

    if (ngx_queue_empty(node->free)) {
        if (ngx_queue_empty(node->cache)) {
            return;
        }

        /* evict the least recently used connection */

        q = ngx_queue_last(node->cache);
        ngx_queue_remove(q);
        item = ngx_queue_data(q, ngx_miroir_keepalive_t, queue);

        /* nginx gave the connection a pool; its keepalive module frees it */
        if (item->connection->pool) {
            ngx_destroy_pool(item->connection->pool);
        }

        ngx_close_connection(item->connection);
        item->connection = NULL;

    } else {
        q = ngx_queue_head(node->free);
        ngx_queue_remove(q);
        item = ngx_queue_data(q, ngx_miroir_keepalive_t, queue);
    }

    ngx_queue_insert_head(node->cache, q);

    item->connection = c;
    pc->connection = NULL;

    c->read->delayed = 0;
    ngx_add_timer(c->read, NGX_MIROIR_KEEPALIVE_IDLE);

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    c->write->handler = ngx_miroir_keepalive_dummy;
    c->read->handler = ngx_miroir_keepalive_close;

    c->data = item;
    c->idle = 1;
    c->log = ngx_cycle->log;
    c->read->log = ngx_cycle->log;
    c->write->log = ngx_cycle->log;
    c->pool->log = ngx_cycle->log;

    if (c->read->ready) {
        ngx_miroir_keepalive_close(c->read);
    }
}


static void
ngx_miroir_keepalive_dummy(ngx_event_t *ev)
{
}


/* An idle connection became readable: the node closed it (or broke HTTP). */
static void
ngx_miroir_keepalive_close(ngx_event_t *ev)
{
    int                      n;
    char                     buf[1];
    ngx_connection_t        *c;
    ngx_miroir_keepalive_t  *item;

    c = ev->data;

    if (c->close || c->read->timedout) {
        goto close;
    }

    n = recv(c->fd, buf, 1, MSG_PEEK);

    if (n == -1 && ngx_socket_errno == NGX_EAGAIN) {
        ev->ready = 0;

        if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
            goto close;
        }

        return;
    }

close:

    item = c->data;

    ngx_queue_remove(&item->queue);
    ngx_queue_insert_head(item->node->free, &item->queue);
    item->connection = NULL;

    if (c->pool) {
        ngx_destroy_pool(c->pool);
    }

    ngx_close_connection(c);
}


/* ------------------------------------------------------------ request */

static ngx_int_t
ngx_miroir_create_request(ngx_http_request_t *r)
{
    size_t                      len;
    u_char                     *p;
    ngx_buf_t                  *b;
    ngx_chain_t                *cl, **next, *in;
    ngx_http_upstream_t        *u;
    ngx_miroir_call_t          *call;
    ngx_miroir_node_conf_t     *node;
    ngx_miroir_upstream_ctx_t  *uc;

    u = r->upstream;
    uc = ngx_http_get_module_ctx(r, ngx_http_miroir_module);
    call = uc->call;
    node = (ngx_miroir_node_conf_t *) call->fanout->cluster->nodes.elts
           + call->node;

    len = call->method_name.len + 1 + call->uri.len
          + (call->args.len ? 1 + call->args.len : 0)
          + sizeof(" HTTP/1.1" CRLF) - 1
          + sizeof("Host: " CRLF) - 1 + node->host.len
          + sizeof("Accept: application/json" CRLF) - 1
          + sizeof("Connection: keep-alive" CRLF) - 1
          + sizeof(CRLF) - 1;

    if (node->auth.len) {
        len += sizeof("Authorization: " CRLF) - 1 + node->auth.len;
    }

    len += call->headers.len;

    if (call->body || call->method == NGX_HTTP_POST
        || call->method == NGX_HTTP_PUT || call->method == NGX_HTTP_PATCH)
    {
        len += sizeof("Content-Length: " CRLF) - 1 + NGX_OFF_T_LEN;

        if (call->content_type.len) {
            len += sizeof("Content-Type: " CRLF) - 1
                   + call->content_type.len;
        }
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    p = b->last;
    p = ngx_cpymem(p, call->method_name.data, call->method_name.len);
    *p++ = ' ';
    p = ngx_cpymem(p, call->uri.data, call->uri.len);

    if (call->args.len) {
        *p++ = '?';
        p = ngx_cpymem(p, call->args.data, call->args.len);
    }

    p = ngx_cpymem(p, " HTTP/1.1" CRLF "Host: ",
                   sizeof(" HTTP/1.1" CRLF "Host: ") - 1);
    p = ngx_cpymem(p, node->host.data, node->host.len);
    p = ngx_cpymem(p, CRLF "Accept: application/json" CRLF
                      "Connection: keep-alive" CRLF,
                   sizeof(CRLF "Accept: application/json" CRLF
                          "Connection: keep-alive" CRLF) - 1);

    if (node->auth.len) {
        p = ngx_cpymem(p, "Authorization: ", sizeof("Authorization: ") - 1);
        p = ngx_cpymem(p, node->auth.data, node->auth.len);
        *p++ = CR; *p++ = LF;
    }

    if (call->headers.len) {
        p = ngx_cpymem(p, call->headers.data, call->headers.len);
    }

    if (call->body || call->method == NGX_HTTP_POST
        || call->method == NGX_HTTP_PUT || call->method == NGX_HTTP_PATCH)
    {
        p = ngx_sprintf(p, "Content-Length: %O" CRLF, call->body_len);

        if (call->content_type.len) {
            p = ngx_cpymem(p, "Content-Type: ", sizeof("Content-Type: ") - 1);
            p = ngx_cpymem(p, call->content_type.data,
                           call->content_type.len);
            *p++ = CR; *p++ = LF;
        }
    }

    *p++ = CR; *p++ = LF;
    b->last = p;

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->buf = b;
    u->request_bufs = cl;
    next = &cl->next;

    /*
     * The body buffers may be shared by several calls (a broadcast sends
     * the same bytes to every node): each call gets its own buffer headers
     * over the same memory, since sending moves their positions.
     */

    for (in = call->body; in; in = in->next) {
        b = ngx_alloc_buf(r->pool);
        cl = ngx_alloc_chain_link(r->pool);
        if (b == NULL || cl == NULL) {
            return NGX_ERROR;
        }

        *b = *in->buf;
        b->shadow = NULL;
        b->last_buf = 0;
        b->last_in_chain = 0;
        b->flush = 0;

        cl->buf = b;
        *next = cl;
        next = &cl->next;
    }

    *next = NULL;

    return NGX_OK;
}


static ngx_int_t
ngx_miroir_reinit_request(ngx_http_request_t *r)
{
    ngx_miroir_upstream_ctx_t  *uc;

    uc = ngx_http_get_module_ctx(r, ngx_http_miroir_module);

    ngx_memzero(&uc->status, sizeof(ngx_http_status_t));
    ngx_memzero(&uc->chunked, sizeof(ngx_http_chunked_t));
    uc->content_length = -1;
    uc->is_chunked = 0;
    uc->close = 0;
    uc->complete = 0;
    r->state = 0;
    r->upstream->process_header = ngx_miroir_process_status_line;

    return NGX_OK;
}


static ngx_int_t
ngx_miroir_process_status_line(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_http_upstream_t        *u;
    ngx_miroir_upstream_ctx_t  *uc;

    u = r->upstream;
    uc = ngx_http_get_module_ctx(r, ngx_http_miroir_module);

    rc = ngx_http_parse_status_line(r, &u->buffer, &uc->status);

    if (rc == NGX_AGAIN) {
        return rc;
    }

    if (rc == NGX_ERROR) {
        uc->call->fail = "invalid_status_line";
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "miroir: node %V sent an invalid status line",
                      u->peer.name);
        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }

    uc->call->status = uc->status.code;

    if (uc->status.http_version < NGX_HTTP_VERSION_11) {
        uc->close = 1;
    }

    u->process_header = ngx_miroir_process_header;

    return ngx_miroir_process_header(r);
}


static ngx_int_t
ngx_miroir_process_header(ngx_http_request_t *r)
{
    size_t                      nlen, vlen, need;
    u_char                     *name, *value;
    ngx_int_t                   rc;
    ngx_http_upstream_t        *u;
    ngx_miroir_call_t          *call;
    ngx_miroir_upstream_ctx_t  *uc;

    u = r->upstream;
    uc = ngx_http_get_module_ctx(r, ngx_http_miroir_module);
    call = uc->call;

    for ( ;; ) {

        rc = ngx_http_parse_header_line(r, &u->buffer, 1);

        if (rc == NGX_OK) {
            name = r->header_name_start;
            nlen = r->header_name_end - r->header_name_start;
            value = r->header_start;
            vlen = r->header_end - r->header_start;

            if (nlen == sizeof("Content-Length") - 1
                && ngx_strncasecmp(name, (u_char *) "Content-Length", nlen)
                   == 0)
            {
                uc->content_length = ngx_atoof(value, vlen);

                if (uc->content_length != NGX_ERROR) {
                    /* max_response: the whole body is held, count it now */
                    need = (size_t) uc->content_length;

                    if (ngx_miroir_room(r, uc, &need, need) != NGX_OK) {
                        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
                    }

                    call->fanout->held += need - call->held;
                    call->held = need;
                }

                if (uc->content_length == NGX_ERROR) {
                    call->fail = "invalid_content_length";
                    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                                  "miroir: node %V sent an invalid or too "
                                  "large Content-Length \"%*s\"",
                                  u->peer.name, vlen, value);
                    return NGX_HTTP_UPSTREAM_INVALID_HEADER;
                }

            } else if (nlen == sizeof("Transfer-Encoding") - 1
                       && ngx_strncasecmp(name,
                                          (u_char *) "Transfer-Encoding",
                                          nlen) == 0)
            {
                if (ngx_strlcasestrn(value, value + vlen,
                                     (u_char *) "chunked", 7 - 1)
                    != NULL)
                {
                    uc->is_chunked = 1;
                }

            } else if (nlen == sizeof("Connection") - 1
                       && ngx_strncasecmp(name, (u_char *) "Connection", nlen)
                          == 0)
            {
                if (ngx_strlcasestrn(value, value + vlen,
                                     (u_char *) "close", 5 - 1)
                    != NULL)
                {
                    uc->close = 1;
                }

            } else if (nlen == sizeof("Content-Type") - 1
                       && ngx_strncasecmp(name, (u_char *) "Content-Type",
                                          nlen) == 0)
            {
                call->resp_type.data = ngx_pnalloc(r->pool, vlen);
                if (call->resp_type.data == NULL) {
                    return NGX_ERROR;
                }

                ngx_memcpy(call->resp_type.data, value, vlen);
                call->resp_type.len = vlen;
            }

            continue;
        }

        if (rc == NGX_HTTP_PARSE_HEADER_DONE) {
            break;
        }

        if (rc == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        call->fail = "invalid_header";
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "miroir: node %V sent an invalid header",
                      u->peer.name);

        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }

    if (uc->is_chunked) {
        uc->content_length = -1;
    }

    if (call->method == NGX_HTTP_HEAD || call->status == NGX_HTTP_NO_CONTENT
        || call->status == NGX_HTTP_NOT_MODIFIED
        || (call->status >= 100 && call->status < 200))
    {
        uc->content_length = 0;
        uc->is_chunked = 0;
    }

    if (!uc->is_chunked && uc->content_length == -1) {
        /* the body ends when the node closes the connection */
        uc->close = 1;
    }

    /*
     * The real status is in the call; the upstream module must treat
     * every answer as a success so that it neither retries nor drops
     * the body of an error.
     */

    u->headers_in.status_n = NGX_HTTP_OK;
    /*
     * The in-memory subrequest still goes through the postpone filter,
     * which refuses a Content-Length above subrequest_output_buffer_size
     * ("too big subrequest response"): nothing is output, so say unknown.
     */
    u->headers_in.content_length_n = -1;
    u->keepalive = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_miroir_input_init(void *data)
{
    ngx_http_request_t  *r = data;

    size_t                      preread;
    ngx_http_upstream_t        *u;
    ngx_miroir_upstream_ctx_t  *uc;

    u = r->upstream;
    uc = ngx_http_get_module_ctx(r, ngx_http_miroir_module);

    preread = u->buffer.last - u->buffer.pos;

    if (uc->is_chunked) {
        u->length = -1;
        uc->wpos = u->buffer.pos;
        return NGX_OK;
    }

    if (uc->content_length == 0) {
        u->length = 0;
        uc->complete = 1;
        u->keepalive = !uc->close;
        return NGX_OK;
    }

    if (uc->content_length > 0) {
        u->length = uc->content_length;

        if ((off_t) (u->buffer.end - u->buffer.pos) < uc->content_length) {
            /* read the rest of the body straight into its final place */
            if (ngx_miroir_grow(r, uc, (size_t) uc->content_length
                                       + (preread > (size_t) uc->content_length
                                          ? preread : 0))
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        uc->body = u->buffer.pos;

        return NGX_OK;
    }

    /* until close */

    u->length = -1;

    return NGX_OK;
}


/* Move the body read so far into a buffer of at least need bytes. */
static ngx_int_t
ngx_miroir_grow(ngx_http_request_t *r, ngx_miroir_upstream_ctx_t *uc,
    size_t need)
{
    u_char               *p;
    size_t                used, wused, min;
    ngx_http_upstream_t  *u;
    ngx_miroir_call_t    *call;
    ngx_miroir_fanout_t  *fo;

    u = r->upstream;
    call = uc->call;
    fo = call->fanout;
    used = u->buffer.last - u->buffer.pos;
    wused = uc->wpos ? (size_t) (uc->wpos - u->buffer.pos) : 0;

    /* a Content-Length body must fit whole; else some more room at least */
    min = (!uc->is_chunked && uc->content_length > 0)
          ? (size_t) uc->content_length : used + 1;

    if (ngx_miroir_room(r, uc, &need, min) != NGX_OK) {
        return NGX_ERROR;
    }

    if (need < used) {
        need = used;
    }

    p = ngx_palloc(r->pool, need + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, u->buffer.pos, used);

    /* the previous buffer grown here is no longer needed */
    if (uc->alloc) {
        ngx_pfree(r->pool, uc->alloc);
    }

    uc->alloc = p;
    fo->held = fo->held - call->held + need;
    call->held = need;

    u->buffer.start = p;
    u->buffer.pos = p;
    u->buffer.last = p + used;
    u->buffer.end = p + need;

    if (uc->wpos) {
        uc->wpos = p + wused;
    }

    return NGX_OK;
}


/*
 * max_response: one node's answer, and the answers held by one fan-out
 * together, stay within it.  *need is cut to the room left; NGX_ERROR
 * (call->too_large) when less than min bytes are left.
 */
static ngx_int_t
ngx_miroir_room(ngx_http_request_t *r, ngx_miroir_upstream_ctx_t *uc,
    size_t *need, size_t min)
{
    size_t                limit, others, left;
    ngx_miroir_call_t    *call;
    ngx_miroir_fanout_t  *fo;

    call = uc->call;
    fo = call->fanout;
    limit = fo->cluster->max_response;

    others = fo->held - call->held;
    left = others < limit ? limit - others : 0;

    if (min <= left) {
        if (*need > left) {
            *need = left;
        }

        return NGX_OK;
    }

    call->too_large = 1;
    call->fail = "too_large";

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "miroir: node %V answer is larger than max_response "
                  "(%uz bytes, %uz held by the other answers)",
                  r->upstream->peer.name, limit, others);

    return NGX_ERROR;
}


static ngx_int_t
ngx_miroir_input(void *data, ssize_t bytes)
{
    ngx_http_request_t  *r = data;

    size_t                      n, size, used;
    ngx_int_t                   rc;
    ngx_buf_t                   in, *b;
    ngx_http_upstream_t        *u;
    ngx_miroir_upstream_ctx_t  *uc;

    u = r->upstream;
    uc = ngx_http_get_module_ctx(r, ngx_http_miroir_module);
    b = &u->buffer;

    if (!uc->is_chunked) {

        if (u->length == -1) {
            /* until close: keep some room to read into */
            b->last += bytes;

            used = b->last - b->pos;
            if (ngx_miroir_room(r, uc, &used, used) != NGX_OK) {
                return NGX_ERROR;
            }

            if (b->end - b->last < 4096) {
                size = (b->end - b->pos) * 2 + 4096;
                return ngx_miroir_grow(r, uc, size);
            }

            return NGX_OK;
        }

        if (bytes > u->length) {
            uc->call->fail = "extra_data";
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "miroir: node %V sent more data than "
                          "Content-Length", u->peer.name);
            bytes = (ssize_t) u->length;
            uc->close = 1;
        }

        b->last += bytes;
        u->length -= bytes;

        /*
         * The non-buffered upstream loop rewinds the buffer to b->start
         * once nothing is pending downstream: keep start past the body
         * read so far (uc->body marks its beginning).
         */

        if (uc->body) {
            b->start = b->last;
            b->pos = b->last;
        }

        if (u->length == 0) {
            uc->complete = 1;
            u->keepalive = !uc->close;
        }

        return NGX_OK;
    }

    /* chunked: decode in place, data compacted at uc->wpos */

    ngx_memzero(&in, sizeof(ngx_buf_t));
    in.pos = b->last;
    in.last = b->last + bytes;

    for ( ;; ) {
        rc = ngx_http_parse_chunked(r, &in, &uc->chunked);

        if (rc == NGX_OK) {
            n = ngx_min((off_t) (in.last - in.pos), uc->chunked.size);

            ngx_memmove(uc->wpos, in.pos, n);
            uc->wpos += n;
            in.pos += n;
            uc->chunked.size -= n;

            continue;
        }

        if (rc == NGX_DONE) {
            uc->complete = 1;
            u->length = 0;
            u->keepalive = !uc->close && in.pos == in.last;
            break;
        }

        if (rc == NGX_AGAIN) {
            break;
        }

        uc->call->fail = "invalid_chunked";
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "miroir: node %V sent invalid chunked body",
                      u->peer.name);

        return NGX_ERROR;
    }

    b->last = uc->wpos;

    used = b->last - b->pos;
    if (ngx_miroir_room(r, uc, &used, used) != NGX_OK) {
        return NGX_ERROR;
    }

    if (!uc->complete && b->end - b->last < 4096) {
        size = (b->end - b->pos) * 2 + 4096;
        return ngx_miroir_grow(r, uc, size);
    }

    return NGX_OK;
}


static void
ngx_miroir_abort_request(ngx_http_request_t *r)
{
}


static void
ngx_miroir_finalize_request(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_http_upstream_t        *u;
    ngx_miroir_call_t          *call;
    ngx_miroir_upstream_ctx_t  *uc;

    u = r->upstream;
    uc = ngx_http_get_module_ctx(r, ngx_http_miroir_module);
    call = uc->call;

    if (uc->is_chunked == 0 && uc->content_length == -1 && call->status
        && rc == 0 && u->peer.connection && u->peer.connection->read->eof)
    {
        /* a body delimited by the end of the connection is complete */
        uc->complete = 1;
    }

    call->ok = (call->status != 0 && uc->complete);
    call->truncated = (call->status != 0 && !uc->complete);
    call->timed_out = (rc == NGX_HTTP_GATEWAY_TIME_OUT);

    if (!call->ok && call->fail == NULL
        && rc != NGX_HTTP_CLIENT_CLOSED_REQUEST)
    {
        call->fail = ngx_miroir_upstream_fail(u, call, rc);
    }

    if (call->too_large) {
        /* nothing of it is kept: the memory is released now */
        call->ok = 0;

        if (uc->alloc) {
            ngx_pfree(r->pool, uc->alloc);
            uc->alloc = NULL;
        }

        call->fanout->held -= call->held;
        call->held = 0;

        return;
    }

    if (call->status) {
        call->response.data = uc->body ? uc->body : u->buffer.pos;
        call->response.len = u->buffer.last - call->response.data;
    }
}


/* Why an exchange without a complete answer failed (event=node_error). */
static const char *
ngx_miroir_upstream_fail(ngx_http_upstream_t *u, ngx_miroir_call_t *call,
    ngx_int_t rc)
{
    ngx_uint_t         connected;
    ngx_connection_t  *c;

    if (u->state == NULL) {
        return NULL;                /* never tried: not the node's fault */
    }

    connected = (u->state->connect_time != (ngx_msec_t) -1);

    if (rc == NGX_HTTP_GATEWAY_TIME_OUT) {
        return connected ? "timeout" : "connect_timeout";
    }

    if (!connected) {
        return "connect_failed";
    }

    if (call->status) {
        return "truncated";
    }

    c = u->peer.connection;

    if (c && (c->read->error || c->write->error)) {
        return "reset";
    }

    return "closed";
}
