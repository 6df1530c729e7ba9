/*
 * ngx_miroir_rebalance.c -- runtime topology changes and the stored shard
 * tables (see ngx_miroir_rebalance.h).
 *
 * Readers copy what they need under the slab mutex and compute outside
 * it; a change is computed on such a snapshot and committed only if the
 * zone did not move meanwhile (optimistic: a concurrent change makes the
 * second one fail with 409, to be retried).  Every committed change is
 * persisted by the process that made it to rebalance-<cluster>.json in
 * the state directory (temporary file, fsync, rename; a sequence number
 * in the zone keeps an older snapshot from replacing a newer one).
 */

#include "ngx_miroir.h"
#include "ngx_miroir_rebalance.h"
#include "ngx_miroir_log.h"

#include "miroir_plan.h"
#include "miroir_table.h"


/* the write path's stale marks (ngx_miroir_tasks.c, ngx_miroir_write.h;
   weak: that file may be absent from a partial build) */
extern void ngx_miroir_stale_mark(ngx_miroir_cluster_conf_t *cl,
    ngx_uint_t shard, ngx_uint_t node, ngx_log_t *log)
    __attribute__((weak));


/* A private copy of a cluster's topology and tables. */
typedef struct {
    ngx_miroir_shm_cluster_t       *sc;          /* all MAX_NODES nodes */
    uint16_t                       *current;
    uint16_t                       *target;      /* or NULL */
    uint8_t                        *shard_state;
    uint16_t                       *prev;        /* or NULL */
    uint64_t                        seq;
    ngx_uint_t                      stored;      /* current came from zone */
    ngx_uint_t                      paused;
    uint64_t                        docs_copied;
    uint32_t                        shards_done;
    uint32_t                        errors;
    time_t                          started;
    u_char                          last_error[256];
    char                           *ids[MIROIR_MAX_NODES];
    char                            idbuf[MIROIR_MAX_NODES]
                                         [MIROIR_NODE_ID_LEN + 1];
    miroir_node_t                   nodes[MIROIR_MAX_NODES];
} ngx_miroir_rb_snap_t;


/* per worker: read/write hook caches, one per cluster */
typedef struct {
    uint64_t                        seq;
    uint64_t                        version;
    ngx_atomic_uint_t               retag_seq;
    ngx_uint_t                      moving;
    uint8_t                        *migrating;
    uint16_t                       *source;
    uint16_t                       *current;
    uint16_t                       *target;
    uint8_t                        *state;
    uint8_t                        *retag;
} ngx_miroir_rb_cache_t;

#define NGX_MIROIR_RB_CLUSTERS  64

static ngx_miroir_rb_cache_t  ngx_miroir_rb_cache[NGX_MIROIR_RB_CLUSTERS];


static ngx_slab_pool_t *
ngx_miroir_rb_shpool(void)
{
    ngx_miroir_main_conf_t  *mmcf;

    mmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_miroir_module);

    return mmcf ? mmcf->shpool : NULL;
}


/* The zone's rebalance state of a cluster if it is valid (lock held). */
static ngx_miroir_rebalance_shm_t *
ngx_miroir_rb_get(ngx_miroir_shm_cluster_t *sc)
{
    ngx_miroir_rebalance_shm_t  *rb;

    rb = sc->rebalance;

    if (rb == NULL || rb->current == NULL
        || rb->config_hash != sc->config_hash
        || rb->nshards != sc->shards || rb->rf != sc->replication)
    {
        return NULL;
    }

    return rb;
}


static void
ngx_miroir_rb_snap_free(ngx_miroir_rb_snap_t *sn)
{
    if (sn == NULL) {
        return;
    }

    if (sn->sc) {
        ngx_free(sn->sc);
    }

    if (sn->current) {
        ngx_free(sn->current);
    }

    if (sn->target) {
        ngx_free(sn->target);
    }

    if (sn->shard_state) {
        ngx_free(sn->shard_state);
    }

    if (sn->prev) {
        ngx_free(sn->prev);
    }

    ngx_free(sn);
}


static void
ngx_miroir_rb_snap_nodes(ngx_miroir_rb_snap_t *sn)
{
    ngx_uint_t              i;
    ngx_miroir_shm_node_t  *nd;

    for (i = 0; i < sn->sc->nnodes; i++) {
        nd = &sn->sc->nodes[i];

        ngx_memcpy(sn->idbuf[i], nd->id, nd->id_len);
        sn->idbuf[i][nd->id_len] = '\0';
        sn->ids[i] = sn->idbuf[i];

        sn->nodes[i].id = sn->idbuf[i];
        sn->nodes[i].weight = (double) nd->weight;
        sn->nodes[i].state = (miroir_node_state_e) nd->state;
    }
}


/*
 * Copy the topology and tables of cl.  Without a stored table, current
 * is the router's table of the zone's node list (what routing used).
 */
static ngx_miroir_rb_snap_t *
ngx_miroir_rb_snapshot(ngx_miroir_cluster_conf_t *cl, ngx_log_t *log)
{
    size_t                       n;
    miroir_rc_t                  rc;
    miroir_error_t               err;
    miroir_router_t             *router;
    ngx_slab_pool_t             *shpool;
    miroir_router_conf_t         conf;
    ngx_miroir_rb_snap_t        *sn;
    ngx_miroir_rebalance_shm_t  *rb;

    shpool = ngx_miroir_rb_shpool();

    if (cl->shm == NULL || shpool == NULL) {
        return NULL;
    }

    sn = ngx_calloc(sizeof(ngx_miroir_rb_snap_t), log);
    if (sn == NULL) {
        return NULL;
    }

    sn->sc = ngx_alloc(sizeof(ngx_miroir_shm_cluster_t), log);
    n = (size_t) cl->shm->shards * cl->shm->replication;
    sn->current = ngx_alloc(n * sizeof(uint16_t), log);
    sn->shard_state = ngx_calloc(cl->shm->shards, log);

    if (sn->sc == NULL || sn->current == NULL || sn->shard_state == NULL) {
        ngx_miroir_rb_snap_free(sn);
        return NULL;
    }

    ngx_shmtx_lock(&shpool->mutex);

    ngx_memcpy(sn->sc, cl->shm, sizeof(ngx_miroir_shm_cluster_t));

    rb = ngx_miroir_rb_get(cl->shm);

    if (rb) {
        sn->stored = 1;
        ngx_memcpy(sn->current, rb->current, n * sizeof(uint16_t));
        ngx_memcpy(sn->shard_state, rb->shard_state, rb->nshards);

        if (rb->target) {
            sn->target = ngx_alloc(n * sizeof(uint16_t), log);
            if (sn->target) {
                ngx_memcpy(sn->target, rb->target, n * sizeof(uint16_t));
            }
        }

        if (rb->prev) {
            sn->prev = ngx_alloc(n * sizeof(uint16_t), log);
            if (sn->prev) {
                ngx_memcpy(sn->prev, rb->prev, n * sizeof(uint16_t));
            }
        }

        sn->seq = rb->seq;
        sn->paused = rb->paused;
        sn->docs_copied = rb->docs_copied;
        sn->shards_done = rb->shards_done;
        sn->errors = rb->errors;
        sn->started = rb->started;
        ngx_memcpy(sn->last_error, rb->last_error, sizeof(sn->last_error));

    } else if (cl->shm->rebalance) {
        sn->seq = ((ngx_miroir_rebalance_shm_t *) cl->shm->rebalance)->seq;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (rb && rb->target && sn->target == NULL) {
        ngx_miroir_rb_snap_free(sn);
        return NULL;
    }

    ngx_miroir_rb_snap_nodes(sn);

    if (sn->stored) {
        return sn;
    }

    conf.nshards = sn->sc->shards;
    conf.rf = sn->sc->replication;
    conf.kind = MIROIR_ROUTE_CURRENT;
    conf.balance = MIROIR_ROUTER_BALANCE;

    rc = miroir_router_create(&conf, sn->nodes, sn->sc->nnodes, &router,
                              &err);
    if (rc != MIROIR_OK) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "miroir cluster \"%V\": cannot build the shard table: "
                      "%s", &cl->name,
                      rc == MIROIR_ENOMEM ? "out of memory" : err.message);
        ngx_miroir_rb_snap_free(sn);
        return NULL;
    }

    ngx_memcpy(sn->current, router->owners, n * sizeof(uint16_t));
    miroir_router_free(router);

    return sn;
}


static void
ngx_miroir_rb_table(ngx_miroir_rb_snap_t *sn, const uint16_t *owners,
    miroir_route_table_t *rt)
{
    rt->nshards = sn->sc->shards;
    rt->rf = sn->sc->replication;
    rt->nnodes = sn->sc->nnodes;
    rt->owners = owners;
    rt->node_ids = (const char *const *) sn->ids;
}


/* ------------------------------------------------------------ routing */

