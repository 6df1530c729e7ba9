/*
 * ngx_miroir_helper_retag.c -- when may a shard whose move was abandoned be
 * read by its owner tags again?
 *
 * A change that sends a planned or copying shard back to its current
 * owners (ngx_miroir_rb_abandoned() in ngx_miroir_rebalance.c) flags it:
 * its copies may carry the abandoned owner list in _miroir_o*, and the
 * abandoned owner may hold a partial copy, so the read path reads the
 * shard by name from one live owner (complete whatever the tags) instead
 * of by leader filters.  The migration engine retags the shard and deletes
 * the partial copy.  This file only looks, about once a second, one
 * flagged shard at a time: for every index (listed on a live owner), it
 * counts the shard on every node that is not removed:
 *
 *   owner       `_miroir_shard = s` and the same with every
 *               `_miroir_o<j> = "<owner j>"`: the two must be equal;
 *   other node  `_miroir_shard = s`: must be 0 (404: no index, fine);
 *               a draining node too (its copy would come back if it
 *               owned the shard again); one marked down that owns
 *               nothing is left for a later look.
 *
 * When they all are (and the owners did not change meanwhile), the flag is
 * cleared (ngx_miroir_rebalance_retag_done()).  A request that fails keeps
 * the flag for the next look: reading by name is always correct, only less
 * direct.
 */

#include "ngx_miroir.h"
#include "ngx_miroir_rebalance.h"
#include "ngx_miroir_helper.h"


#define NGX_MIROIR_RETAG_EVERY     1000    /* ms between two looks */
#define NGX_MIROIR_RETAG_TIMEOUT   10000
#define NGX_MIROIR_RETAG_CLUSTERS  64


typedef struct ngx_miroir_retag_s  ngx_miroir_retag_t;

struct ngx_miroir_retag_s {
    ngx_miroir_cluster_conf_t      *cl;
    ngx_pool_t                     *pool;       /* of this look */
    ngx_msec_t                      next_at;
    ngx_uint_t                      busy;
    ngx_uint_t                      cursor;     /* next shard to look at */
    ngx_uint_t                      looks;

    uint32_t                        shard;
    uint32_t                        rf;
    uint32_t                        nnodes;
    uint16_t                        owners[MIROIR_MAX_RF];
    ngx_uint_t                      pending;
    ngx_uint_t                      bad;
    int64_t                         owner_all;
    int64_t                         owner_ok;
    int64_t                         others;

    ngx_str_t                       ids[MIROIR_MAX_NODES];
    ngx_str_t                       addrs[MIROIR_MAX_NODES];
    ngx_str_t                       keys[MIROIR_MAX_NODES];
    uint8_t                         skip[MIROIR_MAX_NODES];   /* removed */
};


typedef struct {
    ngx_miroir_retag_t             *rt;
    ngx_uint_t                      kind;
} ngx_miroir_retag_req_t;

enum {
    NGX_MIROIR_RETAG_OWNER_ALL = 0,
    NGX_MIROIR_RETAG_OWNER_OK,
    NGX_MIROIR_RETAG_OTHER
};


static ngx_miroir_retag_t  *ngx_miroir_retag_cl[NGX_MIROIR_RETAG_CLUSTERS];


static ngx_int_t ngx_miroir_retag_load(ngx_miroir_retag_t *rt);
static void ngx_miroir_retag_listed(ngx_miroir_hc_t *hc);
static void ngx_miroir_retag_counted(ngx_miroir_hc_t *hc);
static void ngx_miroir_retag_end(ngx_miroir_retag_t *rt);


