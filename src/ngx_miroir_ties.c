/*
 * ngx_miroir_ties.c -- stable ties (cluster option `stable_ties on`): the
 * nginx side of Miroir's hidden `<primaryKey>:asc` ranking rule
 * (miroir_ties.h has the rule itself).
 *
 * Write path (hooks in ngx_miroir_write.c):
 *
 *   - a settings write that carries rankingRules (PATCH .../settings,
 *     PUT/PATCH .../settings/ranking-rules; null is a reset) sends the
 *     user's rules plus the hidden rule; DELETE .../ranking-rules becomes a
 *     PUT of the default rules plus the hidden rule; DELETE .../settings
 *     is followed (the after step) by the defaults plus the hidden rule.
 *     The primary key is the probe's, else the one Miroir last sent;
 *   - POST /indexes with a primaryKey: the after step gives the new index
 *     the defaults plus the hidden rule;
 *   - a document write that gives the index its primary key: the after
 *     step sends the index's rules (as Miroir last sent them, else read
 *     from one node first, else the defaults) plus the hidden rule to
 *     every node.
 *
 * "Last sent": the shared zone remembers, per index, the primary key and
 * the user's rules Miroir sent (ngx_miroir_ties_mem_*() in
 * ngx_miroir_tasks.c), so that writes sent before the nodes applied the
 * earlier ones (their tasks still enqueued) still get the rule.
 *
 * Read side: the hidden rule is removed from GET .../settings and
 * .../settings/ranking-rules, from the details of the tasks that sent it
 * (the task record keeps it as "ties"), and from the hits'
 * `_rankingScoreDetails` (per-worker settings cache: ties).
 */

#include "ngx_miroir_write.h"
#include "ngx_miroir_read.h"
#include "miroir_ties.h"


static ngx_str_t  ngx_miroir_ties_json = ngx_string("application/json");


/* The rules text (defaults when rules is NULL) plus the hidden rule. */
static ngx_int_t
ngx_miroir_ties_rules_text(ngx_http_request_t *r, cJSON *rules,
    const char *pk, ngx_str_t *out, char *rule)
{
    cJSON      *d;
    ngx_int_t   rc;

    d = rules ? NULL : miroir_ties_defaults();
    if (rules == NULL && d == NULL) {
        return NGX_ERROR;
    }

    if (miroir_ties_append(rules ? rules : d, pk, rule,
                           MIROIR_TIES_RULE_MAX)
        != 1)
    {
        cJSON_Delete(d);
        return NGX_DECLINED;
    }

    rc = ngx_miroir_json_print(r, rules ? rules : d, out);
    cJSON_Delete(d);

    return rc;
}


static char *
ngx_miroir_ties_strdup(ngx_http_request_t *r, const char *s)
{
    size_t   n;
    char    *p;

    n = ngx_strlen(s);

    p = ngx_pnalloc(r->pool, n + 1);
    if (p) {
        ngx_memcpy(p, s, n + 1);
    }

    return p;
}