miroir_router_t *
ngx_miroir_rebalance_router(ngx_miroir_cluster_conf_t *cl,
    ngx_miroir_shm_cluster_t *sc, ngx_log_t *log)
{
    size_t                       n;
    ngx_uint_t                   i, ok;
    miroir_router_t             *r;
    ngx_slab_pool_t             *shpool;
    ngx_miroir_shm_node_t       *nd;
    ngx_miroir_rebalance_shm_t  *rb;

    shpool = ngx_miroir_rb_shpool();

    if (cl->shm == NULL || shpool == NULL || cl->shm->rebalance == NULL) {
        return NULL;
    }

    r = ngx_calloc(sizeof(miroir_router_t), log);
    if (r == NULL) {
        return NULL;
    }

    n = (size_t) sc->shards * sc->replication;

    r->owners = ngx_alloc(n * sizeof(uint16_t), log);
    r->node_ids = ngx_calloc(MIROIR_MAX_NODES * sizeof(char *), log);
    r->weights = ngx_calloc(MIROIR_MAX_NODES * sizeof(double), log);
    r->states = ngx_calloc(MIROIR_MAX_NODES * sizeof(miroir_node_state_e),
                           log);
    r->copies = ngx_calloc(MIROIR_MAX_NODES * sizeof(uint32_t), log);
    r->primaries = ngx_calloc(MIROIR_MAX_NODES * sizeof(uint32_t), log);

    if (r->owners == NULL || r->node_ids == NULL || r->weights == NULL
        || r->states == NULL || r->copies == NULL || r->primaries == NULL)
    {
        miroir_router_free(r);
        return NULL;
    }

    ok = 0;

    ngx_shmtx_lock(&shpool->mutex);

    rb = ngx_miroir_rb_get(cl->shm);

    if (rb && cl->shm->version == sc->version && rb->nshards == sc->shards
        && rb->rf == sc->replication)
    {
        ngx_memcpy(r->owners, rb->current, n * sizeof(uint16_t));
        ok = 1;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (!ok) {
        miroir_router_free(r);
        return NULL;
    }

    r->table.nnodes = sc->nnodes;

    for (i = 0; i < sc->nnodes; i++) {
        nd = &sc->nodes[i];

        r->node_ids[i] = ngx_alloc(nd->id_len + 1, log);
        if (r->node_ids[i] == NULL) {
            miroir_router_free(r);
            return NULL;
        }

        ngx_memcpy(r->node_ids[i], nd->id, nd->id_len);
        r->node_ids[i][nd->id_len] = '\0';
        r->weights[i] = (double) nd->weight;
        r->states[i] = (miroir_node_state_e) nd->state;
    }

    r->table.nshards = sc->shards;
    r->table.rf = sc->replication;
    r->table.owners = r->owners;
    r->table.node_ids = (const char *const *) r->node_ids;

    miroir_route_counts(&r->table, r->copies, r->primaries);

    return r;
}


/* ------------------------------------------------------------ changes */

static ngx_int_t
ngx_miroir_rb_find(ngx_miroir_rb_snap_t *sn, ngx_str_t *id)
{
    ngx_uint_t              i;
    ngx_miroir_shm_node_t  *nd;

    for (i = 0; i < sn->sc->nnodes; i++) {
        nd = &sn->sc->nodes[i];

        if (nd->state != NGX_MIROIR_NODE_REMOVED && nd->id_len == id->len
            && ngx_strncmp(nd->id, id->data, id->len) == 0)
        {
            return (ngx_int_t) i;
        }
    }

    return -1;
}


static ngx_uint_t
ngx_miroir_rb_valid_id(ngx_str_t *id)
{
    ngx_uint_t  i;
    u_char      c;

    /* as in the configuration: the route table keeps an id and its NUL
       in MIROIR_NODE_ID_LEN bytes (ngx_miroir_route.c) */

    if (id->len == 0 || id->len >= MIROIR_NODE_ID_LEN) {
        return 0;
    }

    for (i = 0; i < id->len; i++) {
        c = id->data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-' || c == '_'))
        {
            return 0;
        }
    }

    return 1;
}


/* A literal IP:port (no resolver at runtime). */
static ngx_uint_t
ngx_miroir_rb_valid_addr(ngx_str_t *addr, ngx_log_t *log)
{
    ngx_int_t    rc;
    ngx_addr_t   a;
    ngx_pool_t  *pool;

    if (addr->len == 0 || addr->len >= NGX_MIROIR_ADDR_LEN) {
        return 0;
    }

    pool = ngx_create_pool(1024, log);
    if (pool == NULL) {
        return 0;
    }

    rc = ngx_parse_addr_port(pool, &a, addr->data, addr->len);

    ngx_destroy_pool(pool);

    return rc == NGX_OK && ngx_strlchr(addr->data, addr->data + addr->len,
                                       ':') != NULL;
}


static ngx_uint_t
ngx_miroir_rb_holds(const uint16_t *owners, size_t n, ngx_uint_t x)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (owners[i] == x) {
            return 1;
        }
    }

    return 0;
}


/*
 * A shard planned or copying whose new target is not its target any more
 * (a drain, removal or eviction of a target owner abandoned its move: it
 * goes back to its current owners, or elsewhere): from `planned` on, the
 * write path tagged its documents with the abandoned owner list, and the
 * helper may have rewritten the tags on the owners that keep it or copied
 * part of it to the abandoned owner.  The leader filters of a stable shard
 * go by the tags, so the shard is flagged: read by name, also once its new
 * move (if any) is done, until the helper has found every copy tagged with
 * its owners again and none elsewhere (ngx_miroir_helper_retag.c).  Lock
 * held.
 */
static void
ngx_miroir_rb_abandoned(ngx_miroir_shm_cluster_t *sc, ngx_slab_pool_t *shpool,
    ngx_miroir_rebalance_shm_t *rb, uint16_t *next)
{
    size_t      k, bytes;
    uint32_t    s, j, rf;
    ngx_uint_t  st;

    if (rb->target == NULL) {
        return;
    }

    rf = sc->replication;
    bytes = rf * sizeof(uint16_t);

    for (s = 0; s < sc->shards; s++) {
        st = rb->shard_state[s];
        k = (size_t) s * rf;

        /* SWITCHED with a target that is not its current owners: planned
           again before its old copies were deleted (writes tag it with
           that target already) */

        if ((st != NGX_MIROIR_SHARD_PLANNED && st != NGX_MIROIR_SHARD_COPYING
             && st != NGX_MIROIR_SHARD_SWITCHED)
            || ngx_memcmp(&rb->target[k], &rb->current[k], bytes) == 0)
        {
            continue;
        }

        /* still going to the same owners (maybe in another order): the
           move goes on, its tags and copies stay good */

        for (j = 0; j < rf; j++) {
            if (!ngx_miroir_rb_holds(rb->target + k, rf, next[k + j])) {
                break;
            }
        }

        if (j == rf) {
            continue;
        }

        if (rb->retag == NULL) {
            rb->retag = ngx_slab_calloc_locked(shpool, sc->shards);
            if (rb->retag == NULL) {
                return;
            }
        }

        rb->retag[s] = 1;
    }
}


