/*
 * ngx_miroir_admin.c -- the admin routes of topology changes and
 * rebalancing (under a "miroir_admin" location, master key already
 * checked by ngx_miroir_admin_handler()):
 *
 *   POST   /_miroir/nodes                {"id","address","weight"?,"key"?}
 *   PATCH  /_miroir/nodes/{id}           {"weight"}
 *   POST   /_miroir/nodes/{id}/drain
 *   DELETE /_miroir/nodes/{id}[?force=true]
 *   GET    /_miroir/rebalance
 *   POST   /_miroir/rebalance[?dry_run=true]
 *              {"action":"add|reweight|drain|remove","id",...}
 *   POST   /_miroir/rebalance/pause, /_miroir/rebalance/resume
 *   GET    /_miroir/shards/{docid}
 *
 * Every answer is JSON; bad requests get Meilisearch-style errors.
 */

#include "ngx_miroir.h"
#include "ngx_miroir_rebalance.h"
#include "miroir_admin_body.h"


#define NGX_MIROIR_NODES_PREFIX   "/_miroir/nodes/"
#define NGX_MIROIR_SHARDS_PREFIX  "/_miroir/shards/"


/* the core's actions are the change kinds */
_Static_assert((int) MIROIR_ADMIN_ADD == (int) NGX_MIROIR_CHANGE_ADD
               && (int) MIROIR_ADMIN_REWEIGHT
                  == (int) NGX_MIROIR_CHANGE_REWEIGHT
               && (int) MIROIR_ADMIN_DRAIN == (int) NGX_MIROIR_CHANGE_DRAIN
               && (int) MIROIR_ADMIN_REMOVE == (int) NGX_MIROIR_CHANGE_REMOVE,
               "miroir_admin_action_t and ngx_miroir_change_e differ");


typedef struct {
    ngx_miroir_cluster_conf_t      *cluster;
    ngx_miroir_change_e             kind;
    ngx_str_t                       id;        /* from the path */
    ngx_uint_t                      generic;   /* POST /_miroir/rebalance */
    ngx_uint_t                      dry_run;
} ngx_miroir_admin_req_t;


static ngx_int_t ngx_miroir_admin_change(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_miroir_change_e kind, ngx_str_t *id,
    ngx_uint_t generic);
static void ngx_miroir_admin_body(ngx_http_request_t *r, ngx_str_t *body);
static ngx_int_t ngx_miroir_admin_apply(ngx_http_request_t *r,
    ngx_miroir_admin_req_t *ar, ngx_miroir_change_t *ch);


static ngx_uint_t
ngx_miroir_admin_is(ngx_str_t *path, const char *s)
{
    size_t  len = ngx_strlen(s);

    return path->len == len && ngx_strncmp(path->data, s, len) == 0;
}


static ngx_uint_t
ngx_miroir_admin_prefix(ngx_str_t *path, const char *s, ngx_str_t *rest)
{
    size_t  len = ngx_strlen(s);

    if (path->len <= len || ngx_strncmp(path->data, s, len) != 0) {
        return 0;
    }

    rest->data = path->data + len;
    rest->len = path->len - len;

    return 1;
}


/* Whether the request to path carries a body this file reads. */
ngx_uint_t
ngx_miroir_admin_wants_body(ngx_http_request_t *r, ngx_str_t *path)
{
    ngx_str_t  rest;

    if (r->method == NGX_HTTP_POST
        && (ngx_miroir_admin_is(path, "/_miroir/nodes")
            || ngx_miroir_admin_is(path, "/_miroir/rebalance")))
    {
        return 1;
    }

    if (r->method == NGX_HTTP_PATCH
        && ngx_miroir_admin_prefix(path, NGX_MIROIR_NODES_PREFIX, &rest))
    {
        return 1;
    }

    return 0;
}


