/*
 * ngx_miroir_keys.c -- access control.
 *
 * Every node has its own master key, so a node's API keys are useless to
 * a client of the cluster: Miroir keeps the cluster's keys itself (the
 * shared zone, persisted in the miroir_state directory as
 * keys-<cluster>.json), derives their values from the cluster master key
 * as Meilisearch does, answers /keys, checks the key or tenant token of
 * every request against the action and index of its route, and talks to
 * the nodes with each node's own key only.
 *
 * The zone holds the persisted form of the store (JSON text) and a
 * generation; each worker keeps a parsed copy and reparses it when the
 * generation moves.  Changes are made under the zone mutex.
 */

#include "ngx_miroir_keys.h"


#define NGX_MIROIR_KEYS_CLUSTERS  64


typedef struct {
    ngx_atomic_t                    generation;
    size_t                          len;
    u_char                         *text;       /* slab */
} ngx_miroir_keys_shm_t;


/* per worker: the parsed store of each cluster */
typedef struct {
    ngx_atomic_uint_t               generation;
    miroir_keystore_t               ks;
} ngx_miroir_keys_cache_t;


static ngx_int_t ngx_miroir_route_action(ngx_http_request_t *r,
    ngx_str_t *index);
static ngx_miroir_auth_t *ngx_miroir_auth_new(ngx_http_request_t *r);
static void ngx_miroir_auth_cleanup(void *data);
static miroir_keystore_t *ngx_miroir_keys_store(ngx_miroir_cluster_conf_t *cl,
    ngx_log_t *log);
static void ngx_miroir_keys_body(ngx_http_request_t *r, ngx_str_t *body);


static ngx_miroir_keys_cache_t  ngx_miroir_keys_cache[NGX_MIROIR_KEYS_CLUSTERS];


/*
 * Defined by the read path once it calls ngx_miroir_auth_compose() for
 * every search, facet search and multi-search query.  Until then tenant
 * tokens, and API keys limited to some indexes on /multi-search, are
 * refused: accepting them would let a search escape its filter or index.
 */
extern const ngx_uint_t  ngx_miroir_read_auth_compose __attribute__((weak));

/*
 * The same for routes without an index in their path whose answer
 * Meilisearch restricts to the key's indexes: defined by the file that
 * does it with ngx_miroir_auth_index_allowed().  Until then only keys on
 * "*" may use them.
 *   read path:  GET /indexes, GET /stats (lists of the key's indexes)
 *   write path: POST /indexes, POST /swap-indexes (the body's uids)
 *   tasks:      GET /tasks, /batches, POST /tasks/cancel, DELETE /tasks
 */
extern const ngx_uint_t  ngx_miroir_read_auth_lists __attribute__((weak));
extern const ngx_uint_t  ngx_miroir_write_auth_indexes __attribute__((weak));
extern const ngx_uint_t  ngx_miroir_tasks_auth_lists __attribute__((weak));


static int64_t
ngx_miroir_now_ns(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);

    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}


/* ------------------------------------------------------------ routes */

/*
 * The action a route needs and its index (the :index_uid of the path), as
 * Meilisearch's routes declare them; -1 for routes Miroir does not map
 * (only the master key opens them).
 */