/* Commit sn's nodes and tables as the zone's new version (lock held). */
static ngx_int_t
ngx_miroir_rb_commit_locked(ngx_miroir_cluster_conf_t *cl,
    ngx_slab_pool_t *shpool, ngx_miroir_rb_snap_t *sn, uint16_t *next,
    miroir_plan_t *plan, ngx_miroir_change_t *ch, ngx_int_t x)
{
    size_t                       n;
    ngx_uint_t                   i;
    ngx_miroir_shm_cluster_t    *sc;
    ngx_miroir_rebalance_shm_t  *rb;

    sc = cl->shm;
    rb = sc->rebalance;
    n = (size_t) sc->shards * sc->replication;

    if (rb == NULL) {
        rb = ngx_slab_calloc_locked(shpool,
                                    sizeof(ngx_miroir_rebalance_shm_t));
        if (rb == NULL) {
            return NGX_ERROR;
        }

        sc->rebalance = rb;
    }

    if (ngx_miroir_rb_get(sc) == NULL) {
        /* first stored table, or one of an older configuration */

        if (rb->current) {
            ngx_slab_free_locked(shpool, rb->current);
        }

        if (rb->target) {
            ngx_slab_free_locked(shpool, rb->target);
        }

        if (rb->shard_state) {
            ngx_slab_free_locked(shpool, rb->shard_state);
        }

        if (rb->prev) {
            ngx_slab_free_locked(shpool, rb->prev);
        }

        if (rb->retag) {
            ngx_slab_free_locked(shpool, rb->retag);
            rb->retag = NULL;
        }

        rb->current = ngx_slab_alloc_locked(shpool, n * sizeof(uint16_t));
        rb->prev = ngx_slab_calloc_locked(shpool, n * sizeof(uint16_t));
        rb->shard_state = ngx_slab_calloc_locked(shpool, sc->shards);
        rb->target = NULL;

        if (rb->current == NULL || rb->shard_state == NULL
            || rb->prev == NULL)
        {
            return NGX_ERROR;
        }

        ngx_memcpy(rb->current, sn->current, n * sizeof(uint16_t));
        rb->config_hash = sc->config_hash;
        rb->nshards = sc->shards;
        rb->rf = sc->replication;
    }

    ngx_miroir_rb_abandoned(sc, shpool, rb, next);

    if (plan->nshards == 0) {
        if (rb->target) {
            ngx_slab_free_locked(shpool, rb->target);
            rb->target = NULL;
        }

    } else {
        if (rb->target == NULL) {
            rb->target = ngx_slab_alloc_locked(shpool, n * sizeof(uint16_t));
            if (rb->target == NULL) {
                return NGX_ERROR;
            }
        }

        ngx_memcpy(rb->target, next, n * sizeof(uint16_t));
    }

    /* shards that no longer move are stable, new ones are planned */

    for (i = 0; i < sc->shards; i++) {
        if (rb->shard_state[i] == NGX_MIROIR_SHARD_PLANNED
            || rb->shard_state[i] == NGX_MIROIR_SHARD_COPYING)
        {
            /* a copy in progress restarts under the new plan */
            rb->shard_state[i] = NGX_MIROIR_SHARD_STABLE;
        }
    }

    for (i = 0; i < plan->nshards; i++) {
        if (rb->shard_state[plan->shards[i].shard]
            == NGX_MIROIR_SHARD_STABLE)
        {
            rb->shard_state[plan->shards[i].shard] = NGX_MIROIR_SHARD_PLANNED;
        }
    }

    /* progress counts the plan of this change */

    rb->shards_total = (uint32_t) plan->nshards;
    rb->shards_done = 0;
    rb->docs_copied = 0;
    rb->errors = 0;
    rb->last_error[0] = '\0';
    rb->started = ngx_time();

    /* the nodes */

    ngx_memcpy(sc->nodes, sn->sc->nodes,
               sn->sc->nnodes * sizeof(ngx_miroir_shm_node_t));
    sc->nnodes = sn->sc->nnodes;

    if (ch->kind == NGX_MIROIR_CHANGE_ADD) {
        ngx_memzero(rb->keys[x], NGX_MIROIR_KEY_LEN);
        ngx_memcpy(rb->keys[x], ch->key.data, ch->key.len);
        rb->evicted[x] = 0;
    }

    if (ch->kind == NGX_MIROIR_CHANGE_EVICT
        || ch->kind == NGX_MIROIR_CHANGE_REJOIN)
    {
        rb->evicted[x] = ch->kind == NGX_MIROIR_CHANGE_EVICT;
    }

    sc->version++;
    rb->seq++;

    return NGX_OK;
}


/*
 * Shards in flight (planned or copying) when a change stacks on the plan.
 * From `planned` on, the write path sends the shard's writes to the
 * target owners too, tagged (_miroir_o*) with the target owner list, and
 * the helper may have copied part of it there.  A new target that drops
 * such a node abandons the move: the helper must then delete the partial
 * copy and tag the shard's documents again (ngx_miroir_rebalance_mig.c).
 * While every target owner may still own (active or joining), nothing
 * requires that: the shard keeps its target, and the move goes on as
 * planned.  A change that makes a target owner leave (drain, removal)
 * still abandons its moves; adding a node and removing it again still
 * leaves an empty plan.
 */
static void
ngx_miroir_rb_inflight(ngx_miroir_rb_snap_t *sn, uint16_t *next)
{
    size_t      k;
    uint16_t    y;
    uint32_t    s, j, rf;
    ngx_uint_t  st, ok;

    rf = sn->sc->replication;

    for (s = 0; s < sn->sc->shards; s++) {
        st = sn->shard_state[s];
        k = (size_t) s * rf;

        if ((st != NGX_MIROIR_SHARD_PLANNED && st != NGX_MIROIR_SHARD_COPYING
             && st != NGX_MIROIR_SHARD_SWITCHED)
            || ngx_memcmp(&sn->target[k], &sn->current[k],
                          rf * sizeof(uint16_t)) == 0)
        {
            continue;
        }

        ok = 1;

        for (j = 0; j < rf; j++) {
            y = sn->target[k + j];

            if (y >= sn->sc->nnodes
                || (sn->sc->nodes[y].state != NGX_MIROIR_NODE_ACTIVE
                    && sn->sc->nodes[y].state != NGX_MIROIR_NODE_JOINING))
            {
                ok = 0;
                break;
            }
        }

        if (ok) {
            ngx_memcpy(next + k, sn->target + k, rf * sizeof(uint16_t));
        }
    }
}


