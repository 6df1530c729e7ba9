/*
 * ngx_miroir_write_read.c -- the reads that belong to the write path:
 * GET /indexes, GET /indexes/:uid and GET /indexes/:uid/settings[/sub].
 *
 * An index is visible through Miroir only when every node that answers
 * has it (every node owns shards of every index).  Settings come from
 * one live node, without Miroir's _miroir_* filterable fields.
 */

#include "ngx_miroir_write.h"


typedef struct {
    ngx_miroir_cluster_conf_t      *cl;
    ngx_uint_t                      offset;
    ngx_uint_t                      limit;
    ngx_str_t                       uri;
    ngx_str_t                       sub;
    ngx_uint_t                      next;        /* settings: next node */
} ngx_miroir_wread_t;


static void ngx_miroir_write_index_got(ngx_http_request_t *r,
    ngx_miroir_fanout_t *fo);
static void ngx_miroir_write_list_got(ngx_http_request_t *r,
    ngx_miroir_fanout_t *fo);
static ngx_int_t ngx_miroir_write_settings_ask(ngx_http_request_t *r,
    ngx_miroir_wread_t *wr, ngx_uint_t first);
static void ngx_miroir_write_settings_got(ngx_http_request_t *r,
    ngx_miroir_fanout_t *fo);


static ngx_str_t  ngx_miroir_list_args = ngx_string("offset=0&limit=1000000");
static ngx_str_t  ngx_miroir_indexes = ngx_string("/indexes");


static ngx_uint_t
ngx_miroir_write_hidden(const char *s)
{
    return s && ngx_strncmp(s, "_miroir_", 8) == 0;
}


/* Remove Miroir's fields from filterableAttributes of a settings object. */
void
ngx_miroir_write_strip_json(cJSON *json)
{
    cJSON  *fa, *item, *next, *pats, *pat;
    int     hidden;

    fa = cJSON_IsArray(json)
         ? json : cJSON_GetObjectItemCaseSensitive(json,
                                                   "filterableAttributes");

    if (!cJSON_IsArray(fa)) {
        return;
    }

    for (item = fa->child; item; item = next) {
        next = item->next;
        hidden = 0;

        if (cJSON_IsString(item)) {
            hidden = ngx_miroir_write_hidden(item->valuestring);

        } else if (cJSON_IsObject(item)) {
            pats = cJSON_GetObjectItemCaseSensitive(item, "attributePatterns");
            hidden = cJSON_IsArray(pats) && cJSON_GetArraySize(pats) > 0;

            cJSON_ArrayForEach(pat, pats) {
                if (!cJSON_IsString(pat)
                    || !ngx_miroir_write_hidden(pat->valuestring))
                {
                    hidden = 0;
                }
            }
        }

        if (hidden) {
            cJSON_Delete(cJSON_DetachItemViaPointer(fa, item));
        }
    }
}


