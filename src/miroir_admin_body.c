/*
 * miroir_admin_body.c -- the bodies of the admin topology routes: shape,
 * types, action and weight (see miroir_admin_body.h).
 */

#include <string.h>
#include <strings.h>

#include "miroir_admin_body.h"


static miroir_rc_t miroir_admin_str(const cJSON *json, const char *name,
    const char **out, size_t *len, int required);
static miroir_rc_t miroir_admin_weight(const cJSON *json, unsigned *weight,
    int required);
static miroir_rc_t miroir_admin_invalid(miroir_error_t *err,
    const char *msg);


/* A string member: absent or null is "" (an error when required). */
static miroir_rc_t
miroir_admin_str(const cJSON *json, const char *name, const char **out,
    size_t *len, int required)
{
    const cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(json, name);

    if (v == NULL || cJSON_IsNull(v)) {
        *out = "";
        *len = 0;
        return required ? MIROIR_ERROR : MIROIR_OK;
    }

    if (!cJSON_IsString(v) || v->valuestring == NULL) {
        return MIROIR_ERROR;
    }

    /* up to the first NUL, as a C string (an escaped \u0000 ends it) */

    *out = v->valuestring;
    *len = strlen(v->valuestring);

    return MIROIR_OK;
}


/* "weight": an integer from 1 to MIROIR_ADMIN_MAX_WEIGHT; absent is 1. */
static miroir_rc_t
miroir_admin_weight(const cJSON *json, unsigned *weight, int required)
{
    double        d;
    const cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(json, "weight");

    if (v == NULL) {
        *weight = 1;
        return required ? MIROIR_ERROR : MIROIR_OK;
    }

    if (!cJSON_IsNumber(v)) {
        return MIROIR_ERROR;
    }

    d = v->valuedouble;

    /* the range first: the conversion below is then defined (and false
       for a NaN, which fails too) */

    if (!(d >= 1 && d <= MIROIR_ADMIN_MAX_WEIGHT)
        || d != (double) (unsigned) d)
    {
        return MIROIR_ERROR;
    }

    *weight = (unsigned) d;

    return MIROIR_OK;
}


static miroir_rc_t
miroir_admin_invalid(miroir_error_t *err, const char *msg)
{
    return miroir_error_set(err, 400, "miroir_invalid_request",
                            "invalid_request", "%s", msg);
}


miroir_rc_t
miroir_admin_body_parse(const cJSON *json, miroir_admin_action_t kind,
    int generic, miroir_admin_body_t *out, miroir_error_t *err)
{
    size_t       alen;
    const char  *action;

    out->kind = kind;
    out->address = "";
    out->address_len = 0;
    out->key = "";
    out->key_len = 0;
    out->weight = 1;
    out->force = 0;

    if (out->id == NULL) {
        out->id = "";
        out->id_len = 0;
    }

    if (json == NULL || !cJSON_IsObject(json)) {
        return miroir_admin_invalid(err, "The body must be a JSON object.");
    }

    if (generic) {
        if (miroir_admin_str(json, "action", &action, &alen, 1)
            != MIROIR_OK)
        {
            goto invalid_action;
        }

        if (alen == 3 && memcmp(action, "add", 3) == 0) {
            out->kind = MIROIR_ADMIN_ADD;

        } else if (alen == 8 && memcmp(action, "reweight", 8) == 0) {
            out->kind = MIROIR_ADMIN_REWEIGHT;

        } else if (alen == 5 && memcmp(action, "drain", 5) == 0) {
            out->kind = MIROIR_ADMIN_DRAIN;

        } else if (alen == 6 && memcmp(action, "remove", 6) == 0) {
            out->kind = MIROIR_ADMIN_REMOVE;
            out->force = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(json,
                                                                   "force"));

        } else {
            goto invalid_action;
        }

        if (miroir_admin_str(json, "id", &out->id, &out->id_len, 1)
            != MIROIR_OK)
        {
            return miroir_admin_invalid(err, "`id` must be a string.");
        }
    }

    if (out->kind == MIROIR_ADMIN_ADD) {
        if ((!generic
             && miroir_admin_str(json, "id", &out->id, &out->id_len, 1)
                != MIROIR_OK)
            || miroir_admin_str(json, "address", &out->address,
                                &out->address_len, 1) != MIROIR_OK
            || miroir_admin_str(json, "key", &out->key, &out->key_len, 0)
               != MIROIR_OK)
        {
            return miroir_admin_invalid(err, "`id` and `address` must be "
                                        "strings, `key` a string when "
                                        "present.");
        }

        if (miroir_admin_weight(json, &out->weight, 0) != MIROIR_OK) {
            goto invalid_weight;
        }

    } else if (out->kind == MIROIR_ADMIN_REWEIGHT) {
        if (miroir_admin_weight(json, &out->weight, 1) != MIROIR_OK) {
            goto invalid_weight;
        }
    }

    return MIROIR_OK;

invalid_action:

    return miroir_admin_invalid(err, "`action` must be one of `add`, "
                                "`reweight`, `drain`, `remove`.");

invalid_weight:

    return miroir_admin_invalid(err, "`weight` must be an integer from 1 "
                                "to 1000.");
}


int
miroir_admin_arg_true(const char *v, size_t len)
{
    return v != NULL && len == 4 && strncasecmp(v, "true", 4) == 0;
}