static ngx_int_t
ngx_miroir_route_action(ngx_http_request_t *r, ngx_str_t *index)
{
    u_char      *p, *last, *s;
    ngx_str_t    seg[6];
    ngx_uint_t   n, m;

    index->len = 0;
    index->data = NULL;

    p = r->uri.data;
    last = r->uri.data + r->uri.len;

    while (last > p + 1 && last[-1] == '/') {
        last--;
    }

    n = 0;

    while (p < last && n < 6) {
        while (p < last && *p == '/') {
            p++;
        }

        if (p == last) {
            break;
        }

        s = p;

        while (p < last && *p != '/') {
            p++;
        }

        seg[n].data = s;
        seg[n].len = p - s;
        n++;
    }

    if (p < last || n == 0) {
        return -1;
    }

    m = r->method;

#define SEG(i, str)                                                          \
    (seg[i].len == sizeof(str) - 1                                           \
     && ngx_strncmp(seg[i].data, str, sizeof(str) - 1) == 0)

    if (SEG(0, "version")) {
        return (n == 1 && (m & (NGX_HTTP_GET|NGX_HTTP_HEAD)))
               ? MIROIR_ACT_VERSION : -1;
    }

    if (SEG(0, "multi-search")) {
        return (n == 1 && m == NGX_HTTP_POST) ? MIROIR_ACT_SEARCH : -1;
    }

    if (SEG(0, "swap-indexes")) {
        return (n == 1 && m == NGX_HTTP_POST) ? MIROIR_ACT_INDEXES_SWAP : -1;
    }

    if (SEG(0, "stats")) {
        return (n == 1 && (m & (NGX_HTTP_GET|NGX_HTTP_HEAD)))
               ? MIROIR_ACT_STATS_GET : -1;
    }

    if (SEG(0, "dumps")) {
        return (n == 1 && m == NGX_HTTP_POST) ? MIROIR_ACT_DUMPS_CREATE : -1;
    }

    if (SEG(0, "snapshots")) {
        return (n == 1 && m == NGX_HTTP_POST) ? MIROIR_ACT_SNAPSHOTS_CREATE
                                              : -1;
    }

    if (SEG(0, "metrics")) {
        return (n == 1 && m == NGX_HTTP_GET) ? MIROIR_ACT_METRICS_GET : -1;
    }

    if (SEG(0, "export")) {
        return (n == 1 && m == NGX_HTTP_POST) ? MIROIR_ACT_EXPORT : -1;
    }

    if (SEG(0, "experimental-features") && n == 1) {
        return m == NGX_HTTP_GET ? MIROIR_ACT_EXPERIMENTAL_GET
               : (m == NGX_HTTP_PATCH ? MIROIR_ACT_EXPERIMENTAL_UPDATE : -1);
    }

    if (SEG(0, "network") && n == 1) {
        return m == NGX_HTTP_GET ? MIROIR_ACT_NETWORK_GET
               : (m == NGX_HTTP_PATCH ? MIROIR_ACT_NETWORK_UPDATE : -1);
    }

    if (SEG(0, "keys") && n <= 2) {
        if (n == 1) {
            return m == NGX_HTTP_GET ? MIROIR_ACT_KEYS_GET
                   : (m == NGX_HTTP_POST ? MIROIR_ACT_KEYS_CREATE : -1);
        }

        return m == NGX_HTTP_GET ? MIROIR_ACT_KEYS_GET
               : m == NGX_HTTP_PATCH ? MIROIR_ACT_KEYS_UPDATE
               : m == NGX_HTTP_DELETE ? MIROIR_ACT_KEYS_DELETE : -1;
    }

    if (SEG(0, "tasks") || SEG(0, "batches")) {
        if (n == 1) {
            return (m & (NGX_HTTP_GET|NGX_HTTP_HEAD)) ? MIROIR_ACT_TASKS_GET
                   : (m == NGX_HTTP_DELETE && SEG(0, "tasks"))
                     ? MIROIR_ACT_TASKS_DELETE : -1;
        }

        if (n == 2 && SEG(0, "tasks") && SEG(1, "cancel")) {
            return m == NGX_HTTP_POST ? MIROIR_ACT_TASKS_CANCEL : -1;
        }

        if (n == 2 && SEG(0, "tasks") && SEG(1, "compact")) {
            return m == NGX_HTTP_POST ? MIROIR_ACT_TASKS_COMPACT : -1;
        }

        return (n <= 3 && (m & (NGX_HTTP_GET|NGX_HTTP_HEAD)))
               ? MIROIR_ACT_TASKS_GET : -1;
    }

    if (SEG(0, "webhooks") && n <= 2) {
        return m == NGX_HTTP_GET ? MIROIR_ACT_WEBHOOKS_GET
               : m == NGX_HTTP_POST ? MIROIR_ACT_WEBHOOKS_CREATE
               : m == NGX_HTTP_PATCH ? MIROIR_ACT_WEBHOOKS_UPDATE
               : m == NGX_HTTP_DELETE ? MIROIR_ACT_WEBHOOKS_DELETE : -1;
    }

    if (!SEG(0, "indexes")) {
        return -1;
    }

    if (n == 1) {
        return (m & (NGX_HTTP_GET|NGX_HTTP_HEAD)) ? MIROIR_ACT_INDEXES_GET
               : m == NGX_HTTP_POST ? MIROIR_ACT_INDEXES_CREATE : -1;
    }

    *index = seg[1];

    if (n == 2) {
        return (m & (NGX_HTTP_GET|NGX_HTTP_HEAD)) ? MIROIR_ACT_INDEXES_GET
               : m == NGX_HTTP_PATCH ? MIROIR_ACT_INDEXES_UPDATE
               : m == NGX_HTTP_DELETE ? MIROIR_ACT_INDEXES_DELETE : -1;
    }

    if (SEG(2, "search") || SEG(2, "similar")) {
        return (n == 3 && (m & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_POST)))
               ? MIROIR_ACT_SEARCH : -1;
    }

    if (SEG(2, "facet-search")) {
        return (n == 3 && m == NGX_HTTP_POST) ? MIROIR_ACT_SEARCH : -1;
    }

    if (SEG(2, "stats")) {
        return (n == 3 && (m & (NGX_HTTP_GET|NGX_HTTP_HEAD)))
               ? MIROIR_ACT_STATS_GET : -1;
    }

    if (SEG(2, "compact")) {
        return (n == 3 && m == NGX_HTTP_POST) ? MIROIR_ACT_INDEXES_COMPACT
                                              : -1;
    }

    if (SEG(2, "fields")) {
        return (n == 3 && m == NGX_HTTP_POST) ? MIROIR_ACT_FIELDS_POST : -1;
    }

    if (SEG(2, "settings")) {
        return n > 4 ? -1
               : (m & (NGX_HTTP_GET|NGX_HTTP_HEAD)) ? MIROIR_ACT_SETTINGS_GET
               : (m & (NGX_HTTP_PATCH|NGX_HTTP_PUT|NGX_HTTP_POST
                       |NGX_HTTP_DELETE))
                 ? MIROIR_ACT_SETTINGS_UPDATE : -1;
    }

    if (!SEG(2, "documents") || n > 4) {
        return -1;
    }

    if (n == 3) {
        return (m & (NGX_HTTP_GET|NGX_HTTP_HEAD)) ? MIROIR_ACT_DOCUMENTS_GET
               : (m & (NGX_HTTP_POST|NGX_HTTP_PUT))
                 ? MIROIR_ACT_DOCUMENTS_ADD
               : m == NGX_HTTP_DELETE ? MIROIR_ACT_DOCUMENTS_DELETE : -1;
    }

    if (m == NGX_HTTP_POST) {
        if (SEG(3, "fetch")) {
            return MIROIR_ACT_DOCUMENTS_GET;
        }

        if (SEG(3, "delete-batch") || SEG(3, "delete")) {
            return MIROIR_ACT_DOCUMENTS_DELETE;
        }

        if (SEG(3, "edit")) {
            return MIROIR_ACT_DOCUMENTS_ALL;
        }

        return -1;
    }

    return (m & (NGX_HTTP_GET|NGX_HTTP_HEAD)) ? MIROIR_ACT_DOCUMENTS_GET
           : m == NGX_HTTP_DELETE ? MIROIR_ACT_DOCUMENTS_DELETE : -1;