ngx_int_t
ngx_miroir_rebalance_change(ngx_miroir_cluster_conf_t *cl,
    ngx_miroir_change_t *ch, ngx_uint_t dry_run,
    ngx_miroir_change_result_t *res, miroir_error_t *err, ngx_log_t *log)
{
    size_t                  n;
    int32_t                 focus;
    uint16_t               *next;
    ngx_int_t               x, rc;
    miroir_rc_t             mrc;
    miroir_plan_t          *plan;
    ngx_slab_pool_t        *shpool;
    miroir_route_table_t    base, cur, nxt;
    ngx_miroir_rb_snap_t   *sn;
    ngx_miroir_shm_node_t  *nd;

    res->version = 0;
    res->plan_json = NULL;
    next = NULL;
    plan = NULL;

    sn = ngx_miroir_rb_snapshot(cl, log);
    if (sn == NULL) {
        miroir_error_set(err, 500, "internal", "internal",
                         "Cannot read the cluster topology.");
        return NGX_ERROR;
    }

    x = ngx_miroir_rb_find(sn, &ch->id);
    focus = -1;
    rc = NGX_ERROR;

    switch (ch->kind) {

    case NGX_MIROIR_CHANGE_REJOIN:

        /* the evicted (removed) node of that id, unless the id is taken
           again by a node added since */

        if (x >= 0) {
            miroir_error_set(err, 409, "miroir_node_already_exists",
                             "invalid_request", "Node `%.*s` already exists.",
                             (int) ch->id.len, ch->id.data);
            goto done;
        }

        for (x = (ngx_int_t) sn->sc->nnodes - 1; x >= 0; x--) {
            nd = &sn->sc->nodes[x];

            if (nd->state == NGX_MIROIR_NODE_REMOVED
                && nd->id_len == ch->id.len
                && ngx_strncmp(nd->id, ch->id.data, ch->id.len) == 0)
            {
                break;
            }
        }

        if (x < 0) {
            miroir_error_set(err, 404, "miroir_node_not_found",
                             "invalid_request", "Node `%.*s` not found.",
                             (int) ngx_min(ch->id.len, 64), ch->id.data);
            goto done;
        }

        nd = &sn->sc->nodes[x];
        nd->state = NGX_MIROIR_NODE_JOINING;
        focus = (int32_t) x;
        break;

    case NGX_MIROIR_CHANGE_ADD:

        if (!ngx_miroir_rb_valid_id(&ch->id)) {
            miroir_error_set(err, 400, "miroir_invalid_request",
                             "invalid_request",
                             "`id` must be 1 to %d characters among "
                             "A-Z a-z 0-9 - _.", MIROIR_NODE_ID_LEN - 1);
            goto done;
        }

        if (x >= 0) {
            miroir_error_set(err, 409, "miroir_node_already_exists",
                             "invalid_request", "Node `%.*s` already exists.",
                             (int) ch->id.len, ch->id.data);
            goto done;
        }

        if (!ngx_miroir_rb_valid_addr(&ch->address, log)) {
            miroir_error_set(err, 400, "miroir_invalid_request",
                             "invalid_request",
                             "`address` must be a literal IP:port.");
            goto done;
        }

        if (ch->key.len >= NGX_MIROIR_KEY_LEN) {
            miroir_error_set(err, 400, "miroir_invalid_request",
                             "invalid_request", "`key` is too long.");
            goto done;
        }

        if (sn->sc->nnodes >= MIROIR_MAX_NODES) {
            miroir_error_set(err, 400, "miroir_invalid_request",
                             "invalid_request", "A cluster holds at most %d "
                             "nodes.", MIROIR_MAX_NODES);
            goto done;
        }

        x = sn->sc->nnodes++;
        nd = &sn->sc->nodes[x];
        ngx_memzero(nd, sizeof(ngx_miroir_shm_node_t));
        ngx_memcpy(nd->id, ch->id.data, ch->id.len);
        nd->id_len = (uint16_t) ch->id.len;
        ngx_memcpy(nd->addr, ch->address.data, ch->address.len);
        nd->addr_len = (uint16_t) ch->address.len;
        nd->weight = (uint32_t) ch->weight;
        nd->state = NGX_MIROIR_NODE_JOINING;
        focus = (int32_t) x;
        break;

    case NGX_MIROIR_CHANGE_REWEIGHT:
    case NGX_MIROIR_CHANGE_DRAIN:
    case NGX_MIROIR_CHANGE_REMOVE:
    case NGX_MIROIR_CHANGE_EVICT:

        if (x < 0) {
            miroir_error_set(err, 404, "miroir_node_not_found",
                             "invalid_request", "Node `%.*s` not found.",
                             (int) ngx_min(ch->id.len, 64), ch->id.data);
            goto done;
        }

        nd = &sn->sc->nodes[x];

        if (ch->kind == NGX_MIROIR_CHANGE_REWEIGHT) {
            nd->weight = (uint32_t) ch->weight;

            if (nd->state != NGX_MIROIR_NODE_DRAINING) {
                focus = (int32_t) x;
            }

        } else if (ch->kind == NGX_MIROIR_CHANGE_DRAIN) {
            if (nd->state == NGX_MIROIR_NODE_DRAINING) {
                miroir_error_set(err, 409, "miroir_node_draining",
                                 "invalid_request",
                                 "Node `%.*s` is already draining.",
                                 (int) ch->id.len, ch->id.data);
                goto done;
            }

            nd->state = NGX_MIROIR_NODE_DRAINING;

        } else {
            n = (size_t) sn->sc->shards * sn->sc->replication;

            if (!ch->force && ch->kind != NGX_MIROIR_CHANGE_EVICT
                && ngx_miroir_rb_holds(sn->current, n, (ngx_uint_t) x))
            {
                miroir_error_set(err, 409, "miroir_node_not_drained",
                                 "invalid_request",
                                 "Node `%.*s` still holds shards: drain it "
                                 "and wait for the rebalance to finish, or "
                                 "use `?force=true` for a dead node.",
                                 (int) ch->id.len, ch->id.data);
                goto done;
            }

            nd->state = NGX_MIROIR_NODE_REMOVED;
        }

        break;
    }

    ngx_miroir_rb_snap_nodes(sn);

    n = (size_t) sn->sc->shards * sn->sc->replication;

    next = ngx_alloc(n * sizeof(uint16_t), log);
    if (next == NULL) {
        miroir_error_set(err, 500, "internal", "internal", "Out of memory.");
        goto done;
    }

    /* changes stack: the next target derives from the latest one */

    ngx_miroir_rb_table(sn, sn->target ? sn->target : sn->current, &base);
    base.nnodes = sn->sc->nnodes - (ch->kind == NGX_MIROIR_CHANGE_ADD);

    mrc = miroir_table_next(&base, sn->nodes, sn->sc->nnodes, focus,
                            sn->target ? sn->current : NULL, next, err);
    if (mrc != MIROIR_OK) {
        if (mrc == MIROIR_ENOMEM) {
            miroir_error_set(err, 500, "internal", "internal",
                             "Out of memory.");
        }

        goto done;
    }

    if (sn->target) {
        ngx_miroir_rb_inflight(sn, next);
    }

    ngx_miroir_rb_table(sn, sn->current, &cur);
    ngx_miroir_rb_table(sn, next, &nxt);

    if (miroir_plan_create(&cur, &nxt, &plan, err) != MIROIR_OK) {
        goto done;
    }

    res->plan_json = miroir_plan_json(plan);
    if (res->plan_json == NULL) {
        miroir_error_set(err, 500, "internal", "internal", "Out of memory.");
        goto done;
    }

    if (dry_run) {
        res->version = sn->sc->version + 1;
        rc = NGX_OK;
        goto done;
    }

    shpool = ngx_miroir_rb_shpool();

    ngx_shmtx_lock(&shpool->mutex);

    if (cl->shm->version != sn->sc->version
        || (cl->shm->rebalance
            && ((ngx_miroir_rebalance_shm_t *) cl->shm->rebalance)->seq
               != sn->seq))
    {
        ngx_shmtx_unlock(&shpool->mutex);
        miroir_error_set(err, 409, "miroir_topology_changed",
                         "invalid_request", "The topology changed while "
                         "this change was computed; retry.");
        goto done;
    }

    if (ngx_miroir_rb_commit_locked(cl, shpool, sn, next, plan, ch, x)
        != NGX_OK)
    {
        ngx_shmtx_unlock(&shpool->mutex);
        miroir_error_set(err, 500, "internal", "internal",
                         "The shared zone is full.");
        goto done;
    }

    res->version = cl->shm->version;

    ngx_shmtx_unlock(&shpool->mutex);

    /* never the node key */

    ngx_miroir_log_event(log, NGX_LOG_NOTICE, "topology_change", &cl->name,
                         NULL, "action=%s node=%V addr=%*s weight=%ui "
                         "force=%i version=%uL shards_moving=%uD",
                         ch->kind == NGX_MIROIR_CHANGE_ADD ? "add"
                         : ch->kind == NGX_MIROIR_CHANGE_REWEIGHT
                           ? "reweight"
                         : ch->kind == NGX_MIROIR_CHANGE_DRAIN ? "drain"
                         : ch->kind == NGX_MIROIR_CHANGE_EVICT ? "evict"
                         : ch->kind == NGX_MIROIR_CHANGE_REJOIN ? "rejoin"
                         : "remove", &ch->id,
                         (size_t) (ch->address.len ? ch->address.len : 1),
                         ch->address.len ? ch->address.data : (u_char *) "-",
                         ch->weight,
                         (ngx_int_t) ch->force,
                         res->version, plan->shards_moving);

    (void) ngx_miroir_rebalance_save(cl, log);

    rc = NGX_OK;

done:

    if (rc != NGX_OK && res->plan_json) {
        free(res->plan_json);
        res->plan_json = NULL;
    }

    miroir_plan_free(plan);

    if (next) {
        ngx_free(next);
    }

    ngx_miroir_rb_snap_free(sn);

    return rc;
}


