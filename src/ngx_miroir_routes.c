/*
 * ngx_miroir_routes.c -- the content handlers of the "miroir" (Meilisearch
 * API) and "miroir_admin" locations, and the routes that need no more than
 * the fan-out: /health, /version and /_miroir/topology.
 */

#include "ngx_miroir.h"
#include "ngx_miroir_keys.h"
#include "ngx_miroir_rebalance.h"


static ngx_int_t ngx_miroir_health(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl);
static void ngx_miroir_health_done(ngx_http_request_t *r,
    ngx_miroir_fanout_t *fo);
static ngx_int_t ngx_miroir_version(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_uint_t first);
static void ngx_miroir_version_done(ngx_http_request_t *r,
    ngx_miroir_fanout_t *fo);
static ngx_int_t ngx_miroir_topology(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl);
static ngx_int_t ngx_miroir_path_is(ngx_str_t *path, const char *s);
static void ngx_miroir_route_path(ngx_http_request_t *r, ngx_str_t *path);


/*
 * The write path (ngx_miroir_write*.c) and the read path
 * (ngx_miroir_read*.c) each answer the routes they know and return
 * NGX_DECLINED for the others.  Weak while they are being written.
 */
ngx_int_t ngx_miroir_write_route(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_str_t *path) __attribute__((weak));
ngx_int_t ngx_miroir_read_route(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_str_t *path) __attribute__((weak));


static ngx_str_t  ngx_miroir_health_uri = ngx_string("/health");
static ngx_str_t  ngx_miroir_version_uri = ngx_string("/version");


ngx_int_t
ngx_miroir_api_handler(ngx_http_request_t *r)
{
    ngx_int_t               rc;
    ngx_str_t               path;
    miroir_error_t          err;
    ngx_miroir_ctx_t       *ctx;
    ngx_miroir_loc_conf_t  *mlcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_miroir_module);

    if (ctx && ctx->call && r != r->main) {
        return ngx_miroir_upstream_start(r, ctx->call);
    }

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_miroir_module);

    ngx_miroir_route_path(r, &path);

    if (ngx_miroir_path_is(&path, "/health")) {
        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
            return NGX_HTTP_NOT_ALLOWED;
        }

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_miroir_health(r, mlcf->cluster);
    }

    if (ngx_miroir_check_auth(r, mlcf->cluster, &err) != NGX_OK) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_miroir_send_error(r, &err);
    }

    if (ngx_miroir_path_is(&path, "/version")) {
        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
            return NGX_HTTP_NOT_ALLOWED;
        }

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_miroir_version(r, mlcf->cluster, 0);
    }

    /* /keys is answered by Miroir's own key store (ngx_miroir_keys.c) */

    rc = ngx_miroir_keys_route(r, mlcf->cluster, &path);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (ngx_miroir_write_route) {
        rc = ngx_miroir_write_route(r, mlcf->cluster, &path);
        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    if (ngx_miroir_read_route) {
        rc = ngx_miroir_read_route(r, mlcf->cluster, &path);
        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    /* like Meilisearch: an unknown route is a 404 with an empty body */

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_miroir_send_raw(r, NGX_HTTP_NOT_FOUND, NULL, NULL);
}


ngx_int_t
ngx_miroir_admin_handler(ngx_http_request_t *r)
{
    ngx_int_t               rc;
    ngx_uint_t              body;
    ngx_str_t               path;
    miroir_error_t          err;
    ngx_miroir_ctx_t       *ctx;
    ngx_miroir_loc_conf_t  *mlcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_miroir_module);

    if (ctx && ctx->call && r != r->main) {
        return ngx_miroir_upstream_start(r, ctx->call);
    }

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_miroir_module);

    ngx_miroir_route_path(r, &path);

    /* topology changes read their body (ngx_miroir_admin.c) */

    body = ngx_miroir_admin_wants_body(r, &path);

    if (!body) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    /* the page holds no data: it asks for the key and fetches the status */

    if (ngx_miroir_path_is(&path, "/_miroir/ui")) {
        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
            return NGX_HTTP_NOT_ALLOWED;
        }

        return ngx_miroir_ui_handler(r);
    }

    if (ngx_miroir_check_auth(r, mlcf->cluster, &err) != NGX_OK) {
        if (body) {
            rc = ngx_http_discard_request_body(r);
            if (rc != NGX_OK) {
                return rc;
            }
        }

        return ngx_miroir_send_error(r, &err);
    }

    if (ngx_miroir_path_is(&path, "/_miroir/status")) {
        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
            return NGX_HTTP_NOT_ALLOWED;
        }

        return ngx_miroir_status_handler(r, mlcf->cluster);
    }

    if (ngx_miroir_path_is(&path, "/_miroir/health")) {
        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
            return NGX_HTTP_NOT_ALLOWED;
        }

        return ngx_miroir_health_handler(r, mlcf->cluster);
    }

    if (ngx_miroir_path_is(&path, "/_miroir/topology")) {
        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
            return NGX_HTTP_NOT_ALLOWED;
        }

        return ngx_miroir_topology(r, mlcf->cluster);
    }

    if (ngx_miroir_path_is(&path, "/_miroir/metrics")) {
        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
            return NGX_HTTP_NOT_ALLOWED;
        }

        return ngx_miroir_metrics_handler(r, mlcf->cluster);
    }

    rc = ngx_miroir_admin_route(r, mlcf->cluster, &path);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    miroir_error_set(&err, NGX_HTTP_NOT_FOUND, "miroir_route_not_found",
                     "invalid_request", "Unknown Miroir admin route `%.*s`.",
                     (int) ngx_min(path.len, 200), path.data);

    return ngx_miroir_send_error(r, &err);
}