#undef SEG
}


/* ------------------------------------------------------------ auth ctx */

static void
ngx_miroir_auth_cleanup(void *data)
{
    ngx_miroir_auth_t  *auth = data;

    cJSON_Delete(auth->rules);
    auth->rules = NULL;
}


static ngx_miroir_auth_t *
ngx_miroir_auth_new(ngx_http_request_t *r)
{
    ngx_miroir_auth_t   *auth;
    ngx_pool_cleanup_t  *cln;

    auth = ngx_miroir_auth_get(r);
    if (auth) {
        ngx_miroir_auth_cleanup(auth);
        ngx_memzero(auth, sizeof(ngx_miroir_auth_t));
        auth->action = -1;
        return auth;
    }

    cln = ngx_pool_cleanup_add(r->main->pool, sizeof(ngx_miroir_auth_t));
    if (cln == NULL) {
        return NULL;
    }

    auth = cln->data;
    ngx_memzero(auth, sizeof(ngx_miroir_auth_t));
    auth->action = -1;

    cln->handler = ngx_miroir_auth_cleanup;

    return auth;
}


/* The request's authentication: a cleanup of its pool carries it, so no
 * other file's context has to know about it. */
ngx_miroir_auth_t *
ngx_miroir_auth_get(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t  *c;

    for (c = r->main->pool->cleanup; c; c = c->next) {
        if (c->handler == ngx_miroir_auth_cleanup) {
            return c->data;
        }
    }

    return NULL;
}


