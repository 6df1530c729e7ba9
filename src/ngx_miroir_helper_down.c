/*
 * ngx_miroir_helper_down.c -- down_after: re-replicate the shards of a node
 * that stays down, and take it back when it answers again.
 *
 * Run by the helper process every tick, next to the migrations:
 *
 *   PROBE    every node that is not removed (and every evicted one) gets
 *            `GET /health` once a second, on its own connection.  The
 *            zone keeps, per node, when its current run of failed probes
 *            (down_since) or of answered ones (up_since) began.  The
 *            stamps live in the zone, so a new helper (reload, crash)
 *            goes on counting; a restart of nginx starts them again.
 *   EVICT    a node whose probes have all failed for down_after is
 *            removed by force with the change NGX_MIROIR_CHANGE_EVICT:
 *            its copies are planned onto the other nodes and the
 *            migration re-creates them from the surviving copies.  The
 *            node stays in the node list, state removed, flagged evicted
 *            (persisted in rebalance-<cluster>.json).  Not done while the
 *            rebalance is paused, nor when a shard of the node has no
 *            other answering copy (replication 1, or its other owners
 *            down too): that data exists only on the node, so it waits
 *            for the node (event=node_evict_blocked).
 *   WIPE     an evicted node that has answered every probe for
 *            down_after, once no rebalance is pending, is emptied: its
 *            copies missed every write since it went down, so it must
 *            not serve or give back any of them.  Every index on it is
 *            deleted, until `GET /indexes` lists none.
 *   REJOIN   then NGX_MIROIR_CHANGE_REJOIN makes it a joining node with
 *            its old id, address, key and weight: the table brings it back
 *            to its share by moving copies only onto it, as for an add.
 *
 * An operator who adds a node with the same id or address in between
 * takes over: the evicted entry then stays a plain removed one.
 */

#include "ngx_miroir.h"
#include "ngx_miroir_rebalance.h"
#include "ngx_miroir_helper.h"
#include "ngx_miroir_log.h"


#define NGX_MIROIR_DOWN_PROBE     1000    /* ms between two probes */
#define NGX_MIROIR_DOWN_TIMEOUT   10000   /* ms, at most, per probe */
#define NGX_MIROIR_DOWN_CLUSTERS  64
#define NGX_MIROIR_DOWN_WIPE      500     /* ms between two wipe rounds */
#define NGX_MIROIR_DOWN_ROUNDS    300     /* wipe rounds before a pause */


enum {
    NGX_MIROIR_WIPE_NONE = 0,
    NGX_MIROIR_WIPE_LIST,       /* GET /indexes in flight */
    NGX_MIROIR_WIPE_WAIT        /* deletes sent, list again later */
};


typedef struct {
    ngx_miroir_cluster_conf_t      *cl;
    ngx_uint_t                      node;
    ngx_msec_t                      last;       /* last probe sent */
    ngx_uint_t                      busy;
    u_char                          addr[NGX_MIROIR_ADDR_LEN];
    ngx_str_t                       addr_str;
} ngx_miroir_down_probe_t;


typedef struct {
    ngx_miroir_down_probe_t         probe[MIROIR_MAX_NODES];

    /* one wipe at a time per cluster */
    ngx_uint_t                      wipe_state;
    ngx_uint_t                      wipe_node;
    ngx_uint_t                      wipe_rounds;
    ngx_msec_t                      wipe_at;
    u_char                          wipe_addr[NGX_MIROIR_ADDR_LEN];
    u_char                          wipe_key[NGX_MIROIR_KEY_LEN];
    ngx_str_t                       wipe_addr_str;
    ngx_str_t                       wipe_key_str;
} ngx_miroir_down_cl_t;


/* the write path's stale marks (ngx_miroir_tasks.c) */
extern void ngx_miroir_stale_clear(ngx_miroir_cluster_conf_t *cl,
    ngx_uint_t shard, ngx_uint_t node, ngx_log_t *log)
    __attribute__((weak));


static ngx_miroir_down_cl_t  *ngx_miroir_down_cl[NGX_MIROIR_DOWN_CLUSTERS];

/* the cycle's log without warnings: a dead node refuses every probe */
static ngx_log_t              ngx_miroir_down_log;


