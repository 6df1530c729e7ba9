/*
 * ngx_miroir_helper_http.c -- a small non-blocking HTTP/1.1 client for the
 * helper process, where there is no client request to hang subrequests
 * on.  One request per connection ("Connection: close"), a literal IP:port
 * peer (no resolver), one overall timer per request, the whole answer kept
 * in memory (capped), chunked bodies decoded.  The done handler runs
 * exactly once, then the request's pool is destroyed.
 */

#include "ngx_miroir.h"
#include "ngx_miroir_helper.h"


#define NGX_MIROIR_HC_MAX_RESPONSE  (64 * 1024 * 1024)


static void ngx_miroir_hc_write(ngx_event_t *wev);
static void ngx_miroir_hc_read(ngx_event_t *rev);
static void ngx_miroir_hc_timeout(ngx_event_t *ev);
static void ngx_miroir_hc_finish(ngx_miroir_hc_t *hc, ngx_uint_t ok,
    const char *why);
static ngx_int_t ngx_miroir_hc_parse(ngx_miroir_hc_t *hc);


ngx_int_t
ngx_miroir_hc_start(ngx_str_t *addr, const char *method, ngx_str_t *uri,
    ngx_str_t *key, ngx_str_t *body, ngx_msec_t timeout,
    ngx_miroir_hc_done_pt handler, void *data, ngx_log_t *log)
{
    size_t              len;
    ngx_int_t           rc;
    ngx_addr_t          a;
    ngx_pool_t         *pool;
    ngx_miroir_hc_t    *hc;
    ngx_connection_t   *c;

    pool = ngx_create_pool(4096, log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    hc = ngx_pcalloc(pool, sizeof(ngx_miroir_hc_t));
    if (hc == NULL) {
        goto failed;
    }

    hc->pool = pool;
    hc->log = log;
    hc->handler = handler;
    hc->data = data;

    if (ngx_parse_addr_port(pool, &a, addr->data, addr->len) != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "miroir helper: bad node address \"%V\"", addr);
        goto failed;
    }

    hc->name = *addr;

    len = ngx_strlen(method) + uri->len + addr->len + key->len
          + NGX_OFF_T_LEN + sizeof(" HTTP/1.1\r\nHost: \r\n"
                                   "Authorization: Bearer \r\n"
                                   "Content-Type: application/json\r\n"
                                   "Content-Length: \r\n"
                                   "Connection: close\r\n\r\n")
          + (body ? body->len : 0);

    hc->out = ngx_create_temp_buf(pool, len);
    if (hc->out == NULL) {
        goto failed;
    }

    hc->out->last = ngx_sprintf(hc->out->last, "%s %V HTTP/1.1\r\n"
                                "Host: %V\r\nConnection: close\r\n",
                                method, uri, addr);

    if (key->len) {
        hc->out->last = ngx_sprintf(hc->out->last,
                                    "Authorization: Bearer %V\r\n", key);
    }

    if (body) {
        hc->out->last = ngx_sprintf(hc->out->last,
                                    "Content-Type: application/json\r\n"
                                    "Content-Length: %uz\r\n\r\n",
                                    body->len);
        hc->out->last = ngx_cpymem(hc->out->last, body->data, body->len);

    } else {
        hc->out->last = ngx_cpymem(hc->out->last, "\r\n", 2);
    }

    hc->in = ngx_create_temp_buf(pool, 16384);
    if (hc->in == NULL) {
        goto failed;
    }

    hc->pc.sockaddr = a.sockaddr;
    hc->pc.socklen = a.socklen;
    hc->pc.name = &hc->name;
    hc->pc.get = ngx_event_get_peer;
    hc->pc.log = log;
    /* a node that refuses is reported in the rebalance status (warn) */
    hc->pc.log_error = NGX_ERROR_INFO;

    rc = ngx_event_connect_peer(&hc->pc);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        if (hc->pc.connection) {
            ngx_close_connection(hc->pc.connection);
        }

        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "miroir helper: cannot connect to %V", addr);
        goto failed;
    }

    c = hc->pc.connection;
    c->data = hc;
    c->read->handler = ngx_miroir_hc_read;
    c->write->handler = ngx_miroir_hc_write;
    c->pool = pool;

    hc->timer.handler = ngx_miroir_hc_timeout;
    hc->timer.data = hc;
    hc->timer.log = log;
    ngx_add_timer(&hc->timer, timeout);

    if (rc == NGX_OK) {
        ngx_miroir_hc_write(c->write);
    }

    return NGX_OK;

failed:

    ngx_destroy_pool(pool);
    return NGX_ERROR;
}


