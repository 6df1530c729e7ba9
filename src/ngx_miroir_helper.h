/*
 * ngx_miroir_helper.h -- the helper process's HTTP client
 * (ngx_miroir_helper_http.c).
 */

#ifndef NGX_MIROIR_HELPER_H
#define NGX_MIROIR_HELPER_H

#include "ngx_miroir.h"


typedef struct ngx_miroir_hc_s  ngx_miroir_hc_t;

typedef void (*ngx_miroir_hc_done_pt)(ngx_miroir_hc_t *hc);

struct ngx_miroir_hc_s {
    ngx_pool_t                     *pool;      /* destroyed after handler */
    ngx_log_t                      *log;
    ngx_peer_connection_t           pc;
    ngx_str_t                       name;
    ngx_buf_t                      *out;
    ngx_buf_t                      *in;
    ngx_event_t                     timer;

    ngx_miroir_hc_done_pt           handler;
    void                           *data;

    /* results, valid in the handler */
    ngx_int_t                       status;    /* 0 when !ok */
    ngx_str_t                       body;
    const char                     *error;     /* why !ok */
    unsigned                        ok:1;
};


/*
 * Send `method uri` (with the node key as a Bearer token when key->len,
 * and body as JSON when not NULL) to the literal IP:port addr.  handler
 * runs exactly once (possibly before this returns) unless NGX_ERROR is
 * returned, and must copy what it keeps: the pool goes after it.
 */
ngx_int_t ngx_miroir_hc_start(ngx_str_t *addr, const char *method,
    ngx_str_t *uri, ngx_str_t *key, ngx_str_t *body, ngx_msec_t timeout,
    ngx_miroir_hc_done_pt handler, void *data, ngx_log_t *log);


/* One step of a cluster's migration (ngx_miroir_rebalance_mig.c), run by
 * the helper's manager callback every tick. */
void ngx_miroir_helper_step(ngx_miroir_cluster_conf_t *cl, ngx_uint_t first);

/* down_after: probe the nodes, evict the ones down too long, take them
 * back when they answer again (ngx_miroir_helper_down.c); every tick. */
void ngx_miroir_helper_down(ngx_miroir_cluster_conf_t *cl);

/* Shards whose move a change abandoned are read by name until every copy
 * carries its owners' tags again: check them (ngx_miroir_helper_retag.c);
 * every tick. */
void ngx_miroir_helper_retag(ngx_miroir_cluster_conf_t *cl);


#endif /* NGX_MIROIR_HELPER_H */
