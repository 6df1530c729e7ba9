/*
 * ngx_miroir_http.c -- answering the client: JSON bodies, Meilisearch
 * error objects, and the master-key check.
 */

#include "ngx_miroir.h"


ngx_int_t
ngx_miroir_send_raw(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *content_type, ngx_str_t *body)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = body ? body->len : 0;

    if (content_type && content_type->len) {
        r->headers_out.content_type = *content_type;
        r->headers_out.content_type_len = content_type->len;
    }

    if (body == NULL || body->len == 0) {
        r->header_only = 1;
        return ngx_http_send_header(r);
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = body->data;
    b->last = body->data + body->len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_miroir_send_json(ngx_http_request_t *r, ngx_uint_t status, u_char *data,
    size_t len)
{
    ngx_str_t  type = ngx_string("application/json");
    ngx_str_t  body;

    body.data = data;
    body.len = len;

    return ngx_miroir_send_raw(r, status, &type, &body);
}


ngx_int_t
ngx_miroir_send_error(ngx_http_request_t *r, miroir_error_t *err)
{
    u_char  *p;
    size_t   len;

    len = miroir_error_json(err, NULL, 0) + 1;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = miroir_error_json(err, (char *) p, len);

    return ngx_miroir_send_json(r, err->status, p, len);
}


/* Compare in time independent of where the first difference is. */
static ngx_uint_t
ngx_miroir_key_equal(ngx_str_t *a, u_char *b, size_t blen)
{
    size_t      i;
    ngx_uint_t  diff;

    diff = a->len ^ blen;

    for (i = 0; i < blen; i++) {
        diff |= (ngx_uint_t) (b[i] ^ a->data[i % (a->len ? a->len : 1)]);
    }

    return diff == 0;
}


ngx_int_t
ngx_miroir_check_auth(ngx_http_request_t *r, ngx_miroir_cluster_conf_t *cl,
    miroir_error_t *err)
{
    u_char           *p, *last;
    ngx_table_elt_t  *h;

    if (cl->master_key.len == 0) {
        return NGX_OK;
    }

    h = r->headers_in.authorization;

    if (h == NULL || h->value.len < sizeof("Bearer ") - 1
        || ngx_strncasecmp(h->value.data, (u_char *) "Bearer ",
                           sizeof("Bearer ") - 1) != 0)
    {
        miroir_error_set(err, NGX_HTTP_UNAUTHORIZED,
                         "missing_authorization_header", "auth",
                         "The Authorization header is missing. It must use "
                         "the bearer authorization method.");
        return NGX_ERROR;
    }

    p = h->value.data + sizeof("Bearer ") - 1;
    last = h->value.data + h->value.len;

    while (p < last && *p == ' ') {
        p++;
    }

    while (last > p && last[-1] == ' ') {
        last--;
    }

    if (!ngx_miroir_key_equal(&cl->master_key, p, last - p)) {
        miroir_error_set(err, NGX_HTTP_FORBIDDEN, "invalid_api_key", "auth",
                         "The provided API key is invalid.");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* Send rc (a status to answer with, or what sending returned) and finish. */
void
ngx_miroir_finish(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_http_finalize_request(r, rc);
}
