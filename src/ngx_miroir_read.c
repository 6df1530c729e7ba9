/*
 * ngx_miroir_read.c -- the read path's router and its plan engine.
 *
 * A read is answered in rounds.  Round 0 asks each live node for the
 * copies it leads (_miroir_o0 = "<node>" AND-ed to the user's filter), or,
 * when one live node owns every shard (RF = N), that node alone with no
 * added filter.  A node that fails or times out is marked down for the rest
 * of the request, and the next round asks the next live owners of its
 * shards for just those (the failover restriction of miroir_filter_reader()
 * minus what the reader already answered), within the cluster deadline
 * counted from the start of the request.  Shards left without an answer are
 * reported in rd->missing for the route to refuse (503) or flag (partial).
 */

#include "ngx_miroir_read.h"
#include "ngx_miroir_rebalance.h"

#include "miroir_router.h"


#define NGX_MIROIR_READ_NO_NODE  0xffff


/*
 * What the plan needs of a shard table with nobody down, computed once per
 * table and worker (the table only changes with the topology): the nodes
 * owning every shard (a single-node plan) and each node's restriction
 * (miroir_filter_reader(); NULL when it leads no shard).
 */
typedef struct {
    ngx_miroir_cluster_conf_t      *cl;
    const miroir_route_table_t     *rt;
    uint64_t                        version;
    uint8_t                         all[MIROIR_MAX_NODES];
    char                           *leader[MIROIR_MAX_NODES];
} ngx_miroir_read_table_t;

#define NGX_MIROIR_READ_TABLES   8

static ngx_miroir_read_table_t  ngx_miroir_read_tables[NGX_MIROIR_READ_TABLES];
static ngx_uint_t               ngx_miroir_read_tables_next;


static ngx_int_t ngx_miroir_read_round(ngx_miroir_read_t *rd);
static void ngx_miroir_read_round_done(ngx_http_request_t *r,
    ngx_miroir_fanout_t *fo);
static void ngx_miroir_read_drop_node(ngx_miroir_read_t *rd, ngx_uint_t node);
static ngx_int_t ngx_miroir_read_compute_missing(ngx_miroir_read_t *rd);
static ngx_uint_t ngx_miroir_read_client_error(ngx_int_t status);
static ngx_int_t ngx_miroir_read_global_stats(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl);
static void ngx_miroir_read_hedge(ngx_event_t *ev);
static ngx_uint_t ngx_miroir_read_ready(ngx_miroir_fanout_t *fo);
static void ngx_miroir_read_cleanup(void *data);
static ngx_int_t ngx_miroir_read_named_init(ngx_miroir_read_t *rd,
    const miroir_route_table_t *rt);
static ngx_int_t ngx_miroir_read_restr(ngx_miroir_read_t *rd,
    const miroir_route_table_t *rt, const uint8_t *down, ngx_uint_t y,
    char **out);
static ngx_int_t ngx_miroir_read_named_src(ngx_miroir_read_t *rd,
    const miroir_route_table_t *rt, const uint8_t *down, uint32_t s);
static ngx_miroir_read_table_t *ngx_miroir_read_table_info(
    ngx_miroir_cluster_conf_t *cl, const miroir_route_table_t *rt);
static ngx_uint_t ngx_miroir_read_none_down(const uint8_t *down,
    const miroir_route_table_t *rt);


ngx_int_t ngx_miroir_read_route(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_str_t *path);


ngx_int_t
ngx_miroir_read_route(ngx_http_request_t *r, ngx_miroir_cluster_conf_t *cl,
    ngx_str_t *path)
{
    u_char     *p, *last, *slash;
    ngx_int_t   rc;
    ngx_str_t   uid, rest, id;

    /* the health probe runs in one worker (see ngx_miroir_read_probe.c) */
    ngx_miroir_read_probe_arm((ngx_cycle_t *) ngx_cycle);

    if (path->len == sizeof("/stats") - 1
        && ngx_strncmp(path->data, "/stats", path->len) == 0)
    {
        if (!(r->method & NGX_HTTP_GET)) {
            return NGX_DECLINED;
        }

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_miroir_read_global_stats(r, cl);
    }

    if (path->len == sizeof("/multi-search") - 1
        && ngx_strncmp(path->data, "/multi-search", path->len) == 0)
    {
        if (r->method != NGX_HTTP_POST) {
            return NGX_DECLINED;
        }

        return ngx_miroir_read_multi(r, cl);
    }

    if (path->len <= sizeof("/indexes/") - 1
        || ngx_strncmp(path->data, "/indexes/", sizeof("/indexes/") - 1)
           != 0)
    {
        return NGX_DECLINED;
    }

    p = path->data + sizeof("/indexes/") - 1;
    last = path->data + path->len;

    slash = ngx_strlchr(p, last, '/');
    if (slash == NULL || slash == p) {
        return NGX_DECLINED;
    }

    uid.data = p;
    uid.len = slash - p;
    rest.data = slash;
    rest.len = last - slash;

#define ngx_miroir_rest_is(s)                                                \
    (rest.len == sizeof(s) - 1 && ngx_strncmp(rest.data, s, rest.len) == 0)

    if (ngx_miroir_rest_is("/search")) {
        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_POST))) {
            return NGX_DECLINED;
        }

        return ngx_miroir_read_search(r, cl, &uid);
    }

    if (ngx_miroir_rest_is("/facet-search")) {
        if (r->method != NGX_HTTP_POST) {
            return NGX_DECLINED;
        }

        return ngx_miroir_read_facet_search(r, cl, &uid);
    }

    if (ngx_miroir_rest_is("/documents")) {
        if (!(r->method & NGX_HTTP_GET)) {
            return NGX_DECLINED;
        }

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_miroir_read_documents(r, cl, &uid, 0);
    }

    if (ngx_miroir_rest_is("/documents/fetch") && r->method == NGX_HTTP_POST)
    {
        return ngx_miroir_read_documents(r, cl, &uid, 1);
    }

    if (ngx_miroir_rest_is("/stats")) {
        if (!(r->method & NGX_HTTP_GET)) {
            return NGX_DECLINED;
        }

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_miroir_read_stats(r, cl, &uid);
    }

    if (rest.len > sizeof("/documents/") - 1
        && ngx_strncmp(rest.data, "/documents/", sizeof("/documents/") - 1)
           == 0
        && r->method == NGX_HTTP_GET)
    {
        id.data = rest.data + sizeof("/documents/") - 1;
        id.len = rest.len - (sizeof("/documents/") - 1);

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_miroir_read_document(r, cl, &uid, &id);
    }

#undef ngx_miroir_rest_is

    return NGX_DECLINED;
}


/* ------------------------------------------------------------ engine */