void
ngx_miroir_helper_retag(ngx_miroir_cluster_conf_t *cl)
{
    u_char               buf[32];
    ngx_str_t            uri;
    ngx_uint_t           i, j;
    ngx_miroir_retag_t  *rt;

    if (cl->shm == NULL || cl->shm->rebalance == NULL
        || cl->index >= NGX_MIROIR_RETAG_CLUSTERS)
    {
        return;
    }

    rt = ngx_miroir_retag_cl[cl->index];

    if (rt == NULL) {
        rt = ngx_calloc(sizeof(ngx_miroir_retag_t), ngx_cycle->log);
        if (rt == NULL) {
            return;
        }

        rt->cl = cl;
        ngx_miroir_retag_cl[cl->index] = rt;
    }

    if (rt->busy || ngx_current_msec < rt->next_at) {
        return;
    }

    rt->next_at = ngx_current_msec + NGX_MIROIR_RETAG_EVERY;

    if (ngx_miroir_retag_load(rt) != NGX_OK) {
        return;
    }

    /* the index list, from an owner (another one at each look, in case
       one is down) */

    uri.data = buf;
    uri.len = ngx_sprintf(buf, "/indexes?limit=1000") - buf;

    rt->looks++;

    for (j = 0; j < rt->rf; j++) {
        i = rt->owners[(rt->looks + j) % rt->rf];

        rt->busy = 1;

        if (ngx_miroir_hc_start(&rt->addrs[i], "GET", &uri, &rt->keys[i],
                                NULL, NGX_MIROIR_RETAG_TIMEOUT,
                                ngx_miroir_retag_listed, rt, ngx_cycle->log)
            == NGX_OK)
        {
            return;
        }

        rt->busy = 0;
    }

    ngx_destroy_pool(rt->pool);
    rt->pool = NULL;
}


