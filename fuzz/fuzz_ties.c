/*
 * fuzz_ties.c -- libFuzzer target for stable_ties (miroir_ties.h).
 *
 * The input is "<primary key>\n<JSON text>".  Checks: no crash or leak;
 * removing the hidden rule's details never grows the text, and keeps a
 * valid JSON text valid; when the text is an array of rules without both
 * pk rules, appending the hidden rule and recognizing it gives the user's
 * list back, and a list with it appended always has it recognized.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "miroir_ties.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int            rc, both;
    char          *text, *pk, *nl, *before, *after;
    char           rule[MIROIR_TIES_RULE_MAX], found[MIROIR_TIES_RULE_MAX];
    char           asc[MIROIR_TIES_RULE_MAX + 8];
    char           desc[MIROIR_TIES_RULE_MAX + 8];
    size_t         len, n;
    cJSON         *json, *j2, *it;

    text = malloc(size + 1);
    if (text == NULL) {
        return 0;
    }

    memcpy(text, data, size);
    text[size] = '\0';

    nl = memchr(text, '\n', size);
    if (nl == NULL || memchr(text, '\0', size) != NULL) {
        free(text);
        return 0;
    }

    *nl = '\0';
    pk = text;
    len = size - (size_t) (nl + 1 - text);

    /* the details */

    json = cJSON_ParseWithLength(nl + 1, len);

    n = miroir_ties_strip_details(nl + 1, len, pk);
    if (n > len || nl[1 + n] != '\0') {
        abort();
    }

    j2 = cJSON_ParseWithLength(nl + 1, n);
    if (json && j2 == NULL) {
        abort();            /* a valid text stays valid */
    }

    cJSON_Delete(j2);

    /* the rules */

    if (cJSON_IsArray(json) && strlen(pk) < 256) {
        snprintf(asc, sizeof(asc), "%s:asc", pk);
        snprintf(desc, sizeof(desc), "%s:desc", pk);

        both = 0;
        cJSON_ArrayForEach(it, json) {
            if (cJSON_IsString(it) && strcmp(it->valuestring, asc) == 0) {
                both |= 1;
            }

            if (cJSON_IsString(it) && strcmp(it->valuestring, desc) == 0) {
                both |= 2;
            }
        }

        before = cJSON_PrintUnformatted(json);

        rc = miroir_ties_append(json, pk, rule, sizeof(rule));

        if (rc == 1) {
            if (!miroir_ties_find(json, pk, 1, found, sizeof(found))
                || strcmp(found, rule) != 0)
            {
                abort();    /* Miroir's rule is always recognized */
            }

            after = cJSON_PrintUnformatted(json);

            if (before && after && both != 3 && strcmp(before, after) != 0) {
                abort();    /* the user's list comes back as written */
            }

            free(after);

        } else if (rc == 0 && both != 3 && pk[0] != '\0') {
            abort();
        }

        free(before);
    }

    cJSON_Delete(json);
    free(text);

    return 0;
}
