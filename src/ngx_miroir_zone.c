/*
 * ngx_miroir_zone.c -- the shared-memory zone holding every cluster's
 * topology (nodes, weights, states, shards, replication, version).
 *
 * The zone is created by "miroir_zone" and initialised in the master, while
 * the old workers may still be serving (reload).  nginx reuses a zone only
 * when its name, tag and size are unchanged; a resized zone is a fresh one
 * and the topology is then rebuilt from the configuration and the state
 * directory.  Readers take the slab mutex for the short time they copy what
 * they need, so they always see one consistent version.
 */

#include "ngx_miroir.h"
#include "ngx_miroir_rebalance.h"

#include <cjson/cJSON.h>


#define NGX_MIROIR_SHM_CLUSTERS  64


static ngx_int_t ngx_miroir_init_zone(ngx_shm_zone_t *shm_zone, void *data);
static ngx_int_t ngx_miroir_zone_sync(ngx_shm_zone_t *shm_zone,
    ngx_miroir_main_conf_t *mmcf, ngx_miroir_shm_t *shm);
static void ngx_miroir_zone_fill(ngx_miroir_shm_cluster_t *sc,
    ngx_miroir_cluster_conf_t *cl);
static uint64_t ngx_miroir_state_version(ngx_miroir_main_conf_t *mmcf,
    ngx_miroir_cluster_conf_t *cl, uint64_t *hash, ngx_log_t *log);
static void ngx_miroir_state_dir(ngx_miroir_main_conf_t *mmcf, ngx_log_t *log);


char *
ngx_miroir_zone_add(ngx_conf_t *cf, ngx_miroir_main_conf_t *mmcf)
{
    ngx_shm_zone_t  *zone;

    zone = ngx_shared_memory_add(cf, &mmcf->zone_name, mmcf->zone_size,
                                 &ngx_http_miroir_module);
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "miroir_zone \"%V\" is already used",
                           &mmcf->zone_name);
        return NGX_CONF_ERROR;
    }

    zone->init = ngx_miroir_init_zone;
    zone->data = mmcf;
    mmcf->zone = zone;

    return NGX_CONF_OK;
}


/* FNV-1a over everything in the configuration that defines a topology. */
static uint64_t
ngx_miroir_fnv(uint64_t h, const void *p, size_t n)
{
    const u_char  *s = p;

    while (n--) {
        h ^= *s++;
        h *= 0x100000001b3ULL;
    }

    return h;
}


uint64_t
ngx_miroir_cluster_hash(ngx_miroir_cluster_conf_t *cl)
{
    uint64_t                 h, v;
    ngx_uint_t               i;
    ngx_miroir_node_conf_t  *node;

    h = 0xcbf29ce484222325ULL;
    v = cl->shards;
    h = ngx_miroir_fnv(h, &v, sizeof(v));
    v = cl->replication;
    h = ngx_miroir_fnv(h, &v, sizeof(v));

    node = cl->nodes.elts;

    for (i = 0; i < cl->nodes.nelts; i++) {
        h = ngx_miroir_fnv(h, node[i].id.data, node[i].id.len);
        h = ngx_miroir_fnv(h, "\0", 1);
        h = ngx_miroir_fnv(h, node[i].addr_text.data, node[i].addr_text.len);
        h = ngx_miroir_fnv(h, "\0", 1);
        v = node[i].weight;
        h = ngx_miroir_fnv(h, &v, sizeof(v));
    }

    return h;
}