static ngx_int_t
ngx_miroir_auth_key_indexes(ngx_http_request_t *r, ngx_miroir_auth_t *auth,
    miroir_apikey_t *k)
{
    size_t      i, len;
    ngx_str_t  *s;

    if (ngx_array_init(&auth->indexes, r->pool, k->nindexes ? k->nindexes : 1,
                       sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < k->nindexes; i++) {
        s = ngx_array_push(&auth->indexes);
        if (s == NULL) {
            return NGX_ERROR;
        }

        len = ngx_strlen(k->indexes[i]);

        s->data = ngx_pnalloc(r->pool, len + 1);
        if (s->data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(s->data, k->indexes[i], len + 1);
        s->len = len;
    }

    ngx_memcpy(auth->uid, k->uid, sizeof(auth->uid));

    return NGX_OK;
}


static ngx_uint_t
ngx_miroir_auth_key_index_ok(ngx_miroir_auth_t *auth, ngx_str_t *index)
{
    ngx_str_t   *s;
    ngx_uint_t   i;

    s = auth->indexes.elts;

    for (i = 0; i < auth->indexes.nelts; i++) {
        if (miroir_index_pattern_match((char *) s[i].data, s[i].len,
                                       (char *) index->data, index->len))
        {
            return 1;
        }
    }

    return 0;
}


ngx_uint_t
ngx_miroir_auth_index_allowed(ngx_http_request_t *r, ngx_str_t *index_uid)
{
    ngx_miroir_auth_t  *auth;

    auth = ngx_miroir_auth_get(r);

    if (auth == NULL || auth->master) {
        return 1;
    }

    if (!ngx_miroir_auth_key_index_ok(auth, index_uid)) {
        return 0;
    }

    if (auth->rules
        && !miroir_jwt_rules_allow(auth->rules, (char *) index_uid->data,
                                   index_uid->len))
    {
        return 0;
    }

    return 1;
}


ngx_int_t
ngx_miroir_auth_search_filter(ngx_http_request_t *r, ngx_str_t *index_uid,
    ngx_str_t *filter_json_out)
{
    char               *text;
    const cJSON        *f;
    ngx_miroir_auth_t  *auth;

    filter_json_out->len = 0;
    filter_json_out->data = NULL;

    if (!ngx_miroir_auth_index_allowed(r, index_uid)) {
        return NGX_DECLINED;
    }

    auth = ngx_miroir_auth_get(r);

    if (auth == NULL || auth->rules == NULL) {
        return NGX_OK;
    }

    f = miroir_jwt_rules_filter(auth->rules, (char *) index_uid->data,
                                index_uid->len);
    if (f == NULL) {
        return NGX_OK;
    }

    text = ngx_miroir_pool_own(r, cJSON_PrintUnformatted(f));
    if (text == NULL) {
        return NGX_ERROR;
    }

    filter_json_out->data = (u_char *) text;
    filter_json_out->len = ngx_strlen(text);

    return NGX_OK;
}


/* Append filter (a string, or an array of strings and arrays) to the
 * top-level AND array out. */
static ngx_int_t
ngx_miroir_auth_and_into(cJSON *out, cJSON *filter)
{
    cJSON  *it, *next;

    if (cJSON_IsString(filter)) {
        return cJSON_AddItemToArray(out, filter) ? NGX_OK : NGX_ERROR;
    }

    if (!cJSON_IsArray(filter)) {
        cJSON_Delete(filter);
        return NGX_DECLINED;
    }

    for (it = filter->child; it; it = next) {
        next = it->next;
        cJSON_DetachItemViaPointer(filter, it);

        if (!cJSON_AddItemToArray(out, it)) {
            cJSON_Delete(it);
            cJSON_Delete(filter);
            return NGX_ERROR;
        }
    }

    cJSON_Delete(filter);

    return NGX_OK;
}


ngx_int_t
ngx_miroir_auth_compose(ngx_http_request_t *r, ngx_str_t *index_uid,
    char **user, miroir_error_t *err)
{
    char       *text;
    cJSON      *out, *u, *t;
    ngx_int_t   rc;
    ngx_str_t   tf;

    rc = ngx_miroir_auth_search_filter(r, index_uid, &tf);

    if (rc == NGX_DECLINED) {
        ngx_miroir_auth_index_error(err);
        return NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    if (tf.len == 0) {
        return NGX_OK;
    }

    /* [user's terms..., token's terms...]: Meilisearch ANDs the items of
       a top-level array, and each item is parsed on its own, so nothing
       in the user's filter can reach the token's */

    out = cJSON_CreateArray();
    t = cJSON_ParseWithLength((char *) tf.data, tf.len);
    u = *user ? cJSON_Parse(*user) : NULL;

    if (out == NULL || t == NULL || (*user && u == NULL)) {
        cJSON_Delete(out);
        cJSON_Delete(t);
        cJSON_Delete(u);
        return NGX_ERROR;
    }

    if (u && !cJSON_IsNull(u)) {
        rc = ngx_miroir_auth_and_into(out, u);

    } else {
        cJSON_Delete(u);
        rc = NGX_OK;
    }

    if (rc == NGX_OK) {
        rc = ngx_miroir_auth_and_into(out, t);
    } else {
        cJSON_Delete(t);
    }

    if (rc == NGX_DECLINED) {
        cJSON_Delete(out);
        miroir_error_set(err, NGX_HTTP_BAD_REQUEST, "invalid_search_filter",
                         "invalid_request", "Invalid value type at "
                         "`.filter`: expected a string, an array of strings "
                         "and arrays of strings, or null.");
        return NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        cJSON_Delete(out);
        return NGX_ERROR;
    }

    text = ngx_miroir_pool_own(r, cJSON_PrintUnformatted(out));
    cJSON_Delete(out);

    if (text == NULL) {
        return NGX_ERROR;
    }

    *user = text;

    return NGX_OK;
}


void
ngx_miroir_auth_index_error(miroir_error_t *err)
{
    miroir_error_set(err, NGX_HTTP_FORBIDDEN, "invalid_api_key", "auth",
                     "The provided API key is invalid.");
}


static ngx_int_t
ngx_miroir_auth_invalid(miroir_error_t *err)
{
    miroir_error_set(err, NGX_HTTP_FORBIDDEN, "invalid_api_key", "auth",
                     "The provided API key is invalid.");
    return NGX_ERROR;
}


/*
 * Can a key limited to some indexes use this route without an index in
 * its path?  Only when the route applies the key's indexes itself.
 */
static ngx_uint_t
ngx_miroir_auth_restricts(int action)
{
    switch (action) {

    case MIROIR_ACT_SEARCH:                     /* multi-search */
        return &ngx_miroir_read_auth_compose != NULL;

    case MIROIR_ACT_INDEXES_GET:
    case MIROIR_ACT_STATS_GET:
        return &ngx_miroir_read_auth_lists != NULL;

    case MIROIR_ACT_INDEXES_CREATE:
    case MIROIR_ACT_INDEXES_SWAP:
        return &ngx_miroir_write_auth_indexes != NULL;

    case MIROIR_ACT_TASKS_GET:
    case MIROIR_ACT_TASKS_CANCEL:
    case MIROIR_ACT_TASKS_DELETE:
    case MIROIR_ACT_TASKS_COMPACT:
        return &ngx_miroir_tasks_auth_lists != NULL;

    default:
        return 1;
    }
}


static ngx_int_t
ngx_miroir_auth_internal(miroir_error_t *err)
{
    miroir_error_set(err, NGX_HTTP_INTERNAL_SERVER_ERROR, "internal",
                     "internal", "An internal error has occurred.");
    return NGX_ERROR;
}


/* A tenant token on a search route (Meilisearch's order of checks). */
static ngx_int_t
ngx_miroir_auth_tenant(ngx_http_request_t *r, ngx_miroir_cluster_conf_t *cl,
    ngx_miroir_auth_t *auth, miroir_jwt_t *jwt, ngx_str_t *index,
    miroir_error_t *err)
{
    char               secret[MIROIR_APIKEY_HEX_LEN + 1], *list;
    long               i;
    time_t             now;
    miroir_apikey_t   *k;
    miroir_keystore_t *ks;

    now = ngx_time();

    /* the secret is derived from the uid, whether the key exists or not */

    miroir_apikey_value((char *) cl->master_key.data, cl->master_key.len,
                        jwt->api_key_uid, secret);

    if (miroir_jwt_verify(jwt, secret, MIROIR_APIKEY_HEX_LEN, now, err)
        != MIROIR_JWT_OK)
    {
        return NGX_ERROR;
    }

    ks = ngx_miroir_keys_store(cl, r->connection->log);
    if (ks == NULL) {
        return ngx_miroir_auth_internal(err);
    }

    i = miroir_keystore_find(ks, jwt->api_key_uid,
                             ngx_strlen(jwt->api_key_uid));
    if (i < 0) {
        return ngx_miroir_auth_invalid(err);
    }

    k = &ks->keys[i];

    if (index->len) {
        if (!miroir_jwt_rules_allow(jwt->rules, (char *) index->data,
                                    index->len))
        {
            list = miroir_jwt_rules_list(jwt->rules);

            miroir_error_set(err, NGX_HTTP_FORBIDDEN, "invalid_api_key",
                             "auth", "The provided tenant token cannot acces "
                             "the index `%.*s`, allowed indexes are %s.",
                             (int) ngx_min(index->len, 400), index->data,
                             list ? list : "[]");
            free(list);
            return NGX_ERROR;
        }

        if (!miroir_apikey_index_ok(k, (char *) index->data, index->len)) {
            miroir_error_set(err, NGX_HTTP_FORBIDDEN, "invalid_api_key",
                             "auth", "The API key used to generate this "
                             "tenant token cannot acces the index `%.*s`.",
                             (int) ngx_min(index->len, 400), index->data);
            return NGX_ERROR;
        }
    }

    if (!miroir_apikey_allows(k, MIROIR_ACT_SEARCH, NULL, 0, now, err)) {
        return NGX_ERROR;
    }

    if (ngx_miroir_auth_key_indexes(r, auth, k) != NGX_OK) {
        return ngx_miroir_auth_internal(err);
    }

    auth->tenant = 1;
    auth->rules = jwt->rules;
    jwt->rules = NULL;

    return NGX_OK;
}


/*
 * Authenticate r for its route: NGX_OK, or NGX_ERROR with err set
 * (Meilisearch's 401/403 errors; 500 when the store is unavailable).
 */
ngx_int_t
ngx_miroir_keys_check(ngx_http_request_t *r, ngx_miroir_cluster_conf_t *cl,
    miroir_error_t *err)
{
    int                 action;
    long                i;
    u_char             *p, *last;
    ngx_int_t           rc;
    ngx_str_t           index;
    miroir_jwt_t        jwt;
    ngx_table_elt_t    *h;
    ngx_miroir_auth_t  *auth;
    miroir_keystore_t  *ks;

    action = (int) ngx_miroir_route_action(r, &index);

    auth = ngx_miroir_auth_new(r);
    if (auth == NULL) {
        return ngx_miroir_auth_internal(err);
    }

    auth->action = action;
    auth->index = index;

    if (cl->master_key.len == 0) {
        if (action >= MIROIR_ACT_KEYS_CREATE
            && action <= MIROIR_ACT_KEYS_DELETE)
        {
            miroir_error_set(err, NGX_HTTP_UNAUTHORIZED, "missing_master_key",
                             "auth", "Meilisearch is running without a "
                             "master key. To access this API endpoint, you "
                             "must have set a master key at launch.");
            return NGX_ERROR;
        }

        auth->master = 1;
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

    if (miroir_ct_equal((char *) cl->master_key.data, cl->master_key.len,
                        (char *) p, last - p))
    {
        auth->master = 1;
        return NGX_OK;
    }

    /* routes Miroir does not map to an action need the master key */

    if (action < 0) {
        return ngx_miroir_auth_invalid(err);
    }

    if (action == MIROIR_ACT_SEARCH || action == MIROIR_ACT_CHAT_COMPLETIONS) {
        rc = miroir_jwt_decode(&jwt, (char *) p, last - p, err);

        if (rc == MIROIR_JWT_BAD) {
            return NGX_ERROR;
        }

        if (rc == MIROIR_JWT_OK) {
            rc = ngx_miroir_auth_tenant(r, cl, auth, &jwt, &index, err);
            miroir_jwt_free(&jwt);

            if (rc == NGX_OK && &ngx_miroir_read_auth_compose == NULL) {
                ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                              "miroir: tenant token refused: the read path "
                              "does not apply tenant filters");
                return ngx_miroir_auth_invalid(err);
            }

            return rc;
        }

        /* not a JWT at all: an API key */
    }

    ks = ngx_miroir_keys_store(cl, r->connection->log);
    if (ks == NULL) {
        return ngx_miroir_auth_internal(err);
    }

    i = miroir_keystore_find_value(ks, (char *) p, last - p);
    if (i < 0) {
        return ngx_miroir_auth_invalid(err);
    }

    if (!miroir_apikey_allows(&ks->keys[i], action,
                              index.len ? (char *) index.data : NULL,
                              index.len, ngx_time(), err))
    {
        return NGX_ERROR;
    }

    if (ngx_miroir_auth_key_indexes(r, auth, &ks->keys[i]) != NGX_OK) {
        return ngx_miroir_auth_internal(err);
    }

    if (index.len == 0 && !miroir_apikey_index_ok(&ks->keys[i], "*", 1)
        && !ngx_miroir_auth_restricts(action))
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "miroir: \"%V\" refused to a key limited to some "
                      "indexes: the route does not filter by index yet",
                      &r->uri);
        return ngx_miroir_auth_invalid(err);
    }

    return NGX_OK;
}


/* ------------------------------------------------------------ the store */

static ngx_int_t
ngx_miroir_keys_file(ngx_miroir_cluster_conf_t *cl, const char *suffix,
    u_char *buf, size_t size)
{
    u_char                  *p;
    ngx_miroir_main_conf_t  *mmcf;

    mmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_miroir_module);

    if (mmcf == NULL || mmcf->state_path.len == 0) {
        return NGX_DECLINED;
    }

    p = ngx_snprintf(buf, size - 1, "%V/keys-%V.json%s", &mmcf->state_path,
                     &cl->name, suffix);
    *p = '\0';

    return NGX_OK;
}