void
ngx_miroir_rebalance_pause(ngx_miroir_cluster_conf_t *cl, ngx_uint_t paused)
{
    ngx_slab_pool_t             *shpool;
    ngx_miroir_rebalance_shm_t  *rb;

    shpool = ngx_miroir_rb_shpool();

    if (cl->shm == NULL || shpool == NULL) {
        return;
    }

    ngx_shmtx_lock(&shpool->mutex);

    rb = cl->shm->rebalance;

    if (rb == NULL) {
        rb = ngx_slab_calloc_locked(shpool,
                                    sizeof(ngx_miroir_rebalance_shm_t));
        cl->shm->rebalance = rb;
    }

    if (rb) {
        rb->paused = paused;
        rb->seq++;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    ngx_miroir_log_event(ngx_cycle->log, NGX_LOG_NOTICE, "topology_change",
                         &cl->name, NULL, "action=%s",
                         paused ? "pause" : "resume");

    (void) ngx_miroir_rebalance_save(cl, ngx_cycle->log);
}


/* ------------------------------------------------------------ status */

static const char *
ngx_miroir_rb_state_name(ngx_uint_t st)
{
    static const char  *names[] = {
        "stable", "planned", "copying", "switched"
    };

    return st < 4 ? names[st] : "unknown";
}


/* Shards read by name until their tags are right (an abandoned move). */
static ngx_uint_t
ngx_miroir_rb_retagging(ngx_miroir_cluster_conf_t *cl)
{
    ngx_uint_t                   i, n;
    ngx_slab_pool_t             *shpool;
    ngx_miroir_rebalance_shm_t  *rb;

    shpool = ngx_miroir_rb_shpool();
    n = 0;

    ngx_shmtx_lock(&shpool->mutex);

    rb = ngx_miroir_rb_get(cl->shm);

    for (i = 0; rb && rb->retag && i < rb->nshards; i++) {
        n += rb->retag[i];
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return n;
}


char *
ngx_miroir_rebalance_status(ngx_miroir_cluster_conf_t *cl, ngx_log_t *log)
{
    char                  *text, *pj;
    double                 rate, elapsed;
    cJSON                 *root, *prog, *shards, *o, *a;
    uint32_t               j;
    ngx_uint_t             i, pid, ticks;
    miroir_plan_t         *plan;
    miroir_error_t         err;
    ngx_miroir_rb_snap_t  *sn;
    miroir_route_table_t   cur, tgt;

    sn = ngx_miroir_rb_snapshot(cl, log);
    if (sn == NULL) {
        return NULL;
    }

    pid = 0;
    ticks = 0;

    if (cl->shm->rebalance) {
        pid = ((ngx_miroir_rebalance_shm_t *) cl->shm->rebalance)->helper_pid;
        ticks = ((ngx_miroir_rebalance_shm_t *)
                 cl->shm->rebalance)->helper_ticks;
    }

    root = cJSON_CreateObject();
    plan = NULL;

    if (root == NULL) {
        goto failed;
    }

    cJSON_AddStringToObject(root, "state",
                            sn->target == NULL ? "idle"
                            : sn->paused ? "paused" : "running");
    cJSON_AddNumberToObject(root, "version", (double) sn->sc->version);
    cJSON_AddBoolToObject(root, "paused", sn->paused != 0);

    o = cJSON_AddObjectToObject(root, "helper");
    if (o) {
        cJSON_AddNumberToObject(o, "pid", (double) pid);
        cJSON_AddNumberToObject(o, "ticks", (double) ticks);
    }

    if (sn->target) {
        ngx_miroir_rb_table(sn, sn->current, &cur);
        ngx_miroir_rb_table(sn, sn->target, &tgt);

        if (miroir_plan_create(&cur, &tgt, &plan, &err) != MIROIR_OK) {
            goto failed;
        }

        pj = miroir_plan_json(plan);
        if (pj == NULL) {
            goto failed;
        }

        cJSON_AddItemToObject(root, "plan", cJSON_Parse(pj));
        free(pj);

    } else {
        cJSON_AddNullToObject(root, "plan");
    }

    prog = cJSON_AddObjectToObject(root, "progress");
    if (prog == NULL) {
        goto failed;
    }

    elapsed = sn->started ? (double) (ngx_time() - sn->started) : 0.0;
    rate = elapsed > 0 ? (double) sn->docs_copied / elapsed : 0.0;

    cJSON_AddNumberToObject(prog, "shardsTotal",
                            plan ? (double) plan->nshards : 0);
    cJSON_AddNumberToObject(prog, "shardsDone", (double) sn->shards_done);
    cJSON_AddNumberToObject(prog, "documentsCopied",
                            (double) sn->docs_copied);
    cJSON_AddNumberToObject(prog, "documentsPerSecond", rate);

    if (plan && sn->shards_done && plan->nshards > sn->shards_done) {
        cJSON_AddNumberToObject(prog, "etaSeconds",
                                elapsed * (plan->nshards - sn->shards_done)
                                / sn->shards_done);
    } else {
        cJSON_AddNullToObject(prog, "etaSeconds");
    }

    cJSON_AddNumberToObject(prog, "errors", (double) sn->errors);

    if (sn->last_error[0]) {
        cJSON_AddStringToObject(prog, "lastError", (char *) sn->last_error);
    } else {
        cJSON_AddNullToObject(prog, "lastError");
    }

    shards = cJSON_AddArrayToObject(root, "shards");

    for (i = 0; plan && shards && i < plan->nshards; i++) {
        o = cJSON_CreateObject();
        if (o == NULL) {
            goto failed;
        }

        cJSON_AddItemToArray(shards, o);
        cJSON_AddNumberToObject(o, "shard", plan->shards[i].shard);
        cJSON_AddStringToObject(o, "state", ngx_miroir_rb_state_name(
                                    sn->shard_state[plan->shards[i].shard]));

        a = cJSON_AddArrayToObject(o, "from");
        for (j = 0; a && j < sn->sc->replication; j++) {
            cJSON_AddItemToArray(a, cJSON_CreateString(
                sn->ids[plan->shards[i].old_owners[j]]));
        }

        a = cJSON_AddArrayToObject(o, "to");
        for (j = 0; a && j < sn->sc->replication; j++) {
            cJSON_AddItemToArray(a, cJSON_CreateString(
                sn->ids[plan->shards[i].new_owners[j]]));
        }
    }

    /* shards read by name until their tags are right again */
    cJSON_AddNumberToObject(root, "shardsRetagging",
                            (double) ngx_miroir_rb_retagging(cl));

    text = cJSON_PrintUnformatted(root);

    cJSON_Delete(root);
    miroir_plan_free(plan);
    ngx_miroir_rb_snap_free(sn);

    return text;

failed:

    cJSON_Delete(root);
    miroir_plan_free(plan);
    ngx_miroir_rb_snap_free(sn);

    return NULL;
}


/* ------------------------------------------------------------ persistence */

static ngx_int_t
ngx_miroir_rb_path(ngx_str_t *dir, u_char *name, size_t nlen, u_char *buf,
    size_t size, const char *suffix, ngx_pid_t pid)
{
    u_char  *p;

    if (dir->len == 0 || dir->len + nlen + 64 > size) {
        return NGX_DECLINED;
    }

    if (pid) {
        p = ngx_snprintf(buf, size - 1, "%V/rebalance-%*s.json.%P%s", dir,
                         nlen, name, pid, suffix);
    } else {
        p = ngx_snprintf(buf, size - 1, "%V/rebalance-%*s.json%s", dir,
                         nlen, name, suffix);
    }

    *p = '\0';

    return NGX_OK;
}


static cJSON *
ngx_miroir_rb_owners_json(const uint16_t *owners, size_t n)
{
    size_t   i;
    cJSON   *a;

    a = cJSON_CreateArray();

    for (i = 0; a && i < n; i++) {
        cJSON_AddItemToArray(a, cJSON_CreateNumber(owners[i]));
    }

    return a;
}


ngx_int_t
ngx_miroir_rebalance_save(ngx_miroir_cluster_conf_t *cl, ngx_log_t *log)
{
    int                          fd;
    char                        *text;
    u_char                       path[NGX_MAX_PATH], tmp[NGX_MAX_PATH];
    u_char                       hash[32], *p;
    u_char                       addr[NGX_MIROIR_ADDR_LEN + 1];
    size_t                       n, len;
    uint64_t                     seq;
    cJSON                       *root, *nodes, *o;
    ngx_uint_t                   i, saved;
    ngx_slab_pool_t             *shpool;
    ngx_miroir_rb_snap_t        *sn;
    ngx_miroir_shm_node_t       *nd;
    ngx_miroir_main_conf_t      *mmcf;
    ngx_miroir_rebalance_shm_t  *rb;
    u_char                       keys[MIROIR_MAX_NODES][NGX_MIROIR_KEY_LEN];
    uint8_t                      evicted[MIROIR_MAX_NODES];
    uint8_t                     *retag;

    mmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_miroir_module);
    shpool = mmcf->shpool;

    if (mmcf->state_path.len == 0 || cl->shm == NULL) {
        return NGX_DECLINED;
    }

    if (ngx_miroir_rb_path(&mmcf->state_path, cl->name.data, cl->name.len,
                           path, sizeof(path), "", 0) != NGX_OK
        || ngx_miroir_rb_path(&mmcf->state_path, cl->name.data, cl->name.len,
                              tmp, sizeof(tmp), ".tmp", ngx_pid) != NGX_OK)
    {
        return NGX_ERROR;
    }

    sn = ngx_miroir_rb_snapshot(cl, log);
    if (sn == NULL) {
        return NGX_ERROR;
    }

    ngx_shmtx_lock(&shpool->mutex);
    rb = cl->shm->rebalance;
    retag = NULL;
    if (rb) {
        ngx_memcpy(keys, rb->keys, sizeof(keys));
        ngx_memcpy(evicted, rb->evicted, sizeof(evicted));

        if (rb->retag && rb->nshards == sn->sc->shards) {
            retag = ngx_alloc(rb->nshards, log);
            if (retag) {
                ngx_memcpy(retag, rb->retag, rb->nshards);
            }
        }
    }
    ngx_shmtx_unlock(&shpool->mutex);

    if (rb == NULL) {
        ngx_miroir_rb_snap_free(sn);
        return NGX_DECLINED;
    }

    n = (size_t) sn->sc->shards * sn->sc->replication;

    root = cJSON_CreateObject();
    if (root == NULL) {
        ngx_miroir_rb_snap_free(sn);
        return NGX_ERROR;
    }

    p = ngx_sprintf(hash, "%016xL", sn->sc->config_hash);
    *p = '\0';

    cJSON_AddStringToObject(root, "cluster", (char *) sn->sc->name);
    cJSON_AddNumberToObject(root, "version", (double) sn->sc->version);
    cJSON_AddNumberToObject(root, "seq", (double) sn->seq);
    cJSON_AddStringToObject(root, "configHash", (char *) hash);
    cJSON_AddNumberToObject(root, "shards", sn->sc->shards);
    cJSON_AddNumberToObject(root, "replication", sn->sc->replication);
    cJSON_AddBoolToObject(root, "paused", sn->paused != 0);

    nodes = cJSON_AddArrayToObject(root, "nodes");

    for (i = 0; nodes && i < sn->sc->nnodes; i++) {
        nd = &sn->sc->nodes[i];
        o = cJSON_CreateObject();
        if (o == NULL) {
            break;
        }

        cJSON_AddItemToArray(nodes, o);
        cJSON_AddStringToObject(o, "id", sn->ids[i]);
        p = ngx_cpymem(addr, nd->addr, nd->addr_len);
        *p = '\0';
        cJSON_AddStringToObject(o, "address", (char *) addr);
        cJSON_AddNumberToObject(o, "weight", nd->weight);
        cJSON_AddNumberToObject(o, "state", nd->state);

        if (evicted[i]) {
            cJSON_AddBoolToObject(o, "evicted", 1);
        }

        if (keys[i][0]) {
            cJSON_AddStringToObject(o, "key", (char *) keys[i]);
        }
    }

    if (sn->stored) {
        cJSON_AddItemToObject(root, "current",
                              ngx_miroir_rb_owners_json(sn->current, n));
    }

    if (retag) {
        o = cJSON_AddArrayToObject(root, "retag");

        for (i = 0; o && i < sn->sc->shards; i++) {
            if (retag[i]) {
                cJSON_AddItemToArray(o, cJSON_CreateNumber(i));
            }
        }
    }

    if (sn->target) {
        cJSON_AddItemToObject(root, "target",
                              ngx_miroir_rb_owners_json(sn->target, n));
        o = cJSON_CreateArray();

        for (i = 0; o && i < sn->sc->shards; i++) {
            cJSON_AddItemToArray(o, cJSON_CreateNumber(sn->shard_state[i]));
        }

        cJSON_AddItemToObject(root, "shardStates", o);

        if (sn->prev) {
            cJSON_AddItemToObject(root, "previous",
                                  ngx_miroir_rb_owners_json(sn->prev, n));
        }
    }

    seq = sn->seq;
    text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);

    if (retag) {
        ngx_free(retag);
    }

    /* the version a restart continues from */
    ngx_miroir_state_save(mmcf, sn->sc, log);

    ngx_miroir_rb_snap_free(sn);

    if (text == NULL) {
        return NGX_ERROR;
    }

    len = ngx_strlen(text);

    fd = open((char *) tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd == -1) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      "miroir: cannot write state file \"%s\"", tmp);
        free(text);
        return NGX_ERROR;
    }

    if (write(fd, text, len) != (ssize_t) len || fsync(fd) == -1) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      "miroir: cannot write state file \"%s\"", tmp);
        close(fd);
        (void) unlink((char *) tmp);
        free(text);
        return NGX_ERROR;
    }

    close(fd);
    free(text);

    /* never let an older snapshot replace a newer one */

    saved = 0;

    ngx_shmtx_lock(&shpool->mutex);

    rb = cl->shm->rebalance;

    if (rb && (rb->saved_seq <= seq)) {
        if (rename((char *) tmp, (char *) path) == 0) {
            rb->saved_seq = seq;
            saved = 1;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (!saved) {
        (void) unlink((char *) tmp);
    }

    return NGX_OK;
}


static uint16_t *
ngx_miroir_rb_load_owners(ngx_slab_pool_t *shpool, cJSON *a, size_t n,
    uint32_t nnodes)
{
    size_t     i;
    cJSON     *v;
    uint16_t  *owners;

    if (!cJSON_IsArray(a) || (size_t) cJSON_GetArraySize(a) != n) {
        return NULL;
    }

    owners = ngx_slab_alloc_locked(shpool, n * sizeof(uint16_t));
    if (owners == NULL) {
        return NULL;
    }

    i = 0;

    cJSON_ArrayForEach(v, a) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 0
            || v->valuedouble >= nnodes)
        {
            ngx_slab_free_locked(shpool, owners);
            return NULL;
        }

        owners[i++] = (uint16_t) v->valuedouble;
    }

    return owners;
}