static ngx_int_t
ngx_miroir_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_miroir_main_conf_t  *omcf = data;

    size_t                   len;
    ngx_slab_pool_t         *shpool;
    ngx_miroir_shm_t        *shm;
    ngx_miroir_main_conf_t  *mmcf;

    mmcf = shm_zone->data;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (omcf) {
        /* reload with an unchanged zone: adopt what the old cycle built */
        shm = omcf->shm;

    } else if (shm_zone->shm.exists) {
        shm = shpool->data;

    } else {
        shm = NULL;
    }

    if (shm && (shm->magic != NGX_MIROIR_SHM_MAGIC
                || shm->layout != NGX_MIROIR_SHM_LAYOUT))
    {
        ngx_log_error(NGX_LOG_WARN, shm_zone->shm.log, 0,
                      "miroir_zone \"%V\" has an old layout, rebuilt",
                      &shm_zone->shm.name);
        shm = NULL;
    }

    if (shm == NULL) {
        len = sizeof(ngx_miroir_shm_t)
              + NGX_MIROIR_SHM_CLUSTERS * sizeof(ngx_miroir_shm_cluster_t *);

        shm = ngx_slab_calloc(shpool, len);
        if (shm == NULL) {
            return NGX_ERROR;
        }

        shm->magic = NGX_MIROIR_SHM_MAGIC;
        shm->layout = NGX_MIROIR_SHM_LAYOUT;
        shpool->data = shm;

        len = sizeof(" in miroir_zone \"\"") + shm_zone->shm.name.len;

        shpool->log_ctx = ngx_slab_alloc(shpool, len);
        if (shpool->log_ctx == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(shpool->log_ctx, " in miroir_zone \"%V\"%Z",
                    &shm_zone->shm.name);
    }

    mmcf->shm = shm;
    mmcf->shpool = shpool;

    if (mmcf->state_path.len) {
        ngx_miroir_state_dir(mmcf, shm_zone->shm.log);
    }

    return ngx_miroir_zone_sync(shm_zone, mmcf, shm);
}


/*
 * Bring the zone in line with the configuration: a cluster whose
 * configured topology differs from the zone's gets the configured one and
 * a higher version; an unchanged one keeps its version.
 */
static ngx_int_t
ngx_miroir_zone_sync(ngx_shm_zone_t *shm_zone, ngx_miroir_main_conf_t *mmcf,
    ngx_miroir_shm_t *shm)
{
    uint64_t                    hash, version;
    ngx_int_t                   rc;
    ngx_uint_t                  i, j;
    ngx_slab_pool_t            *shpool;
    ngx_miroir_shm_cluster_t   *sc;
    ngx_miroir_cluster_conf_t  *cl;

    shpool = mmcf->shpool;
    cl = mmcf->clusters.elts;
    rc = NGX_OK;

    ngx_shmtx_lock(&shpool->mutex);

    for (i = 0; i < mmcf->clusters.nelts; i++) {

        sc = NULL;

        for (j = 0; j < shm->nclusters; j++) {
            if (shm->clusters[j]->name_len == cl[i].name.len
                && ngx_strncmp(shm->clusters[j]->name, cl[i].name.data,
                               cl[i].name.len) == 0)
            {
                sc = shm->clusters[j];
                break;
            }
        }

        if (sc == NULL) {
            if (shm->nclusters == NGX_MIROIR_SHM_CLUSTERS) {
                ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                              "miroir_zone \"%V\" holds at most %d clusters",
                              &shm_zone->shm.name, NGX_MIROIR_SHM_CLUSTERS);
                rc = NGX_ERROR;
                goto done;
            }

            sc = ngx_slab_calloc_locked(shpool,
                                        sizeof(ngx_miroir_shm_cluster_t));
            if (sc == NULL) {
                rc = NGX_ERROR;
                goto done;
            }

            ngx_memcpy(sc->name, cl[i].name.data, cl[i].name.len);
            sc->name_len = (uint16_t) cl[i].name.len;

            shm->clusters[shm->nclusters++] = sc;

            /* a restart continues the version the state directory saved */

            version = ngx_miroir_state_version(mmcf, &cl[i], &hash,
                                               shm_zone->shm.log);

            if (version && hash == cl[i].config_hash) {
                ngx_miroir_zone_fill(sc, &cl[i]);
                sc->version = version;
                cl[i].shm = sc;

                /* nodes added at runtime, stored tables, pending plan */
                ngx_miroir_rebalance_zone_load(mmcf, &cl[i], shpool,
                                               shm_zone->shm.log);

                sc->metrics = ngx_slab_calloc_locked(shpool,
                                                  ngx_miroir_metrics_size());
                sc->writes = ngx_slab_calloc_locked(shpool,
                                     NGX_MIROIR_WRITE_BUCKETS
                                     * sizeof(ngx_miroir_write_count_t));
                if (sc->metrics == NULL || sc->writes == NULL) {
                    rc = NGX_ERROR;
                    goto done;
                }

                continue;
            }

            sc->version = version;
        }

        cl[i].shm = sc;

        if (sc->metrics == NULL) {
            sc->metrics = ngx_slab_calloc_locked(shpool,
                                                 ngx_miroir_metrics_size());
            if (sc->metrics == NULL) {
                rc = NGX_ERROR;
                goto done;
            }
        }

        if (sc->writes == NULL) {
            sc->writes = ngx_slab_calloc_locked(shpool,
                                     NGX_MIROIR_WRITE_BUCKETS
                                     * sizeof(ngx_miroir_write_count_t));
            if (sc->writes == NULL) {
                rc = NGX_ERROR;
                goto done;
            }
        }

        if (sc->version == 0 || sc->config_hash != cl[i].config_hash) {
            ngx_miroir_zone_fill(sc, &cl[i]);
            sc->version++;

            ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                          "miroir cluster \"%V\": topology version %uL "
                          "(%uD nodes, %uD shards, replication %uD)",
                          &cl[i].name, sc->version, sc->nnodes, sc->shards,
                          sc->replication);

            ngx_miroir_state_save(mmcf, sc, shm_zone->shm.log);
        }
    }

