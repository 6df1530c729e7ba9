/*
 * ngx_miroir_route.c -- the shard -> owners table of a cluster, as each
 * worker sees it.
 *
 * The table is a pure function of the topology in the shared zone; each
 * worker builds it once per topology version (a few milliseconds for 1024
 * shards) and keeps it in its own memory, so routing a document or planning
 * a read is a table lookup.  The old table is freed when a newer version
 * is seen; the last one is freed with the cycle (a cleanup of the pool
 * that holds the cluster configuration), so nothing is left at exit.
 */

#include "ngx_miroir.h"
#include "ngx_miroir_rebalance.h"

#include "miroir_router.h"
#include "miroir_filter.h"


static void ngx_miroir_route_cleanup(void *data);


const miroir_route_table_t *
ngx_miroir_route_table(ngx_miroir_cluster_conf_t *cl, ngx_log_t *log)
{
    char                      *ids;
    size_t                     len;
    ngx_uint_t                 i;
    miroir_rc_t                rc;
    miroir_node_t             *nodes;
    miroir_error_t             err;
    miroir_router_t           *router;
    miroir_router_conf_t       conf;
    ngx_pool_cleanup_t        *cln;
    ngx_miroir_shm_node_t     *sn;
    ngx_miroir_shm_cluster_t  *sc;

    if (cl->shm == NULL) {
        return NULL;
    }

    if (cl->router && cl->router_version == cl->shm->version) {
        return miroir_router_table(cl->router);
    }

    len = offsetof(ngx_miroir_shm_cluster_t, nodes)
          + MIROIR_MAX_NODES * sizeof(ngx_miroir_shm_node_t);

    sc = ngx_alloc(len, log);
    nodes = ngx_alloc(MIROIR_MAX_NODES * sizeof(miroir_node_t), log);
    ids = ngx_alloc(MIROIR_MAX_NODES * MIROIR_NODE_ID_LEN, log);

    if (sc == NULL || nodes == NULL || ids == NULL) {
        router = NULL;
        goto done;
    }

    if (ngx_miroir_topology_snapshot(cl, sc) != NGX_OK) {
        router = NULL;
        goto done;
    }

    /* nodes added at runtime: this worker's upstream state for them */
    ngx_miroir_rebalance_sync_nodes(cl, sc, log);

    for (i = 0; i < sc->nnodes; i++) {
        sn = &sc->nodes[i];

        ngx_memcpy(ids + i * MIROIR_NODE_ID_LEN, sn->id, sn->id_len);
        ids[i * MIROIR_NODE_ID_LEN + sn->id_len] = '\0';

        nodes[i].id = ids + i * MIROIR_NODE_ID_LEN;
        nodes[i].weight = (double) sn->weight;
        nodes[i].state = (miroir_node_state_e) sn->state;
    }

    conf.nshards = sc->shards;
    conf.rf = sc->replication;
    conf.kind = MIROIR_ROUTE_CURRENT;
    conf.balance = MIROIR_ROUTER_BALANCE;

    /* once the admin API changed the topology, the stored table is the
       truth (ngx_miroir_rebalance.c); before, the router's table */

    router = ngx_miroir_rebalance_router(cl, sc, log);
    rc = MIROIR_OK;

    if (router == NULL) {
        rc = miroir_router_create(&conf, nodes, sc->nnodes, &router, &err);
    }

    if (rc != MIROIR_OK) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "miroir cluster \"%V\": cannot build the shard table "
                      "of topology version %uL: %s", &cl->name, sc->version,
                      rc == MIROIR_ENOMEM ? "out of memory" : err.message);
        router = NULL;
        goto done;
    }

    if (cl->router == NULL) {
        /* this process's first table: freed with the cycle, whose pool
           holds cl (requests and the helper run in ngx_cycle) */
        cln = ngx_pool_cleanup_add(ngx_cycle->pool, 0);
        if (cln == NULL) {
            miroir_router_free(router);
            router = NULL;
            goto done;
        }

        cln->handler = ngx_miroir_route_cleanup;
        cln->data = cl;
    }

    miroir_router_free(cl->router);
    cl->router = router;
    cl->router_version = sc->version;

done:

    if (sc) {
        ngx_free(sc);
    }

    if (nodes) {
        ngx_free(nodes);
    }

    if (ids) {
        ngx_free(ids);
    }

    return router ? miroir_router_table(router) : NULL;
}


static void
ngx_miroir_route_cleanup(void *data)
{
    ngx_miroir_cluster_conf_t  *cl = data;

    miroir_router_free(cl->router);
    cl->router = NULL;
    cl->router_version = 0;
}


/*
 * Which nodes are unavailable for reads: those marked down by passive
 * health.  down must hold MIROIR_MAX_NODES flags.
 */
ngx_uint_t
ngx_miroir_down_nodes(ngx_miroir_cluster_conf_t *cl, uint8_t *down)
{
    ngx_uint_t  i, n, ndown;

    n = cl->shm ? ngx_min(cl->shm->nnodes, MIROIR_MAX_NODES) : 0;
    ndown = 0;

    for (i = 0; i < n; i++) {
        down[i] = cl->shm->nodes[i].down ? 1 : 0;
        ndown += down[i];
    }

    ngx_memzero(down + n, MIROIR_MAX_NODES - n);

    return ndown;
}


/*
 * The shards with no live copy when the nodes flagged in down are
 * unavailable; -1 when the table cannot be built.
 */
ngx_int_t
ngx_miroir_missing_shards(ngx_miroir_cluster_conf_t *cl, const uint8_t *down,
    ngx_log_t *log)
{
    ngx_int_t                    n;
    miroir_read_plan_t          *plan;
    const miroir_route_table_t  *rt;

    rt = ngx_miroir_route_table(cl, log);
    if (rt == NULL) {
        return -1;
    }

    if (miroir_read_plan_create(rt, down, &plan) != MIROIR_OK) {
        return -1;
    }

    n = plan->nmissing;
    miroir_read_plan_free(plan);

    return n;
}