/* Write the store's text to the state directory, atomically. */
static void
ngx_miroir_keys_persist(ngx_miroir_cluster_conf_t *cl, const char *text,
    size_t len, ngx_log_t *log)
{
    int      fd;
    u_char   path[NGX_MAX_PATH], tmp[NGX_MAX_PATH];
    ssize_t  n;

    if (ngx_miroir_keys_file(cl, "", path, sizeof(path)) != NGX_OK
        || ngx_miroir_keys_file(cl, ".tmp", tmp, sizeof(tmp)) != NGX_OK)
    {
        return;
    }

    fd = open((char *) tmp, O_WRONLY|O_CREAT|O_TRUNC, 0600);
    if (fd == -1) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "miroir: cannot write \"%s\"", tmp);
        return;
    }

    n = write(fd, text, len);

    if (n != (ssize_t) len || fsync(fd) != 0) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "miroir: cannot write \"%s\"", tmp);
        close(fd);
        (void) unlink((char *) tmp);
        return;
    }

    close(fd);

    if (rename((char *) tmp, (char *) path) != 0) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "miroir: cannot rename \"%s\"", tmp);
        (void) unlink((char *) tmp);
    }
}


/* The persisted store, or NULL (malloc()ed text, NUL-terminated). */
static char *
ngx_miroir_keys_read_file(ngx_miroir_cluster_conf_t *cl, size_t *len)
{
    int          fd;
    char        *text;
    u_char       path[NGX_MAX_PATH];
    ssize_t      n;
    struct stat  st;

    if (ngx_miroir_keys_file(cl, "", path, sizeof(path)) != NGX_OK) {
        return NULL;
    }

    fd = open((char *) path, O_RDONLY);
    if (fd == -1) {
        return NULL;
    }

    if (fstat(fd, &st) != 0 || st.st_size > 64 * 1024 * 1024) {
        close(fd);
        return NULL;
    }

    text = malloc(st.st_size + 1);
    if (text == NULL) {
        close(fd);
        return NULL;
    }

    n = read(fd, text, st.st_size);
    close(fd);

    if (n != st.st_size) {
        free(text);
        return NULL;
    }

    text[n] = '\0';
    *len = n;

    return text;
}


