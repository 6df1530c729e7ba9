/*
 * ngx_miroir.h -- types shared by the nginx-facing files of Miroir.
 */

#ifndef NGX_MIROIR_H
#define NGX_MIROIR_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <cjson/cJSON.h>

#include "miroir_common.h"
#include "miroir_error.h"
#include "miroir_router.h"
#include "ngx_miroir_log.h"


#define NGX_MIROIR_SHM_MAGIC     0x4d49524fU    /* "MIRO" */
#define NGX_MIROIR_SHM_LAYOUT    5
#define NGX_MIROIR_ADDR_LEN      128
#define NGX_MIROIR_NAME_LEN      64


typedef enum {
    NGX_MIROIR_NODE_ACTIVE = 0,
    NGX_MIROIR_NODE_JOINING,
    NGX_MIROIR_NODE_DRAINING,
    NGX_MIROIR_NODE_DOWN,
    NGX_MIROIR_NODE_REMOVED
} ngx_miroir_node_state_e;


/* A node as declared in nginx.conf ("node ID ADDR [weight=W] [key=K]"). */
typedef struct {
    ngx_str_t                       id;
    ngx_str_t                       addr_text;
    ngx_addr_t                      addr;
    ngx_uint_t                      weight;
    ngx_str_t                       key;        /* never exposed */
    ngx_str_t                       auth;       /* "Bearer <key>" or empty */
    ngx_str_t                       host;       /* Host header value */
    ngx_http_upstream_conf_t       *upstream;   /* per-node upstream conf */
    ngx_queue_t                    *cache;      /* idle keepalive conns */
    ngx_queue_t                    *free;       /* free cache slots */
} ngx_miroir_node_conf_t;


/* Route classes and event counters of the metrics (ngx_miroir_metrics.c). */
typedef enum {
    NGX_MIROIR_ROUTE_OTHER = 0,
    NGX_MIROIR_ROUTE_HEALTH,
    NGX_MIROIR_ROUTE_VERSION,
    NGX_MIROIR_ROUTE_SEARCH,
    NGX_MIROIR_ROUTE_MULTI_SEARCH,
    NGX_MIROIR_ROUTE_FACET_SEARCH,
    NGX_MIROIR_ROUTE_DOCUMENTS,
    NGX_MIROIR_ROUTE_INDEXES,
    NGX_MIROIR_ROUTE_SETTINGS,
    NGX_MIROIR_ROUTE_TASKS,
    NGX_MIROIR_ROUTE_STATS,
    NGX_MIROIR_ROUTE_KEYS,
    NGX_MIROIR_ROUTE_ADMIN,
    NGX_MIROIR_ROUTE_N
} ngx_miroir_route_class_e;

typedef enum {
    NGX_MIROIR_COUNTER_QUORUM_FAILURES = 0,
    NGX_MIROIR_COUNTER_HEDGES_SENT,
    NGX_MIROIR_COUNTER_HEDGES_WON,
    NGX_MIROIR_COUNTER_PARTIAL,
    NGX_MIROIR_COUNTER_FAILOVERS,
    NGX_MIROIR_COUNTER_N
} ngx_miroir_counter_e;

typedef struct ngx_miroir_metrics_s  ngx_miroir_metrics_t;


/* The per-cluster part of the shared zone. */
typedef struct {
    u_char                          id[MIROIR_NODE_ID_LEN];
    u_char                          addr[NGX_MIROIR_ADDR_LEN];
    uint16_t                        id_len;
    uint16_t                        addr_len;
    uint32_t                        weight;
    uint32_t                        state;      /* ngx_miroir_node_state_e */
    ngx_atomic_t                    fails;      /* consecutive failures */
    ngx_atomic_t                    down;       /* passive health: 1 = down */
} ngx_miroir_shm_node_t;


/*
 * Writes per shard bucket (shard s counts in s % NGX_MIROIR_WRITE_BUCKETS):
 * the write path bumps `started` before it sends a write that may touch
 * the shard and `done` once every node answered (ngx_miroir_write.c); the
 * helper waits for the writes in flight and detects a write during a copy
 * (ngx_miroir_rebalance_mig.c).  Two shards of one bucket only cost an
 * extra wait or copy pass.
 */
#define NGX_MIROIR_WRITE_BUCKETS    1024