ngx_miroir_read_t *
ngx_miroir_read_create(ngx_http_request_t *r, ngx_miroir_cluster_conf_t *cl)
{
    ngx_miroir_read_t   *rd;
    ngx_pool_cleanup_t  *cln;

    rd = ngx_pcalloc(r->pool, sizeof(ngx_miroir_read_t));
    if (rd == NULL) {
        return NULL;
    }

    if (ngx_array_init(&rd->answers, r->pool, 16,
                       sizeof(ngx_miroir_read_answer_t))
        != NGX_OK)
    {
        return NULL;
    }

    rd->request = r;
    rd->cl = cl;
    rd->method = NGX_HTTP_GET;
    rd->start = ngx_current_msec;
    rd->extra_call = -1;
    rd->pk_call = -1;
    rd->hedged = -1;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_miroir_read_cleanup;
    cln->data = rd;

    /* nodes known down by passive health are not asked at all */
    ngx_miroir_down_nodes(cl, rd->down);

    return rd;
}


/*
 * Start the first round.  Returns NGX_DONE (the done handler will run), or
 * an HTTP status for the caller to return (or finalize with).
 */
ngx_int_t
ngx_miroir_read_start(ngx_miroir_read_t *rd)
{
    ngx_int_t            rc;
    ngx_http_request_t  *r;

    r = rd->request;

    if (!rd->in_body) {
        r->main->count++;
    }

    rc = ngx_miroir_read_round(rd);

    if (rc == NGX_DONE) {
        return NGX_DONE;
    }

    if (!rd->in_body) {
        r->main->count--;
    }

    if (rc == NGX_DECLINED) {
        /* nothing could be asked: every shard is missing */
        if (ngx_miroir_read_compute_missing(rd) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_miroir_read_missing(rd);
    }

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static ngx_int_t
ngx_miroir_read_round(ngx_miroir_read_t *rd)
{
    char                        *s, *neg, *delta;
    size_t                       len;
    uint32_t                     sh;
    ngx_int_t                    cover;
    ngx_uint_t                   y, n, i;
    ngx_msec_t                   elapsed;
    ngx_miroir_call_t           *call;
    ngx_http_request_t          *r;
    ngx_miroir_fanout_t         *fo;
    ngx_miroir_read_table_t     *ti;
    ngx_miroir_cluster_conf_t   *cl;
    const uint16_t              *own;
    const miroir_route_table_t  *rt;

    r = rd->request;
    cl = rd->cl;

    elapsed = ngx_current_msec - rd->start;
    if (elapsed >= cl->deadline) {
        return NGX_DECLINED;
    }

    rt = rd->rt ? rd->rt : ngx_miroir_route_table(cl, r->connection->log);
    if (rt == NULL) {
        return NGX_ERROR;
    }

    if (!rd->named_init) {
        if (ngx_miroir_read_named_init(rd, rt) != NGX_OK) {
            return NGX_ERROR;
        }

        if (rd->rt) {
            rt = rd->rt;
        }
    }

    n = ngx_min(rt->nnodes, cl->nodes.nelts);

    /* room for the hedged calls added while the fan-out runs */

    fo = ngx_miroir_fanout_create(r, cl, 2 * n + 2);
    if (fo == NULL) {
        return NGX_ERROR;
    }

    rd->fanout = fo;
    rd->hedged = -1;

    rd->restr = ngx_pcalloc(r->pool, (2 * n + 2) * sizeof(char *));
    if (rd->restr == NULL) {
        return NGX_ERROR;
    }

    /* fewer nodes when possible: a live node owning every shard */

    cover = -1;
    ti = NULL;

    if (rd->nnamed == 0) {
        /* NULL when out of memory: computed below as before */
        ti = ngx_miroir_read_table_info(cl, rt);
    }

    if (rd->answers.nelts == 0 && rd->nnamed == 0) {
        for (y = 0; y < n && cover < 0; y++) {
            if (rd->down[y]) {
                continue;
            }

            if (ti) {
                if (ti->all[y]) {
                    cover = y;
                }

                continue;
            }

            for (sh = 0; sh < rt->nshards; sh++) {
                own = miroir_route_owners(rt, sh);

                for (i = 0; i < rt->rf; i++) {
                    if (own[i] == y) {
                        break;
                    }
                }

                if (i == rt->rf) {
                    break;
                }
            }

            if (sh == rt->nshards) {
                cover = y;
            }
        }
    }

    if (ti && !ngx_miroir_read_none_down(rd->down, rt)) {
        ti = NULL;      /* the restrictions depend on who is down */
    }

    if (cover >= 0) {
        call = ngx_miroir_fanout_add(fo, cover, rd->method, &rd->uri, NULL);
        if (call == NULL || rd->build(rd, call, NULL) != NGX_OK) {
            return NGX_ERROR;
        }

        rd->restr[0] = NULL;

    } else {
        for (y = 0; y < n; y++) {
            if (rd->down[y]) {
                continue;
            }

            s = NULL;

            if (ti) {
                /* nobody down, nothing named: the table's leader filter */
                if (ti->leader[y]) {
                    len = ngx_strlen(ti->leader[y]) + 1;
                    s = ngx_pnalloc(r->pool, len);
                    if (s == NULL) {
                        return NGX_ERROR;
                    }

                    ngx_memcpy(s, ti->leader[y], len);
                }

            } else if (ngx_miroir_read_restr(rd, rt, rd->down, y, &s)
                       != NGX_OK)
            {
                return NGX_ERROR;
            }

            if (s == NULL) {
                continue;
            }

            delta = s;

            if (rd->answered[y]) {
                if (ngx_strcmp(rd->answered[y], s) == 0) {
                    continue;
                }

                /* only what this reader did not answer yet */

                len = ngx_strlen(rd->answered[y]);
                neg = ngx_pnalloc(r->pool, len + sizeof("NOT ()"));
                if (neg == NULL) {
                    return NGX_ERROR;
                }

                ngx_sprintf((u_char *) neg, "NOT (%s)%Z", rd->answered[y]);

                delta = miroir_filter_and(s, neg);
                if (ngx_miroir_pool_own(r, delta) == NULL) {
                    return NGX_ERROR;
                }
            }

            call = ngx_miroir_fanout_add(fo, y, rd->method, &rd->uri, NULL);
            if (call == NULL || rd->build(rd, call, delta) != NGX_OK) {
                return NGX_ERROR;
            }

            rd->restr[fo->calls.nelts - 1] = s;
        }
    }

    if (fo->calls.nelts == 0) {
        return NGX_DECLINED;
    }

    rd->extra_call = -1;
    rd->pk_call = -1;
    rd->ncalls = fo->calls.nelts;
    rd->hedge_first = 2 * n + 2;

    if (rd->round == 0 && rd->extra_uri.len) {
        call = fo->calls.elts;
        call = ngx_miroir_fanout_add(fo, call[0].node, NGX_HTTP_GET,
                                     &rd->extra_uri, NULL);
        if (call == NULL) {
            return NGX_ERROR;
        }

        rd->extra_call = fo->calls.nelts - 1;

        if (rd->pk_uri.len) {
            /* stable_ties: the primary key, from the same node */
            if (ngx_miroir_fanout_add(fo, call->node, NGX_HTTP_GET,
                                      &rd->pk_uri, NULL)
                == NULL)
            {
                return NGX_ERROR;
            }

            rd->pk_call = fo->calls.nelts - 1;
        }
    }

    if (ngx_miroir_fanout_start(fo, ngx_miroir_read_round_done, rd)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the deadline counts from the start of the client request */

    if (!fo->finished && elapsed && fo->deadline.timer_set) {
        ngx_del_timer(&fo->deadline);
        ngx_add_timer(&fo->deadline, cl->deadline - elapsed);
    }

    /* hedging: round 0 of a multi-node plan only */

    if (!fo->finished && rd->round == 0 && cover < 0 && cl->hedge_after
        && cl->hedge_after < cl->deadline && rd->ncalls > 1)
    {
        fo->ready = ngx_miroir_read_ready;

        rd->hedge.handler = ngx_miroir_read_hedge;
        rd->hedge.data = r->connection;     /* its fd for debug logs */
        rd->hedge.log = r->connection->log;
        ngx_add_timer(&rd->hedge, cl->hedge_after);
    }

    return NGX_DONE;
}


static void
ngx_miroir_read_round_done(ngx_http_request_t *r, ngx_miroir_fanout_t *fo)
{
    ngx_int_t                  rc;
    ngx_uint_t                 i, failed, use_hedges;
    ngx_miroir_read_t         *rd;
    ngx_miroir_call_t         *call, *slow;
    ngx_miroir_node_conf_t    *node;
    ngx_miroir_read_answer_t  *a;

    rd = fo->data;
    call = fo->calls.elts;
    node = rd->cl->nodes.elts;
    failed = 0;

    if (rd->hedge.timer_set) {
        ngx_del_timer(&rd->hedge);
    }

    /* an answer above max_response: no other node would answer less */

    rc = ngx_miroir_fanout_too_large(fo);
    if (rc != NGX_DECLINED) {
        ngx_miroir_finish(r, rc);
        return;
    }

    /*
     * Hedged: use the slow node's answer if it came, else the hedges if
     * they all came (the slow node is then out of this request), else
     * neither (the normal failover below).
     */

    use_hedges = 0;
    slow = NULL;

    if (rd->hedged >= 0) {
        for (i = 0; i < rd->ncalls; i++) {
            if ((ngx_int_t) call[i].node == rd->hedged) {
                slow = &call[i];
            }
        }

        if (slow && !(slow->done && slow->ok
                      && slow->status == NGX_HTTP_OK))
        {
            use_hedges = 1;

            for (i = rd->hedge_first; i < fo->calls.nelts; i++) {
                if (!(call[i].done && call[i].ok
                      && call[i].status == NGX_HTTP_OK))
                {
                    use_hedges = 0;
                }
            }

            if (use_hedges) {
                ngx_miroir_metrics_count(rd->cl,
                                         NGX_MIROIR_COUNTER_HEDGES_WON);
            }
        }
    }

    for (i = 0; i < fo->calls.nelts; i++) {

        if (i >= rd->hedge_first && !use_hedges) {
            continue;
        }

        if (use_hedges && &call[i] == slow) {
            /* covered by the hedges: out of this request, no failure */
            rd->down[slow->node] = 1;
            rd->answered[slow->node] = NULL;
            continue;
        }

        if ((ngx_int_t) i == rd->extra_call) {
            if (call[i].done && call[i].ok) {
                rd->extra_status = call[i].status;
                rd->extra_body = call[i].response;
            }

            continue;
        }

        if ((ngx_int_t) i == rd->pk_call) {
            if (call[i].done && call[i].ok) {
                rd->pk_status = call[i].status;
                rd->pk_body = call[i].response;
            }

            continue;
        }

        if (call[i].done && call[i].ok && call[i].status == NGX_HTTP_OK) {
            a = ngx_array_push(&rd->answers);
            if (a == NULL) {
                ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }

            a->node = call[i].node;
            a->round = rd->round;
            a->body = call[i].response;

            if (rd->restr[i] == NULL) {
                rd->whole = 1;

            } else {
                rd->answered[call[i].node] = rd->restr[i];
            }

            continue;
        }

        if (call[i].done && call[i].ok
            && ngx_miroir_read_client_error(call[i].status))
        {
            if (rd->error == NULL) {
                rd->error = &call[i];
            }

            continue;
        }

        ngx_miroir_log_event(r->connection->log, NGX_LOG_WARN,
                             "read_failover", &rd->cl->name,
                             &node[call[i].node].id,
                             "node=%V path=%V status=%i timed_out=%ui "
                             "round=%ui", &node[call[i].node].id, &rd->uri,
                             call[i].status, (ngx_uint_t) call[i].timed_out,
                             rd->round);

        ngx_miroir_read_drop_node(rd, call[i].node);
        failed++;
    }

    if (rd->error == NULL && failed && !rd->whole
        && rd->round + 1 < NGX_MIROIR_READ_MAX_ROUNDS)
    {
        rd->round++;
        ngx_miroir_metrics_count(rd->cl, NGX_MIROIR_COUNTER_FAILOVERS);

        rc = ngx_miroir_read_round(rd);

        if (rc == NGX_DONE) {
            return;
        }

        if (rc == NGX_ERROR) {
            ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    if (rd->error == NULL && ngx_miroir_read_compute_missing(rd) != NGX_OK) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rd->done(rd);
}


/*
 * Hedging: hedge_after ms into round 0, the first node that has not
 * answered is "slow": the shards it leads are also asked from their next
 * live owners (the failover restrictions for that node, minus what each
 * reader was already asked).  The fan-out ends as soon as either the slow
 * node or all its hedges answered (ngx_miroir_read_ready); the other is
 * ignored.
 */
static void
ngx_miroir_read_hedge(ngx_event_t *ev)
{
    char                        *s, *neg, *delta;
    size_t                       len;
    uint8_t                      down[MIROIR_MAX_NODES];
    ngx_uint_t                   i, j, y, x, n, first;
    ngx_miroir_read_t           *rd;
    ngx_miroir_call_t           *call, *c;
    ngx_http_request_t          *r;
    ngx_miroir_fanout_t         *fo;
    miroir_read_plan_t          *plan;
    const miroir_route_table_t  *rt;

    rd = (ngx_miroir_read_t *) ((u_char *) ev
                                - offsetof(ngx_miroir_read_t, hedge));
    r = rd->request;
    fo = rd->fanout;

    if (fo == NULL || fo->finished || rd->hedged >= 0) {
        return;
    }

    call = fo->calls.elts;

    for (i = 0; i < rd->ncalls; i++) {
        if (!call[i].done) {
            break;
        }
    }

    if (i == rd->ncalls) {
        return;
    }

    x = call[i].node;

    rt = rd->rt ? rd->rt : ngx_miroir_route_table(rd->cl, r->connection->log);
    if (rt == NULL) {
        return;
    }

    ngx_memcpy(down, rd->down, sizeof(down));
    down[x] = 1;

    /* only if every shard of the slow node has another live owner */

    if (miroir_read_plan_create(rt, down, &plan) != MIROIR_OK) {
        return;
    }

    n = plan->nmissing;
    miroir_read_plan_free(plan);

    for (i = 0; n == 0 && rd->named && i < rt->nshards; i++) {
        if (rd->named[i]
            && ngx_miroir_read_named_src(rd, rt, down, (uint32_t) i) < 0)
        {
            n = 1;
        }
    }

    if (n) {
        return;
    }

    n = ngx_min(rt->nnodes, rd->cl->nodes.nelts);
    first = fo->calls.nelts;

    for (y = 0; y < n; y++) {
        if (down[y]) {
            continue;
        }

        s = NULL;
        if (ngx_miroir_read_restr(rd, rt, down, y, &s) != NGX_OK
            || s == NULL)
        {
            continue;
        }

        /* what y was asked in this round */

        delta = s;

        for (j = 0; j < rd->ncalls; j++) {
            if (call[j].node == y && rd->restr[j]) {
                if (ngx_strcmp(rd->restr[j], s) == 0) {
                    delta = NULL;
                    break;
                }

                len = ngx_strlen(rd->restr[j]);
                neg = ngx_pnalloc(r->pool, len + sizeof("NOT ()"));
                if (neg == NULL) {
                    return;
                }

                ngx_sprintf((u_char *) neg, "NOT (%s)%Z", rd->restr[j]);

                delta = miroir_filter_and(s, neg);
                if (ngx_miroir_pool_own(r, delta) == NULL) {
                    return;
                }

                break;
            }
        }

        if (delta == NULL) {
            continue;
        }

        c = ngx_miroir_fanout_add(fo, y, rd->method, &rd->uri, NULL);
        if (c == NULL || rd->build(rd, c, delta) != NGX_OK) {
            return;
        }

        rd->restr[fo->calls.nelts - 1] = s;

        if (rd->hedged < 0) {
            rd->hedged = x;
            rd->hedge_first = first;

            ngx_miroir_log_event(r->connection->log, NGX_LOG_NOTICE,
                                 "hedge", &rd->cl->name,
                                 &((ngx_miroir_node_conf_t *)
                                   rd->cl->nodes.elts)[x].id,
                                 "node=%V path=%V after_ms=%M",
                                 &((ngx_miroir_node_conf_t *)
                                   rd->cl->nodes.elts)[x].id, &rd->uri,
                                 rd->cl->hedge_after);
        }

        if (ngx_miroir_call_start(c) != NGX_OK) {
            return;
        }

        ngx_miroir_metrics_count(rd->cl, NGX_MIROIR_COUNTER_HEDGES_SENT);
    }
}


/* The fan-out may end before the slow node: see ngx_miroir_read_hedge(). */
static ngx_uint_t
ngx_miroir_read_ready(ngx_miroir_fanout_t *fo)
{
    ngx_uint_t          i, slow_ok, hedges_ok;
    ngx_miroir_read_t  *rd;
    ngx_miroir_call_t  *call;

    rd = fo->data;

    if (rd->hedged < 0) {
        return 0;
    }

    call = fo->calls.elts;
    slow_ok = 0;

    for (i = 0; i < rd->ncalls; i++) {
        if ((ngx_int_t) call[i].node == rd->hedged) {
            slow_ok = call[i].done && call[i].ok
                      && call[i].status == NGX_HTTP_OK;
            continue;
        }

        if (!(call[i].done && call[i].ok && call[i].status == NGX_HTTP_OK)) {
            return 0;
        }
    }

    if (rd->extra_call >= 0 && !call[rd->extra_call].done) {
        return 0;
    }

    if (rd->pk_call >= 0 && !call[rd->pk_call].done) {
        return 0;
    }

    if (slow_ok) {
        return 1;
    }

    hedges_ok = 1;

    for (i = rd->hedge_first; i < fo->calls.nelts; i++) {
        if (!(call[i].done && call[i].ok && call[i].status == NGX_HTTP_OK)) {
            hedges_ok = 0;
        }
    }

    return hedges_ok;
}


static void
ngx_miroir_read_cleanup(void *data)
{
    ngx_miroir_read_t  *rd = data;

    if (rd->hedge.timer_set) {
        ngx_del_timer(&rd->hedge);
    }
}


/*
 * A node failed: it is down for the rest of this request, and whatever it
 * answered in earlier rounds is dropped too, since its shards are now
 * asked from their next owners.
 */
static void
ngx_miroir_read_drop_node(ngx_miroir_read_t *rd, ngx_uint_t node)
{
    ngx_uint_t                 i, j;
    ngx_miroir_read_answer_t  *a;

    rd->down[node] = 1;
    rd->answered[node] = NULL;

    a = rd->answers.elts;

    for (i = 0, j = 0; i < rd->answers.nelts; i++) {
        if (a[i].node != node) {
            a[j++] = a[i];
        }
    }

    rd->answers.nelts = j;
}


/*
 * Shards with no answer: no live owner (or source, for a shard read by
 * name), or a reader that did not answer its whole restriction.
 */
static ngx_int_t
ngx_miroir_read_compute_missing(ngx_miroir_read_t *rd)
{
    char                        *s;
    int8_t                       ok[MIROIR_MAX_NODES];
    uint16_t                    *assign;
    uint32_t                    *m, k;
    ngx_int_t                    src;
    ngx_uint_t                   y;
    miroir_read_plan_t          *plan;
    ngx_http_request_t          *r;
    ngx_miroir_read_table_t     *ti;
    const miroir_route_table_t  *rt;

    r = rd->request;
    rd->nmissing = 0;

    if (rd->whole) {
        return NGX_OK;
    }

    rt = rd->rt ? rd->rt : ngx_miroir_route_table(rd->cl, r->connection->log);
    if (rt == NULL) {
        return NGX_ERROR;
    }

    /*
     * Nobody down and nothing named (the common case): each shard is read
     * from its primary with the table's leader filter, so nothing is
     * missing when every node leading a shard answered just that.
     */

    if (rd->nnamed == 0 && ngx_miroir_read_none_down(rd->down, rt)) {
        ti = ngx_miroir_read_table_info(rd->cl, rt);

        for (y = 0; ti && y < rt->nnodes; y++) {
            if (ti->leader[y]
                && (rd->answered[y] == NULL
                    || ngx_strcmp(rd->answered[y], ti->leader[y]) != 0))
            {
                break;
            }
        }

        if (ti && y == rt->nnodes) {
            return NGX_OK;
        }
    }

    if (miroir_read_plan_create(rt, rd->down, &plan) != MIROIR_OK) {
        return NGX_ERROR;
    }

    m = ngx_palloc(r->pool, (rt->nshards + 1) * sizeof(uint32_t));
    assign = ngx_palloc(r->pool, rt->nshards * sizeof(uint16_t));

    if (m == NULL || assign == NULL) {
        miroir_read_plan_free(plan);
        return NGX_ERROR;
    }

    /* who answers each shard: its plan reader, or its source by name */

    for (k = 0; k < rt->nshards; k++) {
        assign[k] = NGX_MIROIR_READ_NO_NODE;
    }

    for (y = 0; y < plan->nnodes; y++) {
        for (k = plan->off[y]; k < plan->off[y + 1]; k++) {
            assign[plan->shards[k]] = (uint16_t) y;
        }
    }

    miroir_read_plan_free(plan);

    for (k = 0; rd->named && k < rt->nshards; k++) {
        if (rd->named[k]) {
            src = ngx_miroir_read_named_src(rd, rt, rd->down, k);
            assign[k] = src < 0 ? NGX_MIROIR_READ_NO_NODE : (uint16_t) src;
        }
    }

    ngx_memset(ok, -1, sizeof(ok));

    for (k = 0; k < rt->nshards; k++) {
        y = assign[k];

        if (y < MIROIR_MAX_NODES && ok[y] < 0) {
            ok[y] = 0;

            if (rd->answered[y]) {
                s = NULL;
                if (ngx_miroir_read_restr(rd, rt, rd->down, y, &s) != NGX_OK)
                {
                    return NGX_ERROR;
                }

                ok[y] = (s && ngx_strcmp(s, rd->answered[y]) == 0);
            }
        }

        if (y >= MIROIR_MAX_NODES || !ok[y]) {
            m[rd->nmissing++] = k;
        }
    }

    rd->missing = m;

    return NGX_OK;
}


/*
 * The shards read by name, fixed at the first round so that later rounds
 * agree with it (a shard that changed state mid-request would otherwise
 * be counted on two nodes):
 *   - shards being migrated (ngx_miroir_rebalance_read_state()): their
 *     documents carry the new owner tags while the old owners still hold
 *     them, so no owner-field filter is right; one current copy answers
 *     `_miroir_shard IN [..]` and every other node excludes them;
 *   - shards whose plan reader holds a stale copy (a write missed it):
 *     a fresh owner answers them by name.
 * Costs one pass over the shards when nothing moves and nothing is stale.
 */
static ngx_int_t
ngx_miroir_read_named_init(ngx_miroir_read_t *rd,
    const miroir_route_table_t *rt)
{
    char                 **ids;
    size_t                 len;
    uint16_t              *owners;
    uint32_t              *list, s, j;
    const uint8_t         *mig;
    const uint16_t        *src, *own;
    ngx_http_request_t    *r;
    miroir_route_table_t  *t;

    r = rd->request;
    rd->named_init = 1;

    (void) ngx_miroir_rebalance_read_state(rd->cl, &mig, &src);

    if (rd->cl->shm == NULL || rd->cl->shm->shards != rt->nshards) {
        mig = NULL;             /* a table of another version: not ours */
    }

    if (mig == NULL && !ngx_miroir_stale_any(rd->cl)) {
        return NGX_OK;          /* nothing moves, nothing is stale */
    }

    for (s = 0; s < rt->nshards; s++) {
        if (mig && mig[s]) {
            goto named;
        }

        own = miroir_route_owners(rt, s);

        for (j = 0; j < rt->rf; j++) {
            if (ngx_miroir_shard_is_stale(rd->cl, s, own[j])) {
                goto named;
            }
        }

        continue;

    named:

        if (rd->named == NULL) {
            rd->named = ngx_pcalloc(r->pool, rt->nshards);
            rd->named_src = ngx_palloc(r->pool,
                                       rt->nshards * sizeof(uint16_t));
            if (rd->named == NULL || rd->named_src == NULL) {
                return NGX_ERROR;
            }
        }

        rd->named[s] = 1;
        rd->named_src[s] = (mig && mig[s]) ? src[s] : NGX_MIROIR_READ_NO_NODE;
        rd->nnamed++;
    }

    if (rd->nnamed == 0) {
        return NGX_OK;
    }

    list = ngx_palloc(r->pool, rd->nnamed * sizeof(uint32_t));
    if (list == NULL) {
        return NGX_ERROR;
    }

    for (s = 0, j = 0; s < rt->nshards; s++) {
        if (rd->named[s]) {
            list[j++] = s;
        }
    }

    rd->named_not = miroir_filter_shards(list, rd->nnamed, 1);
    if (rd->named_not == NULL
        || ngx_miroir_pool_own(r, rd->named_not) == NULL)
    {
        return NGX_ERROR;
    }

    /*
     * Pin the table for the request: a switch during the request changes
     * the owners (and so the sources) the later rounds and the final
     * check would compute, and frees the worker's old table.
     */

    t = ngx_palloc(r->pool, sizeof(miroir_route_table_t));
    owners = ngx_palloc(r->pool,
                        (size_t) rt->nshards * rt->rf * sizeof(uint16_t));
    ids = ngx_palloc(r->pool, rt->nnodes * sizeof(char *));

    if (t == NULL || owners == NULL || ids == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(owners, rt->owners,
               (size_t) rt->nshards * rt->rf * sizeof(uint16_t));

    for (j = 0; j < rt->nnodes; j++) {
        len = ngx_strlen(rt->node_ids[j]) + 1;
        ids[j] = ngx_pnalloc(r->pool, len);
        if (ids[j] == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(ids[j], rt->node_ids[j], len);
    }

    *t = *rt;
    t->owners = owners;
    t->node_ids = (const char *const *) ids;
    rd->rt = t;

    return NGX_OK;
}


/* The plan facts of table rt (see ngx_miroir_read_table_t); NULL: ENOMEM. */
static ngx_miroir_read_table_t *
ngx_miroir_read_table_info(ngx_miroir_cluster_conf_t *cl,
    const miroir_route_table_t *rt)
{
    uint8_t                   none[MIROIR_MAX_NODES];
    uint32_t                  sh, cnt[MIROIR_MAX_NODES];
    ngx_uint_t                i, y;
    const uint16_t           *own;
    ngx_miroir_read_table_t  *t;

    for (i = 0; i < NGX_MIROIR_READ_TABLES; i++) {
        t = &ngx_miroir_read_tables[i];

        if (t->cl == cl && t->rt == rt && t->version == cl->router_version) {
            return t;
        }
    }

    if (rt->nnodes > MIROIR_MAX_NODES) {
        return NULL;
    }

    /* a new table of this cluster replaces its old one */

    for (i = 0; i < NGX_MIROIR_READ_TABLES; i++) {
        if (ngx_miroir_read_tables[i].cl == cl) {
            break;
        }
    }

    if (i == NGX_MIROIR_READ_TABLES) {
        i = ngx_miroir_read_tables_next++ % NGX_MIROIR_READ_TABLES;
    }

    t = &ngx_miroir_read_tables[i];

    for (y = 0; y < MIROIR_MAX_NODES; y++) {
        free(t->leader[y]);
    }

    ngx_memzero(t, sizeof(ngx_miroir_read_table_t));
    ngx_memzero(cnt, sizeof(cnt));
    ngx_memzero(none, sizeof(none));

    for (sh = 0; sh < rt->nshards; sh++) {
        own = miroir_route_owners(rt, sh);

        for (i = 0; i < rt->rf; i++) {
            if (own[i] < MIROIR_MAX_NODES) {
                cnt[own[i]]++;
            }
        }
    }

    for (y = 0; y < rt->nnodes; y++) {
        t->all[y] = (cnt[y] == rt->nshards);

        if (miroir_filter_reader(rt, none, (uint16_t) y, &t->leader[y])
            != MIROIR_OK)
        {
            for (i = 0; i < y; i++) {
                free(t->leader[i]);
            }

            ngx_memzero(t, sizeof(ngx_miroir_read_table_t));
            return NULL;
        }
    }

    t->cl = cl;
    t->rt = rt;
    t->version = cl->router_version;

    return t;
}


/* Is no node of table rt down? */
static ngx_uint_t
ngx_miroir_read_none_down(const uint8_t *down, const miroir_route_table_t *rt)
{
    ngx_uint_t  y;

    for (y = 0; y < rt->nnodes && y < MIROIR_MAX_NODES; y++) {
        if (down[y]) {
            return 0;
        }
    }

    return 1;
}


/*
 * The node that answers named shard s: its preferred source if live and
 * fresh, else the first live fresh owner, else the first live owner (a
 * stale answer is better than none); -1 when no owner is live.
 */
static ngx_int_t
ngx_miroir_read_named_src(ngx_miroir_read_t *rd,
    const miroir_route_table_t *rt, const uint8_t *down, uint32_t s)
{
    uint16_t         x;
    ngx_uint_t       j, n;
    ngx_int_t        any;
    const uint16_t  *own;

    n = ngx_min(rt->nnodes, rd->cl->nodes.nelts);
    own = miroir_route_owners(rt, s);
    any = -1;

    x = rd->named_src[s];

    if (x < n && !down[x] && !ngx_miroir_shard_is_stale(rd->cl, s, x)) {
        for (j = 0; j < rt->rf; j++) {
            if (own[j] == x) {
                return x;       /* still a current owner */
            }
        }
    }

    for (j = 0; j < rt->rf; j++) {
        x = own[j];

        if (x >= n || down[x]) {
            continue;
        }

        if (!ngx_miroir_shard_is_stale(rd->cl, s, x)) {
            return x;
        }

        if (any < 0) {
            any = x;
        }
    }

    return any;
}


/*
 * What node y answers (pool memory), NULL for nothing: the shards it
 * leads (miroir_filter_reader()) minus the named shards, plus the named
 * shards it is the source of.
 */
static ngx_int_t
ngx_miroir_read_restr(ngx_miroir_read_t *rd, const miroir_route_table_t *rt,
    const uint8_t *down, ngx_uint_t y, char **out)
{
    char                *s, *own, *mine;
    size_t               len;
    uint32_t            *list, k, i;
    ngx_http_request_t  *r;

    r = rd->request;
    *out = NULL;

    s = NULL;
    if (miroir_filter_reader(rt, down, (uint16_t) y, &s) != MIROIR_OK) {
        return NGX_ERROR;
    }

    if (s && ngx_miroir_pool_own(r, s) == NULL) {
        return NGX_ERROR;
    }

    if (rd->nnamed == 0) {
        *out = s;
        return NGX_OK;
    }

    own = NULL;

    if (s) {
        own = miroir_filter_and(s, rd->named_not);
        if (own == NULL || ngx_miroir_pool_own(r, own) == NULL) {
            return NGX_ERROR;
        }
    }

    list = ngx_palloc(r->pool, rd->nnamed * sizeof(uint32_t));
    if (list == NULL) {
        return NGX_ERROR;
    }

    for (i = 0, k = 0; i < rt->nshards; i++) {
        if (rd->named[i]
            && ngx_miroir_read_named_src(rd, rt, down, i) == (ngx_int_t) y)
        {
            list[k++] = i;
        }
    }

    if (k == 0) {
        *out = own;
        return NGX_OK;
    }

    mine = miroir_filter_shards(list, k, 0);
    if (mine == NULL || ngx_miroir_pool_own(r, mine) == NULL) {
        return NGX_ERROR;
    }

    if (own == NULL) {
        *out = mine;
        return NGX_OK;
    }

    len = ngx_strlen(own) + ngx_strlen(mine) + sizeof("() OR ()");

    *out = ngx_pnalloc(r->pool, len);
    if (*out == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf((u_char *) *out, "(%s) OR (%s)%Z", own, mine);

    return NGX_OK;
}


static ngx_uint_t
ngx_miroir_read_client_error(ngx_int_t status)
{
    /* 401/403 mean a wrong node key, 408/429 a node problem */

    return status >= 400 && status < 500
           && status != NGX_HTTP_UNAUTHORIZED && status != NGX_HTTP_FORBIDDEN
           && status != NGX_HTTP_REQUEST_TIME_OUT && status != 429;
}


/*
 * Remove Miroir's reserved attributes from a node's error message: the
 * lists of filterable or sortable attributes Meilisearch prints name them
 * ("`_miroir_o0, _miroir_shard, genre`" or "`_miroir_o0`, `genre`").
 */
static void
ngx_miroir_read_scrub(ngx_str_t *body)
{
    u_char  *p, *q, *s, *e, *last;

    p = body->data;
    last = body->data + body->len;

    while ((q = ngx_strlcasestrn(p, last, (u_char *) "_miroir_", 8 - 1))) {
        s = q;
        e = q + 8;

        while (e < last && (isalnum(*e) || *e == '_')) {
            e++;
        }

        if (s > body->data && s[-1] == '`' && e < last && *e == '`') {
            s--;
            e++;
        }

        if (last - e >= 2 && e[0] == ',' && e[1] == ' ') {
            e += 2;

        } else if (s - body->data >= 2 && s[-2] == ',' && s[-1] == ' ') {
            s -= 2;
        }

        ngx_memmove(s, e, last - e);
        last -= e - s;
        p = s;
    }

    body->len = last - body->data;
}


/* Answer with the first node's client error, status and body as is. */
ngx_int_t
ngx_miroir_read_forward_error(ngx_miroir_read_t *rd)
{
    ngx_str_t  type = ngx_string("application/json");
    ngx_str_t  body;

    body = rd->error->response;

    if (ngx_strlcasestrn(body.data, body.data + body.len,
                         (u_char *) "_miroir_", 8 - 1))
    {
        body.data = ngx_pstrdup(rd->request->pool, &rd->error->response);
        if (body.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_miroir_read_scrub(&body);
    }

    return ngx_miroir_send_raw(rd->request, rd->error->status,
                               rd->error->resp_type.len
                               ? &rd->error->resp_type : &type,
                               &body);
}


/*
 * Shards are missing: the 503 error, or NGX_OK after adding the
 * X-Miroir-Missing-Shards header when partial results are allowed.
 */
ngx_int_t
ngx_miroir_read_missing(ngx_miroir_read_t *rd)
{
    u_char              *buf, *p, *last;
    ngx_uint_t           i;
    miroir_error_t       err;
    ngx_table_elt_t     *h;
    ngx_http_request_t  *r;

    r = rd->request;

    if (rd->nmissing == 0) {
        return NGX_OK;
    }

    buf = ngx_pnalloc(r->pool, rd->nmissing * 12 + 1);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = buf;
    last = buf + rd->nmissing * 12;

    for (i = 0; i < rd->nmissing; i++) {
        p = ngx_slprintf(p, last, "%s%uD", i ? "," : "", rd->missing[i]);
    }

    if (rd->cl->allow_partial && rd->answers.nelts) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_miroir_metrics_count(rd->cl, NGX_MIROIR_COUNTER_PARTIAL);

        h->hash = 1;
        ngx_str_set(&h->key, "X-Miroir-Missing-Shards");
        h->value.data = buf;
        h->value.len = p - buf;

        return NGX_OK;
    }

    miroir_error_set(&err, NGX_HTTP_SERVICE_UNAVAILABLE,
                     "miroir_shards_unavailable", "system",
                     "%lu of %lu shards have no answering copy: %.*s%s.",
                     (unsigned long) rd->nmissing,
                     (unsigned long) rd->cl->shards,
                     (int) ngx_min(p - buf, 600), buf,
                     p - buf > 600 ? "..." : "");

    rd->sent = 1;

    return ngx_miroir_send_error(r, &err);
}


/* ------------------------------------------------------------ helpers */

ngx_int_t
ngx_miroir_read_set_body(ngx_http_request_t *r, ngx_miroir_call_t *call,
    u_char *data, size_t len)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    b = ngx_calloc_buf(r->pool);
    cl = ngx_alloc_chain_link(r->pool);
    if (b == NULL || cl == NULL) {
        return NGX_ERROR;
    }

    b->pos = data;
    b->last = data + len;
    b->memory = 1;
    b->last_buf = 1;

    cl->buf = b;
    cl->next = NULL;

    call->body = cl;
    call->body_len = len;
    ngx_str_set(&call->content_type, "application/json");

    return NGX_OK;
}


/* "/indexes/<uid><suffix>" with uid escaped for a path. */
ngx_int_t
ngx_miroir_read_index_uri(ngx_http_request_t *r, ngx_str_t *uid,
    const char *suffix, ngx_str_t *out)
{
    u_char  *p;
    size_t   slen, esc;

    slen = ngx_strlen(suffix);
    esc = ngx_escape_uri(NULL, uid->data, uid->len, NGX_ESCAPE_URI_COMPONENT);

    out->data = ngx_pnalloc(r->pool, sizeof("/indexes/") - 1 + uid->len
                                     + 2 * esc + slen);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(out->data, "/indexes/", sizeof("/indexes/") - 1);
    p = (u_char *) ngx_escape_uri(p, uid->data, uid->len,
                                  NGX_ESCAPE_URI_COMPONENT);
    p = ngx_cpymem(p, suffix, slen);

    out->len = p - out->data;

    return NGX_OK;
}


/*
 * Find argument name in args: raw = "name=value" as written, value = the
 * value decoded ('+' is a space).  NGX_DECLINED if absent.
 */
ngx_int_t
ngx_miroir_read_args_get(ngx_str_t *args, const char *name, ngx_str_t *raw,
    ngx_str_t *value, ngx_pool_t *pool)
{
    u_char  *p, *last, *end, *eq, *d, *s;
    size_t   nlen;

    nlen = ngx_strlen(name);
    p = args->data;
    last = args->data + args->len;

    while (p < last) {
        end = ngx_strlchr(p, last, '&');
        if (end == NULL) {
            end = last;
        }

        eq = ngx_strlchr(p, end, '=');

        if ((size_t) ((eq ? eq : end) - p) == nlen
            && ngx_strncmp(p, name, nlen) == 0)
        {
            raw->data = p;
            raw->len = end - p;

            if (value == NULL) {
                return NGX_OK;
            }

            if (eq == NULL) {
                value->data = (u_char *) "";
                value->len = 0;
                return NGX_OK;
            }

            value->data = ngx_pnalloc(pool, end - eq);
            if (value->data == NULL) {
                return NGX_ERROR;
            }

            for (s = eq + 1, d = value->data; s < end; s++) {
                *d++ = (*s == '+') ? ' ' : *s;
            }

            s = value->data;
            end = d;
            d = value->data;
            ngx_unescape_uri(&d, &s, end - s, 0);
            value->len = d - value->data;

            return NGX_OK;
        }

        p = end + 1;
    }

    return NGX_DECLINED;
}


/* A non-negative decimal integer, as serde reads a usize. */
ngx_int_t
ngx_miroir_read_parse_uint(ngx_str_t *v, uint64_t *out)
{
    size_t    i;
    uint64_t  n;

    if (v->len == 0 || v->len > 19) {
        return NGX_ERROR;
    }

    n = 0;

    for (i = 0; i < v->len; i++) {
        if (v->data[i] < '0' || v->data[i] > '9') {
            return NGX_ERROR;
        }

        n = n * 10 + (v->data[i] - '0');
    }

    *out = n;

    return NGX_OK;
}


ngx_int_t
ngx_miroir_read_escape_arg(ngx_http_request_t *r, u_char *p, size_t len,
    ngx_str_t *out)
{
    size_t  esc;

    esc = ngx_escape_uri(NULL, p, len, NGX_ESCAPE_URI_COMPONENT);

    out->data = ngx_pnalloc(r->pool, len + 2 * esc + 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    out->len = (u_char *) ngx_escape_uri(out->data, p, len,
                                         NGX_ESCAPE_URI_COMPONENT)
               - out->data;

    return NGX_OK;
}


/* A random UUID (version 4) for requestUid, as each search gets one. */
char *
ngx_miroir_read_request_uid(ngx_http_request_t *r)
{
    u_char    *p;
    uint32_t   a, b, c, d;

    p = ngx_pnalloc(r->pool, 37);
    if (p == NULL) {
        return NULL;
    }

    a = (uint32_t) ngx_random();
    b = (uint32_t) ngx_random();
    c = (uint32_t) ngx_random();
    d = (uint32_t) ngx_random();

    ngx_sprintf(p, "%08xD-%04xD-4%03xD-%04xD-%04xD%08xD%Z",
                a, b & 0xffff, (b >> 16) & 0x0fff,
                (c & 0x3fff) | 0x8000, (c >> 16) & 0xffff, d);

    return (char *) p;
}


/* ------------------------------------------------------------ settings */

/*
 * Per worker: the settings of the indexes searched recently, valid while
 * the cluster's settings_epoch has not moved.
 */

#define NGX_MIROIR_SETTINGS_CACHE  64

typedef struct {
    ngx_miroir_cluster_conf_t      *cl;
    u_char                         *uid;
    size_t                          uid_len;
    ngx_atomic_uint_t               epoch;
    ngx_miroir_index_settings_t     s;
} ngx_miroir_settings_entry_t;

static ngx_miroir_settings_entry_t  ngx_miroir_settings_cache[
                                        NGX_MIROIR_SETTINGS_CACHE];
static ngx_uint_t                   ngx_miroir_settings_next;


void
ngx_miroir_read_settings_default(ngx_miroir_index_settings_t *s)
{
    static miroir_facet_rule_t  rule = { "*", MIROIR_FACET_ALPHA };

    s->max_total_hits = 1000;
    s->max_values = 100;
    s->rules = &rule;
    s->nrules = 1;
    s->primary_key = NULL;
    s->distinct_attr = NULL;
    s->ties = NULL;
}


ngx_miroir_index_settings_t *
ngx_miroir_read_settings_get(ngx_miroir_cluster_conf_t *cl, ngx_str_t *uid)
{
    ngx_uint_t                    i;
    ngx_miroir_settings_entry_t  *e;

    for (i = 0; i < NGX_MIROIR_SETTINGS_CACHE; i++) {
        e = &ngx_miroir_settings_cache[i];

        if (e->cl == cl && e->uid_len == uid->len
            && ngx_strncmp(e->uid, uid->data, uid->len) == 0)
        {
            if (cl->shm && e->epoch != cl->shm->settings_epoch) {
                return NULL;
            }

            return &e->s;
        }
    }

    return NULL;
}


static void
ngx_miroir_settings_entry_free(ngx_miroir_settings_entry_t *e)
{
    size_t  i;

    if (e->uid) {
        free(e->uid);
    }

    if (e->s.rules && e->s.nrules) {
        for (i = 0; i < e->s.nrules; i++) {
            free((char *) e->s.rules[i].name);
        }

        free(e->s.rules);
    }

    free(e->s.primary_key);
    free(e->s.distinct_attr);
    free(e->s.ties);

    ngx_memzero(e, sizeof(ngx_miroir_settings_entry_t));
}


void
ngx_miroir_read_settings_put(ngx_miroir_cluster_conf_t *cl, ngx_str_t *uid,
    ngx_str_t *json, ngx_log_t *log)
{
    size_t                        n;
    cJSON                        *root, *o, *v, *it;
    ngx_uint_t                    i;
    ngx_atomic_uint_t             epoch;
    ngx_miroir_settings_entry_t  *e;

    epoch = cl->shm ? cl->shm->settings_epoch : 0;

    root = cJSON_ParseWithLength((const char *) json->data, json->len);
    if (root == NULL) {
        return;
    }

    e = NULL;

    for (i = 0; i < NGX_MIROIR_SETTINGS_CACHE; i++) {
        if (ngx_miroir_settings_cache[i].cl == cl
            && ngx_miroir_settings_cache[i].uid_len == uid->len
            && ngx_strncmp(ngx_miroir_settings_cache[i].uid, uid->data,
                           uid->len) == 0)
        {
            e = &ngx_miroir_settings_cache[i];
            break;
        }
    }

    if (e == NULL) {
        e = &ngx_miroir_settings_cache[ngx_miroir_settings_next++
                                       % NGX_MIROIR_SETTINGS_CACHE];
    }

    ngx_miroir_settings_entry_free(e);

    e->uid = malloc(uid->len + 1);
    if (e->uid == NULL) {
        goto failed;
    }

    ngx_memcpy(e->uid, uid->data, uid->len);
    e->uid_len = uid->len;
    e->epoch = epoch;

    e->s.max_total_hits = 1000;
    e->s.max_values = 100;

    o = cJSON_GetObjectItemCaseSensitive(root, "pagination");
    v = cJSON_GetObjectItemCaseSensitive(o, "maxTotalHits");
    if (cJSON_IsNumber(v) && v->valuedouble >= 0) {
        e->s.max_total_hits = (uint64_t) v->valuedouble;
    }

    v = cJSON_GetObjectItemCaseSensitive(root, "distinctAttribute");
    if (cJSON_IsString(v)) {
        e->s.distinct_attr = strdup(v->valuestring);
        if (e->s.distinct_attr == NULL) {
            goto failed;
        }
    }

    o = cJSON_GetObjectItemCaseSensitive(root, "faceting");
    v = cJSON_GetObjectItemCaseSensitive(o, "maxValuesPerFacet");
    if (cJSON_IsNumber(v) && v->valuedouble >= 0) {
        e->s.max_values = (uint32_t) v->valuedouble;
    }

    v = cJSON_GetObjectItemCaseSensitive(o, "sortFacetValuesBy");
    n = cJSON_IsObject(v) ? (size_t) cJSON_GetArraySize(v) : 0;

    e->s.rules = calloc(n + 1, sizeof(miroir_facet_rule_t));
    if (e->s.rules == NULL) {
        goto failed;
    }

    e->s.nrules = 0;

    if (n) {
        cJSON_ArrayForEach(it, v) {
            e->s.rules[e->s.nrules].name = strdup(it->string);
            if (e->s.rules[e->s.nrules].name == NULL) {
                goto failed;
            }

            e->s.rules[e->s.nrules].sort =
                (cJSON_IsString(it) && ngx_strcmp(it->valuestring, "count")
                                       == 0)
                ? MIROIR_FACET_COUNT : MIROIR_FACET_ALPHA;
            e->s.nrules++;
        }
    }

    if (e->s.nrules == 0) {
        e->s.rules[0].name = strdup("*");
        if (e->s.rules[0].name == NULL) {
            goto failed;
        }

        e->s.rules[0].sort = MIROIR_FACET_ALPHA;
        e->s.nrules = 1;
    }

    e->cl = cl;
    cJSON_Delete(root);
    return;

failed:

    ngx_log_error(NGX_LOG_ERR, log, 0, "miroir: out of memory caching the "
                  "settings of index \"%V\"", uid);
    ngx_miroir_settings_entry_free(e);
    cJSON_Delete(root);
}


/* ------------------------------------------------------------ /stats */

static ngx_int_t
ngx_miroir_read_global_stats(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl)
{
    ngx_str_t  none = ngx_null_string;

    return ngx_miroir_read_stats(r, cl, &none);
}