static void ngx_miroir_down_probe(ngx_miroir_down_probe_t *p,
    ngx_str_t *addr);
static void ngx_miroir_down_probed(ngx_miroir_hc_t *hc);
static void ngx_miroir_down_result(ngx_miroir_down_probe_t *p,
    ngx_uint_t ok);
static void ngx_miroir_down_evict(ngx_miroir_cluster_conf_t *cl,
    ngx_uint_t x, ngx_str_t *id, ngx_msec_t down);
static ngx_uint_t ngx_miroir_down_blocked(ngx_miroir_cluster_conf_t *cl,
    ngx_uint_t x, ngx_msec_t *down, ngx_uint_t nnodes, uint32_t *states);
static void ngx_miroir_down_wipe(ngx_miroir_cluster_conf_t *cl,
    ngx_miroir_down_cl_t *dc);
static void ngx_miroir_down_listed(ngx_miroir_hc_t *hc);
static void ngx_miroir_down_rejoin(ngx_miroir_cluster_conf_t *cl,
    ngx_miroir_down_cl_t *dc);


static ngx_slab_pool_t *
ngx_miroir_down_shpool(void)
{
    ngx_miroir_main_conf_t  *mmcf;

    mmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_miroir_module);

    return mmcf ? mmcf->shpool : NULL;
}