static ngx_int_t
ngx_miroir_write_fanout_all(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_str_t *uri, ngx_str_t *args,
    ngx_miroir_fanout_done_pt done, void *data)
{
    ngx_uint_t            i;
    ngx_miroir_fanout_t  *fo;

    fo = ngx_miroir_fanout_create(r, cl, cl->nodes.nelts);
    if (fo == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < cl->nodes.nelts; i++) {
        if (ngx_miroir_fanout_add(fo, i, NGX_HTTP_GET, uri, args) == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    r->main->count++;

    if (ngx_miroir_fanout_start(fo, done, data) != NGX_OK) {
        r->main->count--;
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_miroir_write_unavailable(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl)
{
    miroir_error_t  err;

    miroir_error_set(&err, NGX_HTTP_SERVICE_UNAVAILABLE,
                     "miroir_nodes_unavailable", "system",
                     "No node of cluster `%.*s` answered.",
                     (int) cl->name.len, cl->name.data);

    ngx_miroir_finish(r, ngx_miroir_send_error(r, &err));
}


/* ------------------------------------------------------------ one index */

ngx_int_t
ngx_miroir_write_index_get(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_str_t *index)
{
    ngx_str_t  uri;

    uri = r->unparsed_uri;

    if (r->args_start) {
        uri.len = r->args_start - 1 - r->unparsed_uri.data;
    }

    return ngx_miroir_write_fanout_all(r, cl, &uri, NULL,
                                       ngx_miroir_write_index_got, cl);
}


static void
ngx_miroir_write_index_got(ngx_http_request_t *r, ngx_miroir_fanout_t *fo)
{
    ngx_uint_t          i;
    ngx_miroir_call_t  *call, *found, *refused;

    call = fo->calls.elts;
    found = NULL;
    refused = NULL;

    for (i = 0; i < fo->calls.nelts; i++) {
        if (!call[i].ok || call[i].status >= NGX_HTTP_INTERNAL_SERVER_ERROR) {
            continue;
        }

        if (call[i].status == NGX_HTTP_OK) {
            if (found == NULL) {
                found = &call[i];
            }

        } else if (refused == NULL) {
            refused = &call[i];
        }
    }

    if (refused) {
        ngx_miroir_write_pass(r, refused);
        return;
    }

    if (found == NULL) {
        ngx_miroir_write_unavailable(r, fo->cluster);
        return;
    }

    ngx_miroir_finish(r, ngx_miroir_send_raw(r, found->status,
                                             found->resp_type.len
                                             ? &found->resp_type : NULL,
                                             &found->response));
}


/* ------------------------------------------------------------ list */

static ngx_int_t
ngx_miroir_write_list_param(ngx_http_request_t *r, const char *name,
    ngx_uint_t *value, ngx_int_t *sent)
{
    ngx_str_t       v;
    ngx_int_t       n;
    miroir_error_t  err;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &v) != NGX_OK) {
        return NGX_OK;
    }

    n = ngx_atoi(v.data, v.len);

    if (n == NGX_ERROR) {
        miroir_error_set(&err, NGX_HTTP_BAD_REQUEST,
                         name[0] == 'l' ? "invalid_index_limit"
                                        : "invalid_index_offset",
                         "invalid_request",
                         "Invalid value in parameter `%s`: could not parse "
                         "`%.*s` as a positive integer", name,
                         (int) ngx_min(v.len, 100), v.data);
        *sent = ngx_miroir_send_error(r, &err);
        return NGX_DECLINED;
    }

    *value = (ngx_uint_t) n;

    return NGX_OK;
}


ngx_int_t
ngx_miroir_write_index_list(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl)
{
    ngx_int_t            rc;
    ngx_miroir_wread_t  *wr;

    wr = ngx_pcalloc(r->pool, sizeof(ngx_miroir_wread_t));
    if (wr == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    wr->cl = cl;
    wr->limit = 20;

    if (ngx_miroir_write_list_param(r, "offset", &wr->offset, &rc)
        != NGX_OK)
    {
        return rc;
    }

    if (ngx_miroir_write_list_param(r, "limit", &wr->limit, &rc) != NGX_OK) {
        return rc;
    }

    return ngx_miroir_write_fanout_all(r, cl, &ngx_miroir_indexes,
                                       &ngx_miroir_list_args,
                                       ngx_miroir_write_list_got, wr);
}


static int
ngx_miroir_write_uid_cmp(const void *a, const void *b)
{
    cJSON  *x = *(cJSON **) a, *y = *(cJSON **) b;

    return strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x,
                                                                     "uid")),
                  cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(y,
                                                                     "uid")));
}