/* Replace the zone's text by text (zone mutex held). */
static ngx_int_t
ngx_miroir_keys_publish_locked(ngx_slab_pool_t *shpool,
    ngx_miroir_keys_shm_t *sk, const char *text, size_t len)
{
    u_char  *p;

    p = ngx_slab_alloc_locked(shpool, len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, text, len);
    p[len] = '\0';

    if (sk->text) {
        ngx_slab_free_locked(shpool, sk->text);
    }

    sk->text = p;
    sk->len = len;
    sk->generation++;

    return NGX_OK;
}


/*
 * The zone part of the store, created the first time from the state file
 * or, for a fresh cluster, with Meilisearch's default keys (mutex held).
 */
static ngx_miroir_keys_shm_t *
ngx_miroir_keys_shm_locked(ngx_miroir_cluster_conf_t *cl,
    ngx_slab_pool_t *shpool, ngx_log_t *log)
{
    char                   *text, *dump;
    size_t                  len;
    ngx_int_t               fresh;
    miroir_keystore_t       ks;
    ngx_miroir_keys_shm_t  *sk;

    sk = cl->shm->keys;
    if (sk) {
        return sk;
    }

    fresh = 0;
    dump = NULL;
    text = ngx_miroir_keys_read_file(cl, &len);

    if (text) {
        if (miroir_keystore_load(&ks, text, len, (char *) cl->master_key.data,
                                 cl->master_key.len)
            != MIROIR_OK)
        {
            ngx_log_error(NGX_LOG_ALERT, log, 0,
                          "miroir: the keys file of cluster \"%V\" is "
                          "invalid, ignored", &cl->name);
            free(text);
            text = NULL;

        } else {
            miroir_keystore_free(&ks);
        }
    }

    if (text == NULL) {
        ngx_memzero(&ks, sizeof(ks));

        if (miroir_keystore_defaults(&ks, (char *) cl->master_key.data,
                                     cl->master_key.len, ngx_miroir_now_ns())
            != MIROIR_OK
            || (dump = miroir_keystore_dump(&ks)) == NULL)
        {
            miroir_keystore_free(&ks);
            return NULL;
        }

        miroir_keystore_free(&ks);
        text = dump;
        len = ngx_strlen(text);
        fresh = 1;
    }

    sk = ngx_slab_calloc_locked(shpool, sizeof(ngx_miroir_keys_shm_t));

    if (sk == NULL
        || ngx_miroir_keys_publish_locked(shpool, sk, text, len) != NGX_OK)
    {
        if (sk) {
            ngx_slab_free_locked(shpool, sk);
        }

        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "miroir: miroir_zone too small for the keys of "
                      "cluster \"%V\"", &cl->name);
        free(text);
        return NULL;
    }

    if (fresh) {
        ngx_miroir_keys_persist(cl, text, len, log);
    }

    free(text);

    cl->shm->keys = sk;

    return sk;
}


