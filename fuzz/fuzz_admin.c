/*
 * fuzz_admin.c -- libFuzzer target for the admin API bodies.
 *
 * Byte 0 picks the route (POST /_miroir/nodes, PATCH /_miroir/nodes/{id},
 * POST /_miroir/rebalance); the rest is the body.  Checks: no crash or
 * leak; a refusal is a 400 miroir_invalid_request with one of the known
 * messages; an accepted body has a valid action, a weight from 1 to 1000,
 * NUL-free strings of the lengths given, the path id kept unless the body
 * names the node, force only on remove.  The same bytes also go through
 * the ?force= / ?dry_run= value check.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "miroir_admin_body.h"


static const char *const  messages[] = {
    "The body must be a JSON object.",
    "`id` and `address` must be strings, `key` a string when present.",
    "`id` must be a string.",
    "`action` must be one of `add`, `reweight`, `drain`, `remove`.",
    "`weight` must be an integer from 1 to 1000."
};


static void
check_str(const char *s, size_t len)
{
    if (s == NULL || strlen(s) != len) {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                     generic, known;
    size_t                  i;
    cJSON                  *json;
    miroir_rc_t             rc;
    miroir_error_t          err;
    miroir_admin_body_t     b;
    miroir_admin_action_t   kind;

    if (size < 1) {
        return 0;
    }

    generic = (data[0] % 3) == 2;
    kind = (data[0] % 3) == 1 ? MIROIR_ADMIN_REWEIGHT : MIROIR_ADMIN_ADD;

    json = cJSON_ParseWithLength((const char *) data + 1, size - 1);

    memset(&b, 0, sizeof(b));

    if (kind == MIROIR_ADMIN_REWEIGHT) {
        b.id = "path-id";
        b.id_len = 7;
    }

    rc = miroir_admin_body_parse(json, kind, generic, &b, &err);

    if (rc != MIROIR_OK) {
        if (rc != MIROIR_ERROR || err.status != 400
            || strcmp(err.code, "miroir_invalid_request") != 0
            || strcmp(err.type, "invalid_request") != 0)
        {
            abort();
        }

        known = 0;

        for (i = 0; i < sizeof(messages) / sizeof(messages[0]); i++) {
            if (strcmp(err.message, messages[i]) == 0) {
                known = 1;
            }
        }

        if (!known) {
            abort();
        }

    } else {
        if (json == NULL || (unsigned) b.kind > MIROIR_ADMIN_REMOVE
            || b.weight < 1 || b.weight > MIROIR_ADMIN_MAX_WEIGHT
            || (b.force && b.kind != MIROIR_ADMIN_REMOVE)
            || (!generic && b.kind != kind))
        {
            abort();
        }

        check_str(b.id, b.id_len);
        check_str(b.address, b.address_len);
        check_str(b.key, b.key_len);

        if (kind == MIROIR_ADMIN_REWEIGHT && !generic
            && (b.id_len != 7 || memcmp(b.id, "path-id", 7) != 0))
        {
            abort();
        }

        if (b.kind != MIROIR_ADMIN_ADD && b.address_len) {
            abort();
        }
    }

    cJSON_Delete(json);

    /* a query argument value */

    if (miroir_admin_arg_true((const char *) data + 1, size - 1)
        != (size == 5 && strncasecmp((const char *) data + 1, "true", 4)
                         == 0))
    {
        abort();
    }

    return 0;
}
