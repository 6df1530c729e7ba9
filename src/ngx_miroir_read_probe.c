/*
 * ngx_miroir_read_probe.c -- bring nodes marked down back.
 *
 * Passive health (ngx_miroir_node_report) marks a node down after
 * consecutive failures, and the read path then stops asking it, so nothing
 * would ever see it come back.  One worker (ngx_worker 0) runs a timer
 * that, every second, sends `GET /health` on a fresh connection to each
 * node marked down and reports success when it answers 200: the node is up
 * again for every worker (the flags live in the shared zone).
 *
 * The timer is armed by ngx_miroir_read_init_process() (to be called from
 * the module's init_process) or, failing that, on the first read request
 * the worker serves.  At most one probe per node is in flight.
 */

#include "ngx_miroir_read.h"


#define NGX_MIROIR_PROBE_INTERVAL  1000
#define NGX_MIROIR_PROBE_CLUSTERS  16


typedef struct {
    ngx_peer_connection_t           pc;
    ngx_pool_t                     *pool;
    ngx_miroir_cluster_conf_t      *cl;
    ngx_uint_t                      node;
    ngx_str_t                       request;
    size_t                          sent;
    u_char                          buf[16];
    size_t                          got;
} ngx_miroir_probe_t;


static void ngx_miroir_probe_tick(ngx_event_t *ev);
static void ngx_miroir_probe_start(ngx_miroir_cluster_conf_t *cl,
    ngx_uint_t node, ngx_log_t *log);
static void ngx_miroir_probe_write(ngx_event_t *wev);
static void ngx_miroir_probe_read(ngx_event_t *rev);
static void ngx_miroir_probe_finish(ngx_miroir_probe_t *p, ngx_uint_t ok);


static ngx_event_t  ngx_miroir_probe_timer;
static ngx_connection_t  ngx_miroir_probe_dummy;   /* for the timer's
                                                       debug log fd */
static ngx_uint_t   ngx_miroir_probe_armed;
static uint8_t      ngx_miroir_probe_busy[NGX_MIROIR_PROBE_CLUSTERS]
                                         [MIROIR_MAX_NODES];


ngx_int_t
ngx_miroir_read_init_process(ngx_cycle_t *cycle)
{
    ngx_miroir_read_probe_arm(cycle);

    return NGX_OK;
}


void
ngx_miroir_read_probe_arm(ngx_cycle_t *cycle)
{
    if (ngx_miroir_probe_armed) {
        return;
    }

    if (ngx_process == NGX_PROCESS_WORKER && ngx_worker != 0) {
        return;
    }

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return;
    }

    ngx_miroir_probe_armed = 1;

    ngx_miroir_probe_timer.handler = ngx_miroir_probe_tick;
    ngx_miroir_probe_timer.log = cycle->log;
    ngx_miroir_probe_dummy.fd = (ngx_socket_t) -1;
    ngx_miroir_probe_timer.data = &ngx_miroir_probe_dummy;
    ngx_miroir_probe_timer.cancelable = 1;

    ngx_add_timer(&ngx_miroir_probe_timer, NGX_MIROIR_PROBE_INTERVAL);
}


static void
ngx_miroir_probe_tick(ngx_event_t *ev)
{
    ngx_uint_t                  c, i;
    ngx_miroir_main_conf_t     *mmcf;
    ngx_miroir_cluster_conf_t  *cl;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    mmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_miroir_module);

    if (mmcf) {
        cl = mmcf->clusters.elts;

        for (c = 0; c < mmcf->clusters.nelts
                    && c < NGX_MIROIR_PROBE_CLUSTERS; c++)
        {
            if (cl[c].shm == NULL) {
                continue;
            }

            for (i = 0; i < cl[c].nodes.nelts && i < cl[c].shm->nnodes; i++)
            {
                if (cl[c].shm->nodes[i].down
                    && !ngx_miroir_probe_busy[c][i])
                {
                    ngx_miroir_probe_start(&cl[c], i, ev->log);
                }
            }
        }
    }

    ngx_add_timer(ev, NGX_MIROIR_PROBE_INTERVAL);
}