/* Bring the worker's copy up to the zone's (mutex held). */
static ngx_int_t
ngx_miroir_keys_sync_locked(ngx_miroir_cluster_conf_t *cl,
    ngx_miroir_keys_cache_t *c, ngx_miroir_keys_shm_t *sk, ngx_log_t *log)
{
    miroir_keystore_t  ks;

    if (c->generation == sk->generation) {
        return NGX_OK;
    }

    if (miroir_keystore_load(&ks, (char *) sk->text, sk->len,
                             (char *) cl->master_key.data, cl->master_key.len)
        != MIROIR_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "miroir: cannot read the keys of cluster \"%V\"",
                      &cl->name);
        return NGX_ERROR;
    }

    miroir_keystore_free(&c->ks);
    c->ks = ks;
    c->generation = sk->generation;

    return NGX_OK;
}


/* The worker's up-to-date copy of the cluster's keys, or NULL. */
static miroir_keystore_t *
ngx_miroir_keys_store(ngx_miroir_cluster_conf_t *cl, ngx_log_t *log)
{
    ngx_int_t                 rc;
    ngx_slab_pool_t          *shpool;
    ngx_miroir_keys_shm_t    *sk;
    ngx_miroir_main_conf_t   *mmcf;
    ngx_miroir_keys_cache_t  *c;

    mmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_miroir_module);

    if (mmcf == NULL || mmcf->shpool == NULL || cl->shm == NULL
        || cl->index >= NGX_MIROIR_KEYS_CLUSTERS)
    {
        return NULL;
    }

    c = &ngx_miroir_keys_cache[cl->index];
    sk = cl->shm->keys;

    if (sk && c->generation == sk->generation) {
        return &c->ks;
    }

    shpool = mmcf->shpool;

    ngx_shmtx_lock(&shpool->mutex);

    sk = ngx_miroir_keys_shm_locked(cl, shpool, log);
    rc = sk ? ngx_miroir_keys_sync_locked(cl, c, sk, log) : NGX_ERROR;

    ngx_shmtx_unlock(&shpool->mutex);

    return rc == NGX_OK ? &c->ks : NULL;
}


/* ------------------------------------------------------------ /keys */

typedef struct {
    ngx_miroir_cluster_conf_t      *cl;
    ngx_str_t                       id;         /* :uidOrKey, or empty */
} ngx_miroir_keys_req_t;


