/*
 * ngx_miroir_metrics.c -- counters in the shared zone and their Prometheus
 * text rendering at GET /_miroir/metrics.
 *
 * Every worker adds to the same counters with atomic increments: no lock
 * on the request path.  Client requests are counted by a log-phase handler
 * (route class and status class, duration histogram); node calls by the
 * fan-out (requests, errors, duration histogram, calls in flight).  Gauges
 * that derive from the topology (node state, shards held) are computed at
 * scrape time.
 */

#include "ngx_miroir.h"


#define NGX_MIROIR_NBUCKETS  12

/* histogram bucket bounds in milliseconds (the last bucket is +Inf) */
static const ngx_msec_t  ngx_miroir_buckets[NGX_MIROIR_NBUCKETS - 1] = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000
};

static const char  *ngx_miroir_bucket_le[NGX_MIROIR_NBUCKETS] = {
    "0.001", "0.002", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
    "0.5", "1", "5", "+Inf"
};


typedef struct {
    ngx_atomic_t                    bucket[NGX_MIROIR_NBUCKETS];
    ngx_atomic_t                    count;
    ngx_atomic_t                    sum_us;
} ngx_miroir_histogram_t;


typedef struct {
    ngx_atomic_t                    requests;
    ngx_atomic_t                    errors;
    ngx_atomic_t                    outstanding;
    ngx_miroir_histogram_t          duration;
} ngx_miroir_node_metrics_t;


struct ngx_miroir_metrics_s {
    ngx_atomic_t                    requests[NGX_MIROIR_ROUTE_N][6];
    ngx_miroir_histogram_t          duration[NGX_MIROIR_ROUTE_N];
    ngx_atomic_t                    counters[NGX_MIROIR_COUNTER_N];
    ngx_miroir_node_metrics_t       nodes[MIROIR_MAX_NODES];
};


static const char  *ngx_miroir_route_names[NGX_MIROIR_ROUTE_N] = {
    "other", "health", "version", "search", "multi_search", "facet_search",
    "documents", "indexes", "settings", "tasks", "stats", "keys", "admin"
};

static const struct {
    const char  *name;
    const char  *help;
} ngx_miroir_counter_names[NGX_MIROIR_COUNTER_N] = {
    { "miroir_write_quorum_failures_total",
      "Writes refused because too few owners accepted them." },
    { "miroir_hedges_sent_total",
      "Second requests sent to another owner because a node was slow." },
    { "miroir_hedges_won_total",
      "Hedged requests whose answer arrived first." },
    { "miroir_partial_responses_total",
      "Responses returned without some shards (allow_partial on)." },
    { "miroir_failovers_total",
      "Parts of a read re-sent to another owner after a node failed." }
};


size_t
ngx_miroir_metrics_size(void)
{
    return sizeof(ngx_miroir_metrics_t);
}