void
ngx_miroir_rebalance_zone_load(ngx_miroir_main_conf_t *mmcf,
    ngx_miroir_cluster_conf_t *cl, ngx_slab_pool_t *shpool, ngx_log_t *log)
{
    int                          fd;
    char                        *text;
    u_char                       path[NGX_MAX_PATH];
    size_t                       n, size;
    ssize_t                      got;
    uint32_t                     nnodes;
    uint64_t                     version;
    cJSON                       *root, *v, *nodes, *nv, *f;
    ngx_uint_t                   i;
    struct stat                  st;
    ngx_miroir_shm_node_t       *nd;
    ngx_miroir_shm_cluster_t    *sc;
    ngx_miroir_rebalance_shm_t  *rb;

    sc = cl->shm;

    if (sc == NULL
        || ngx_miroir_rb_path(&mmcf->state_path, cl->name.data, cl->name.len,
                              path, sizeof(path), "", 0) != NGX_OK)
    {
        return;
    }

    fd = open((char *) path, O_RDONLY);
    if (fd == -1) {
        return;
    }

    if (fstat(fd, &st) == -1 || st.st_size <= 0
        || st.st_size > 64 * 1024 * 1024)
    {
        close(fd);
        return;
    }

    size = (size_t) st.st_size;
    text = ngx_alloc(size + 1, log);
    if (text == NULL) {
        close(fd);
        return;
    }

    got = read(fd, text, size);
    close(fd);

    if (got != (ssize_t) size) {
        ngx_free(text);
        return;
    }

    text[size] = '\0';
    root = cJSON_Parse(text);
    ngx_free(text);

    if (root == NULL) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "miroir: ignoring unreadable state file \"%s\"", path);
        return;
    }

    v = cJSON_GetObjectItemCaseSensitive(root, "configHash");
    nodes = cJSON_GetObjectItemCaseSensitive(root, "nodes");

    if (!cJSON_IsString(v)
        || strtoull(v->valuestring, NULL, 16) != cl->config_hash
        || !cJSON_IsArray(nodes)
        || cJSON_GetArraySize(nodes) > MIROIR_MAX_NODES
        || cJSON_GetArraySize(nodes) < (int) cl->nodes.nelts)
    {
        /* the configuration changed the topology: it wins */
        goto done;
    }

    v = cJSON_GetObjectItemCaseSensitive(root, "shards");
    if (!cJSON_IsNumber(v) || v->valuedouble != sc->shards) {
        goto done;
    }

    v = cJSON_GetObjectItemCaseSensitive(root, "replication");
    if (!cJSON_IsNumber(v) || v->valuedouble != sc->replication) {
        goto done;
    }

    rb = ngx_slab_calloc_locked(shpool, sizeof(ngx_miroir_rebalance_shm_t));
    if (rb == NULL) {
        goto done;
    }

    nnodes = (uint32_t) cJSON_GetArraySize(nodes);
    n = (size_t) sc->shards * sc->replication;

    rb->current = ngx_miroir_rb_load_owners(shpool,
                      cJSON_GetObjectItemCaseSensitive(root, "current"), n,
                      nnodes);
    rb->shard_state = ngx_slab_calloc_locked(shpool, sc->shards);

    if (rb->current == NULL || rb->shard_state == NULL) {
        /* the topology was only paused/resumed: nothing stored */
        goto done;
    }

    rb->prev = ngx_miroir_rb_load_owners(shpool,
                   cJSON_GetObjectItemCaseSensitive(root, "previous"), n,
                   nnodes);
    if (rb->prev == NULL) {
        rb->prev = ngx_slab_calloc_locked(shpool, n * sizeof(uint16_t));
        if (rb->prev == NULL) {
            goto done;
        }
    }

    v = cJSON_GetObjectItemCaseSensitive(root, "retag");
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0) {
        rb->retag = ngx_slab_calloc_locked(shpool, sc->shards);

        cJSON_ArrayForEach(nv, v) {
            if (rb->retag && cJSON_IsNumber(nv) && nv->valuedouble >= 0
                && nv->valuedouble < sc->shards)
            {
                rb->retag[(size_t) nv->valuedouble] = 1;
            }
        }
    }

    v = cJSON_GetObjectItemCaseSensitive(root, "target");
    if (cJSON_IsArray(v)) {
        rb->target = ngx_miroir_rb_load_owners(shpool, v, n, nnodes);

        f = cJSON_GetObjectItemCaseSensitive(root, "shardStates");
        i = 0;

        cJSON_ArrayForEach(nv, f) {
            if (i < sc->shards && cJSON_IsNumber(nv)) {
                rb->shard_state[i] = (uint8_t) nv->valuedouble;
            }

            i++;
        }
    }

    i = 0;

    cJSON_ArrayForEach(nv, nodes) {
        nd = &sc->nodes[i];
        ngx_memzero(nd, sizeof(ngx_miroir_shm_node_t));

        v = cJSON_GetObjectItemCaseSensitive(nv, "id");
        if (cJSON_IsString(v) && ngx_strlen(v->valuestring)
                                 <= MIROIR_NODE_ID_LEN)
        {
            nd->id_len = (uint16_t) ngx_strlen(v->valuestring);
            ngx_memcpy(nd->id, v->valuestring, nd->id_len);
        }

        v = cJSON_GetObjectItemCaseSensitive(nv, "address");
        if (cJSON_IsString(v) && ngx_strlen(v->valuestring)
                                 < NGX_MIROIR_ADDR_LEN)
        {
            nd->addr_len = (uint16_t) ngx_strlen(v->valuestring);
            ngx_memcpy(nd->addr, v->valuestring, nd->addr_len);
        }

        v = cJSON_GetObjectItemCaseSensitive(nv, "weight");
        nd->weight = cJSON_IsNumber(v) ? (uint32_t) v->valuedouble : 1;

        v = cJSON_GetObjectItemCaseSensitive(nv, "state");
        nd->state = cJSON_IsNumber(v) ? (uint32_t) v->valuedouble : 0;

        v = cJSON_GetObjectItemCaseSensitive(nv, "evicted");
        rb->evicted[i] = cJSON_IsTrue(v)
                         && nd->state == NGX_MIROIR_NODE_REMOVED;

        v = cJSON_GetObjectItemCaseSensitive(nv, "key");
        if (cJSON_IsString(v)
            && ngx_strlen(v->valuestring) < NGX_MIROIR_KEY_LEN)
        {
            ngx_memcpy(rb->keys[i], v->valuestring,
                       ngx_strlen(v->valuestring));
        }

        i++;
    }

    sc->nnodes = nnodes;

    v = cJSON_GetObjectItemCaseSensitive(root, "version");
    version = cJSON_IsNumber(v) ? (uint64_t) v->valuedouble : 0;

    if (version > sc->version) {
        sc->version = version;
    }

    v = cJSON_GetObjectItemCaseSensitive(root, "paused");
    rb->paused = cJSON_IsTrue(v);
    rb->config_hash = sc->config_hash;
    rb->nshards = sc->shards;
    rb->rf = sc->replication;
    rb->seq = 1;
    rb->started = ngx_time();

    if (rb->target) {
        rb->shards_total = 0;

        for (i = 0; i < sc->shards; i++) {
            rb->shards_total += rb->shard_state[i] != NGX_MIROIR_SHARD_STABLE;
        }
    }

    sc->rebalance = rb;

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "miroir cluster \"%V\": runtime topology version %uL "
                  "restored (%uD nodes%s)", &cl->name, sc->version,
                  sc->nnodes, rb->target ? ", rebalance pending" : "");