static ngx_int_t
ngx_miroir_keys_send_json(ngx_http_request_t *r, ngx_uint_t status,
    cJSON *json)
{
    char  *text;

    text = cJSON_PrintUnformatted(json);
    cJSON_Delete(json);

    if (ngx_miroir_pool_own(r, text) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_miroir_send_json(r, status, (u_char *) text, ngx_strlen(text));
}


static ngx_int_t
ngx_miroir_keys_not_found(ngx_http_request_t *r, ngx_str_t *id)
{
    miroir_error_t  err;

    miroir_error_set(&err, NGX_HTTP_NOT_FOUND, "api_key_not_found",
                     "invalid_request", "API key `%.*s` not found.",
                     (int) ngx_min(id->len, 400), id->data);

    return ngx_miroir_send_error(r, &err);
}


ngx_int_t
ngx_miroir_keys_route(ngx_http_request_t *r, ngx_miroir_cluster_conf_t *cl,
    ngx_str_t *path)
{
    long                    i;
    char                   *text;
    ngx_int_t               rc;
    ngx_str_t               offset, limit, id;
    miroir_error_t          err;
    miroir_keystore_t      *ks;
    ngx_miroir_keys_req_t  *kr;

    if (path->len < 5 || ngx_strncmp(path->data, "/keys", 5) != 0
        || (path->len > 5 && path->data[5] != '/'))
    {
        return NGX_DECLINED;
    }

    id.data = path->data + 6;
    id.len = path->len > 6 ? path->len - 6 : 0;

    if (ngx_strlchr(id.data, id.data + id.len, '/') != NULL) {
        return NGX_DECLINED;
    }

    if (r->method == NGX_HTTP_POST && id.len == 0) {
        goto body;
    }

    if (r->method == NGX_HTTP_PATCH && id.len) {
        goto body;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_DELETE))
        || (r->method == NGX_HTTP_DELETE && id.len == 0))
    {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (r->method == NGX_HTTP_DELETE) {
        ngx_slab_pool_t          *shpool;
        ngx_miroir_keys_shm_t    *sk;
        ngx_miroir_main_conf_t   *mmcf;
        ngx_miroir_keys_cache_t  *c;

        if (ngx_miroir_keys_store(cl, r->connection->log) == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        mmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                                   ngx_http_miroir_module);
        shpool = mmcf->shpool;
        c = &ngx_miroir_keys_cache[cl->index];

        ngx_shmtx_lock(&shpool->mutex);

        sk = cl->shm->keys;

        if (ngx_miroir_keys_sync_locked(cl, c, sk, r->connection->log)
            != NGX_OK)
        {
            ngx_shmtx_unlock(&shpool->mutex);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        i = miroir_keystore_find(&c->ks, (char *) id.data, id.len);

        if (i < 0) {
            ngx_shmtx_unlock(&shpool->mutex);
            return ngx_miroir_keys_not_found(r, &id);
        }

        miroir_keystore_delete(&c->ks, (size_t) i);

        text = miroir_keystore_dump(&c->ks);

        if (text == NULL
            || ngx_miroir_keys_publish_locked(shpool, sk, text,
                                              ngx_strlen(text))
               != NGX_OK)
        {
            c->generation = 0;          /* reload the zone's copy */
            ngx_shmtx_unlock(&shpool->mutex);
            free(text);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        c->generation = sk->generation;
        ngx_miroir_keys_persist(cl, text, ngx_strlen(text),
                                r->connection->log);

        ngx_shmtx_unlock(&shpool->mutex);
        free(text);

        return ngx_miroir_send_raw(r, NGX_HTTP_NO_CONTENT, NULL, NULL);
    }

    ks = ngx_miroir_keys_store(cl, r->connection->log);
    if (ks == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (id.len) {
        i = miroir_keystore_find(ks, (char *) id.data, id.len);
        if (i < 0) {
            return ngx_miroir_keys_not_found(r, &id);
        }

        return ngx_miroir_keys_send_json(r, NGX_HTTP_OK,
                                         miroir_apikey_json(&ks->keys[i]));
    }

    offset.len = 0;
    limit.len = 0;

    if (ngx_http_arg(r, (u_char *) "offset", 6, &offset) != NGX_OK) {
        offset.data = NULL;
    }

    if (ngx_http_arg(r, (u_char *) "limit", 5, &limit) != NGX_OK) {
        limit.data = NULL;
    }

    text = miroir_keystore_list(ks, (char *) offset.data, offset.len,
                                (char *) limit.data, limit.len, &err);
    if (text == NULL) {
        return ngx_miroir_send_error(r, &err);
    }

    if (ngx_miroir_pool_own(r, text) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_miroir_send_json(r, NGX_HTTP_OK, (u_char *) text,
                                ngx_strlen(text));

body:

    kr = ngx_pcalloc(r->pool, sizeof(ngx_miroir_keys_req_t));
    if (kr == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    kr->cl = cl;
    kr->id = id;

    return ngx_miroir_read_json_body(r, ngx_miroir_keys_body, kr);
}


/* POST /keys and PATCH /keys/:uidOrKey, once the body is in. */
static void
ngx_miroir_keys_body(ngx_http_request_t *r, ngx_str_t *body)
{
    long                        i;
    char                       *text;
    size_t                      k;
    ngx_uint_t                  status;
    miroir_error_t              err;
    ngx_slab_pool_t            *shpool;
    ngx_miroir_ctx_t           *ctx;
    ngx_miroir_keys_shm_t      *sk;
    ngx_miroir_main_conf_t     *mmcf;
    ngx_miroir_keys_req_t      *kr;
    ngx_miroir_keys_cache_t    *c;
    ngx_miroir_cluster_conf_t  *cl;

    ctx = ngx_http_get_module_ctx(r, ngx_http_miroir_module);
    kr = ctx->data;
    cl = kr->cl;

    if (body->len == 0) {
        miroir_error_set(&err, NGX_HTTP_BAD_REQUEST, "missing_payload",
                         "invalid_request", "A json payload is missing.");
        ngx_miroir_finish(r, ngx_miroir_send_error(r, &err));
        return;
    }

    if (ngx_miroir_keys_store(cl, r->connection->log) == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    mmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_miroir_module);
    shpool = mmcf->shpool;
    c = &ngx_miroir_keys_cache[cl->index];

    ngx_shmtx_lock(&shpool->mutex);

    sk = cl->shm->keys;

    if (ngx_miroir_keys_sync_locked(cl, c, sk, r->connection->log) != NGX_OK)
    {
        ngx_shmtx_unlock(&shpool->mutex);
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (kr->id.len == 0) {
        i = miroir_keystore_create(&c->ks, (char *) body->data, body->len,
                                   (char *) cl->master_key.data,
                                   cl->master_key.len, ngx_miroir_now_ns(),
                                   &err);
        status = NGX_HTTP_CREATED;

    } else {
        i = miroir_keystore_find(&c->ks, (char *) kr->id.data, kr->id.len);

        if (i < 0) {
            ngx_shmtx_unlock(&shpool->mutex);
            ngx_miroir_finish(r, ngx_miroir_keys_not_found(r, &kr->id));
            return;
        }

        k = (size_t) i;

        if (miroir_keystore_update(&c->ks, k, (char *) body->data, body->len,
                                   ngx_miroir_now_ns(), &err)
            != 0)
        {
            i = -1;
        }

        status = NGX_HTTP_OK;
    }

    if (i < 0) {
        ngx_shmtx_unlock(&shpool->mutex);
        ngx_miroir_finish(r, ngx_miroir_send_error(r, &err));
        return;
    }

    text = miroir_keystore_dump(&c->ks);

    if (text == NULL
        || ngx_miroir_keys_publish_locked(shpool, sk, text, ngx_strlen(text))
           != NGX_OK)
    {
        c->generation = 0;              /* reload the zone's copy */
        ngx_shmtx_unlock(&shpool->mutex);
        free(text);
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "miroir: miroir_zone too small for the keys of "
                      "cluster \"%V\"", &cl->name);
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    c->generation = sk->generation;
    ngx_miroir_keys_persist(cl, text, ngx_strlen(text), r->connection->log);

    ngx_shmtx_unlock(&shpool->mutex);
    free(text);

    ngx_miroir_finish(r, ngx_miroir_keys_send_json(r, status,
                                         miroir_apikey_json(&c->ks.keys[i])));
}