typedef struct {
    ngx_atomic_t                    started;
    ngx_atomic_t                    done;
} ngx_miroir_write_count_t;


typedef struct {
    u_char                          name[NGX_MIROIR_NAME_LEN];
    uint16_t                        name_len;
    uint64_t                        version;
    uint64_t                        config_hash;
    uint32_t                        shards;
    uint32_t                        replication;
    uint32_t                        nnodes;

    /* bumped by every forwarded index or settings change: readers that
       cache an index's settings refetch them when it moves */
    ngx_atomic_t                    settings_epoch;

    ngx_miroir_metrics_t           *metrics;        /* slab, never freed */

    ngx_miroir_shm_node_t           nodes[MIROIR_MAX_NODES];

    /* the write path's task log and stale marks (ngx_miroir_tasks.c) */
    void                           *tasks;

    /* runtime topology, stored shard tables, migration state
       (ngx_miroir_rebalance_shm_t, ngx_miroir_rebalance.c) */
    void                           *rebalance;

    /* the cluster's API keys (ngx_miroir_keys_shm_t, ngx_miroir_keys.c) */
    void                           *keys;

    /* NGX_MIROIR_WRITE_BUCKETS counters, slab, never freed */
    ngx_miroir_write_count_t       *writes;
} ngx_miroir_shm_cluster_t;


typedef struct {
    uint32_t                        magic;
    uint32_t                        layout;
    uint32_t                        nclusters;
    ngx_miroir_shm_cluster_t       *clusters[1];    /* nclusters entries */
} ngx_miroir_shm_t;


#define NGX_MIROIR_QUORUM_ALL       0
#define NGX_MIROIR_QUORUM_MAJORITY  1
#define NGX_MIROIR_QUORUM_ONE       2


typedef struct ngx_miroir_cluster_conf_s  ngx_miroir_cluster_conf_t;

struct ngx_miroir_cluster_conf_s {
    ngx_str_t                       name;
    ngx_uint_t                      index;          /* in main conf array */
    ngx_uint_t                      shards;
    ngx_uint_t                      replication;
    ngx_str_t                       master_key;
    ngx_array_t                     nodes;          /* ngx_miroir_node_conf_t */
    ngx_msec_t                      connect_timeout;
    ngx_msec_t                      node_timeout;
    ngx_msec_t                      deadline;
    ngx_msec_t                      hedge_after;    /* 0: no hedging */
    ngx_uint_t                      keepalive;
    ngx_uint_t                      write_quorum;   /* NGX_MIROIR_QUORUM_* */
    ngx_flag_t                      allow_partial;
    ngx_flag_t                      stable_ties;
    size_t                          max_payload;
    size_t                          max_response;   /* one node answer, and
                                                       one fan-out's answers */
    uint64_t                        config_hash;
    ngx_miroir_shm_cluster_t       *shm;            /* set by init_zone */

    /* per worker: the shard table of topology version router_version */
    miroir_router_t                *router;
    uint64_t                        router_version;

    /* rebalancing (ngx_miroir_rebalance.c, ngx_miroir_helper.c) */
    ngx_uint_t                      rebalance_concurrency;  /* shards */
    ngx_uint_t                      rebalance_rate;         /* docs/s, 0 */
    ngx_msec_t                      down_after;
};


typedef struct {
    ngx_array_t                     clusters;   /* ngx_miroir_cluster_conf_t */
    ngx_shm_zone_t                 *zone;
    ngx_str_t                       zone_name;
    ssize_t                         zone_size;
    ngx_str_t                       state_path;
    ngx_miroir_shm_t               *shm;
    ngx_slab_pool_t                *shpool;
} ngx_miroir_main_conf_t;


typedef enum {
    NGX_MIROIR_ROLE_NONE = 0,
    NGX_MIROIR_ROLE_API,
    NGX_MIROIR_ROLE_ADMIN
} ngx_miroir_role_e;


typedef struct {
    ngx_miroir_cluster_conf_t      *cluster;
    ngx_str_t                       cluster_name;
    ngx_uint_t                      role;
} ngx_miroir_loc_conf_t;


/* ------------------------------------------------------------ fan-out */

typedef struct ngx_miroir_fanout_s  ngx_miroir_fanout_t;
typedef struct ngx_miroir_call_s    ngx_miroir_call_t;