static void
ngx_miroir_write_list_got(ngx_http_request_t *r, ngx_miroir_fanout_t *fo)
{
    char                *uid;
    cJSON               *lists[MIROIR_MAX_NODES], *base, *item, *other;
    cJSON               *out, *results, **keep;
    ngx_str_t            text;
    ngx_uint_t           i, j, n, nlists, all;
    ngx_miroir_call_t   *call;
    ngx_miroir_wread_t  *wr;

    wr = fo->data;
    call = fo->calls.elts;
    nlists = 0;

    for (i = 0; i < fo->calls.nelts; i++) {
        if (!call[i].ok || call[i].status != NGX_HTTP_OK) {
            continue;
        }

        lists[nlists] = ngx_miroir_json_parse(r, call[i].response.data,
                                              call[i].response.len);
        if (lists[nlists]) {
            lists[nlists] = cJSON_GetObjectItemCaseSensitive(lists[nlists],
                                                             "results");
            if (cJSON_IsArray(lists[nlists])) {
                nlists++;
            }
        }
    }

    if (nlists == 0) {
        ngx_miroir_write_unavailable(r, fo->cluster);
        return;
    }

    base = lists[0];
    n = (ngx_uint_t) cJSON_GetArraySize(base);

    keep = ngx_palloc(r->pool, (n + 1) * sizeof(cJSON *));
    if (keep == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    n = 0;

    cJSON_ArrayForEach(item, base) {
        uid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item,
                                                                    "uid"));
        if (uid == NULL) {
            continue;
        }

        all = 1;

        for (j = 1; j < nlists && all; j++) {
            all = 0;

            cJSON_ArrayForEach(other, lists[j]) {
                char  *ouid;

                ouid = cJSON_GetStringValue(
                           cJSON_GetObjectItemCaseSensitive(other, "uid"));

                if (ouid && strcmp(ouid, uid) == 0) {
                    all = 1;
                    break;
                }
            }
        }

        if (all) {
            keep[n++] = item;
        }
    }

    ngx_qsort(keep, n, sizeof(cJSON *), ngx_miroir_write_uid_cmp);

    out = cJSON_CreateObject();
    if (out == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    results = cJSON_AddArrayToObject(out, "results");

    for (i = wr->offset; i < n && i < wr->offset + wr->limit; i++) {
        cJSON_AddItemToArray(results, cJSON_Duplicate(keep[i], 1));
    }

    cJSON_AddNumberToObject(out, "offset", (double) wr->offset);
    cJSON_AddNumberToObject(out, "limit", (double) wr->limit);
    cJSON_AddNumberToObject(out, "total", (double) n);

    if (ngx_miroir_json_print(r, out, &text) != NGX_OK) {
        cJSON_Delete(out);
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    cJSON_Delete(out);

    ngx_miroir_finish(r, ngx_miroir_send_json(r, NGX_HTTP_OK, text.data,
                                              text.len));
}


/* ------------------------------------------------------------ settings */

ngx_int_t
ngx_miroir_write_settings_get(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_str_t *index, ngx_str_t *sub)
{
    ngx_int_t            rc;
    ngx_miroir_wread_t  *wr;

    wr = ngx_pcalloc(r->pool, sizeof(ngx_miroir_wread_t));
    if (wr == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    wr->cl = cl;
    wr->sub = *sub;
    wr->uri = r->unparsed_uri;

    if (r->args_start) {
        wr->uri.len = r->args_start - 1 - r->unparsed_uri.data;
    }

    r->main->count++;

    rc = ngx_miroir_write_settings_ask(r, wr, 0);

    if (rc != NGX_DONE) {
        r->main->count--;
    }

    return rc;
}


static ngx_int_t
ngx_miroir_write_settings_ask(ngx_http_request_t *r, ngx_miroir_wread_t *wr,
    ngx_uint_t first)
{
    ngx_str_t             index;
    ngx_uint_t            i, n;
    ngx_miroir_fanout_t  *fo;

    n = wr->cl->nodes.nelts;

    for (i = first; i < n; i++) {
        if (!ngx_miroir_node_is_down(wr->cl, i)) {
            break;
        }
    }

    if (i == n) {
        if (first >= n) {
            return NGX_DECLINED;
        }

        i = first;
    }

    fo = ngx_miroir_fanout_create(r, wr->cl, 2);
    if (fo == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_miroir_fanout_add(fo, i, NGX_HTTP_GET, &wr->uri, NULL) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (wr->cl->stable_ties
        && (wr->sub.len == 0
            || (wr->sub.len == 13
                && ngx_strncmp(wr->sub.data, "ranking-rules", 13) == 0)))
    {
        /* stable_ties: the index's primary key names the hidden rule */
        index.data = wr->uri.data;
        index.len = ngx_strlcasestrn(wr->uri.data,
                                     wr->uri.data + wr->uri.len,
                                     (u_char *) "/settings", 9 - 1)
                    - wr->uri.data;

        if (ngx_miroir_fanout_add(fo, i, NGX_HTTP_GET, &index, NULL) == NULL)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    wr->next = i + 1;

    if (ngx_miroir_fanout_start(fo, ngx_miroir_write_settings_got, wr)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_miroir_write_settings_got(ngx_http_request_t *r, ngx_miroir_fanout_t *fo)
{
    cJSON               *json;
    ngx_str_t            text;
    ngx_miroir_call_t   *call;
    ngx_miroir_wread_t  *wr;

    wr = fo->data;
    call = fo->calls.elts;

    if (!call->ok || call->status >= NGX_HTTP_INTERNAL_SERVER_ERROR) {
        if (!fo->expired && wr->next < wr->cl->nodes.nelts
            && ngx_miroir_write_settings_ask(r, wr, wr->next) == NGX_DONE)
        {
            return;
        }

        ngx_miroir_write_unavailable(r, wr->cl);
        return;
    }

    if (call->status != NGX_HTTP_OK) {
        ngx_miroir_write_pass(r, call);
        return;
    }

    json = ngx_miroir_json_parse(r, call->response.data, call->response.len);

    if (fo->calls.nelts > 1) {
        /* stable_ties: GET .../settings[/ranking-rules] */
        ngx_miroir_ties_hide_settings(wr->cl, json,
                                      call[1].ok
                                      && call[1].status == NGX_HTTP_OK
                                      ? &call[1].response : NULL);

        if (json && wr->sub.len) {
            goto print;
        }
    }

    if (json == NULL
        || (wr->sub.len && !(wr->sub.len == 21
                             && ngx_strncmp(wr->sub.data,
                                            "filterable-attributes", 21)
                                == 0)))
    {
        ngx_miroir_finish(r, ngx_miroir_send_raw(r, call->status,
                                                 call->resp_type.len
                                                 ? &call->resp_type : NULL,
                                                 &call->response));
        return;
    }

    ngx_miroir_write_strip_json(json);

print:

    if (ngx_miroir_json_print(r, json, &text) != NGX_OK) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_miroir_finish(r, ngx_miroir_send_json(r, NGX_HTTP_OK, text.data,
                                              text.len));
}