static ngx_int_t
ngx_miroir_ties_set_body(ngx_http_request_t *r, ngx_miroir_write_t *w,
    ngx_str_t *text)
{
    if (ngx_miroir_write_chain(r, text->data, text->len, &w->body)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    w->body_len = text->len;

    return NGX_OK;
}


/*
 * The user's rules of a settings write (rr: the array, or NULL for a
 * reset), remembered once the write is accepted: a document write that
 * gives the index its key later uses them, even while the nodes have not
 * applied them yet.
 */
static ngx_int_t
ngx_miroir_ties_keep(ngx_http_request_t *r, ngx_miroir_write_t *w, cJSON *rr)
{
    cJSON      *d;
    ngx_int_t   rc;

    w->ties_keep_set = 1;

    if (rr) {
        return ngx_miroir_json_print(r, rr, &w->ties_keep);
    }

    d = miroir_ties_defaults();
    if (d == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_miroir_json_print(r, d, &w->ties_keep);
    cJSON_Delete(d);

    return rc;
}


/*
 * After the probe, before the main fan-out: settings writes and index
 * creation (and what Miroir must forget: index deletion, swaps).
 */
ngx_int_t
ngx_miroir_ties_write(ngx_http_request_t *r, ngx_miroir_write_t *w)
{
    char        rule[MIROIR_TIES_RULE_MAX], *mpk;
    u_char     *data;
    cJSON      *json, *rr, *pk;
    ngx_int_t   rc;
    ngx_str_t   text, mrules;
    size_t      len;

    if (!w->cl->stable_ties) {
        return NGX_OK;
    }

    if (w->uri.len == sizeof("/swap-indexes") - 1
        && ngx_strncmp(w->uri.data, "/swap-indexes", w->uri.len) == 0)
    {
        ngx_miroir_ties_mem_forget(w->cl, NULL);
        return NGX_OK;
    }

    if (w->index.len == 0) {
        return NGX_OK;
    }

    if (w->method == NGX_HTTP_DELETE && !w->settings
        && w->uri.len > sizeof("/indexes/") - 1
        && ngx_strlchr(w->uri.data + sizeof("/indexes/") - 1,
                       w->uri.data + w->uri.len, '/')
           == NULL)
    {
        ngx_miroir_ties_mem_forget(w->cl, &w->index);
        return NGX_OK;
    }

    data = w->body ? w->body->buf->pos : NULL;
    len = w->body ? (size_t) w->body_len : 0;

    if (!w->settings) {
        /* POST /indexes {"uid": ..., "primaryKey": ...} */

        if (w->method != NGX_HTTP_POST || !w->ensure_filter || len == 0) {
            return NGX_OK;
        }

        json = ngx_miroir_json_parse(r, data, len);
        pk = json ? cJSON_GetObjectItemCaseSensitive(json, "primaryKey")
                  : NULL;

        if (!cJSON_IsString(pk)) {
            return NGX_OK;
        }

        w->ties_pk = pk->valuestring;

        rc = ngx_miroir_ties_rules_text(r, NULL, pk->valuestring,
                                        &w->ties_rules, rule);

        return rc == NGX_ERROR ? NGX_ERROR : NGX_OK;
    }

    /* the key: the nodes', else the one Miroir sent them last */

    if (w->pk) {
        w->ties_pk = ngx_miroir_ties_strdup(r, (char *) w->pk);
        if (w->ties_pk == NULL) {
            return NGX_ERROR;
        }

    } else {
        ngx_miroir_ties_mem_get(r, w->cl, &w->index, &mpk, &mrules);
        w->ties_pk = mpk;
    }

    rule[0] = '\0';

    if (w->sub.len == 0) {
        if (w->method == NGX_HTTP_DELETE) {
            /* a reset: the after step sends the defaults and the rule */
            if (ngx_miroir_ties_keep(r, w, NULL) != NGX_OK) {
                return NGX_ERROR;
            }

            if (w->ties_pk == NULL) {
                return NGX_OK;
            }

            rc = ngx_miroir_ties_rules_text(r, NULL, w->ties_pk,
                                            &w->ties_rules, rule);

            return rc == NGX_ERROR ? NGX_ERROR : NGX_OK;
        }

        json = len ? ngx_miroir_json_parse(r, data, len) : NULL;
        rr = json ? cJSON_GetObjectItemCaseSensitive(json, "rankingRules")
                  : NULL;

        if (rr == NULL || !(cJSON_IsArray(rr) || cJSON_IsNull(rr))) {
            return NGX_OK;      /* no rules, or the node's error */
        }

        if (cJSON_IsNull(rr)) {
            rr = miroir_ties_defaults();
            if (rr == NULL) {
                return NGX_ERROR;
            }

            cJSON_ReplaceItemInObjectCaseSensitive(json, "rankingRules", rr);
        }

        if (ngx_miroir_ties_keep(r, w, rr) != NGX_OK) {
            return NGX_ERROR;
        }

        if (w->ties_pk == NULL
            || miroir_ties_append(rr, w->ties_pk, rule, sizeof(rule)) != 1)
        {
            return NGX_OK;
        }

        if (ngx_miroir_json_print(r, json, &text) != NGX_OK
            || ngx_miroir_ties_set_body(r, w, &text) != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else {
        if (!(w->sub.len == 13
              && ngx_strncmp(w->sub.data, "ranking-rules", 13) == 0))
        {
            return NGX_OK;
        }

        if (w->method == NGX_HTTP_DELETE) {
            if (ngx_miroir_ties_keep(r, w, NULL) != NGX_OK) {
                return NGX_ERROR;
            }

            if (w->ties_pk == NULL) {
                return NGX_OK;
            }

            rc = ngx_miroir_ties_rules_text(r, NULL, w->ties_pk, &text,
                                            rule);
            if (rc != NGX_OK) {
                return rc == NGX_ERROR ? NGX_ERROR : NGX_OK;
            }

            w->method = NGX_HTTP_PUT;
            w->content_type = ngx_miroir_ties_json;

        } else {
            json = len ? ngx_miroir_json_parse(r, data, len) : NULL;

            if (json == NULL || !(cJSON_IsArray(json) || cJSON_IsNull(json)))
            {
                return NGX_OK;
            }

            if (ngx_miroir_ties_keep(r, w, cJSON_IsNull(json) ? NULL : json)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            if (w->ties_pk == NULL) {
                return NGX_OK;
            }

            rc = ngx_miroir_ties_rules_text(r, cJSON_IsNull(json) ? NULL
                                                                  : json,
                                            w->ties_pk, &text, rule);
            if (rc != NGX_OK) {
                return rc == NGX_ERROR ? NGX_ERROR : NGX_OK;
            }
        }

        if (ngx_miroir_ties_set_body(r, w, &text) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    w->ties = ngx_miroir_ties_strdup(r, rule);

    return w->ties ? NGX_OK : NGX_ERROR;
}


/*
 * The main fan-out was accepted (before the after step decides its
 * nodes): which nodes took the write, what to remember, and whether a
 * document write gave the index its primary key.
 */
void
ngx_miroir_ties_accepted(ngx_http_request_t *r, ngx_miroir_write_t *w,
    uint8_t *failed, uint8_t *sent)
{
    char        rule[MIROIR_TIES_RULE_MAX], *mpk;
    cJSON      *json;
    ngx_str_t   mrules;
    ngx_uint_t  i, any;

    if (!w->cl->stable_ties || w->index.len == 0) {
        return;
    }

    any = 0;
    w->ties_node = -1;

    for (i = 0; i < w->cl->nodes.nelts; i++) {
        w->live[i] = !failed[i] && sent[i];

        if (w->exists[i]) {
            any = 1;

            if (w->live[i] && w->ties_node < 0) {
                w->ties_node = i;
            }
        }
    }

    if (w->ties_keep_set) {
        ngx_miroir_ties_mem_put(w->cl, &w->index, w->ties_pk, &w->ties_keep);

    } else if (w->ties_pk) {
        ngx_miroir_ties_mem_put(w->cl, &w->index, w->ties_pk, NULL);
    }

    if (w->agg != NGX_MIROIR_AGG_DOCS || w->pk != NULL || w->failed
        || w->split == NULL || w->split->primary_key == NULL)
    {
        return;
    }

    /* the first documents: the index has its primary key now */

    w->ties_pk = ngx_miroir_ties_strdup(r, w->split->primary_key);
    if (w->ties_pk == NULL) {
        return;
    }

    ngx_miroir_ties_mem_get(r, w->cl, &w->index, &mpk, &mrules);

    if (mpk && ngx_strcmp(mpk, w->ties_pk) == 0) {
        /* sent already (index creation, or earlier documents whose task
           the nodes have not run yet): not once per batch */
        return;
    }

    ngx_miroir_ties_mem_put(w->cl, &w->index, w->ties_pk, NULL);

    w->ties_all = 1;

    if (mrules.len) {
        /* the user's rules, as Miroir last sent them */
        json = ngx_miroir_json_parse(r, mrules.data, mrules.len);

        if (cJSON_IsArray(json)) {
            (void) miroir_ties_find(json, w->ties_pk, 1, NULL, 0);
            (void) ngx_miroir_ties_rules_text(r, json, w->ties_pk,
                                              &w->ties_rules, rule);
            return;
        }
    }

    if (any && w->ties_node >= 0) {
        w->ties_fetch = 1;      /* the index's own rules, read first */
        return;
    }

    (void) ngx_miroir_ties_rules_text(r, NULL, w->ties_pk, &w->ties_rules,
                                      rule);
}


static void
ngx_miroir_ties_fetched(ngx_http_request_t *r, ngx_miroir_fanout_t *fo)
{
    char                     rule[MIROIR_TIES_RULE_MAX];
    cJSON                   *json;
    ngx_miroir_call_t       *call;
    ngx_miroir_write_t      *w;
    ngx_miroir_node_conf_t  *node;

    w = fo->data;
    call = fo->calls.elts;

    w->ties_fetch = 0;
    json = NULL;

    if (call->ok && call->status == NGX_HTTP_OK) {
        json = ngx_miroir_json_parse(r, call->response.data,
                                     call->response.len);
    }

    if (cJSON_IsArray(json)) {
        (void) miroir_ties_find(json, w->ties_pk, 1, NULL, 0);
        (void) ngx_miroir_ties_rules_text(r, json, w->ties_pk,
                                          &w->ties_rules, rule);

    } else {
        /* the ties of this index stay unordered until a rules write */
        node = w->cl->nodes.elts;
        ngx_miroir_log_event(r->connection->log, NGX_LOG_WARN,
                             "ties_rules_unread", &w->cl->name, &w->index,
                             "index=%V node=%V status=%i", &w->index,
                             &node[call->node].id, call->status);
    }

    if (ngx_miroir_write_after(r, w, w->ties_done) == NGX_OK) {
        return;
    }

    ngx_miroir_write_answer(r, w);
}


/*
 * The after step, first: read the index's rules from one node when a
 * document write gave an existing index its primary key.
 * @return NGX_OK: started; NGX_DECLINED: nothing to read; NGX_ERROR.
 */
ngx_int_t
ngx_miroir_ties_fetch(ngx_http_request_t *r, ngx_miroir_write_t *w,
    ngx_miroir_fanout_done_pt done)
{
    u_char               *p;
    ngx_str_t             uri;
    ngx_miroir_fanout_t  *fo;

    if (!w->ties_fetch || w->ties_node < 0) {
        return NGX_DECLINED;
    }

    uri.len = sizeof("/indexes/") - 1 + 3 * w->index.len
              + sizeof("/settings/ranking-rules") - 1;
    uri.data = ngx_pnalloc(r->pool, uri.len);
    if (uri.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(uri.data, "/indexes/", sizeof("/indexes/") - 1);
    p = (u_char *) ngx_escape_uri(p, w->index.data, w->index.len,
                                  NGX_ESCAPE_URI_COMPONENT);
    p = ngx_cpymem(p, "/settings/ranking-rules",
                   sizeof("/settings/ranking-rules") - 1);
    uri.len = p - uri.data;

    fo = ngx_miroir_fanout_create(r, w->cl, 1);
    if (fo == NULL
        || ngx_miroir_fanout_add(fo, w->ties_node, NGX_HTTP_GET, &uri, NULL)
           == NULL)
    {
        return NGX_ERROR;
    }

    w->ties_done = done;

    return ngx_miroir_fanout_start(fo, ngx_miroir_ties_fetched, w);
}


/*
 * The after step's call for node i when the hidden rule is to be sent:
 * PATCH .../settings with Miroir's filterable fields and the rules where
 * the index is new (exists[i] 0), the rules alone on the other live nodes
 * when every node needs them.
 * @return NGX_OK (added or nothing to do), NGX_ERROR.
 */
ngx_int_t
ngx_miroir_ties_after_add(ngx_http_request_t *r, ngx_miroir_write_t *w,
    ngx_uint_t i, ngx_str_t *list, ngx_miroir_fanout_t **after)
{
    u_char             *p;
    ngx_str_t          *body;
    ngx_miroir_call_t  *call;

    if (w->exists[i] && !(w->ties_all && w->live[i])) {
        return NGX_OK;
    }

    if (w->ties_uri.len == 0) {
        w->ties_uri.data = ngx_pnalloc(r->pool, sizeof("/indexes/") - 1
                                                + 3 * w->index.len
                                                + sizeof("/settings") - 1);
        if (w->ties_uri.data == NULL) {
            return NGX_ERROR;
        }

        p = ngx_cpymem(w->ties_uri.data, "/indexes/",
                       sizeof("/indexes/") - 1);
        p = (u_char *) ngx_escape_uri(p, w->index.data, w->index.len,
                                      NGX_ESCAPE_URI_COMPONENT);
        p = ngx_cpymem(p, "/settings", sizeof("/settings") - 1);
        w->ties_uri.len = p - w->ties_uri.data;

        w->ties_full.len = sizeof("{\"filterableAttributes\":,"
                                  "\"rankingRules\":}") - 1
                           + list->len + w->ties_rules.len;
        w->ties_full.data = ngx_pnalloc(r->pool, w->ties_full.len);
        w->ties_only.len = sizeof("{\"rankingRules\":}") - 1
                           + w->ties_rules.len;
        w->ties_only.data = ngx_pnalloc(r->pool, w->ties_only.len);

        if (w->ties_full.data == NULL || w->ties_only.data == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(w->ties_full.data, "{\"filterableAttributes\":%V,"
                    "\"rankingRules\":%V}", list, &w->ties_rules);
        ngx_sprintf(w->ties_only.data, "{\"rankingRules\":%V}",
                    &w->ties_rules);
    }

    if (*after == NULL) {
        *after = ngx_miroir_fanout_create(r, w->cl, w->cl->nodes.nelts);
        if (*after == NULL) {
            return NGX_ERROR;
        }
    }

    call = ngx_miroir_fanout_add(*after, i, NGX_HTTP_PATCH, &w->ties_uri,
                                 NULL);
    if (call == NULL) {
        return NGX_ERROR;
    }

    body = w->exists[i] ? &w->ties_only : &w->ties_full;

    if (ngx_miroir_write_chain(r, body->data, body->len, &call->body)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    call->body_len = body->len;
    call->content_type = ngx_miroir_ties_json;

    return NGX_OK;
}


/* ------------------------------------------------------------ reads */

/*
 * GET .../settings or .../settings/ranking-rules: json is the node's
 * answer (the settings object, or the rules array), index the node's
 * GET /indexes/<uid> answer (its primary key).
 */
void
ngx_miroir_ties_hide_settings(ngx_miroir_cluster_conf_t *cl, cJSON *json,
    ngx_str_t *index)
{
    cJSON  *idx, *pk, *rules;

    if (!cl->stable_ties || json == NULL || index == NULL || index->len == 0)
    {
        return;
    }

    idx = cJSON_ParseWithLength((const char *) index->data, index->len);
    pk = idx ? cJSON_GetObjectItemCaseSensitive(idx, "primaryKey") : NULL;

    rules = cJSON_IsArray(json)
            ? json : cJSON_GetObjectItemCaseSensitive(json, "rankingRules");

    if (cJSON_IsString(pk)) {
        (void) miroir_ties_find(rules, pk->valuestring, 1, NULL, 0);
    }

    cJSON_Delete(idx);
}


/* A task's details: the rule its write added (the record's "ties"). */
void
ngx_miroir_ties_hide_task(cJSON *rec, cJSON *task)
{
    cJSON  *ties, *details;

    ties = cJSON_GetObjectItemCaseSensitive(rec, "ties");
    details = cJSON_GetObjectItemCaseSensitive(task, "details");

    if (cJSON_IsString(ties) && cJSON_IsObject(details)) {
        (void) miroir_ties_drop(cJSON_GetObjectItemCaseSensitive(details,
                                                            "rankingRules"),
                                ties->valuestring);
    }
}


/*
 * The per-worker settings cache of the read path: with the node's
 * settings and its GET /indexes/<uid> answer, remember the index's hidden
 * rule (s->ties, malloc()ed, freed with the entry).
 */
void
ngx_miroir_ties_read_settings(ngx_miroir_cluster_conf_t *cl, ngx_str_t *uid,
    ngx_str_t *settings, ngx_str_t *index)
{
    char                          rule[MIROIR_TIES_RULE_MAX];
    cJSON                        *st, *idx, *pk;
    ngx_miroir_index_settings_t  *s;

    if (!cl->stable_ties || settings->len == 0 || index->len == 0) {
        return;
    }

    s = ngx_miroir_read_settings_get(cl, uid);
    if (s == NULL || s->ties) {
        return;
    }

    st = cJSON_ParseWithLength((const char *) settings->data, settings->len);
    idx = cJSON_ParseWithLength((const char *) index->data, index->len);
    pk = idx ? cJSON_GetObjectItemCaseSensitive(idx, "primaryKey") : NULL;

    if (st && cJSON_IsString(pk)
        && miroir_ties_find(cJSON_GetObjectItemCaseSensitive(st,
                                                             "rankingRules"),
                            pk->valuestring, 0, rule, sizeof(rule)))
    {
        s->ties = strdup(rule);
    }

    cJSON_Delete(st);
    cJSON_Delete(idx);
}


/*
 * A merged search answer (malloc()ed, NUL-terminated): the hidden rule
 * out of the hits' ranking details.  Only when the client asked for them.
 */
void
ngx_miroir_ties_hide_details(ngx_miroir_index_settings_t *s, char *out,
    size_t *len)
{
    if (s == NULL || s->ties == NULL || out == NULL) {
        return;
    }

    *len = miroir_ties_strip_details(out, *len, s->ties);
}