static void
ngx_miroir_probe_start(ngx_miroir_cluster_conf_t *cl, ngx_uint_t node,
    ngx_log_t *log)
{
    u_char                  *q;
    ngx_int_t                rc;
    ngx_pool_t              *pool;
    ngx_connection_t        *c;
    ngx_miroir_probe_t      *p;
    ngx_miroir_node_conf_t  *nc;

    nc = (ngx_miroir_node_conf_t *) cl->nodes.elts + node;

    pool = ngx_create_pool(1024, log);
    if (pool == NULL) {
        return;
    }

    p = ngx_pcalloc(pool, sizeof(ngx_miroir_probe_t));
    q = ngx_pnalloc(pool, sizeof("GET /health HTTP/1.1" CRLF "Host: " CRLF
                                 "Connection: close" CRLF CRLF)
                          + nc->host.len);
    if (p == NULL || q == NULL) {
        ngx_destroy_pool(pool);
        return;
    }

    p->pool = pool;
    p->cl = cl;
    p->node = node;
    p->request.data = q;
    p->request.len = ngx_sprintf(q, "GET /health HTTP/1.1" CRLF "Host: %V"
                                    CRLF "Connection: close" CRLF CRLF,
                                 &nc->host)
                     - q;

    p->pc.sockaddr = nc->addr.sockaddr;
    p->pc.socklen = nc->addr.socklen;
    p->pc.name = &nc->addr.name;
    p->pc.get = ngx_event_get_peer;
    p->pc.log = log;
    p->pc.log_error = NGX_ERROR_INFO;

    rc = ngx_event_connect_peer(&p->pc);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        if (p->pc.connection) {
            ngx_close_connection(p->pc.connection);
        }

        ngx_destroy_pool(pool);
        return;
    }

    ngx_miroir_probe_busy[cl->index % NGX_MIROIR_PROBE_CLUSTERS][node] = 1;

    c = p->pc.connection;
    c->data = p;
    c->pool = pool;
    c->read->handler = ngx_miroir_probe_read;
    c->write->handler = ngx_miroir_probe_write;

    ngx_add_timer(c->write, cl->connect_timeout);
    ngx_add_timer(c->read, cl->node_timeout + cl->connect_timeout);

    if (rc == NGX_OK) {
        ngx_miroir_probe_write(c->write);
    }
}


static void
ngx_miroir_probe_write(ngx_event_t *wev)
{
    ssize_t              n;
    ngx_connection_t    *c;
    ngx_miroir_probe_t  *p;

    c = wev->data;
    p = c->data;

    if (wev->timedout) {
        ngx_miroir_probe_finish(p, 0);
        return;
    }

    while (p->sent < p->request.len) {
        n = c->send(c, p->request.data + p->sent, p->request.len - p->sent);

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(wev, 0) != NGX_OK) {
                ngx_miroir_probe_finish(p, 0);
            }

            return;
        }

        if (n == NGX_ERROR || n == 0) {
            ngx_miroir_probe_finish(p, 0);
            return;
        }

        p->sent += n;
    }

    if (wev->timer_set) {
        ngx_del_timer(wev);
    }

    wev->handler = ngx_miroir_probe_write;

    if (c->read->ready) {
        ngx_miroir_probe_read(c->read);
    }
}


static void
ngx_miroir_probe_read(ngx_event_t *rev)
{
    ssize_t              n;
    ngx_connection_t    *c;
    ngx_miroir_probe_t  *p;

    c = rev->data;
    p = c->data;

    if (rev->timedout) {
        ngx_miroir_probe_finish(p, 0);
        return;
    }

    while (p->got < 12) {
        n = c->recv(c, p->buf + p->got, sizeof(p->buf) - p->got);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(rev, 0) != NGX_OK) {
                ngx_miroir_probe_finish(p, 0);
            }

            return;
        }

        if (n == NGX_ERROR || n == 0) {
            ngx_miroir_probe_finish(p, 0);
            return;
        }

        p->got += n;
    }

    /* "HTTP/1.1 200" */

    ngx_miroir_probe_finish(p, ngx_strncmp(p->buf + 8, " 200", 4) == 0
                               && ngx_strncmp(p->buf, "HTTP/1.", 7) == 0);
}


static void
ngx_miroir_probe_finish(ngx_miroir_probe_t *p, ngx_uint_t ok)
{
    ngx_miroir_probe_busy[p->cl->index % NGX_MIROIR_PROBE_CLUSTERS]
                         [p->node] = 0;

    if (ok) {
        /* marks the node up again in the shared zone, and logs it */
        ngx_miroir_node_report(p->cl, p->node, 1);
    }

    ngx_close_connection(p->pc.connection);
    ngx_destroy_pool(p->pool);
}