done:

    ngx_shmtx_unlock(&shpool->mutex);

    return rc;
}


static void
ngx_miroir_zone_fill(ngx_miroir_shm_cluster_t *sc,
    ngx_miroir_cluster_conf_t *cl)
{
    ngx_uint_t               i;
    ngx_miroir_shm_node_t   *sn;
    ngx_miroir_node_conf_t  *node;

    sc->config_hash = cl->config_hash;
    sc->shards = (uint32_t) cl->shards;
    sc->replication = (uint32_t) cl->replication;
    sc->nnodes = (uint32_t) cl->nodes.nelts;

    node = cl->nodes.elts;

    for (i = 0; i < cl->nodes.nelts; i++) {
        sn = &sc->nodes[i];

        ngx_memzero(sn, sizeof(ngx_miroir_shm_node_t));

        ngx_memcpy(sn->id, node[i].id.data, node[i].id.len);
        sn->id_len = (uint16_t) node[i].id.len;
        ngx_memcpy(sn->addr, node[i].addr_text.data, node[i].addr_text.len);
        sn->addr_len = (uint16_t) node[i].addr_text.len;
        sn->weight = (uint32_t) node[i].weight;
        sn->state = NGX_MIROIR_NODE_ACTIVE;
    }
}


ngx_int_t
ngx_miroir_topology_snapshot(ngx_miroir_cluster_conf_t *cl,
    ngx_miroir_shm_cluster_t *out)
{
    ngx_slab_pool_t         *shpool;
    ngx_miroir_main_conf_t  *mmcf;

    mmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_miroir_module);
    shpool = mmcf->shpool;

    if (cl->shm == NULL || shpool == NULL) {
        return NGX_ERROR;
    }

    ngx_shmtx_lock(&shpool->mutex);

    ngx_memcpy(out, cl->shm, offsetof(ngx_miroir_shm_cluster_t, nodes)
                             + cl->shm->nnodes * sizeof(ngx_miroir_shm_node_t));

    ngx_shmtx_unlock(&shpool->mutex);

    return NGX_OK;
}


/* ------------------------------------------------------------ state dir */

/* Create the state directory if it does not exist yet (the master runs
 * this, before the workers start). */
static void
ngx_miroir_state_dir(ngx_miroir_main_conf_t *mmcf, ngx_log_t *log)
{
    u_char  path[NGX_MAX_PATH];

    if (mmcf->state_path.len >= sizeof(path)) {
        return;
    }

    ngx_memcpy(path, mmcf->state_path.data, mmcf->state_path.len);
    path[mmcf->state_path.len] = '\0';

    if (ngx_create_dir(path, 0755) == NGX_FILE_ERROR
        && ngx_errno != NGX_EEXIST)
    {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      "miroir: cannot create state directory \"%s\"", path);
    }
}


static ngx_int_t
ngx_miroir_state_file(ngx_miroir_main_conf_t *mmcf, u_char *name, size_t nlen,
    u_char *buf, size_t size, const char *suffix)
{
    u_char  *p;

    if (mmcf->state_path.len == 0) {
        return NGX_DECLINED;
    }

    p = ngx_snprintf(buf, size - 1, "%V/topology-%*s.json%s",
                     &mmcf->state_path, nlen, name, suffix);
    *p = '\0';

    return NGX_OK;
}