/* The next flagged shard and the nodes, copied from the zone. */
static ngx_int_t
ngx_miroir_retag_load(ngx_miroir_retag_t *rt)
{
    size_t                       k;
    uint32_t                     s, n, j;
    ngx_uint_t                   found;
    ngx_slab_pool_t             *shpool;
    ngx_miroir_shm_node_t       *nd;
    ngx_miroir_node_conf_t      *conf;
    ngx_miroir_main_conf_t      *mmcf;
    ngx_miroir_rebalance_shm_t  *rb;
    ngx_miroir_cluster_conf_t   *cl;

    cl = rt->cl;
    mmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_miroir_module);
    shpool = mmcf ? mmcf->shpool : NULL;

    if (shpool == NULL) {
        return NGX_DECLINED;
    }

    /* most of the time nothing is flagged: a look without locking */

    rb = cl->shm->rebalance;

    if (rb == NULL || rb->retag == NULL) {
        return NGX_DECLINED;
    }

    /* the previous look's pool: kept until now, since its strings (the
       node addresses) are the peers' names until their requests end */

    if (rt->pool) {
        ngx_destroy_pool(rt->pool);
    }

    rt->pool = ngx_create_pool(4096, ngx_cycle->log);
    if (rt->pool == NULL) {
        return NGX_ERROR;
    }

    conf = cl->nodes.elts;
    found = 0;

    ngx_shmtx_lock(&shpool->mutex);

    rb = cl->shm->rebalance;

    if (rb && rb->retag && rb->current && rb->shard_state
        && rb->config_hash == cl->shm->config_hash
        && rb->nshards == cl->shm->shards
        && rb->rf == cl->shm->replication && rb->rf <= MIROIR_MAX_RF)
    {
        n = rb->nshards;

        for (j = 0; j < n; j++) {
            s = (uint32_t) ((rt->cursor + j) % n);

            /* a shard moving again is read by name anyway: later */

            if (rb->retag[s]
                && rb->shard_state[s] == NGX_MIROIR_SHARD_STABLE)
            {
                found = 1;
                rt->cursor = s + 1;
                rt->shard = s;
                break;
            }
        }
    }

    if (found) {
        rt->rf = rb->rf;
        rt->nnodes = cl->shm->nnodes;
        k = (size_t) rt->shard * rt->rf;

        for (j = 0; j < rt->rf; j++) {
            rt->owners[j] = rb->current[k + j];
        }

        /*
         * Every node in the topology is read, also one that owns nothing
         * (draining): a partial copy left there would come back if it
         * owned the shard again.  Not a removed node, nor one marked down
         * that owns nothing (its copy is looked at once it answers).
         */

        ngx_memset(rt->skip, 0, sizeof(rt->skip));

        for (j = 0; j < cl->shm->nnodes && j < MIROIR_MAX_NODES; j++) {
            rt->skip[j] = (uint8_t) ngx_miroir_node_is_down(cl, j);
        }

        for (k = 0; k < (size_t) n * rt->rf; k++) {
            if (rb->current[k] < MIROIR_MAX_NODES) {
                rt->skip[rb->current[k]] = 0;
            }

            if (rb->target && rb->target[k] < MIROIR_MAX_NODES) {
                rt->skip[rb->target[k]] = 0;
            }
        }

        for (j = 0; j < rt->nnodes; j++) {
            nd = &cl->shm->nodes[j];

            if (nd->state == NGX_MIROIR_NODE_REMOVED) {
                rt->skip[j] = 1;
            }

            rt->ids[j].len = nd->id_len;
            rt->ids[j].data = ngx_pnalloc(rt->pool, nd->id_len + 1);
            rt->addrs[j].len = nd->addr_len;
            rt->addrs[j].data = ngx_pnalloc(rt->pool, nd->addr_len + 1);

            if (j < cl->nodes.nelts && conf[j].key.len) {
                rt->keys[j] = conf[j].key;

            } else {
                rt->keys[j].len = ngx_strlen(rb->keys[j]);
                rt->keys[j].data = ngx_pnalloc(rt->pool,
                                               rt->keys[j].len + 1);
                if (rt->keys[j].data) {
                    ngx_memcpy(rt->keys[j].data, rb->keys[j],
                               rt->keys[j].len);
                }
            }

            if (rt->ids[j].data == NULL || rt->addrs[j].data == NULL
                || rt->keys[j].data == NULL)
            {
                found = 0;
                break;
            }

            ngx_memcpy(rt->ids[j].data, nd->id, nd->id_len);
            ngx_memcpy(rt->addrs[j].data, nd->addr, nd->addr_len);
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (!found) {
        ngx_destroy_pool(rt->pool);
        rt->pool = NULL;
        return NGX_DECLINED;
    }

    for (j = 0; j < rt->rf; j++) {
        if (rt->owners[j] >= rt->nnodes) {
            ngx_destroy_pool(rt->pool);
            rt->pool = NULL;
            return NGX_DECLINED;
        }
    }

    rt->pending = 0;
    rt->bad = 0;
    rt->owner_all = 0;
    rt->owner_ok = 0;
    rt->others = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_miroir_retag_count(ngx_miroir_retag_t *rt, ngx_uint_t x, ngx_str_t *uid,
    ngx_uint_t kind)
{
    u_char                  *p, *last;
    ngx_str_t                uri, body;
    uint32_t                 j;
    ngx_miroir_retag_req_t  *req;

    req = ngx_palloc(rt->pool, sizeof(ngx_miroir_retag_req_t));
    uri.data = ngx_pnalloc(rt->pool, uid->len + 64);
    body.data = ngx_pnalloc(rt->pool, 128 + MIROIR_MAX_RF
                                      * (MIROIR_NODE_ID_LEN + 32));
    if (req == NULL || uri.data == NULL || body.data == NULL) {
        return NGX_ERROR;
    }

    req->rt = rt;
    req->kind = kind;

    uri.len = ngx_sprintf(uri.data, "/indexes/%V/documents/fetch", uid)
              - uri.data;

    last = body.data + 128 + MIROIR_MAX_RF * (MIROIR_NODE_ID_LEN + 32);
    p = ngx_slprintf(body.data, last, "{\"filter\":\"_miroir_shard = %uD",
                     rt->shard);

    if (kind == NGX_MIROIR_RETAG_OWNER_OK) {
        for (j = 0; j < rt->rf; j++) {
            p = ngx_slprintf(p, last, " AND _miroir_o%uD = \\\"%V\\\"", j,
                             &rt->ids[rt->owners[j]]);
        }
    }

    p = ngx_slprintf(p, last, "\",\"limit\":0}");
    body.len = p - body.data;

    rt->pending++;

    if (ngx_miroir_hc_start(&rt->addrs[x], "POST", &uri, &rt->keys[x], &body,
                            NGX_MIROIR_RETAG_TIMEOUT,
                            ngx_miroir_retag_counted, req, ngx_cycle->log)
        != NGX_OK)
    {
        rt->pending--;
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_miroir_retag_listed(ngx_miroir_hc_t *hc)
{
    cJSON               *root, *results, *ix, *uid;
    uint32_t             j;
    ngx_str_t            name;
    ngx_uint_t           x, owner;
    ngx_miroir_retag_t  *rt;

    rt = hc->data;

    if (!hc->ok || hc->status != NGX_HTTP_OK) {
        rt->bad = 1;
        ngx_miroir_retag_end(rt);
        return;
    }

    root = cJSON_ParseWithLength((char *) hc->body.data, hc->body.len);
    results = cJSON_GetObjectItemCaseSensitive(root, "results");

    if (!cJSON_IsArray(results)) {
        rt->bad = 1;
    }

    /* one in flight on our own account, so that answers arriving before
       the last request is sent cannot end the look */

    rt->pending++;

    cJSON_ArrayForEach(ix, results) {
        uid = cJSON_GetObjectItemCaseSensitive(ix, "uid");

        if (!cJSON_IsString(uid) || ngx_strlen(uid->valuestring) > 400) {
            continue;
        }

        name.len = ngx_strlen(uid->valuestring);
        name.data = ngx_pnalloc(rt->pool, name.len);
        if (name.data == NULL) {
            rt->bad = 1;
            break;
        }

        ngx_memcpy(name.data, uid->valuestring, name.len);

        for (x = 0; x < rt->nnodes; x++) {
            if (rt->skip[x]) {
                continue;
            }

            owner = 0;

            for (j = 0; j < rt->rf; j++) {
                owner |= rt->owners[j] == x;
            }

            if (owner) {
                if (ngx_miroir_retag_count(rt, x, &name,
                                           NGX_MIROIR_RETAG_OWNER_ALL)
                    != NGX_OK
                    || ngx_miroir_retag_count(rt, x, &name,
                                              NGX_MIROIR_RETAG_OWNER_OK)
                       != NGX_OK)
                {
                    rt->bad = 1;
                }

            } else if (ngx_miroir_retag_count(rt, x, &name,
                                              NGX_MIROIR_RETAG_OTHER)
                       != NGX_OK)
            {
                rt->bad = 1;
            }
        }
    }

    cJSON_Delete(root);

    if (--rt->pending == 0) {
        ngx_miroir_retag_end(rt);
    }
}


static void
ngx_miroir_retag_counted(ngx_miroir_hc_t *hc)
{
    cJSON                   *root, *total;
    int64_t                  n;
    ngx_miroir_retag_t      *rt;
    ngx_miroir_retag_req_t  *req;

    req = hc->data;
    rt = req->rt;
    n = 0;

    if (hc->ok && hc->status == NGX_HTTP_OK) {
        root = cJSON_ParseWithLength((char *) hc->body.data, hc->body.len);
        total = cJSON_GetObjectItemCaseSensitive(root, "total");

        if (cJSON_IsNumber(total)) {
            n = (int64_t) total->valuedouble;

        } else {
            rt->bad = 1;
        }

        cJSON_Delete(root);

    } else if (!(hc->ok && hc->status == NGX_HTTP_NOT_FOUND)) {
        /* 404: the node has no such index, so none of its documents */
        rt->bad = 1;
    }

    switch (req->kind) {

    case NGX_MIROIR_RETAG_OWNER_ALL:
        rt->owner_all += n;
        break;

    case NGX_MIROIR_RETAG_OWNER_OK:
        rt->owner_ok += n;
        break;

    default:
        rt->others += n;
    }

    if (--rt->pending == 0) {
        ngx_miroir_retag_end(rt);
    }
}


static void
ngx_miroir_retag_end(ngx_miroir_retag_t *rt)
{
    if (!rt->bad && rt->owner_all == rt->owner_ok && rt->others == 0) {
        ngx_miroir_rebalance_retag_done(rt->cl, rt->shard, rt->owners);
    }

    /* the pool goes at the next look (see ngx_miroir_retag_load()) */
    rt->busy = 0;
}
