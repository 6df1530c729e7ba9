/*
 * ngx_miroir_read_stats.c -- GET /indexes/:uid/stats and GET /stats.
 *
 * Every live node is asked for its stats.  Each document is stored on rf
 * nodes, so the sum of the answers counts it rf times: counts are divided
 * by the replication, which is exact when every node answered.  When some
 * did not, each sum is scaled by nshards / (shard copies held by the nodes
 * that answered): an estimate, documented in docs/differences.md.  The
 * reserved _miroir_* fields never appear in fieldDistribution.
 */

#include "ngx_miroir_read.h"


typedef struct {
    ngx_str_t                       uid;        /* empty: global stats */
    double                          scale;
} ngx_miroir_stats_t;


static void ngx_miroir_stats_done(ngx_http_request_t *r,
    ngx_miroir_fanout_t *fo);


ngx_int_t
ngx_miroir_read_stats(ngx_http_request_t *r, ngx_miroir_cluster_conf_t *cl,
    ngx_str_t *uid)
{
    ngx_str_t             uri;
    ngx_uint_t            i, n;
    ngx_miroir_stats_t   *st;
    ngx_miroir_fanout_t  *fo;

    st = ngx_pcalloc(r->pool, sizeof(ngx_miroir_stats_t));
    if (st == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    st->uid = *uid;

    if (uid->len) {
        if (ngx_miroir_read_index_uri(r, uid, "/stats", &uri) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

    } else {
        ngx_str_set(&uri, "/stats");
    }

    n = cl->nodes.nelts;

    fo = ngx_miroir_fanout_create(r, cl, n);
    if (fo == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < n; i++) {
        if (ngx_miroir_node_is_down(cl, i)) {
            continue;
        }

        if (ngx_miroir_fanout_add(fo, i, NGX_HTTP_GET, &uri, NULL) == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (fo->calls.nelts == 0) {
        /* every node is down: try them all anyway */
        for (i = 0; i < n; i++) {
            if (ngx_miroir_fanout_add(fo, i, NGX_HTTP_GET, &uri, NULL)
                == NULL)
            {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }
    }

    r->main->count++;

    if (ngx_miroir_fanout_start(fo, ngx_miroir_stats_done, st) != NGX_OK) {
        r->main->count--;
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_miroir_stats_add_num(cJSON *out, cJSON *in, const char *name)
{
    cJSON  *a, *b;

    b = cJSON_GetObjectItemCaseSensitive(in, name);
    if (!cJSON_IsNumber(b)) {
        return;
    }

    a = cJSON_GetObjectItemCaseSensitive(out, name);

    if (a == NULL) {
        cJSON_AddNumberToObject(out, name, b->valuedouble);
        return;
    }

    cJSON_SetNumberValue(a, a->valuedouble + b->valuedouble);
}


/* Add one node's index stats object into out. */
static void
ngx_miroir_stats_add_index(cJSON *out, cJSON *in)
{
    cJSON  *v, *fd, *ofd, *it, *o;

    ngx_miroir_stats_add_num(out, in, "numberOfDocuments");
    ngx_miroir_stats_add_num(out, in, "rawDocumentDbSize");

    if (cJSON_GetObjectItemCaseSensitive(out, "avgDocumentSize") == NULL) {
        cJSON_AddNumberToObject(out, "avgDocumentSize", 0);
    }

    v = cJSON_GetObjectItemCaseSensitive(in, "isIndexing");
    o = cJSON_GetObjectItemCaseSensitive(out, "isIndexing");

    if (o == NULL) {
        cJSON_AddBoolToObject(out, "isIndexing", cJSON_IsTrue(v));

    } else if (cJSON_IsTrue(v) && !cJSON_IsTrue(o)) {
        cJSON_ReplaceItemInObjectCaseSensitive(out, "isIndexing",
                                               cJSON_CreateTrue());
    }

    ngx_miroir_stats_add_num(out, in, "numberOfEmbeddings");
    ngx_miroir_stats_add_num(out, in, "numberOfEmbeddedDocuments");

    ofd = cJSON_GetObjectItemCaseSensitive(out, "fieldDistribution");
    if (ofd == NULL) {
        ofd = cJSON_AddObjectToObject(out, "fieldDistribution");
        if (ofd == NULL) {
            return;
        }
    }

    fd = cJSON_GetObjectItemCaseSensitive(in, "fieldDistribution");

    cJSON_ArrayForEach(it, fd) {
        if (ngx_strncmp(it->string, "_miroir_", 8) == 0) {
            continue;
        }

        ngx_miroir_stats_add_num(ofd, fd, it->string);
    }
}


static int
ngx_miroir_stats_cmp(const void *a, const void *b)
{
    return strcmp((*(cJSON **) a)->string, (*(cJSON **) b)->string);
}


/* Scale the sums to one copy per document; sort fieldDistribution. */
static void
ngx_miroir_stats_finish_index(cJSON *idx, double scale)
{
    size_t   n, i;
    cJSON   *v, *fd, *it, **items;
    double   docs, raw;

    docs = 0;
    raw = 0;

    v = cJSON_GetObjectItemCaseSensitive(idx, "numberOfDocuments");
    if (v) {
        docs = (double) (int64_t) (v->valuedouble * scale + 0.5);
        cJSON_SetNumberValue(v, docs);
    }

    v = cJSON_GetObjectItemCaseSensitive(idx, "rawDocumentDbSize");
    if (v) {
        raw = (double) (int64_t) (v->valuedouble * scale + 0.5);
        cJSON_SetNumberValue(v, raw);
    }

    v = cJSON_GetObjectItemCaseSensitive(idx, "avgDocumentSize");
    if (v) {
        cJSON_SetNumberValue(v, docs > 0 ? (double) (int64_t) (raw / docs)
                                         : 0);
    }

    v = cJSON_GetObjectItemCaseSensitive(idx, "numberOfEmbeddings");
    if (v) {
        cJSON_SetNumberValue(v, (double) (int64_t) (v->valuedouble * scale
                                                    + 0.5));
    }

    v = cJSON_GetObjectItemCaseSensitive(idx, "numberOfEmbeddedDocuments");
    if (v) {
        cJSON_SetNumberValue(v, (double) (int64_t) (v->valuedouble * scale
                                                    + 0.5));
    }

    fd = cJSON_GetObjectItemCaseSensitive(idx, "fieldDistribution");
    if (fd == NULL) {
        return;
    }

    n = (size_t) cJSON_GetArraySize(fd);
    if (n == 0) {
        return;
    }

    items = malloc(n * sizeof(cJSON *));
    if (items == NULL) {
        return;
    }

    i = 0;
    while (fd->child) {
        it = cJSON_DetachItemViaPointer(fd, fd->child);
        cJSON_SetNumberValue(it, (double) (int64_t) (it->valuedouble * scale
                                                     + 0.5));
        items[i++] = it;
    }

    qsort(items, n, sizeof(cJSON *), ngx_miroir_stats_cmp);

    for (i = 0; i < n; i++) {
        cJSON_AddItemToObject(fd, items[i]->string, items[i]);
        /* AddItemToObject copied the key: drop the old one */
    }

    free(items);
}


static void
ngx_miroir_stats_done(ngx_http_request_t *r, ngx_miroir_fanout_t *fo)
{
    size_t                       n, k;
    cJSON                       *out, *in, *v, *ov, *idx, *it, *oidx;
    cJSON                      **items;
    uint32_t                     copies[MIROIR_MAX_NODES];
    ngx_str_t                    type = ngx_string("application/json");
    ngx_str_t                    text;
    ngx_uint_t                   i, answered, held;
    miroir_error_t               err;
    ngx_miroir_call_t           *call;
    ngx_miroir_stats_t          *st;
    const miroir_route_table_t  *rt;

    st = fo->data;
    call = fo->calls.elts;

    rt = ngx_miroir_route_table(fo->cluster, r->connection->log);
    if (rt == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    miroir_route_counts(rt, copies, NULL);

    out = cJSON_CreateObject();
    if (out == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    answered = 0;
    held = 0;
    oidx = NULL;

    for (i = 0; i < fo->calls.nelts; i++) {
        if (!call[i].ok || call[i].status != NGX_HTTP_OK) {
            if (call[i].ok && call[i].status >= 400 && call[i].status < 500
                && call[i].status != NGX_HTTP_UNAUTHORIZED
                && call[i].status != NGX_HTTP_FORBIDDEN)
            {
                cJSON_Delete(out);
                ngx_miroir_finish(r, ngx_miroir_send_raw(r, call[i].status,
                                                         &type,
                                                         &call[i].response));
                return;
            }

            continue;
        }

        in = cJSON_ParseWithLength((char *) call[i].response.data,
                                   call[i].response.len);
        if (in == NULL) {
            continue;
        }

        answered++;
        held += call[i].node < rt->nnodes ? copies[call[i].node] : 0;

        if (st->uid.len) {
            ngx_miroir_stats_add_index(out, in);
            cJSON_Delete(in);
            continue;
        }

        ngx_miroir_stats_add_num(out, in, "databaseSize");
        ngx_miroir_stats_add_num(out, in, "usedDatabaseSize");

        v = cJSON_GetObjectItemCaseSensitive(in, "lastUpdate");
        ov = cJSON_GetObjectItemCaseSensitive(out, "lastUpdate");

        if (ov == NULL) {
            cJSON_AddItemToObject(out, "lastUpdate",
                                  cJSON_IsString(v)
                                  ? cJSON_CreateString(v->valuestring)
                                  : cJSON_CreateNull());

        } else if (cJSON_IsString(v)
                   && (!cJSON_IsString(ov)
                       || strcmp(v->valuestring, ov->valuestring) > 0))
        {
            cJSON_ReplaceItemInObjectCaseSensitive(out, "lastUpdate",
                                      cJSON_CreateString(v->valuestring));
        }

        if (oidx == NULL) {
            oidx = cJSON_AddObjectToObject(out, "indexes");
        }

        idx = cJSON_GetObjectItemCaseSensitive(in, "indexes");

        cJSON_ArrayForEach(it, idx) {
            ov = cJSON_GetObjectItemCaseSensitive(oidx, it->string);
            if (ov == NULL) {
                ov = cJSON_AddObjectToObject(oidx, it->string);
            }

            if (ov) {
                ngx_miroir_stats_add_index(ov, it);
            }
        }

        cJSON_Delete(in);
    }

    if (answered == 0 || held == 0) {
        cJSON_Delete(out);
        miroir_error_set(&err, NGX_HTTP_SERVICE_UNAVAILABLE,
                         "miroir_shards_unavailable", "system",
                         "No node of cluster `%.*s` answered.",
                         (int) fo->cluster->name.len,
                         fo->cluster->name.data);
        ngx_miroir_finish(r, ngx_miroir_send_error(r, &err));
        return;
    }

    st->scale = (double) rt->nshards / (double) held;

    if (st->uid.len) {
        ngx_miroir_stats_finish_index(out, st->scale);

    } else {
        v = cJSON_GetObjectItemCaseSensitive(out, "databaseSize");
        if (v) {
            cJSON_SetNumberValue(v, (double) (int64_t) v->valuedouble);
        }

        n = oidx ? (size_t) cJSON_GetArraySize(oidx) : 0;
        items = n ? malloc(n * sizeof(cJSON *)) : NULL;

        if (n && items) {
            k = 0;
            while (oidx->child) {
                items[k++] = cJSON_DetachItemViaPointer(oidx, oidx->child);
            }

            qsort(items, n, sizeof(cJSON *), ngx_miroir_stats_cmp);

            for (k = 0; k < n; k++) {
                ngx_miroir_stats_finish_index(items[k], st->scale);
                cJSON_AddItemToObject(oidx, items[k]->string, items[k]);
            }
        }

        free(items);

        if (oidx == NULL) {
            cJSON_AddObjectToObject(out, "indexes");
        }
    }

    text.data = (u_char *) cJSON_PrintUnformatted(out);
    cJSON_Delete(out);

    if (text.data == NULL || ngx_miroir_pool_own(r, text.data) == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    text.len = ngx_strlen(text.data);

    ngx_miroir_finish(r, ngx_miroir_send_json(r, NGX_HTTP_OK, text.data,
                                              text.len));
}