done:

    cJSON_Delete(root);
}


/* ------------------------------------------------------------ hooks */

static ngx_miroir_rb_cache_t *
ngx_miroir_rb_cache_get(ngx_miroir_cluster_conf_t *cl)
{
    size_t                       n;
    ngx_uint_t                   i, j, k;
    ngx_slab_pool_t             *shpool;
    ngx_miroir_rb_cache_t       *c;
    ngx_miroir_rebalance_shm_t  *rb;

    if (cl->index >= NGX_MIROIR_RB_CLUSTERS || cl->shm == NULL) {
        return NULL;
    }

    c = &ngx_miroir_rb_cache[cl->index];
    rb = cl->shm->rebalance;

    if (rb == NULL) {
        return NULL;
    }

    /* unlocked peek: a stale read only delays the refresh by one call */

    if (c->current && c->seq == rb->seq && c->version == cl->shm->version
        && c->retag_seq == rb->retag_seq)
    {
        return c;
    }

    shpool = ngx_miroir_rb_shpool();
    n = (size_t) cl->shm->shards * cl->shm->replication;

    if (c->current == NULL || c->version == 0) {
        c->current = ngx_alloc(n * sizeof(uint16_t), ngx_cycle->log);
        c->target = ngx_alloc(n * sizeof(uint16_t), ngx_cycle->log);
        c->state = ngx_alloc(cl->shm->shards, ngx_cycle->log);
        c->migrating = ngx_alloc(cl->shm->shards, ngx_cycle->log);
        c->retag = ngx_alloc(cl->shm->shards, ngx_cycle->log);
        c->source = ngx_alloc(cl->shm->shards * sizeof(uint16_t),
                              ngx_cycle->log);

        if (c->current == NULL || c->target == NULL || c->state == NULL
            || c->migrating == NULL || c->source == NULL || c->retag == NULL)
        {
            c->current = NULL;
            return NULL;
        }
    }

    c->moving = 0;

    ngx_shmtx_lock(&shpool->mutex);

    rb = ngx_miroir_rb_get(cl->shm);

    if (rb == NULL || rb->target == NULL) {
        ngx_memzero(c->state, cl->shm->shards);

    } else {
        ngx_memcpy(c->current, rb->current, n * sizeof(uint16_t));
        ngx_memcpy(c->target, rb->target, n * sizeof(uint16_t));
        ngx_memcpy(c->state, rb->shard_state, cl->shm->shards);
    }

    if (rb && rb->retag) {
        ngx_memcpy(c->retag, rb->retag, cl->shm->shards);
        ngx_memcpy(c->current, rb->current, n * sizeof(uint16_t));

    } else {
        ngx_memzero(c->retag, cl->shm->shards);
    }

    c->seq = cl->shm->rebalance
             ? ((ngx_miroir_rebalance_shm_t *) cl->shm->rebalance)->seq : 0;
    c->retag_seq = cl->shm->rebalance
                   ? ((ngx_miroir_rebalance_shm_t *)
                      cl->shm->rebalance)->retag_seq : 0;
    c->version = cl->shm->version;

    ngx_shmtx_unlock(&shpool->mutex);

    for (i = 0; i < cl->shm->shards; i++) {
        /*
         * Every shard not stable is read by name: from PLANNED on, writes
         * tag its documents with the new owners (the old owners' leader
         * filters miss them, a new owner's would double them), and once
         * SWITCHED the old owners still hold copies until the delete.
         * A shard whose move was abandoned too, until its tags are right
         * again (ngx_miroir_rb_abandoned()).
         */
        c->migrating[i] = c->state[i] != NGX_MIROIR_SHARD_STABLE
                          || c->retag[i];
        c->source[i] = 0;

        if (!c->migrating[i]) {
            continue;
        }

        c->moving++;

        /* read a moving shard from a current owner this worker can reach
         * (an old owner until the switch, then a new one): not stale */

        k = i * cl->shm->replication;
        c->source[i] = c->current[k];

        for (j = 0; j < cl->shm->replication; j++) {
            if (c->current[k + j] < cl->nodes.nelts
                && !ngx_miroir_node_is_down(cl, c->current[k + j])
                && !ngx_miroir_shard_is_stale(cl, i, c->current[k + j]))
            {
                c->source[i] = c->current[k + j];
                break;
            }
        }
    }

    return c;
}


ngx_int_t
ngx_miroir_rebalance_write_owners(ngx_miroir_cluster_conf_t *cl,
    ngx_uint_t shard, uint16_t *reach, ngx_uint_t *nreach, uint16_t *tag,
    ngx_uint_t *ntag)
{
    uint16_t                x;
    ngx_uint_t              j, k, rf;
    ngx_miroir_rb_cache_t  *c;

    c = ngx_miroir_rb_cache_get(cl);

    if (c == NULL || shard >= cl->shm->shards
        || c->state[shard] == NGX_MIROIR_SHARD_STABLE)
    {
        return NGX_DECLINED;
    }

    rf = cl->shm->replication;
    *nreach = 0;
    *ntag = rf;

    for (j = 0; j < rf; j++) {
        tag[j] = c->target[shard * rf + j];
    }

    for (j = 0; j < 2 * rf; j++) {
        x = j < rf ? c->current[shard * rf + j]
                   : c->target[shard * rf + j - rf];

        if (x >= cl->nodes.nelts) {
            continue;
        }

        for (k = 0; k < *nreach; k++) {
            if (reach[k] == x) {
                break;
            }
        }

        if (k == *nreach) {
            reach[(*nreach)++] = x;
        }
    }

    return NGX_OK;
}


ngx_uint_t
ngx_miroir_rebalance_read_state(ngx_miroir_cluster_conf_t *cl,
    const uint8_t **migrating, const uint16_t **source)
{
    ngx_miroir_rb_cache_t  *c;

    *migrating = NULL;
    *source = NULL;

    c = ngx_miroir_rb_cache_get(cl);

    if (c == NULL || c->moving == 0) {
        return 0;
    }

    *migrating = c->migrating;
    *source = c->source;

    return c->moving;
}


void
ngx_miroir_rebalance_mark_stale(ngx_miroir_cluster_conf_t *cl,
    ngx_uint_t node, ngx_uint_t shard)
{
    if (ngx_miroir_stale_mark) {
        ngx_miroir_stale_mark(cl, shard, node, ngx_cycle->log);
    }
}


ngx_uint_t
ngx_miroir_rebalance_is_stale(ngx_miroir_cluster_conf_t *cl,
    ngx_uint_t node, ngx_uint_t shard)
{
    return ngx_miroir_shard_is_stale(cl, shard, node);
}


