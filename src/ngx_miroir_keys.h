/*
 * ngx_miroir_keys.h -- access control: the cluster's API keys (/keys),
 * the authorization of every route, tenant tokens, and what the read path
 * needs to know about who is asking.
 */

#ifndef NGX_MIROIR_KEYS_H
#define NGX_MIROIR_KEYS_H

#include "ngx_miroir.h"
#include "miroir_apikey.h"
#include "miroir_jwt.h"


/*
 * The result of authenticating a request, kept for the request's life
 * (ngx_miroir_auth_get()).  With the master key (or a cluster without
 * one) "master" is set and nothing is restricted.
 */
typedef struct {
    unsigned                        master:1;
    unsigned                        tenant:1;    /* a tenant token */
    int                             action;      /* miroir_action_e, -1 */
    ngx_str_t                       index;       /* route's index, or empty */
    u_char                          uid[MIROIR_APIKEY_UID_LEN + 1];

    /* the API key's index patterns (ngx_str_t) */
    ngx_array_t                     indexes;

    /* the tenant token's searchRules (array of patterns, or object
       pattern -> null | {"filter": ...}); NULL without a token.
       Freed with the request pool. */
    cJSON                          *rules;
} ngx_miroir_auth_t;


/* The authentication of r (the main request's), or NULL before it ran. */
ngx_miroir_auth_t *ngx_miroir_auth_get(ngx_http_request_t *r);

/*
 * The filter a tenant token imposes on searches of index_uid, as JSON text
 * (a string or an array, exactly the token's "filter" value) in
 * filter_json_out (r's pool; len 0 when there is none).  Returns NGX_OK,
 * NGX_DECLINED when the key or the token does not allow the index (answer
 * Meilisearch's 403 invalid_api_key, see ngx_miroir_auth_index_error()),
 * NGX_ERROR on memory shortage.
 */
ngx_int_t ngx_miroir_auth_search_filter(ngx_http_request_t *r,
    ngx_str_t *index_uid, ngx_str_t *filter_json_out);

/*
 * For the read path: AND the tenant token's filter for index_uid into the
 * user's filter *user (JSON text, NUL-terminated, or NULL for none), as
 * Meilisearch does.  *user is replaced (r's pool) when a filter applies.
 * Returns NGX_OK; NGX_DECLINED with err set when the key or token does not
 * allow index_uid (403 invalid_api_key) or the token's filter has a wrong
 * shape (400); NGX_ERROR on memory shortage.
 */
ngx_int_t ngx_miroir_auth_compose(ngx_http_request_t *r,
    ngx_str_t *index_uid, char **user, miroir_error_t *err);

/* Is index_uid visible to the request's key/token (for lists such as
 * GET /indexes, /stats, /tasks)?  1 or 0. */
ngx_uint_t ngx_miroir_auth_index_allowed(ngx_http_request_t *r,
    ngx_str_t *index_uid);

/* Meilisearch's error for a query on a forbidden index inside a route
 * that names several indexes (multi-search): 403 invalid_api_key. */
void ngx_miroir_auth_index_error(miroir_error_t *err);

/* The whole check of ngx_miroir_check_auth(). */
ngx_int_t ngx_miroir_keys_check(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, miroir_error_t *err);

/* /keys and /keys/:uidOrKey; NGX_DECLINED for other paths. */
ngx_int_t ngx_miroir_keys_route(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_str_t *path);


#endif /* NGX_MIROIR_KEYS_H */
