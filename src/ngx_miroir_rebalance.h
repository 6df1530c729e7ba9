/*
 * ngx_miroir_rebalance.h -- runtime topology changes, the stateful shard
 * table, migration state, and the hooks the write and read paths call.
 *
 * Two tables per cluster live in the shared zone once the admin API has
 * changed the topology (before that, the router's table of the configured
 * node list is the truth, as it always was):
 *
 *   current  the shard -> owners table the data follows now; routing
 *            (ngx_miroir_route_table()) uses it;
 *   target   the table being migrated to (NULL when none).  Every change
 *            derives the next target from the latest one with
 *            miroir_table_next(), so changes stack; the plan is always
 *            miroir_plan_create(current, target).
 *
 * Per shard a migration state says where a move stands; only the helper
 * process (ngx_miroir_helper.c) advances it.  Node indexes are indexes in
 * the zone's node array (ngx_miroir_shm_cluster_t.nodes); nodes added at
 * runtime are appended there and keep their index until the configuration
 * changes the topology (which drops the runtime state: the configured
 * topology wins, as before).
 */

#ifndef NGX_MIROIR_REBALANCE_H
#define NGX_MIROIR_REBALANCE_H

#include "ngx_miroir.h"


#define NGX_MIROIR_KEY_LEN          128

/* per shard migration states */
#define NGX_MIROIR_SHARD_STABLE     0   /* owners = current */
#define NGX_MIROIR_SHARD_PLANNED    1   /* writes reach current + target */
#define NGX_MIROIR_SHARD_COPYING    2   /* + reads name the shard */
#define NGX_MIROIR_SHARD_SWITCHED   3   /* reads follow target; old copies
                                           are being deleted */


typedef struct {
    uint64_t                        config_hash;   /* tables valid for it */
    uint32_t                        nshards;
    uint32_t                        rf;
    uint16_t                       *current;       /* slab, nshards * rf */
    uint16_t                       *target;        /* slab or NULL */
    uint8_t                        *shard_state;   /* slab, nshards */
    uint16_t                       *prev;          /* slab, nshards * rf:
                                                      owners before the
                                                      switch (SWITCHED) */
    uint64_t                        seq;           /* bumped per change */
    uint64_t                        saved_seq;     /* last persisted */

    ngx_atomic_t                    paused;
    ngx_atomic_t                    helper_pid;
    ngx_atomic_t                    helper_ticks;

    /* progress of the running plan */
    uint64_t                        docs_copied;
    uint32_t                        shards_total;
    uint32_t                        shards_done;
    uint32_t                        errors;
    time_t                          started;
    u_char                          last_error[256];

    /* keys of nodes added at runtime (never exposed) */
    u_char                          keys[MIROIR_MAX_NODES]
                                        [NGX_MIROIR_KEY_LEN];

    /* down_after (ngx_miroir_helper_down.c, written by the helper only):
       ngx_current_msec of the first failed (answered) health probe of an
       unbroken run, 0 when the last probe answered (failed) */
    ngx_msec_t                      down_since[MIROIR_MAX_NODES];
    ngx_msec_t                      up_since[MIROIR_MAX_NODES];

    /* 1: the node was evicted by down_after (state removed, its shards
       re-replicated); persisted, cleared when it rejoins */
    uint8_t                         evicted[MIROIR_MAX_NODES];

    /* slab, nshards, or NULL: 1 = a change abandoned the shard's move
       back to its current owners, whose copies may still carry the
       abandoned owner tags; read by name (like a moving shard) until the
       helper finds every copy tagged right (ngx_miroir_helper_retag.c) */
    uint8_t                        *retag;
    ngx_atomic_t                    retag_seq;     /* bumped per clear (not
                                                      seq: that would stop
                                                      the helper's job) */
} ngx_miroir_rebalance_shm_t;


/* ------------------------------------------- zone and persistence */

/* Called by the zone init (master) after a cluster's topology is set:
 * restores the runtime topology saved by the admin API when it belongs
 * to the same configuration. */
void ngx_miroir_rebalance_zone_load(ngx_miroir_main_conf_t *mmcf,
    ngx_miroir_cluster_conf_t *cl, ngx_slab_pool_t *shpool, ngx_log_t *log);

/* ngx_miroir_zone.c: topology-<cluster>.json (version, config hash). */
void ngx_miroir_state_save(ngx_miroir_main_conf_t *mmcf,
    ngx_miroir_shm_cluster_t *sc, ngx_log_t *log);

/* Write rebalance-<cluster>.json atomically if the zone changed. */
ngx_int_t ngx_miroir_rebalance_save(ngx_miroir_cluster_conf_t *cl,
    ngx_log_t *log);

/* Build this worker's node state for nodes added at runtime (each worker
 * calls it when it sees a new topology version). */
void ngx_miroir_rebalance_sync_nodes(ngx_miroir_cluster_conf_t *cl,
    ngx_miroir_shm_cluster_t *sc, ngx_log_t *log);

/* The current table as a router object (for ngx_miroir_route_table());
 * NULL when the cluster has no stored table. */
miroir_router_t *ngx_miroir_rebalance_router(ngx_miroir_cluster_conf_t *cl,
    ngx_miroir_shm_cluster_t *sc, ngx_log_t *log);


/* ------------------------------------------- topology changes */