void
ngx_miroir_rebalance_retag_done(ngx_miroir_cluster_conf_t *cl, uint32_t s,
    const uint16_t *owners)
{
    ngx_uint_t                   done;
    ngx_slab_pool_t             *shpool;
    ngx_miroir_rebalance_shm_t  *rb;

    shpool = ngx_miroir_rb_shpool();
    done = 0;

    ngx_shmtx_lock(&shpool->mutex);

    rb = ngx_miroir_rb_get(cl->shm);

    if (rb && rb->retag && s < rb->nshards && rb->retag[s]
        && ngx_memcmp(&rb->current[(size_t) s * rb->rf], owners,
                      rb->rf * sizeof(uint16_t)) == 0)
    {
        rb->retag[s] = 0;
        rb->retag_seq++;
        done = 1;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (done) {
        ngx_miroir_log_event(ngx_cycle->log, NGX_LOG_NOTICE, "shard_retagged",
                             &cl->name, NULL, "shard=%uD", s);
        (void) ngx_miroir_rebalance_save(cl, ngx_cycle->log);
    }
}


ngx_uint_t
ngx_miroir_rebalance_evicted(ngx_miroir_cluster_conf_t *cl, ngx_uint_t node)
{
    ngx_miroir_shm_cluster_t    *sc;
    ngx_miroir_rebalance_shm_t  *rb;

    sc = cl->shm;
    rb = sc ? sc->rebalance : NULL;

    /* bytes written under the lock by the change that evicts */

    return rb != NULL && node < sc->nnodes
           && sc->nodes[node].state == NGX_MIROIR_NODE_REMOVED
           && rb->evicted[node];
}


void
ngx_miroir_rebalance_health(ngx_miroir_cluster_conf_t *cl,
    ngx_uint_t *moving, ngx_uint_t *stale)
{
    ngx_uint_t              s, x, nnodes;
    ngx_miroir_rb_cache_t  *c;

    *moving = 0;
    *stale = 0;

    if (cl->shm == NULL) {
        return;
    }

    c = ngx_miroir_rb_cache_get(cl);

    if (c) {
        for (s = 0; s < cl->shm->shards; s++) {
            /* not the retag flags: nothing moves, reads only go by name
               until the helper found the tags right */
            *moving += c->state[s] != NGX_MIROIR_SHARD_STABLE;
        }
    }

    nnodes = cl->nodes.nelts;

    for (s = 0; s < cl->shm->shards; s++) {
        for (x = 0; x < nnodes; x++) {
            if (ngx_miroir_shard_is_stale(cl, s, x)) {
                (*stale)++;
                break;
            }
        }
    }
}


/* ------------------------------------------------------------ explain */

typedef struct {
    double       score;
    ngx_uint_t   node;
} ngx_miroir_rb_score_t;


static int
ngx_miroir_rb_score_cmp(const void *a, const void *b)
{
    const ngx_miroir_rb_score_t  *x = a, *y = b;

    return x->score < y->score ? 1 : x->score > y->score ? -1 : 0;
}


/*
 * GET /_miroir/shards/{docid}: the shard of a document id, its owners
 * (current and, while a rebalance is pending, target) and why: every
 * node's HRW score for the shard, best first.
 */
char *
ngx_miroir_rebalance_shard_json(ngx_miroir_cluster_conf_t *cl, u_char *key,
    size_t len, ngx_log_t *log)
{
    char                   *text, *id;
    cJSON                  *root, *a, *o;
    uint32_t                s, j, rf;
    ngx_uint_t              i, n;
    ngx_miroir_rb_snap_t   *sn;
    ngx_miroir_rb_score_t   sc[MIROIR_MAX_NODES];

    sn = ngx_miroir_rb_snapshot(cl, log);
    if (sn == NULL) {
        return NULL;
    }

    rf = sn->sc->replication;
    s = miroir_shard_of(key, len, sn->sc->shards);

    root = cJSON_CreateObject();
    if (root == NULL) {
        ngx_miroir_rb_snap_free(sn);
        return NULL;
    }

    id = ngx_alloc(len + 1, log);
    if (id) {
        ngx_memcpy(id, key, len);
        id[len] = '\0';
        cJSON_AddStringToObject(root, "documentId", id);
        ngx_free(id);
    }

    cJSON_AddNumberToObject(root, "shard", s);
    cJSON_AddNumberToObject(root, "version", (double) sn->sc->version);

    a = cJSON_AddArrayToObject(root, "owners");
    for (j = 0; a && j < rf; j++) {
        cJSON_AddItemToArray(a, cJSON_CreateString(
                                    sn->ids[sn->current[s * rf + j]]));
    }

    if (sn->target) {
        a = cJSON_AddArrayToObject(root, "targetOwners");
        for (j = 0; a && j < rf; j++) {
            cJSON_AddItemToArray(a, cJSON_CreateString(
                                        sn->ids[sn->target[s * rf + j]]));
        }
    }

    cJSON_AddStringToObject(root, "state",
                            ngx_miroir_rb_state_name(sn->shard_state[s]));
    cJSON_AddStringToObject(root, "table",
                            sn->stored ? "stored" : "router");

    n = 0;

    for (i = 0; i < sn->sc->nnodes; i++) {
        if (sn->nodes[i].state == MIROIR_NODE_REMOVED) {
            continue;
        }

        sc[n].node = i;
        sc[n].score = miroir_router_score(sn->ids[i], sn->nodes[i].weight, s);
        n++;
    }

    ngx_qsort(sc, n, sizeof(ngx_miroir_rb_score_t), ngx_miroir_rb_score_cmp);

    a = cJSON_AddArrayToObject(root, "scores");

    for (i = 0; a && i < n; i++) {
        o = cJSON_CreateObject();
        if (o == NULL) {
            break;
        }

        cJSON_AddItemToArray(a, o);
        cJSON_AddStringToObject(o, "node", sn->ids[sc[i].node]);
        cJSON_AddNumberToObject(o, "weight", sn->nodes[sc[i].node].weight);
        cJSON_AddNumberToObject(o, "score", sc[i].score);
        cJSON_AddBoolToObject(o, "owner",
                              ngx_miroir_rb_holds(sn->current + s * rf, rf,
                                                  sc[i].node));
    }

    text = cJSON_PrintUnformatted(root);

    cJSON_Delete(root);
    ngx_miroir_rb_snap_free(sn);

    return text;
}


/* ------------------------------------------------------------ workers */

/*
 * Give this worker the per-node state (address, key, upstream conf,
 * keepalive cache) of the nodes the admin API added at runtime, so the
 * fan-out can reach them by index like configured ones.  Called when the
 * worker sees a new topology version.  The node array is moved once to a
 * MIROIR_MAX_NODES-sized one in the cycle pool; the old elements stay
 * valid (upstream confs point at them) and share the same queues.
 */
void
ngx_miroir_rebalance_sync_nodes(ngx_miroir_cluster_conf_t *cl,
    ngx_miroir_shm_cluster_t *sc, ngx_log_t *log)
{
    u_char                      *p;
    ngx_uint_t                   i;
    ngx_conf_t                   cf;
    ngx_pool_t                  *pool;
    ngx_slab_pool_t             *shpool;
    ngx_miroir_shm_node_t       *sn;
    ngx_miroir_node_conf_t      *elts, *node;
    ngx_miroir_rebalance_shm_t  *rb;
    u_char                       key[NGX_MIROIR_KEY_LEN];

    if (sc->nnodes <= cl->nodes.nelts || sc->nnodes > MIROIR_MAX_NODES) {
        return;
    }

    pool = ngx_cycle->pool;
    shpool = ngx_miroir_rb_shpool();

    if (cl->nodes.nalloc < MIROIR_MAX_NODES) {
        elts = ngx_pcalloc(pool,
                           MIROIR_MAX_NODES * sizeof(ngx_miroir_node_conf_t));
        if (elts == NULL) {
            return;
        }

        ngx_memcpy(elts, cl->nodes.elts,
                   cl->nodes.nelts * sizeof(ngx_miroir_node_conf_t));
        cl->nodes.elts = elts;
        cl->nodes.nalloc = MIROIR_MAX_NODES;
        cl->nodes.pool = pool;
    }

    ngx_memzero(&cf, sizeof(ngx_conf_t));
    cf.pool = pool;
    cf.temp_pool = pool;
    cf.cycle = (ngx_cycle_t *) ngx_cycle;
    cf.log = log;

    elts = cl->nodes.elts;

    for (i = cl->nodes.nelts; i < sc->nnodes; i++) {
        sn = &sc->nodes[i];
        node = &elts[i];
        ngx_memzero(node, sizeof(ngx_miroir_node_conf_t));

        ngx_memzero(key, sizeof(key));

        ngx_shmtx_lock(&shpool->mutex);
        rb = cl->shm->rebalance;
        if (rb) {
            ngx_memcpy(key, rb->keys[i], NGX_MIROIR_KEY_LEN - 1);
        }
        ngx_shmtx_unlock(&shpool->mutex);

        node->id.data = ngx_pnalloc(pool, sn->id_len + 1);
        node->addr_text.data = ngx_pnalloc(pool, sn->addr_len + 1);
        if (node->id.data == NULL || node->addr_text.data == NULL) {
            return;
        }

        p = ngx_cpymem(node->id.data, sn->id, sn->id_len);
        *p = '\0';
        node->id.len = sn->id_len;
        p = ngx_cpymem(node->addr_text.data, sn->addr, sn->addr_len);
        *p = '\0';
        node->addr_text.len = sn->addr_len;
        node->host = node->addr_text;
        node->weight = sn->weight;

        if (ngx_parse_addr_port(pool, &node->addr, node->addr_text.data,
                                node->addr_text.len)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ALERT, log, 0,
                          "miroir cluster \"%V\": bad runtime address \"%V\" "
                          "of node \"%V\"", &cl->name, &node->addr_text,
                          &node->id);
            return;
        }

        node->key.len = ngx_strlen(key);

        if (node->key.len) {
            node->key.data = ngx_pnalloc(pool, node->key.len);
            node->auth.len = sizeof("Bearer ") - 1 + node->key.len;
            node->auth.data = ngx_pnalloc(pool, node->auth.len);
            if (node->key.data == NULL || node->auth.data == NULL) {
                return;
            }

            ngx_memcpy(node->key.data, key, node->key.len);
            ngx_memcpy(ngx_cpymem(node->auth.data, "Bearer ", 7), key,
                       node->key.len);
        }

        if (ngx_miroir_upstream_conf(&cf, cl, node) != NGX_OK) {
            return;
        }

        cl->nodes.nelts = i + 1;

        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "miroir cluster \"%V\": runtime node \"%V\" at %V "
                      "ready in this worker", &cl->name, &node->id,
                      &node->addr_text);
    }
}