void
ngx_miroir_helper_down(ngx_miroir_cluster_conf_t *cl)
{
    size_t                       n;
    ngx_str_t                    id, addr;
    ngx_msec_t                   now;
    ngx_uint_t                   i, j, nnodes, pending, paused, holds;
    ngx_uint_t                   taken, replaced;
    ngx_slab_pool_t             *shpool;
    ngx_miroir_shm_node_t       *nd;
    ngx_miroir_down_cl_t        *dc;
    ngx_miroir_rebalance_shm_t  *rb;
    u_char                       ids[MIROIR_MAX_NODES][MIROIR_NODE_ID_LEN];
    u_char                       abuf[MIROIR_MAX_NODES][NGX_MIROIR_ADDR_LEN];
    uint16_t                     idlen[MIROIR_MAX_NODES];
    uint16_t                     alen[MIROIR_MAX_NODES];
    uint32_t                     states[MIROIR_MAX_NODES];
    uint8_t                      evicted[MIROIR_MAX_NODES];
    ngx_msec_t                   down[MIROIR_MAX_NODES];
    ngx_msec_t                   up[MIROIR_MAX_NODES];

    if (cl->down_after == 0 || cl->shm == NULL
        || cl->index >= NGX_MIROIR_DOWN_CLUSTERS)
    {
        return;
    }

    shpool = ngx_miroir_down_shpool();
    if (shpool == NULL) {
        return;
    }

    dc = ngx_miroir_down_cl[cl->index];

    if (dc == NULL) {
        dc = ngx_calloc(sizeof(ngx_miroir_down_cl_t), ngx_cycle->log);
        if (dc == NULL) {
            return;
        }

        ngx_miroir_down_cl[cl->index] = dc;
    }

    now = ngx_current_msec;
    replaced = 0;

    /* what the zone says, copied under the lock */

    ngx_shmtx_lock(&shpool->mutex);

    rb = cl->shm->rebalance;

    if (rb == NULL) {
        ngx_shmtx_unlock(&shpool->mutex);
        return;     /* ngx_miroir_helper_step() creates it */
    }

    nnodes = cl->shm->nnodes;
    pending = rb->target != NULL;
    paused = rb->paused;

    for (i = 0; i < nnodes; i++) {
        nd = &cl->shm->nodes[i];
        ngx_memcpy(ids[i], nd->id, nd->id_len);
        idlen[i] = nd->id_len;
        ngx_memcpy(abuf[i], nd->addr, nd->addr_len);
        alen[i] = nd->addr_len;
        states[i] = nd->state;
        evicted[i] = nd->state == NGX_MIROIR_NODE_REMOVED && rb->evicted[i];
        down[i] = rb->down_since[i];
        up[i] = rb->up_since[i];
    }

    /* an evicted node whose id or address a newer node took: the
       operator replaced it, leave it removed */

    for (i = 0; i < nnodes; i++) {
        if (!evicted[i]) {
            continue;
        }

        for (j = 0; j < nnodes; j++) {
            if (j != i && states[j] != NGX_MIROIR_NODE_REMOVED
                && ((idlen[j] == idlen[i]
                     && ngx_memcmp(ids[j], ids[i], idlen[i]) == 0)
                    || (alen[j] == alen[i]
                        && ngx_memcmp(abuf[j], abuf[i], alen[i]) == 0)))
            {
                rb->evicted[i] = 0;
                evicted[i] = 0;
                replaced = 1;
                break;
            }
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (replaced) {
        (void) ngx_miroir_rebalance_save(cl, ngx_cycle->log);
    }

    /* probes */

    for (i = 0; i < nnodes; i++) {
        if (states[i] == NGX_MIROIR_NODE_REMOVED && !evicted[i]) {
            continue;
        }

        if (dc->probe[i].busy
            || (dc->probe[i].last
                && now - dc->probe[i].last < NGX_MIROIR_DOWN_PROBE))
        {
            continue;
        }

        dc->probe[i].cl = cl;
        dc->probe[i].node = i;
        addr.data = abuf[i];
        addr.len = alen[i];
        ngx_miroir_down_probe(&dc->probe[i], &addr);
    }

    /* evictions: one change per tick */

    if (!paused) {
        for (i = 0; i < nnodes; i++) {
            if (states[i] == NGX_MIROIR_NODE_REMOVED || down[i] == 0
                || now - down[i] < cl->down_after)
            {
                continue;
            }

            if (ngx_miroir_down_blocked(cl, i, down, nnodes, states)) {
                continue;
            }

            id.data = ids[i];
            id.len = idlen[i];
            ngx_miroir_down_evict(cl, i, &id, now - down[i]);
            break;
        }
    }

    /* the stale marks of an evicted node are moot: it holds nothing */

    if (!pending) {
        n = (size_t) cl->shm->shards;

        for (i = 0; i < nnodes && i < cl->nodes.nelts; i++) {
            if (!evicted[i]) {
                continue;
            }

            for (j = 0; j < n; j++) {
                if (ngx_miroir_stale_clear
                    && ngx_miroir_shard_is_stale(cl, j, i))
                {
                    ngx_miroir_stale_clear(cl, j, i, ngx_cycle->log);
                }
            }
        }
    }

    /* a wipe in progress goes on; else start one for a node back */

    if (dc->wipe_state != NGX_MIROIR_WIPE_NONE) {
        if (!evicted[dc->wipe_node] || paused || pending) {
            dc->wipe_state = NGX_MIROIR_WIPE_NONE;     /* changed meanwhile */
            return;
        }

        if (dc->wipe_state == NGX_MIROIR_WIPE_WAIT
            && now - dc->wipe_at >= NGX_MIROIR_DOWN_WIPE)
        {
            ngx_miroir_down_wipe(cl, dc);
        }

        return;
    }

    if (pending || paused) {
        return;
    }

    for (i = 0; i < nnodes; i++) {
        if (!evicted[i] || up[i] == 0 || now - up[i] < cl->down_after) {
            continue;
        }

        /* only once its shards are gone from the current table */

        holds = 0;
        taken = 0;

        ngx_shmtx_lock(&shpool->mutex);

        rb = cl->shm->rebalance;

        if (rb && rb->current && rb->target == NULL
            && rb->config_hash == cl->shm->config_hash)
        {
            n = (size_t) cl->shm->shards * cl->shm->replication;

            for (j = 0; j < n; j++) {
                if (rb->current[j] == i) {
                    holds = 1;
                    break;
                }
            }

            if (!holds) {
                taken = 1;
                ngx_memcpy(dc->wipe_key, rb->keys[i], NGX_MIROIR_KEY_LEN);
                dc->wipe_key[NGX_MIROIR_KEY_LEN - 1] = '\0';
            }
        }

        ngx_shmtx_unlock(&shpool->mutex);

        if (!taken) {
            continue;
        }

        if (i < cl->nodes.nelts
            && ((ngx_miroir_node_conf_t *) cl->nodes.elts)[i].key.len)
        {
            dc->wipe_key_str = ((ngx_miroir_node_conf_t *)
                                cl->nodes.elts)[i].key;

        } else {
            dc->wipe_key_str.data = dc->wipe_key;
            dc->wipe_key_str.len = ngx_strlen(dc->wipe_key);
        }

        ngx_memcpy(dc->wipe_addr, abuf[i], alen[i]);
        dc->wipe_addr_str.data = dc->wipe_addr;
        dc->wipe_addr_str.len = alen[i];
        dc->wipe_node = i;
        dc->wipe_rounds = 0;

        id.data = ids[i];
        id.len = idlen[i];

        ngx_miroir_log_event(ngx_cycle->log, NGX_LOG_NOTICE, "node_rejoin",
                             &cl->name, NULL, "node=%V step=wipe up_ms=%M",
                             &id, now - up[i]);

        ngx_miroir_down_wipe(cl, dc);
        return;
    }
}


/* ------------------------------------------------------------ probes */

static void
ngx_miroir_down_probe(ngx_miroir_down_probe_t *p, ngx_str_t *addr)
{
    ngx_str_t   uri = ngx_string("/health");
    ngx_str_t   key = ngx_null_string;
    ngx_msec_t  timeout;

    ngx_memcpy(p->addr, addr->data, addr->len);
    p->addr_str.data = p->addr;
    p->addr_str.len = addr->len;
    p->last = ngx_current_msec;
    p->busy = 1;

    ngx_miroir_down_log = *ngx_cycle->log;

    if (ngx_miroir_down_log.log_level > NGX_LOG_ERR
        && ngx_miroir_down_log.log_level < NGX_LOG_DEBUG)
    {
        ngx_miroir_down_log.log_level = NGX_LOG_ERR;
    }

    timeout = ngx_min(p->cl->connect_timeout + p->cl->node_timeout,
                      NGX_MIROIR_DOWN_TIMEOUT);

    if (ngx_miroir_hc_start(&p->addr_str, "GET", &uri, &key, NULL, timeout,
                            ngx_miroir_down_probed, p,
                            &ngx_miroir_down_log)
        != NGX_OK)
    {
        /* refused at once, or no memory: a failed probe either way */
        p->busy = 0;
        ngx_miroir_down_result(p, 0);
    }
}


static void
ngx_miroir_down_probed(ngx_miroir_hc_t *hc)
{
    ngx_miroir_down_probe_t  *p;

    p = hc->data;
    p->busy = 0;

    ngx_miroir_down_result(p, hc->ok && hc->status == NGX_HTTP_OK);
}


static void
ngx_miroir_down_result(ngx_miroir_down_probe_t *p, ngx_uint_t ok)
{
    ngx_msec_t                   now;
    ngx_slab_pool_t             *shpool;
    ngx_miroir_rebalance_shm_t  *rb;

    shpool = ngx_miroir_down_shpool();
    now = ngx_current_msec;

    if (now == 0) {
        now = 1;        /* 0 means "not in this run" */
    }

    ngx_shmtx_lock(&shpool->mutex);

    rb = p->cl->shm->rebalance;

    if (rb && p->node < p->cl->shm->nnodes) {
        if (ok) {
            rb->down_since[p->node] = 0;

            if (rb->up_since[p->node] == 0) {
                rb->up_since[p->node] = now;
            }

        } else {
            rb->up_since[p->node] = 0;

            if (rb->down_since[p->node] == 0) {
                rb->down_since[p->node] = now;
            }
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);
}


/* ------------------------------------------------------------ evict */

/*
 * 1 if evicting x would drop the only answering copy of a shard: a shard
 * of x (current or target table) whose other owners are all down or
 * removed.  Those documents exist only on x; wait for it.
 */
static ngx_uint_t
ngx_miroir_down_blocked(ngx_miroir_cluster_conf_t *cl, ngx_uint_t x,
    ngx_msec_t *down, ngx_uint_t nnodes, uint32_t *states)
{
    size_t                       n;
    uint16_t                    *cur;
    uint32_t                     s, k, rf, nshards, lost;
    ngx_str_t                    id;
    ngx_uint_t                   live, holds, y;
    ngx_slab_pool_t             *shpool;
    const miroir_route_table_t  *rt;

    rt = ngx_miroir_route_table(cl, ngx_cycle->log);
    if (rt == NULL) {
        return 1;
    }

    rf = rt->rf;
    nshards = rt->nshards;
    n = (size_t) nshards * rf;

    cur = ngx_alloc(n * sizeof(uint16_t), ngx_cycle->log);
    if (cur == NULL) {
        return 1;
    }

    /* the current table: the stored one, else the router's */

    ngx_memcpy(cur, rt->owners, n * sizeof(uint16_t));

    shpool = ngx_miroir_down_shpool();

    ngx_shmtx_lock(&shpool->mutex);

    if (cl->shm->rebalance
        && ((ngx_miroir_rebalance_shm_t *) cl->shm->rebalance)->current
        && ((ngx_miroir_rebalance_shm_t *) cl->shm->rebalance)->nshards
           == nshards
        && ((ngx_miroir_rebalance_shm_t *) cl->shm->rebalance)->rf == rf
        && ((ngx_miroir_rebalance_shm_t *) cl->shm->rebalance)->config_hash
           == cl->shm->config_hash)
    {
        ngx_memcpy(cur, ((ngx_miroir_rebalance_shm_t *)
                         cl->shm->rebalance)->current,
                   n * sizeof(uint16_t));
    }

    ngx_shmtx_unlock(&shpool->mutex);

    lost = 0;

    for (s = 0; s < nshards; s++) {
        holds = 0;
        live = 0;

        for (k = 0; k < rf; k++) {
            y = cur[s * rf + k];

            if (y == x) {
                holds = 1;
                continue;
            }

            if (y < nnodes && states[y] != NGX_MIROIR_NODE_REMOVED
                && down[y] == 0)
            {
                live++;
            }
        }

        if (holds && live == 0) {
            lost++;
        }
    }

    ngx_free(cur);

    if (lost == 0) {
        return 0;
    }

    id.data = cl->shm->nodes[x].id;
    id.len = cl->shm->nodes[x].id_len;

    ngx_miroir_log_event(ngx_cycle->log, NGX_LOG_WARN, "node_evict_blocked",
                         &cl->name, &id, "node=%V shards=%uD reason=\"no "
                         "other live copy\"", &id, lost);

    return 1;
}


static void
ngx_miroir_down_evict(ngx_miroir_cluster_conf_t *cl, ngx_uint_t x,
    ngx_str_t *id, ngx_msec_t down)
{
    ngx_int_t                    rc;
    miroir_error_t               err;
    ngx_miroir_change_t          ch;
    ngx_miroir_change_result_t   res;

    ngx_memzero(&ch, sizeof(ngx_miroir_change_t));
    ch.kind = NGX_MIROIR_CHANGE_EVICT;
    ch.id = *id;
    ch.force = 1;

    rc = ngx_miroir_rebalance_change(cl, &ch, 0, &res, &err, ngx_cycle->log);

    if (rc != NGX_OK) {
        /* 409: the topology moved meanwhile, the next tick retries */
        ngx_miroir_log_event(ngx_cycle->log, NGX_LOG_WARN,
                             "node_evict_failed", &cl->name, id,
                             "node=%V status=%ui reason=\"%s\"", id,
                             (ngx_uint_t) err.status, err.message);
        return;
    }

    ngx_miroir_log_event(ngx_cycle->log, NGX_LOG_WARN, "node_evicted",
                         &cl->name, NULL, "node=%V down_ms=%M "
                         "down_after_ms=%M version=%uL", id, down,
                         cl->down_after, res.version);

    free(res.plan_json);
}


/* ------------------------------------------------------------ rejoin */

static void
ngx_miroir_down_wipe(ngx_miroir_cluster_conf_t *cl, ngx_miroir_down_cl_t *dc)
{
    ngx_str_t  uri = ngx_string("/indexes?limit=1000");

    if (++dc->wipe_rounds > NGX_MIROIR_DOWN_ROUNDS) {
        ngx_miroir_log_event(ngx_cycle->log, NGX_LOG_WARN,
                             "node_rejoin_failed", &cl->name, NULL,
                             "node_index=%ui reason=\"indexes remain\"",
                             dc->wipe_node);
        dc->wipe_state = NGX_MIROIR_WIPE_NONE;
        return;
    }

    dc->wipe_state = NGX_MIROIR_WIPE_LIST;

    if (ngx_miroir_hc_start(&dc->wipe_addr_str, "GET", &uri,
                            &dc->wipe_key_str, NULL,
                            NGX_MIROIR_DOWN_TIMEOUT,
                            ngx_miroir_down_listed, cl, ngx_cycle->log)
        != NGX_OK)
    {
        dc->wipe_state = NGX_MIROIR_WIPE_WAIT;
        dc->wipe_at = ngx_current_msec;
    }
}


static void
ngx_miroir_down_ignore(ngx_miroir_hc_t *hc)
{
    /* the next listing tells whether the delete went through */
}


static void
ngx_miroir_down_listed(ngx_miroir_hc_t *hc)
{
    u_char                     *p;
    u_char                      ubuf[512];
    cJSON                      *root, *results, *ix, *uid;
    ngx_str_t                   uri;
    ngx_uint_t                  count;
    ngx_miroir_down_cl_t       *dc;
    ngx_miroir_cluster_conf_t  *cl;

    cl = hc->data;
    dc = ngx_miroir_down_cl[cl->index];

    if (dc == NULL || dc->wipe_state != NGX_MIROIR_WIPE_LIST) {
        return;
    }

    dc->wipe_state = NGX_MIROIR_WIPE_WAIT;
    dc->wipe_at = ngx_current_msec;

    if (!hc->ok || hc->status != NGX_HTTP_OK) {
        return;
    }

    root = cJSON_ParseWithLength((char *) hc->body.data, hc->body.len);
    results = cJSON_GetObjectItemCaseSensitive(root, "results");

    if (!cJSON_IsArray(results)) {
        cJSON_Delete(root);
        return;
    }

    count = 0;

    cJSON_ArrayForEach(ix, results) {
        uid = cJSON_GetObjectItemCaseSensitive(ix, "uid");

        if (!cJSON_IsString(uid) || ngx_strlen(uid->valuestring) > 400) {
            continue;
        }

        count++;

        p = ngx_snprintf(ubuf, sizeof(ubuf), "/indexes/%s",
                         uid->valuestring);
        uri.data = ubuf;
        uri.len = p - ubuf;

        (void) ngx_miroir_hc_start(&dc->wipe_addr_str, "DELETE", &uri,
                                   &dc->wipe_key_str, NULL,
                                   NGX_MIROIR_DOWN_TIMEOUT,
                                   ngx_miroir_down_ignore, NULL,
                                   ngx_cycle->log);
    }

    cJSON_Delete(root);

    /* results was an array (checked above); it is gone with root now */

    if (count == 0) {
        ngx_miroir_down_rejoin(cl, dc);
    }
}


static void
ngx_miroir_down_rejoin(ngx_miroir_cluster_conf_t *cl, ngx_miroir_down_cl_t *dc)
{
    u_char                       idbuf[MIROIR_NODE_ID_LEN];
    ngx_int_t                    rc;
    ngx_str_t                    id;
    miroir_error_t               err;
    ngx_slab_pool_t             *shpool;
    ngx_miroir_change_t          ch;
    ngx_miroir_change_result_t   res;

    dc->wipe_state = NGX_MIROIR_WIPE_NONE;

    shpool = ngx_miroir_down_shpool();

    ngx_shmtx_lock(&shpool->mutex);
    id.len = cl->shm->nodes[dc->wipe_node].id_len;
    ngx_memcpy(idbuf, cl->shm->nodes[dc->wipe_node].id, id.len);
    ngx_shmtx_unlock(&shpool->mutex);

    id.data = idbuf;

    ngx_memzero(&ch, sizeof(ngx_miroir_change_t));
    ch.kind = NGX_MIROIR_CHANGE_REJOIN;
    ch.id = id;

    rc = ngx_miroir_rebalance_change(cl, &ch, 0, &res, &err, ngx_cycle->log);

    if (rc != NGX_OK) {
        ngx_miroir_log_event(ngx_cycle->log, NGX_LOG_WARN,
                             "node_rejoin_failed", &cl->name, &id,
                             "node=%V status=%ui reason=\"%s\"", &id,
                             (ngx_uint_t) err.status, err.message);
        return;
    }

    ngx_miroir_log_event(ngx_cycle->log, NGX_LOG_NOTICE, "node_rejoined",
                         &cl->name, NULL, "node=%V version=%uL", &id,
                         res.version);

    free(res.plan_json);
}