/* The request path without its trailing slashes, as Meilisearch routes. */
static void
ngx_miroir_route_path(ngx_http_request_t *r, ngx_str_t *path)
{
    *path = r->uri;

    while (path->len > 1 && path->data[path->len - 1] == '/') {
        path->len--;
    }
}


static ngx_int_t
ngx_miroir_path_is(ngx_str_t *path, const char *s)
{
    size_t  len;

    len = ngx_strlen(s);

    return path->len == len && ngx_strncmp(path->data, s, len) == 0;
}


/* ------------------------------------------------------------ /health */

static ngx_int_t
ngx_miroir_health(ngx_http_request_t *r, ngx_miroir_cluster_conf_t *cl)
{
    ngx_uint_t            i;
    ngx_miroir_fanout_t  *fo;

    fo = ngx_miroir_fanout_create(r, cl, cl->nodes.nelts);
    if (fo == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < cl->nodes.nelts; i++) {
        if (ngx_miroir_fanout_add(fo, i, NGX_HTTP_GET, &ngx_miroir_health_uri,
                                  NULL)
            == NULL)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    r->main->count++;

    if (ngx_miroir_fanout_start(fo, ngx_miroir_health_done, NULL) != NGX_OK) {
        r->main->count--;
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_miroir_health_done(ngx_http_request_t *r, ngx_miroir_fanout_t *fo)
{
    u_char                     *p, *last;
    u_char                      nodes[512];
    uint8_t                     down[MIROIR_MAX_NODES];
    ngx_int_t                   missing;
    ngx_uint_t                  i, ndown;
    miroir_error_t              err;
    ngx_miroir_call_t          *call;
    ngx_miroir_node_conf_t     *node;
    ngx_miroir_cluster_conf_t  *cl;
    static u_char               ok[] = "{\"status\":\"available\"}";

    cl = fo->cluster;
    call = fo->calls.elts;
    node = cl->nodes.elts;
    ndown = 0;

    ngx_memzero(down, sizeof(down));

    p = nodes;
    last = nodes + sizeof(nodes) - 1;

    for (i = 0; i < fo->calls.nelts; i++) {
        if (call[i].ok && call[i].status == NGX_HTTP_OK) {
            continue;
        }

        down[call[i].node] = 1;
        p = ngx_slprintf(p, last, "%s%V", ndown ? ", " : "",
                         &node[call[i].node].id);
        ndown++;
    }

    *p = '\0';

    /* available while every shard keeps at least one answering copy */

    missing = ngx_miroir_missing_shards(cl, down, r->connection->log);

    if (missing == 0) {
        ngx_miroir_finish(r, ngx_miroir_send_json(r, NGX_HTTP_OK, ok,
                                                  sizeof(ok) - 1));
        return;
    }

    if (missing < 0) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    miroir_error_set(&err, NGX_HTTP_SERVICE_UNAVAILABLE,
                     "miroir_shards_unavailable", "system",
                     "%ld of %lu shards have no live copy: %lu of %lu nodes "
                     "are unavailable (%s) with replication %lu.",
                     (long) missing, (unsigned long) cl->shards,
                     (unsigned long) ndown, (unsigned long) cl->nodes.nelts,
                     (char *) nodes, (unsigned long) cl->replication);

    ngx_miroir_finish(r, ngx_miroir_send_error(r, &err));
}


/* ------------------------------------------------------------ /version */

static ngx_int_t
ngx_miroir_version(ngx_http_request_t *r, ngx_miroir_cluster_conf_t *cl,
    ngx_uint_t first)
{
    ngx_uint_t            i, n;
    ngx_miroir_fanout_t  *fo;

    /* the first node after "first" not known to be down, or any */

    n = cl->nodes.nelts;

    for (i = first; i < n; i++) {
        if (!ngx_miroir_node_is_down(cl, i)) {
            break;
        }
    }

    if (i == n) {
        i = first;
    }

    fo = ngx_miroir_fanout_create(r, cl, 1);
    if (fo == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_miroir_fanout_add(fo, i, NGX_HTTP_GET, &ngx_miroir_version_uri,
                              NULL)
        == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (first == 0) {
        r->main->count++;
    }

    if (ngx_miroir_fanout_start(fo, ngx_miroir_version_done, NULL)
        != NGX_OK)
    {
        if (first == 0) {
            r->main->count--;
        }

        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_miroir_version_done(ngx_http_request_t *r, ngx_miroir_fanout_t *fo)
{
    ngx_int_t                   rc;
    ngx_str_t                   type = ngx_string("application/json");
    miroir_error_t              err;
    ngx_miroir_call_t          *call;
    ngx_miroir_cluster_conf_t  *cl;

    call = fo->calls.elts;
    cl = fo->cluster;

    if (call->ok && call->status < NGX_HTTP_INTERNAL_SERVER_ERROR
        && call->status != NGX_HTTP_UNAUTHORIZED
        && call->status != NGX_HTTP_FORBIDDEN)
    {
        ngx_miroir_finish(r, ngx_miroir_send_raw(r, call->status,
                                                 call->resp_type.len
                                                 ? &call->resp_type : &type,
                                                 &call->response));
        return;
    }

    ngx_miroir_log_event(r->connection->log, NGX_LOG_WARN, "read_failover",
                         &cl->name,
                         &((ngx_miroir_node_conf_t *)
                           cl->nodes.elts)[call->node].id,
                         "node=%V path=%V status=%i timed_out=%ui",
                         &((ngx_miroir_node_conf_t *)
                           cl->nodes.elts)[call->node].id,
                         &call->uri, call->status,
                         (ngx_uint_t) call->timed_out);

    if (call->node + 1 < cl->nodes.nelts && !fo->expired) {
        rc = ngx_miroir_version(r, cl, call->node + 1);

        if (rc == NGX_DONE) {
            return;
        }
    }

    miroir_error_set(&err, NGX_HTTP_SERVICE_UNAVAILABLE,
                     "miroir_nodes_unavailable", "system",
                     "No node of cluster `%.*s` answered.",
                     (int) cl->name.len, cl->name.data);

    ngx_miroir_finish(r, ngx_miroir_send_error(r, &err));
}


/* ------------------------------------------------------------ topology */

static const char *
ngx_miroir_state_name(ngx_uint_t state)
{
    static const char  *names[] = {
        "active", "joining", "draining", "down", "removed"
    };

    return state < sizeof(names) / sizeof(names[0]) ? names[state] : "unknown";
}


static ngx_int_t
ngx_miroir_topology(ngx_http_request_t *r, ngx_miroir_cluster_conf_t *cl)
{
    u_char                    *buf, *p;
    size_t                     len;
    ngx_uint_t                 i;
    ngx_miroir_shm_node_t     *sn;
    ngx_miroir_shm_cluster_t  *sc;

    len = offsetof(ngx_miroir_shm_cluster_t, nodes)
          + cl->nodes.nelts * sizeof(ngx_miroir_shm_node_t);

    /* the zone may hold more nodes than the configuration (admin API) */
    len += MIROIR_MAX_NODES * sizeof(ngx_miroir_shm_node_t);

    sc = ngx_palloc(r->pool, len);
    if (sc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_miroir_topology_snapshot(cl, sc) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = 256 + NGX_MIROIR_NAME_LEN
          + sc->nnodes * (MIROIR_NODE_ID_LEN + NGX_MIROIR_ADDR_LEN + 128);

    buf = ngx_pnalloc(r->pool, len);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(buf, "{\"cluster\":\"%*s\",\"version\":%uL,"
                         "\"shards\":%uD,\"replication\":%uD,\"nodes\":[",
                    (size_t) sc->name_len, sc->name, sc->version, sc->shards,
                    sc->replication);

    for (i = 0; i < sc->nnodes; i++) {
        sn = &sc->nodes[i];

        p = ngx_sprintf(p, "%s{\"id\":\"%*s\",\"address\":\"%*s\","
                           "\"weight\":%uD,\"state\":\"%s\","
                           "\"health\":\"%s\"}",
                        i ? "," : "", (size_t) sn->id_len, sn->id,
                        (size_t) sn->addr_len, sn->addr, sn->weight,
                        ngx_miroir_rebalance_evicted(cl, i)
                        ? "evicted" : ngx_miroir_state_name(sn->state),
                        sn->down ? "down" : "up");
    }

    p = ngx_sprintf(p, "]}");

    return ngx_miroir_send_json(r, NGX_HTTP_OK, buf, p - buf);
}
