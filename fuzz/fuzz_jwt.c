/*
 * fuzz_jwt.c -- libFuzzer target for tenant tokens and key bodies.
 *
 * The input is an Authorization bearer value.  Checks: no crash or leak
 * in decoding, verification, the search-rules lookups and the filter
 * conversion; a token that verifies stops verifying when its signature
 * changes by one character; the
 * same bytes as a POST /keys or PATCH body never crash the key store.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "miroir_apikey.h"
#include "miroir_jwt.h"


#define MASTER  "golden-master-key-0123456789"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                 empty;
    char                secret[65], *s, *list;
    long                i;
    miroir_jwt_t        jwt;
    miroir_error_t      err;
    const cJSON        *f;
    miroir_keystore_t   ks;

    if (miroir_jwt_decode(&jwt, (const char *) data, size, &err)
        == MIROIR_JWT_OK)
    {
        miroir_apikey_value(MASTER, sizeof(MASTER) - 1, jwt.api_key_uid,
                            secret);

        if (miroir_jwt_verify(&jwt, secret, 64, 1800000000, &err)
            == MIROIR_JWT_OK && jwt.sig_len)
        {
            /* a signed token (the corpus has some): any other signature
               must fail */
            miroir_jwt_t  j2;
            char         *t;

            t = malloc(size);
            if (t == NULL) {
                abort();
            }

            memcpy(t, data, size);
            t[size - 1] = (char) (t[size - 1] == 'A' ? 'B' : 'A');

            if (miroir_jwt_decode(&j2, t, size, &err) == MIROIR_JWT_OK) {
                if (miroir_jwt_verify(&j2, secret, 64, 1800000000, &err)
                    == MIROIR_JWT_OK)
                {
                    abort();
                }

                miroir_jwt_free(&j2);
            }

            free(t);
        }

        (void) miroir_jwt_rules_allow(jwt.rules, "movies", 6);
        f = miroir_jwt_rules_filter(jwt.rules, "movies", 6);

        if (f) {
            s = cJSON_PrintUnformatted(f);
            if (s) {
                free(miroir_jwt_filter_expr(s, strlen(s), &empty));
                cJSON_free(s);
            }
        }

        list = miroir_jwt_rules_list(jwt.rules);
        free(list);

        miroir_jwt_free(&jwt);
    }

    free(miroir_jwt_filter_expr((const char *) data, size, &empty));

    memset(&ks, 0, sizeof(ks));
    i = miroir_keystore_create(&ks, (const char *) data, size, MASTER,
                               sizeof(MASTER) - 1, 1800000000000000000LL,
                               &err);
    if (i >= 0) {
        (void) miroir_keystore_update(&ks, (size_t) i, (const char *) data,
                                      size, 1800000000000000001LL, &err);
        s = miroir_keystore_dump(&ks);
        miroir_keystore_free(&ks);

        if (s == NULL
            || miroir_keystore_load(&ks, s, strlen(s), MASTER,
                                    sizeof(MASTER) - 1) != MIROIR_OK
            || ks.n != 1)
        {
            abort();            /* what is dumped must load back */
        }

        cJSON_free(s);
    }

    miroir_keystore_free(&ks);

    return 0;
}