static void
ngx_miroir_histogram_observe(ngx_miroir_histogram_t *h, ngx_msec_t ms)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_MIROIR_NBUCKETS - 1; i++) {
        if (ms <= ngx_miroir_buckets[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&h->bucket[i], 1);
    (void) ngx_atomic_fetch_add(&h->count, 1);
    (void) ngx_atomic_fetch_add(&h->sum_us, ms * 1000);
}


void
ngx_miroir_metrics_count(ngx_miroir_cluster_conf_t *cl, ngx_uint_t counter)
{
    if (cl->shm && cl->shm->metrics && counter < NGX_MIROIR_COUNTER_N) {
        (void) ngx_atomic_fetch_add(&cl->shm->metrics->counters[counter], 1);
    }
}


void
ngx_miroir_metrics_call_start(ngx_miroir_cluster_conf_t *cl, ngx_uint_t node)
{
    if (cl->shm && cl->shm->metrics && node < MIROIR_MAX_NODES) {
        (void) ngx_atomic_fetch_add(
                            &cl->shm->metrics->nodes[node].outstanding, 1);
    }
}


void
ngx_miroir_metrics_call_done(ngx_miroir_cluster_conf_t *cl, ngx_uint_t node,
    ngx_uint_t failed, ngx_msec_t elapsed)
{
    ngx_miroir_node_metrics_t  *nm;

    if (cl->shm == NULL || cl->shm->metrics == NULL
        || node >= MIROIR_MAX_NODES)
    {
        return;
    }

    nm = &cl->shm->metrics->nodes[node];

    (void) ngx_atomic_fetch_add(&nm->outstanding, (ngx_atomic_int_t) -1);
    (void) ngx_atomic_fetch_add(&nm->requests, 1);

    if (failed) {
        (void) ngx_atomic_fetch_add(&nm->errors, 1);
    }

    ngx_miroir_histogram_observe(&nm->duration, elapsed);
}


/* The route class of a Meilisearch API path, for the request counters. */
ngx_uint_t
ngx_miroir_route_class(ngx_str_t *uri, ngx_uint_t role)
{
    u_char  *p, *last;

    if (role == NGX_MIROIR_ROLE_ADMIN) {
        return NGX_MIROIR_ROUTE_ADMIN;
    }

    p = uri->data;
    last = uri->data + uri->len;

#define ngx_miroir_is(s)                                                      \
    ((size_t) (last - p) >= sizeof(s) - 1                                     \
     && ngx_strncmp(p, s, sizeof(s) - 1) == 0)

#define ngx_miroir_ends(s)                                                    \
    ((size_t) (last - p) >= sizeof(s) - 1                                     \
     && ngx_strncmp(last - (sizeof(s) - 1), s, sizeof(s) - 1) == 0)

    while (last > p + 1 && last[-1] == '/') {
        last--;
    }

    if (ngx_miroir_is("/health")) {
        return NGX_MIROIR_ROUTE_HEALTH;
    }

    if (ngx_miroir_is("/version")) {
        return NGX_MIROIR_ROUTE_VERSION;
    }

    if (ngx_miroir_is("/multi-search")) {
        return NGX_MIROIR_ROUTE_MULTI_SEARCH;
    }

    if (ngx_miroir_is("/tasks") || ngx_miroir_is("/batches")) {
        return NGX_MIROIR_ROUTE_TASKS;
    }

    if (ngx_miroir_is("/stats")) {
        return NGX_MIROIR_ROUTE_STATS;
    }

    if (ngx_miroir_is("/keys")) {
        return NGX_MIROIR_ROUTE_KEYS;
    }

    if (ngx_miroir_is("/indexes")) {

        if (ngx_miroir_ends("/search")) {
            return NGX_MIROIR_ROUTE_SEARCH;
        }

        if (ngx_miroir_ends("/facet-search")) {
            return NGX_MIROIR_ROUTE_FACET_SEARCH;
        }

        if (ngx_miroir_ends("/stats")) {
            return NGX_MIROIR_ROUTE_STATS;
        }

        if (ngx_strlcasestrn(p, last, (u_char *) "/documents", 10 - 1)) {
            return NGX_MIROIR_ROUTE_DOCUMENTS;
        }

        if (ngx_strlcasestrn(p, last, (u_char *) "/settings", 9 - 1)) {
            return NGX_MIROIR_ROUTE_SETTINGS;
        }

        return NGX_MIROIR_ROUTE_INDEXES;
    }

    if (ngx_miroir_is("/swap-indexes")) {
        return NGX_MIROIR_ROUTE_INDEXES;
    }

#undef ngx_miroir_is
#undef ngx_miroir_ends

    return NGX_MIROIR_ROUTE_OTHER;
}


/* Log phase: every client request of a miroir location is counted. */
ngx_int_t
ngx_miroir_metrics_log_handler(ngx_http_request_t *r)
{
    ngx_uint_t              route, status;
    ngx_msec_int_t          ms;
    ngx_time_t             *tp;
    ngx_miroir_metrics_t   *m;
    ngx_miroir_loc_conf_t  *mlcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_miroir_module);

    if (mlcf == NULL || mlcf->cluster == NULL || mlcf->cluster->shm == NULL
        || mlcf->cluster->shm->metrics == NULL || r != r->main)
    {
        return NGX_OK;
    }

    m = mlcf->cluster->shm->metrics;

    route = ngx_miroir_route_class(&r->uri, mlcf->role);

    status = r->headers_out.status / 100;
    if (status < 1 || status > 5) {
        status = 0;     /* no status: the client went away */
    }

    (void) ngx_atomic_fetch_add(&m->requests[route][status], 1);

    tp = ngx_timeofday();
    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));

    ngx_miroir_histogram_observe(&m->duration[route],
                                 (ngx_msec_t) ngx_max(ms, 0));

    return NGX_OK;
}


/* ------------------------------------------------------------ rendering */

static u_char *
ngx_miroir_render_histogram(u_char *p, const char *name, const char *labels,
    ngx_miroir_histogram_t *h)
{
    ngx_uint_t  i;
    uint64_t    cum;

    cum = 0;

    for (i = 0; i < NGX_MIROIR_NBUCKETS; i++) {
        cum += h->bucket[i];
        p = ngx_sprintf(p, "%s_bucket{%s,le=\"%s\"} %uL\n", name, labels,
                        ngx_miroir_bucket_le[i], cum);
    }

    p = ngx_sprintf(p, "%s_sum{%s} %uL.%06uL\n%s_count{%s} %uL\n",
                    name, labels, (uint64_t) h->sum_us / 1000000,
                    (uint64_t) h->sum_us % 1000000, name, labels,
                    (uint64_t) h->count);

    return p;
}