typedef void (*ngx_miroir_fanout_done_pt)(ngx_http_request_t *r,
    ngx_miroir_fanout_t *fo);

/* One request to one node, run as a background subrequest of r. */
struct ngx_miroir_call_s {
    ngx_miroir_fanout_t            *fanout;
    ngx_uint_t                      node;        /* index in cluster nodes */
    ngx_uint_t                      method;      /* NGX_HTTP_GET, ... */
    ngx_str_t                       method_name;
    ngx_str_t                       uri;         /* path, escaped */
    ngx_str_t                       args;        /* without '?' */
    ngx_str_t                       content_type;
    ngx_chain_t                    *body;        /* request body or NULL */
    off_t                           body_len;
    ngx_str_t                       headers;     /* extra "Name: v" CRLF
                                                    lines, or empty */

    /* results */
    ngx_int_t                       status;      /* node HTTP status, 0 */
    ngx_str_t                       response;    /* body bytes */
    ngx_str_t                       resp_type;   /* Content-Type */
    ngx_msec_t                      elapsed;
    unsigned                        done:1;
    unsigned                        ok:1;        /* complete HTTP answer */
    unsigned                        truncated:1;
    unsigned                        timed_out:1;
    unsigned                        too_large:1; /* > max_response: aborted */
    size_t                          held;        /* bytes held for the answer
                                                    (counted in fanout) */
    const char                     *fail;        /* why it failed, for the
                                                    log (node_error), NULL */
};


struct ngx_miroir_fanout_s {
    ngx_http_request_t             *request;
    ngx_miroir_cluster_conf_t      *cluster;
    ngx_array_t                     calls;       /* ngx_miroir_call_t */
    ngx_uint_t                      pending;
    ngx_miroir_fanout_done_pt       done_handler;
    void                           *data;
    ngx_event_t                     deadline;
    ngx_msec_t                      start;
    unsigned                        finished:1;  /* done_handler called */
    unsigned                        expired:1;
    unsigned                        early:1;     /* ready() said enough */
    size_t                          held;        /* answer buffers of the
                                                    calls: max_response */

    /* optional: called after each call ends while others are pending;
       non-zero ends the fan-out early (the rest finish unseen), e.g. when
       hedged requests already covered a slow node */
    ngx_uint_t                    (*ready)(ngx_miroir_fanout_t *fo);
};


typedef void (*ngx_miroir_body_pt)(ngx_http_request_t *r, ngx_str_t *body);

/* Per-request context of the module. */
typedef struct {
    ngx_miroir_call_t              *call;        /* set on node subrequests */
    ngx_miroir_fanout_t            *fanout;      /* set on the parent */
    ngx_miroir_body_pt              body_handler;
    void                           *data;        /* route handler state */
} ngx_miroir_ctx_t;


extern ngx_module_t  ngx_http_miroir_module;


/* ngx_miroir_zone.c */
char *ngx_miroir_zone_add(ngx_conf_t *cf, ngx_miroir_main_conf_t *mmcf);
ngx_int_t ngx_miroir_topology_snapshot(ngx_miroir_cluster_conf_t *cl,
    ngx_miroir_shm_cluster_t *out);
uint64_t ngx_miroir_cluster_hash(ngx_miroir_cluster_conf_t *cl);

/* ngx_miroir_route.c */
const miroir_route_table_t *ngx_miroir_route_table(
    ngx_miroir_cluster_conf_t *cl, ngx_log_t *log);
ngx_uint_t ngx_miroir_down_nodes(ngx_miroir_cluster_conf_t *cl,
    uint8_t *down);
ngx_int_t ngx_miroir_missing_shards(ngx_miroir_cluster_conf_t *cl,
    const uint8_t *down, ngx_log_t *log);

/* ngx_miroir_upstream.c */
ngx_int_t ngx_miroir_upstream_conf(ngx_conf_t *cf,
    ngx_miroir_cluster_conf_t *cl, ngx_miroir_node_conf_t *node);
ngx_int_t ngx_miroir_upstream_start(ngx_http_request_t *r,
    ngx_miroir_call_t *call);

/* ngx_miroir_fanout.c */
ngx_miroir_fanout_t *ngx_miroir_fanout_create(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_uint_t n);
ngx_miroir_call_t *ngx_miroir_fanout_add(ngx_miroir_fanout_t *fo,
    ngx_uint_t node, ngx_uint_t method, ngx_str_t *uri, ngx_str_t *args);
