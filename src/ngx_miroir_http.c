/*
 * ngx_miroir_http.c -- answering the client: JSON bodies, Meilisearch
 * error objects, and the master-key check.
 */

#include "ngx_miroir.h"
#include "ngx_miroir_keys.h"


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


/*
 * The master key, or an API key or tenant token allowing the route's
 * action and index (ngx_miroir_keys.c, which keeps the result for the
 * read path: ngx_miroir_auth_get()).
 */
ngx_int_t
ngx_miroir_check_auth(ngx_http_request_t *r, ngx_miroir_cluster_conf_t *cl,
    miroir_error_t *err)
{
    return ngx_miroir_keys_check(r, cl, err);
}


/* Send rc (a status to answer with, or what sending returned) and finish. */
void
ngx_miroir_finish(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_http_finalize_request(r, rc);
}


/*
 * Meilisearch refuses a query-string parameter it does not know with
 * bad_request, naming the ones it accepts.  allowed ends with NULL.
 */
ngx_int_t
ngx_miroir_check_args(ngx_http_request_t *r, const char *const *allowed,
    miroir_error_t *err)
{
    u_char      *p, *last, *name, *end, *q, *qlast;
    size_t       len;
    u_char       list[512];
    ngx_uint_t   i;

    p = r->args.data;
    last = p + r->args.len;

    while (p < last) {
        name = p;

        while (p < last && *p != '&') {
            p++;
        }

        end = ngx_strlchr(name, p, '=');
        if (end == NULL) {
            end = p;
        }

        len = end - name;

        if (p < last) {
            p++;
        }

        if (len == 0) {
            continue;
        }

        for (i = 0; allowed[i]; i++) {
            if (ngx_strlen(allowed[i]) == len
                && ngx_strncmp(allowed[i], name, len) == 0)
            {
                break;
            }
        }

        if (allowed[i]) {
            continue;
        }

        q = list;
        qlast = list + sizeof(list) - 1;

        for (i = 0; allowed[i]; i++) {
            q = ngx_slprintf(q, qlast, "%s`%s`", i ? ", " : "", allowed[i]);
        }

        *q = '\0';

        miroir_error_set(err, NGX_HTTP_BAD_REQUEST, "bad_request",
                         "invalid_request",
                         "Unknown parameter `%.*s`: expected one of %s",
                         (int) ngx_min(len, 200), name, (char *) list);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * JSON routes accept only Content-Type application/json (parameters such
 * as charset aside), with Meilisearch's 415 errors otherwise.
 */
ngx_int_t
ngx_miroir_check_json_type(ngx_http_request_t *r, miroir_error_t *err)
{
    u_char     *p, *last;
    ngx_str_t  *ct;

    if (r->headers_in.content_type == NULL
        || r->headers_in.content_type->value.len == 0)
    {
        miroir_error_set(err, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                         "missing_content_type", "invalid_request",
                         "A Content-Type header is missing. Accepted values "
                         "for the Content-Type header are: "
                         "`application/json`");
        return NGX_ERROR;
    }

    ct = &r->headers_in.content_type->value;
    p = ct->data;
    last = ngx_strlchr(p, p + ct->len, ';');

    if (last == NULL) {
        last = p + ct->len;
    }

    while (last > p && last[-1] == ' ') {
        last--;
    }

    if ((size_t) (last - p) == sizeof("application/json") - 1
        && ngx_strncasecmp(p, (u_char *) "application/json",
                           sizeof("application/json") - 1) == 0)
    {
        return NGX_OK;
    }

    miroir_error_set(err, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                     "invalid_content_type", "invalid_request",
                     "The Content-Type `%.*s` is invalid. Accepted values for "
                     "the Content-Type header are: `application/json`",
                     (int) ngx_min(ct->len, 200), ct->data);

    return NGX_ERROR;
}