static const char *
ngx_miroir_state_label(ngx_uint_t state)
{
    static const char  *names[] = {
        "active", "joining", "draining", "down", "removed"
    };

    return state < 5 ? names[state] : "unknown";
}


ngx_int_t
ngx_miroir_metrics_handler(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl)
{
    size_t                       len;
    u_char                      *buf, *p;
    u_char                       labels[256];
    uint32_t                    *copies, *primaries;
    ngx_str_t                    type = ngx_string("text/plain; version=0.0.4");
    ngx_str_t                    body;
    ngx_uint_t                   i, j;
    ngx_miroir_metrics_t        *m;
    ngx_miroir_shm_node_t       *sn;
    ngx_miroir_shm_cluster_t    *sc;
    const miroir_route_table_t  *rt;
    static const char           *classes[] = {
        "none", "1xx", "2xx", "3xx", "4xx", "5xx"
    };

    if (cl->shm == NULL || cl->shm->metrics == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    m = cl->shm->metrics;

    len = offsetof(ngx_miroir_shm_cluster_t, nodes)
          + MIROIR_MAX_NODES * sizeof(ngx_miroir_shm_node_t);

    sc = ngx_palloc(r->pool, len);
    copies = ngx_pcalloc(r->pool, 2 * MIROIR_MAX_NODES * sizeof(uint32_t));
    if (sc == NULL || copies == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    primaries = copies + MIROIR_MAX_NODES;

    if (ngx_miroir_topology_snapshot(cl, sc) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rt = ngx_miroir_route_table(cl, r->connection->log);
    if (rt) {
        miroir_route_counts(rt, copies, primaries);
    }

    len = 8192
          + NGX_MIROIR_ROUTE_N * (6 * 160 + NGX_MIROIR_NBUCKETS * 160 + 320)
          + sc->nnodes * (NGX_MIROIR_NBUCKETS * 200 + 2048);

    buf = ngx_pnalloc(r->pool, len);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = buf;

    p = ngx_sprintf(p, "# HELP miroir_topology_version Version of the "
                       "cluster topology.\n"
                       "# TYPE miroir_topology_version gauge\n"
                       "miroir_topology_version{cluster=\"%V\"} %uL\n",
                    &cl->name, sc->version);

    p = ngx_sprintf(p, "# HELP miroir_shards Virtual shards of the "
                       "cluster.\n"
                       "# TYPE miroir_shards gauge\n"
                       "miroir_shards{cluster=\"%V\"} %uD\n",
                    &cl->name, sc->shards);

    p = ngx_sprintf(p, "# HELP miroir_requests_total Client requests by "
                       "route and status class.\n"
                       "# TYPE miroir_requests_total counter\n");

    for (i = 0; i < NGX_MIROIR_ROUTE_N; i++) {
        for (j = 0; j < 6; j++) {
            if (m->requests[i][j] == 0) {
                continue;
            }

            p = ngx_sprintf(p, "miroir_requests_total{cluster=\"%V\","
                               "route=\"%s\",code=\"%s\"} %uA\n",
                            &cl->name, ngx_miroir_route_names[i], classes[j],
                            m->requests[i][j]);
        }
    }

    p = ngx_sprintf(p, "# HELP miroir_request_duration_seconds Client "
                       "request duration by route.\n"
                       "# TYPE miroir_request_duration_seconds histogram\n");

    for (i = 0; i < NGX_MIROIR_ROUTE_N; i++) {
        if (m->duration[i].count == 0) {
            continue;
        }

        ngx_sprintf(labels, "cluster=\"%V\",route=\"%s\"%Z", &cl->name,
                    ngx_miroir_route_names[i]);
        p = ngx_miroir_render_histogram(p, "miroir_request_duration_seconds",
                                        (char *) labels, &m->duration[i]);
    }

    for (i = 0; i < NGX_MIROIR_COUNTER_N; i++) {
        p = ngx_sprintf(p, "# HELP %s %s\n# TYPE %s counter\n"
                           "%s{cluster=\"%V\"} %uA\n",
                        ngx_miroir_counter_names[i].name,
                        ngx_miroir_counter_names[i].help,
                        ngx_miroir_counter_names[i].name,
                        ngx_miroir_counter_names[i].name, &cl->name,
                        m->counters[i]);
    }

    p = ngx_sprintf(p, "# HELP miroir_node_up Passive health of the node "
                       "(1 up, 0 down).\n"
                       "# TYPE miroir_node_up gauge\n");

    for (i = 0; i < sc->nnodes; i++) {
        sn = &sc->nodes[i];
        p = ngx_sprintf(p, "miroir_node_up{cluster=\"%V\",node=\"%*s\"} %d\n",
                        &cl->name, (size_t) sn->id_len, sn->id,
                        sn->down ? 0 : 1);
    }

    p = ngx_sprintf(p, "# HELP miroir_node_state Topology state of the "
                       "node.\n"
                       "# TYPE miroir_node_state gauge\n");

    for (i = 0; i < sc->nnodes; i++) {
        sn = &sc->nodes[i];

        for (j = 0; j < 5; j++) {
            p = ngx_sprintf(p, "miroir_node_state{cluster=\"%V\",node=\"%*s\","
                               "state=\"%s\"} %d\n",
                            &cl->name, (size_t) sn->id_len, sn->id,
                            ngx_miroir_state_label(j), sn->state == j);
        }
    }

    p = ngx_sprintf(p, "# HELP miroir_node_shards Shard copies the node "
                       "holds, by role.\n"
                       "# TYPE miroir_node_shards gauge\n");

    for (i = 0; i < sc->nnodes; i++) {
        sn = &sc->nodes[i];
        p = ngx_sprintf(p, "miroir_node_shards{cluster=\"%V\",node=\"%*s\","
                           "role=\"primary\"} %uD\n"
                           "miroir_node_shards{cluster=\"%V\",node=\"%*s\","
                           "role=\"replica\"} %uD\n",
                        &cl->name, (size_t) sn->id_len, sn->id, primaries[i],
                        &cl->name, (size_t) sn->id_len, sn->id,
                        copies[i] - primaries[i]);
    }

    p = ngx_sprintf(p, "# HELP miroir_node_requests_total Requests sent to "
                       "the node.\n"
                       "# TYPE miroir_node_requests_total counter\n");

    for (i = 0; i < sc->nnodes; i++) {
        sn = &sc->nodes[i];
        p = ngx_sprintf(p, "miroir_node_requests_total{cluster=\"%V\","
                           "node=\"%*s\"} %uA\n",
                        &cl->name, (size_t) sn->id_len, sn->id,
                        m->nodes[i].requests);
    }

    p = ngx_sprintf(p, "# HELP miroir_node_errors_total Requests to the node "
                       "that failed (no complete answer, or a 5xx).\n"
                       "# TYPE miroir_node_errors_total counter\n");

    for (i = 0; i < sc->nnodes; i++) {
        sn = &sc->nodes[i];
        p = ngx_sprintf(p, "miroir_node_errors_total{cluster=\"%V\","
                           "node=\"%*s\"} %uA\n",
                        &cl->name, (size_t) sn->id_len, sn->id,
                        m->nodes[i].errors);
    }

    p = ngx_sprintf(p, "# HELP miroir_node_outstanding Requests to the node "
                       "in flight.\n"
                       "# TYPE miroir_node_outstanding gauge\n");

    for (i = 0; i < sc->nnodes; i++) {
        sn = &sc->nodes[i];
        p = ngx_sprintf(p, "miroir_node_outstanding{cluster=\"%V\","
                           "node=\"%*s\"} %A\n",
                        &cl->name, (size_t) sn->id_len, sn->id,
                        (ngx_atomic_int_t) m->nodes[i].outstanding);
    }

    p = ngx_sprintf(p, "# HELP miroir_node_request_duration_seconds Duration "
                       "of requests to the node.\n"
                       "# TYPE miroir_node_request_duration_seconds "
                       "histogram\n");

    for (i = 0; i < sc->nnodes; i++) {
        sn = &sc->nodes[i];
        ngx_sprintf(labels, "cluster=\"%V\",node=\"%*s\"%Z", &cl->name,
                    (size_t) sn->id_len, sn->id);
        p = ngx_miroir_render_histogram(p,
                                        "miroir_node_request_duration_seconds",
                                        (char *) labels,
                                        &m->nodes[i].duration);
    }

    body.data = buf;
    body.len = p - buf;

    return ngx_miroir_send_raw(r, NGX_HTTP_OK, &type, &body);
}


/* One node's counters, for the status page. */
void
ngx_miroir_metrics_node(ngx_miroir_cluster_conf_t *cl, ngx_uint_t node,
    uint64_t *requests, uint64_t *errors, int64_t *outstanding)
{
    ngx_miroir_node_metrics_t  *nm;

    *requests = 0;
    *errors = 0;
    *outstanding = 0;

    if (cl->shm == NULL || cl->shm->metrics == NULL
        || node >= MIROIR_MAX_NODES)
    {
        return;
    }

    nm = &cl->shm->metrics->nodes[node];

    *requests = nm->requests;
    *errors = nm->errors;
    *outstanding = (ngx_atomic_int_t) nm->outstanding;
}