/* Send a malloc()ed JSON text, or 500 when it is NULL. */
static ngx_int_t
ngx_miroir_admin_send_text(ngx_http_request_t *r, ngx_uint_t status,
    char *text)
{
    if (text == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_miroir_pool_own(r, text) == NULL) {
        free(text);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_miroir_send_json(r, status, (u_char *) text,
                                ngx_strlen(text));
}


static ngx_uint_t
ngx_miroir_admin_arg_true(ngx_http_request_t *r, const char *name)
{
    ngx_str_t  v;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &v) != NGX_OK) {
        return 0;
    }

    return miroir_admin_arg_true((const char *) v.data, v.len);
}


ngx_int_t
ngx_miroir_admin_route(ngx_http_request_t *r, ngx_miroir_cluster_conf_t *cl,
    ngx_str_t *path)
{
    u_char     *p;
    ngx_str_t   rest, id;

    if (ngx_miroir_admin_is(path, "/_miroir/nodes")) {
        if (r->method != NGX_HTTP_POST) {
            return NGX_HTTP_NOT_ALLOWED;
        }

        return ngx_miroir_admin_change(r, cl, NGX_MIROIR_CHANGE_ADD, NULL, 0);
    }

    if (ngx_miroir_admin_prefix(path, NGX_MIROIR_NODES_PREFIX, &rest)) {
        p = ngx_strlchr(rest.data, rest.data + rest.len, '/');

        if (p == NULL) {
            if (r->method == NGX_HTTP_PATCH) {
                return ngx_miroir_admin_change(r, cl,
                                               NGX_MIROIR_CHANGE_REWEIGHT,
                                               &rest, 0);
            }

            if (r->method == NGX_HTTP_DELETE) {
                return ngx_miroir_admin_change(r, cl,
                                               NGX_MIROIR_CHANGE_REMOVE,
                                               &rest, 0);
            }

            return NGX_HTTP_NOT_ALLOWED;
        }

        id.data = rest.data;
        id.len = p - rest.data;

        if ((size_t) (rest.data + rest.len - p) == sizeof("/drain") - 1
            && ngx_strncmp(p, "/drain", sizeof("/drain") - 1) == 0)
        {
            if (r->method != NGX_HTTP_POST) {
                return NGX_HTTP_NOT_ALLOWED;
            }

            return ngx_miroir_admin_change(r, cl, NGX_MIROIR_CHANGE_DRAIN,
                                           &id, 0);
        }

        return NGX_DECLINED;
    }

    if (ngx_miroir_admin_is(path, "/_miroir/rebalance")) {
        if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
            return ngx_miroir_admin_send_text(r, NGX_HTTP_OK,
                       ngx_miroir_rebalance_status(cl, r->connection->log));
        }

        if (r->method == NGX_HTTP_POST) {
            return ngx_miroir_admin_change(r, cl, NGX_MIROIR_CHANGE_ADD, NULL,
                                           1);
        }

        return NGX_HTTP_NOT_ALLOWED;
    }

    if (ngx_miroir_admin_is(path, "/_miroir/rebalance/pause")
        || ngx_miroir_admin_is(path, "/_miroir/rebalance/resume"))
    {
        if (r->method != NGX_HTTP_POST) {
            return NGX_HTTP_NOT_ALLOWED;
        }

        ngx_miroir_rebalance_pause(cl,
            ngx_miroir_admin_is(path, "/_miroir/rebalance/pause"));

        return ngx_miroir_admin_send_text(r, NGX_HTTP_OK,
                   ngx_miroir_rebalance_status(cl, r->connection->log));
    }

    if (ngx_miroir_admin_prefix(path, NGX_MIROIR_SHARDS_PREFIX, &rest)) {
        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
            return NGX_HTTP_NOT_ALLOWED;
        }

        /* r->uri is percent-decoded already: the id's own bytes */

        return ngx_miroir_admin_send_text(r, NGX_HTTP_OK,
                   ngx_miroir_rebalance_shard_json(cl, rest.data, rest.len,
                                                   r->connection->log));
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_miroir_admin_change(ngx_http_request_t *r, ngx_miroir_cluster_conf_t *cl,
    ngx_miroir_change_e kind, ngx_str_t *id, ngx_uint_t generic)
{
    ngx_miroir_change_t      ch;
    ngx_miroir_admin_req_t  *ar;

    ar = ngx_pcalloc(r->pool, sizeof(ngx_miroir_admin_req_t));
    if (ar == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ar->cluster = cl;
    ar->kind = kind;
    ar->generic = generic;
    ar->dry_run = ngx_miroir_admin_arg_true(r, "dry_run");

    if (id) {
        ar->id = *id;
    }

    if (kind == NGX_MIROIR_CHANGE_ADD || kind == NGX_MIROIR_CHANGE_REWEIGHT) {
        return ngx_miroir_read_body(r, ngx_miroir_admin_body, ar);
    }

    /* drain and remove carry no body */

    ngx_memzero(&ch, sizeof(ngx_miroir_change_t));
    ch.kind = kind;
    ch.id = ar->id;
    ch.force = ngx_miroir_admin_arg_true(r, "force");

    return ngx_miroir_admin_apply(r, ar, &ch);
}


/* The body is checked by miroir_admin_body_parse() (the core). */
static void
ngx_miroir_admin_body(ngx_http_request_t *r, ngx_str_t *body)
{
    cJSON                   *json;
    miroir_error_t           err;
    ngx_miroir_ctx_t        *ctx;
    miroir_admin_body_t      b;
    ngx_miroir_change_t      ch;
    ngx_miroir_admin_req_t  *ar;

    ctx = ngx_http_get_module_ctx(r, ngx_http_miroir_module);
    ar = ctx->data;

    json = ngx_miroir_json_parse(r, body->data, body->len);

    ngx_memzero(&b, sizeof(miroir_admin_body_t));
    b.id = (const char *) ar->id.data;
    b.id_len = ar->id.len;

    if (miroir_admin_body_parse(json, (miroir_admin_action_t) ar->kind,
                                (int) ar->generic, &b, &err)
        != MIROIR_OK)
    {
        ngx_miroir_finish(r, ngx_miroir_send_error(r, &err));
        return;
    }

    ngx_memzero(&ch, sizeof(ngx_miroir_change_t));
    ch.kind = (ngx_miroir_change_e) b.kind;
    ch.id.data = (u_char *) b.id;
    ch.id.len = b.id_len;
    ch.address.data = (u_char *) b.address;
    ch.address.len = b.address_len;
    ch.key.data = (u_char *) b.key;
    ch.key.len = b.key_len;
    ch.weight = b.weight;
    ch.force = b.force;

    ngx_miroir_finish(r, ngx_miroir_admin_apply(r, ar, &ch));
}


static ngx_int_t
ngx_miroir_admin_apply(ngx_http_request_t *r, ngx_miroir_admin_req_t *ar,
    ngx_miroir_change_t *ch)
{
    u_char                      *buf, *p;
    size_t                       len;
    ngx_int_t                    rc;
    miroir_error_t               err;
    ngx_miroir_change_result_t   res;

    static const char  *actions[] = { "add", "reweight", "drain", "remove" };

    rc = ngx_miroir_rebalance_change(ar->cluster, ch, ar->dry_run, &res, &err,
                                     r->connection->log);
    if (rc != NGX_OK) {
        return ngx_miroir_send_error(r, &err);
    }

    len = sizeof("{\"version\":,\"dryRun\":false,\"change\":{\"action\":\"\","
                 "\"id\":\"\"},\"plan\":}") + NGX_INT64_LEN + 16
          + ch->id.len * 6 + ngx_strlen(res.plan_json);

    buf = ngx_pnalloc(r->pool, len);
    if (buf == NULL) {
        free(res.plan_json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* ids are [A-Za-z0-9_-] (checked on add), so no escaping is needed;
       an unknown id never reaches this point */

    p = ngx_sprintf(buf, "{\"version\":%uL,\"dryRun\":%s,\"change\":"
                         "{\"action\":\"%s\",\"id\":\"%V\"},\"plan\":%s}",
                    res.version, ar->dry_run ? "true" : "false",
                    actions[ch->kind], &ch->id, res.plan_json);

    free(res.plan_json);

    return ngx_miroir_send_json(r, ar->dry_run ? NGX_HTTP_OK
                                               : NGX_HTTP_ACCEPTED,
                                buf, p - buf);
}