/*
 * The version and configuration hash saved for a cluster, or 0 when there
 * is no state directory or no readable file.
 */
static uint64_t
ngx_miroir_state_version(ngx_miroir_main_conf_t *mmcf,
    ngx_miroir_cluster_conf_t *cl, uint64_t *hash, ngx_log_t *log)
{
    int         fd;
    char        text[4096];
    u_char      path[NGX_MAX_PATH];
    ssize_t     n;
    uint64_t    version;
    cJSON      *root, *v, *h;

    *hash = 0;

    if (ngx_miroir_state_file(mmcf, cl->name.data, cl->name.len, path,
                              sizeof(path), "")
        != NGX_OK)
    {
        return 0;
    }

    fd = open((char *) path, O_RDONLY);
    if (fd == -1) {
        return 0;
    }

    n = read(fd, text, sizeof(text) - 1);
    close(fd);

    if (n <= 0) {
        return 0;
    }

    text[n] = '\0';

    root = cJSON_Parse(text);
    if (root == NULL) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "miroir: ignoring unreadable state file \"%s\"", path);
        return 0;
    }

    version = 0;
    v = cJSON_GetObjectItemCaseSensitive(root, "version");
    h = cJSON_GetObjectItemCaseSensitive(root, "configHash");

    if (cJSON_IsNumber(v) && v->valuedouble >= 1 && cJSON_IsString(h)) {
        version = (uint64_t) v->valuedouble;
        *hash = strtoull(h->valuestring, NULL, 16);
    }

    cJSON_Delete(root);

    return version;
}


/* Write the topology atomically: temporary file, fsync, rename.  Also
 * called by the admin API (ngx_miroir_rebalance.c) with a snapshot, so
 * versions stay monotonic across restarts. */
void
ngx_miroir_state_save(ngx_miroir_main_conf_t *mmcf,
    ngx_miroir_shm_cluster_t *sc, ngx_log_t *log)
{
    int                     fd;
    u_char                  path[NGX_MAX_PATH], tmp[NGX_MAX_PATH];
    u_char                  buf[NGX_MIROIR_ADDR_LEN * 2 + 256];
    u_char                 *p;
    ngx_uint_t              i;
    ngx_miroir_shm_node_t  *sn;

    if (ngx_miroir_state_file(mmcf, sc->name, sc->name_len, path,
                              sizeof(path), "") != NGX_OK
        || ngx_miroir_state_file(mmcf, sc->name, sc->name_len, tmp,
                                 sizeof(tmp), ".tmp") != NGX_OK)
    {
        return;
    }

    fd = open((char *) tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd == -1) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      "miroir: cannot write state file \"%s\"", tmp);
        return;
    }

    p = ngx_snprintf(buf, sizeof(buf),
                     "{\"cluster\":\"%*s\",\"version\":%uL,"
                     "\"configHash\":\"%016xL\",\"shards\":%uD,"
                     "\"replication\":%uD,\"nodes\":[",
                     (size_t) sc->name_len, sc->name, sc->version,
                     sc->config_hash, sc->shards, sc->replication);

    if (write(fd, buf, p - buf) != p - buf) {
        goto failed;
    }

    for (i = 0; i < sc->nnodes; i++) {
        sn = &sc->nodes[i];

        p = ngx_snprintf(buf, sizeof(buf),
                         "%s{\"id\":\"%*s\",\"address\":\"%*s\","
                         "\"weight\":%uD,\"state\":%uD}",
                         i ? "," : "", (size_t) sn->id_len, sn->id,
                         (size_t) sn->addr_len, sn->addr, sn->weight,
                         sn->state);

        if (write(fd, buf, p - buf) != p - buf) {
            goto failed;
        }
    }

    if (write(fd, "]}\n", 3) != 3 || fsync(fd) == -1) {
        goto failed;
    }

    close(fd);

    if (rename((char *) tmp, (char *) path) == -1) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      "miroir: rename(\"%s\", \"%s\") failed", tmp, path);
    }

    return;

failed:

    ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                  "miroir: cannot write state file \"%s\"", tmp);
    close(fd);
    (void) unlink((char *) tmp);
}
