/*
 * ngx_miroir_body.c -- the client's request body as one contiguous block
 * of memory, and cJSON values owned by a request pool.
 *
 * The splitter and the JSON parsers work on contiguous bytes.  A body that
 * nginx kept in one memory buffer is used in place; a body spread over
 * several buffers or a temporary file is gathered once into a buffer of
 * exactly its size.
 */

#include "ngx_miroir.h"


static void ngx_miroir_body_ready(ngx_http_request_t *r);
static void ngx_miroir_json_cleanup(void *data);
static void ngx_miroir_free_cleanup(void *data);


/*
 * Read the body, then call handler(r, &body); data (if not NULL) becomes
 * ctx->data first, since the handler may run before this returns.
 */
ngx_int_t
ngx_miroir_read_body(ngx_http_request_t *r, ngx_miroir_body_pt handler,
    void *data)
{
    ngx_int_t          rc;
    ngx_miroir_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_miroir_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_miroir_ctx_t));
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_miroir_module);
    }

    ctx->body_handler = handler;

    if (data) {
        ctx->data = data;
    }

    rc = ngx_http_read_client_request_body(r, ngx_miroir_body_ready);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_miroir_body_ready(ngx_http_request_t *r)
{
    ngx_str_t          body;
    ngx_miroir_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_miroir_module);

    if (ngx_miroir_body_bytes(r, &body) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->body_handler(r, &body);
}


/*
 * The same for a route whose body must be JSON: a wrong or missing
 * Content-Type gets Meilisearch's 415 before the body is read (Meilisearch
 * checks it before it parses anything).
 */
ngx_int_t
ngx_miroir_read_json_body(ngx_http_request_t *r, ngx_miroir_body_pt handler,
    void *data)
{
    ngx_int_t       rc;
    miroir_error_t  err;

    if (ngx_miroir_check_json_type(r, &err) != NGX_OK) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_miroir_send_error(r, &err);
    }

    return ngx_miroir_read_body(r, handler, data);
}


ngx_int_t
ngx_miroir_body_bytes(ngx_http_request_t *r, ngx_str_t *body)
{
    off_t         len;
    u_char       *p;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    body->len = 0;
    body->data = (u_char *) "";

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    cl = r->request_body->bufs;

    if (cl->next == NULL && !cl->buf->in_file) {
        body->data = cl->buf->pos;
        body->len = cl->buf->last - cl->buf->pos;
        return NGX_OK;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    p = ngx_palloc(r->pool, len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    body->data = p;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (!b->in_file) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
            continue;
        }

        n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                          b->file_pos);

        if (n != b->file_last - b->file_pos) {
            ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0,
                          "miroir: cannot read the request body back from "
                          "\"%V\"", &b->file->name);
            return NGX_ERROR;
        }

        p += n;
    }

    body->len = p - body->data;

    return NGX_OK;
}


cJSON *
ngx_miroir_json_parse(ngx_http_request_t *r, u_char *data, size_t len)
{
    cJSON               *json;
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    json = cJSON_ParseWithLength((const char *) data, len);
    if (json == NULL) {
        return NULL;
    }

    cln->handler = ngx_miroir_json_cleanup;
    cln->data = json;

    return json;
}


ngx_int_t
ngx_miroir_json_print(ngx_http_request_t *r, cJSON *json, ngx_str_t *out)
{
    char                *text;
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    text = cJSON_PrintUnformatted(json);
    if (text == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_miroir_free_cleanup;
    cln->data = text;

    out->data = (u_char *) text;
    out->len = ngx_strlen(text);

    return NGX_OK;
}


void *
ngx_miroir_pool_own(ngx_http_request_t *r, void *p)
{
    ngx_pool_cleanup_t  *cln;

    if (p == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        free(p);
        return NULL;
    }

    cln->handler = ngx_miroir_free_cleanup;
    cln->data = p;

    return p;
}


static void
ngx_miroir_json_cleanup(void *data)
{
    cJSON_Delete(data);
}


static void
ngx_miroir_free_cleanup(void *data)
{
    free(data);
}
