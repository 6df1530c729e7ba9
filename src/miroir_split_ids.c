/*
 * miroir_split_ids.c -- group the ids of a delete-batch body by owner.
 */

#include <stdlib.h>
#include <string.h>

#include "miroir_split.h"
#include "miroir_bytes.h"
#include "miroir_json_scan.h"


static void
miroir_split_ids_malformed(miroir_split_result_t *res, miroir_json_scan_t *sc)
{
    char  msg[256];

    miroir_json_scan_error(sc, msg, sizeof(msg));
    res->err_kind = MIROIR_SPLIT_ERR_REQUEST;
    miroir_error_set(&res->err, 400, "malformed_payload", "invalid_request",
                     "The json payload provided is malformed. `%s`.", msg);
}


/* deserr's name of the JSON type starting with c */
static const char *
miroir_split_ids_type(unsigned char c)
{
    switch (c) {
    case '{': return "an object";
    case '"': return "a string";
    case 't': case 'f': return "a boolean";
    case 'n': return "null";
    default:  return "a number";
    }
}


static miroir_rc_t
miroir_split_ids_put(miroir_bytes_t *out, miroir_split_result_t *res,
    uint32_t node, const unsigned char *item, size_t len)
{
    miroir_bytes_t  *b;

    b = &out[node];

    if (miroir_bytes_putc(b, b->len ? ',' : '[') != MIROIR_OK
        || miroir_bytes_append(b, item, len) != MIROIR_OK)
    {
        return MIROIR_ENOMEM;
    }

    res->parts[node].ndocs++;

    return MIROIR_OK;
}


static miroir_rc_t
miroir_split_ids_route(const miroir_split_conf_t *conf, miroir_bytes_t *out,
    miroir_split_result_t *res, const unsigned char *item, size_t len,
    miroir_bytes_t *canon)
{
    miroir_json_scan_t           sc;
    miroir_json_str_t            s;
    const uint16_t              *owners, *extra;
    miroir_rc_t                  rc;
    uint32_t                     i, j, shard;
    const miroir_route_table_t  *rt = conf->route;

    miroir_bytes_reset(canon);

    if (*item == '"') {
        miroir_json_scan_init(&sc, item, len);
        (void) miroir_json_scan_string(&sc, &s);      /* validated */
        rc = miroir_json_unescape(&s, canon);

    } else {
        rc = miroir_json_compact(item, len, canon);
    }

    if (rc != MIROIR_OK) {
        return rc;
    }

    shard = miroir_split_route_id(rt, canon->data, canon->len, &owners);

    for (i = 0; i < rt->rf; i++) {
        for (j = 0; j < i && owners[j] != owners[i]; j++) {
            /* void */
        }

        if (j < i) {
            continue;
        }

        if (miroir_split_ids_put(out, res, owners[i], item, len)
            != MIROIR_OK)
        {
            return MIROIR_ENOMEM;
        }
    }

    if (conf->extra == NULL) {
        return MIROIR_OK;
    }

    /* a shard being migrated: its old owners lose the id too */

    extra = conf->extra + (size_t) shard * conf->nextra;

    for (i = 0; i < conf->nextra; i++) {
        if (extra[i] >= rt->nnodes) {
            continue;
        }

        for (j = 0; j < rt->rf && owners[j] != extra[i]; j++) {
            /* void */
        }

        if (j < rt->rf) {
            continue;
        }

        for (j = 0; j < i && extra[j] != extra[i]; j++) {
            /* void */
        }

        if (j < i) {
            continue;
        }

        if (miroir_split_ids_put(out, res, extra[i], item, len)
            != MIROIR_OK)
        {
            return MIROIR_ENOMEM;
        }
    }

    return MIROIR_OK;
}


miroir_rc_t
miroir_split_ids(const miroir_route_table_t *rt, const void *body,
    size_t len, miroir_split_result_t *res)
{
    miroir_split_conf_t  conf;

    memset(&conf, 0, sizeof(conf));
    conf.route = rt;

    return miroir_split_ids_conf(&conf, body, len, res);
}