ngx_int_t ngx_miroir_fanout_start(ngx_miroir_fanout_t *fo,
    ngx_miroir_fanout_done_pt done, void *data);
ngx_int_t ngx_miroir_call_start(ngx_miroir_call_t *call);
ngx_int_t ngx_miroir_fanout_too_large(ngx_miroir_fanout_t *fo);
void ngx_miroir_node_report(ngx_miroir_cluster_conf_t *cl, ngx_uint_t node,
    ngx_uint_t ok);
ngx_uint_t ngx_miroir_node_is_down(ngx_miroir_cluster_conf_t *cl,
    ngx_uint_t node);

/* ngx_miroir_http.c: responses */
ngx_int_t ngx_miroir_send_json(ngx_http_request_t *r, ngx_uint_t status,
    u_char *data, size_t len);
ngx_int_t ngx_miroir_send_error(ngx_http_request_t *r, miroir_error_t *err);
ngx_int_t ngx_miroir_send_raw(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *content_type, ngx_str_t *body);
ngx_int_t ngx_miroir_check_auth(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, miroir_error_t *err);
void ngx_miroir_finish(ngx_http_request_t *r, ngx_int_t rc);
ngx_int_t ngx_miroir_check_args(ngx_http_request_t *r,
    const char *const *allowed, miroir_error_t *err);
ngx_int_t ngx_miroir_check_json_type(ngx_http_request_t *r,
    miroir_error_t *err);

/* ngx_miroir_body.c */
ngx_int_t ngx_miroir_read_body(ngx_http_request_t *r,
    ngx_miroir_body_pt handler, void *data);
ngx_int_t ngx_miroir_read_json_body(ngx_http_request_t *r,
    ngx_miroir_body_pt handler, void *data);
ngx_int_t ngx_miroir_body_bytes(ngx_http_request_t *r, ngx_str_t *body);
cJSON *ngx_miroir_json_parse(ngx_http_request_t *r, u_char *data,
    size_t len);
ngx_int_t ngx_miroir_json_print(ngx_http_request_t *r, cJSON *json,
    ngx_str_t *out);
void *ngx_miroir_pool_own(ngx_http_request_t *r, void *p);

/* ngx_miroir_tasks.c: task log and stale marks (write path) */
ngx_int_t ngx_miroir_tasks_init_module(ngx_cycle_t *cycle);
ngx_uint_t ngx_miroir_shard_is_stale(ngx_miroir_cluster_conf_t *cl,
    ngx_uint_t shard, ngx_uint_t node);
ngx_uint_t ngx_miroir_stale_any(ngx_miroir_cluster_conf_t *cl);
void ngx_miroir_stale_clear(ngx_miroir_cluster_conf_t *cl, ngx_uint_t shard,
    ngx_uint_t node, ngx_log_t *log);

/* ngx_miroir_metrics.c */
size_t ngx_miroir_metrics_size(void);
void ngx_miroir_metrics_count(ngx_miroir_cluster_conf_t *cl,
    ngx_uint_t counter);
void ngx_miroir_metrics_call_start(ngx_miroir_cluster_conf_t *cl,
    ngx_uint_t node);
void ngx_miroir_metrics_call_done(ngx_miroir_cluster_conf_t *cl,
    ngx_uint_t node, ngx_uint_t failed, ngx_msec_t elapsed);
ngx_uint_t ngx_miroir_route_class(ngx_str_t *uri, ngx_uint_t role);
ngx_int_t ngx_miroir_metrics_log_handler(ngx_http_request_t *r);
ngx_int_t ngx_miroir_metrics_handler(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl);
void ngx_miroir_metrics_node(ngx_miroir_cluster_conf_t *cl, ngx_uint_t node,
    uint64_t *requests, uint64_t *errors, int64_t *outstanding);

/* ngx_miroir_status.c */
ngx_int_t ngx_miroir_status_handler(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl);
ngx_int_t ngx_miroir_health_handler(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl);
ngx_int_t ngx_miroir_ui_handler(ngx_http_request_t *r);

/* ngx_miroir_routes.c */
ngx_int_t ngx_miroir_api_handler(ngx_http_request_t *r);
ngx_int_t ngx_miroir_admin_handler(ngx_http_request_t *r);


#endif /* NGX_MIROIR_H */