static void
ngx_miroir_hc_write(ngx_event_t *wev)
{
    ssize_t            n;
    ngx_connection_t  *c;
    ngx_miroir_hc_t   *hc;

    c = wev->data;
    hc = c->data;

    while (hc->out->pos < hc->out->last) {
        n = c->send(c, hc->out->pos, hc->out->last - hc->out->pos);

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(wev, 0) != NGX_OK) {
                ngx_miroir_hc_finish(hc, 0, "write event");
            }

            return;
        }

        if (n == NGX_ERROR || n == 0) {
            ngx_miroir_hc_finish(hc, 0, "send failed");
            return;
        }

        hc->out->pos += n;
    }

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_miroir_hc_finish(hc, 0, "read event");
    }
}


static void
ngx_miroir_hc_read(ngx_event_t *rev)
{
    size_t             size;
    ssize_t            n;
    ngx_buf_t         *b;
    ngx_connection_t  *c;
    ngx_miroir_hc_t   *hc;

    c = rev->data;
    hc = c->data;

    for ( ;; ) {
        if (hc->in->last == hc->in->end) {
            size = 2 * (hc->in->end - hc->in->start);

            if (size > NGX_MIROIR_HC_MAX_RESPONSE) {
                ngx_miroir_hc_finish(hc, 0, "answer too large");
                return;
            }

            b = ngx_create_temp_buf(hc->pool, size);
            if (b == NULL) {
                ngx_miroir_hc_finish(hc, 0, "out of memory");
                return;
            }

            b->last = ngx_cpymem(b->last, hc->in->pos,
                                 hc->in->last - hc->in->pos);
            hc->in = b;
        }

        n = c->recv(c, hc->in->last, hc->in->end - hc->in->last);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(rev, 0) != NGX_OK) {
                ngx_miroir_hc_finish(hc, 0, "read event");
            }

            return;
        }

        if (n == NGX_ERROR) {
            ngx_miroir_hc_finish(hc, 0, "recv failed");
            return;
        }

        if (n == 0) {
            /* the node closed: the answer is complete (Connection: close) */
            if (ngx_miroir_hc_parse(hc) != NGX_OK) {
                ngx_miroir_hc_finish(hc, 0, "bad HTTP answer");
                return;
            }

            ngx_miroir_hc_finish(hc, 1, NULL);
            return;
        }

        hc->in->last += n;
    }
}


static void
ngx_miroir_hc_timeout(ngx_event_t *ev)
{
    ngx_miroir_hc_finish(ev->data, 0, "timed out");
}


/* Decode a chunked body in place. */
static ngx_int_t
ngx_miroir_hc_dechunk(ngx_str_t *body)
{
    u_char  *p, *last, *out;
    size_t   size;

    p = body->data;
    last = body->data + body->len;
    out = body->data;

    for ( ;; ) {
        size = 0;

        while (p < last && *p != '\r' && *p != ';') {
            if (*p >= '0' && *p <= '9') {
                size = size * 16 + (*p - '0');

            } else if ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'f') {
                size = size * 16 + ((*p | 0x20) - 'a' + 10);

            } else {
                return NGX_ERROR;
            }

            p++;
        }

        while (p < last && *p != '\n') {
            p++;
        }

        if (p == last) {
            return NGX_ERROR;
        }

        p++;

        if (size == 0) {
            break;
        }

        if ((size_t) (last - p) < size) {
            return NGX_ERROR;
        }

        ngx_memmove(out, p, size);
        out += size;
        p += size;

        if (last - p >= 2) {
            p += 2;
        }
    }

    body->len = out - body->data;

    return NGX_OK;
}


static ngx_int_t
ngx_miroir_hc_parse(ngx_miroir_hc_t *hc)
{
    u_char  *p, *h, *last;
    size_t   len;

    p = hc->in->pos;
    last = hc->in->last;
    len = last - p;

    if (len < 12 || ngx_strncmp(p, "HTTP/1.", 7) != 0) {
        return NGX_ERROR;
    }

    hc->status = ngx_atoi(p + 9, 3);
    if (hc->status == NGX_ERROR) {
        return NGX_ERROR;
    }

    h = ngx_strlcasestrn(p, last, (u_char *) "\r\n\r\n", 4 - 1);
    if (h == NULL) {
        return NGX_ERROR;
    }

    hc->body.data = h + 4;
    hc->body.len = last - (h + 4);

    if (ngx_strlcasestrn(p, h, (u_char *) "transfer-encoding: chunked",
                         sizeof("transfer-encoding: chunked") - 2)
        != NULL)
    {
        return ngx_miroir_hc_dechunk(&hc->body);
    }

    return NGX_OK;
}


static void
ngx_miroir_hc_finish(ngx_miroir_hc_t *hc, ngx_uint_t ok, const char *why)
{
    if (hc->timer.timer_set) {
        ngx_del_timer(&hc->timer);
    }

    if (hc->pc.connection) {
        ngx_close_connection(hc->pc.connection);
        hc->pc.connection = NULL;
    }

    hc->ok = ok;
    hc->error = why;

    if (!ok) {
        hc->status = 0;
        hc->body.len = 0;
    }

    hc->handler(hc);

    ngx_destroy_pool(hc->pool);
}