miroir_rc_t
miroir_split_ids_conf(const miroir_split_conf_t *conf, const void *body,
    size_t len, miroir_split_result_t *res)
{
    miroir_json_scan_t           sc;
    miroir_bytes_t              *out, canon;
    const unsigned char         *item;
    miroir_rc_t                  rc = MIROIR_OK;
    uint32_t                     i;
    const miroir_route_table_t  *rt = conf->route;

    memset(res, 0, sizeof(*res));

    if (conf->extra != NULL
        && (conf->nextra < 1 || conf->nextra > MIROIR_MAX_NODES))
    {
        return MIROIR_EINVAL;
    }

    if (rt == NULL || rt->nshards < 1 || rt->rf < 1 || rt->rf > MIROIR_MAX_RF
        || rt->nnodes < 1 || rt->owners == NULL || rt->node_ids == NULL
        || (body == NULL && len != 0))
    {
        return MIROIR_EINVAL;
    }

    res->nparts = rt->nnodes;
    res->parts = calloc(rt->nnodes, sizeof(miroir_split_part_t));
    out = calloc(rt->nnodes, sizeof(miroir_bytes_t));

    if (res->parts == NULL || out == NULL) {
        free(out);
        return MIROIR_ENOMEM;
    }

    miroir_bytes_init(&canon);

    if (len == 0) {
        res->err_kind = MIROIR_SPLIT_ERR_REQUEST;
        miroir_error_set(&res->err, 400, "missing_payload", "invalid_request",
                         "A json payload is missing.");
        goto done;
    }

    /* the whole body must be one JSON value (serde_json::from_slice) */
    miroir_json_scan_init(&sc, body, len);
    sc.value_mode = 1;

    if (miroir_json_skip_value(&sc) != MIROIR_OK) {
        miroir_split_ids_malformed(res, &sc);
        goto done;
    }

    miroir_json_skip_ws(&sc);

    if (sc.p < sc.end) {
        miroir_json_fail_at(&sc, MIROIR_JSON_TRAILING_CHARS, sc.p);
        miroir_split_ids_malformed(res, &sc);
        goto done;
    }

    miroir_json_scan_init(&sc, body, len);
    miroir_json_skip_ws(&sc);

    if (*sc.p != '[') {
        res->err_kind = MIROIR_SPLIT_ERR_REQUEST;
        miroir_error_set(&res->err, 400, "bad_request", "invalid_request",
                         "Invalid value type: expected an array, but found "
                         "%s", miroir_split_ids_type(*sc.p));
        goto done;
    }

    sc.p++;
    miroir_json_skip_ws(&sc);

    if (*sc.p == ']') {
        goto done;
    }

    for ( ;; ) {
        miroir_json_skip_ws(&sc);
        item = sc.p;
        (void) miroir_json_skip_value(&sc);           /* validated */

        rc = miroir_split_ids_route(conf, out, res, item,
                                    (size_t) (sc.p - item), &canon);
        if (rc != MIROIR_OK) {
            goto done;
        }

        res->ndocs++;
        miroir_json_skip_ws(&sc);

        if (*sc.p == ']') {
            break;
        }

        sc.p++;                                       /* ',' */
    }

done:

    for (i = 0; i < rt->nnodes; i++) {
        if (rc == MIROIR_OK && res->err_kind == MIROIR_SPLIT_ERR_NONE
            && out[i].len)
        {
            if (miroir_bytes_putc(&out[i], ']') != MIROIR_OK) {
                rc = MIROIR_ENOMEM;

            } else {
                res->parts[i].body = miroir_bytes_detach(&out[i],
                                                       &res->parts[i].len);
                continue;
            }
        }

        miroir_bytes_free(&out[i]);
    }

    if (rc != MIROIR_OK) {
        for (i = 0; i < rt->nnodes; i++) {
            free(res->parts[i].body);
            res->parts[i].body = NULL;
            res->parts[i].len = 0;
            res->parts[i].ndocs = 0;
        }
    }

    free(out);
    miroir_bytes_free(&canon);

    return rc;
}
