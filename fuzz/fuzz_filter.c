/*
 * fuzz_filter.c -- libFuzzer target for filter composition.
 *
 * The input is the "filter" member of a search as JSON text.  Checks: no
 * crash or leak; the raw bytes go through miroir_filter_check() too; a
 * composed string filter passes miroir_filter_check() itself and is
 * either the restriction alone or ends with "(<restriction>)", so the
 * user's part cannot have escaped it.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "miroir_filter.h"


#define RESTR  "_miroir_o0 = \"n2\""
#define TAIL   "(" RESTR ")"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    miroir_error_t   err;
    char            *out;
    cJSON           *j;
    const char      *s;
    size_t           n;

    (void) miroir_filter_check((const char *) data, size, &err);

    if (miroir_filter_compose((const char *) data, size, RESTR, &out, &err)
        != MIROIR_OK)
    {
        return 0;
    }

    if (out == NULL) {
        abort();                        /* a restriction always remains */
    }

    j = cJSON_Parse(out);
    if (j == NULL) {
        abort();
    }

    if (cJSON_IsString(j)) {
        s = j->valuestring;
        n = strlen(s);

        if (miroir_filter_check(s, n, &err) != MIROIR_OK
            || (strcmp(s, RESTR) != 0
                && (n < sizeof(TAIL) - 1
                    || strcmp(s + n - (sizeof(TAIL) - 1), TAIL) != 0)))
        {
            abort();
        }

    } else if (!cJSON_IsArray(j)) {
        abort();
    }

    cJSON_Delete(j);
    free(out);

    return 0;
}