typedef enum {
    NGX_MIROIR_CHANGE_ADD = 0,
    NGX_MIROIR_CHANGE_REWEIGHT,
    NGX_MIROIR_CHANGE_DRAIN,
    NGX_MIROIR_CHANGE_REMOVE,
    NGX_MIROIR_CHANGE_EVICT,        /* helper: down longer than down_after */
    NGX_MIROIR_CHANGE_REJOIN        /* helper: an evicted node is back */
} ngx_miroir_change_e;

typedef struct {
    ngx_miroir_change_e             kind;
    ngx_str_t                       id;
    ngx_str_t                       address;       /* add */
    ngx_str_t                       key;           /* add */
    ngx_uint_t                      weight;        /* add, reweight */
    ngx_flag_t                      force;         /* remove */
} ngx_miroir_change_t;


/* What a change produced (for the admin answer). */
typedef struct {
    uint64_t                        version;
    char                           *plan_json;     /* malloc()ed */
} ngx_miroir_change_result_t;

/* Apply (or with dry_run only compute) a change.  NGX_ERROR with err
 * filled for a bad request; NGX_OK with res filled. */
ngx_int_t ngx_miroir_rebalance_change(ngx_miroir_cluster_conf_t *cl,
    ngx_miroir_change_t *ch, ngx_uint_t dry_run,
    ngx_miroir_change_result_t *res, miroir_error_t *err, ngx_log_t *log);

/* The status document of GET /_miroir/rebalance (malloc()ed JSON). */
char *ngx_miroir_rebalance_status(ngx_miroir_cluster_conf_t *cl,
    ngx_log_t *log);

/* GET /_miroir/shards/{docid} (malloc()ed JSON). */
char *ngx_miroir_rebalance_shard_json(ngx_miroir_cluster_conf_t *cl,
    u_char *key, size_t len, ngx_log_t *log);

void ngx_miroir_rebalance_pause(ngx_miroir_cluster_conf_t *cl,
    ngx_uint_t paused);


/* ------------------------------------------- hooks: write and read path */

/*
 * Write path: before sending a write of shard `shard`, ask which nodes it
 * must reach.  NGX_DECLINED: the shard is not moving, use the route
 * table's owners as usual.  NGX_OK: reach[0..*nreach-1] (at most
 * 2 * MIROIR_MAX_RF node indexes, old and new owners) must all get the
 * write, and the documents are tagged (_miroir_o0..) with tag[0..*ntag-1],
 * the new owner list.  Only nodes this worker can reach are listed (index
 * < cl->nodes.nelts): a copy not written here is copied by the helper,
 * which marks the shard before it copies.
 */
ngx_int_t ngx_miroir_rebalance_write_owners(ngx_miroir_cluster_conf_t *cl,
    ngx_uint_t shard, uint16_t *reach, ngx_uint_t *nreach, uint16_t *tag,
    ngx_uint_t *ntag);

/*
 * Read path: the shards not stable (planned, copying or switched: their
 * documents carry the new owner tags, or an old owner still holds them),
 * read by name until they are stable again.  Returns how many;
 * *migrating points to nshards flags (1 = moving) and *source to nshards
 * node indexes (the current copy to read a moving shard from), both
 * valid until the next call in this worker; NULL when none move.  A
 * moving shard is read by naming it (`_miroir_shard IN [..]`) on its
 * source node (a current owner: an old one until the switch, then a new
 * one; live and not stale when possible) and excluded from the
 * owner-field filters of the others.
 */
ngx_uint_t ngx_miroir_rebalance_read_state(ngx_miroir_cluster_conf_t *cl,
    const uint8_t **migrating, const uint16_t **source);

/*
 * Stale copies (a write missed them): the write path's bitmap in
 * ngx_miroir_tasks.c is the one store; these forward to it so the
 * rebalancer and the read path share one API.
 */
void ngx_miroir_rebalance_mark_stale(ngx_miroir_cluster_conf_t *cl,
    ngx_uint_t node, ngx_uint_t shard);
ngx_uint_t ngx_miroir_rebalance_is_stale(ngx_miroir_cluster_conf_t *cl,
    ngx_uint_t node, ngx_uint_t shard);

/* The helper found every copy of shard s tagged with owners (rf node
 * indexes: the current owners when it looked): clear its retag flag if
 * they still are (ngx_miroir_helper_retag.c). */
void ngx_miroir_rebalance_retag_done(ngx_miroir_cluster_conf_t *cl,
    uint32_t s, const uint16_t *owners);

/* 1 if node was evicted by down_after (for GET /_miroir/topology, the
 * health reasons and the status page). */
ngx_uint_t ngx_miroir_rebalance_evicted(ngx_miroir_cluster_conf_t *cl,
    ngx_uint_t node);

/* Health: shards moving and shards with a stale copy (yellow). */
void ngx_miroir_rebalance_health(ngx_miroir_cluster_conf_t *cl,
    ngx_uint_t *moving, ngx_uint_t *stale);


/* ------------------------------------------- admin routes, helper */

ngx_int_t ngx_miroir_admin_route(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_str_t *path);
ngx_uint_t ngx_miroir_admin_wants_body(ngx_http_request_t *r,
    ngx_str_t *path);

char *ngx_miroir_helper_init_conf(ngx_conf_t *cf,
    ngx_miroir_main_conf_t *mmcf);


#endif /* NGX_MIROIR_REBALANCE_H */
