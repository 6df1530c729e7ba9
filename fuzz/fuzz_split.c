/*
 * fuzz_split.c -- libFuzzer target for the payload splitter.
 *
 * Byte 0 picks the format (JSON, NDJSON, CSV with ',' or ';') and the
 * primary key ("id", nested "a.id" or inferred); the rest is the body.
 * Checks: no crash or leak, a failure leaves no part, a success puts every
 * document on rf distinct owners as lines starting with the tags.  The
 * same body also goes through the delete-batch splitter.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "miroir_split.h"


static uint16_t           owners[8 * 2];
static const char *const  ids[3] = { "n0", "n1", "n2" };
static const char        *pks[3] = { "id", "a.id", NULL };


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    miroir_route_table_t   rt;
    miroir_split_conf_t    conf;
    miroir_split_result_t  res;
    uint64_t               total = 0;
    uint32_t               s, i;

    if (size < 1) {
        return 0;
    }

    for (s = 0; s < 8; s++) {
        owners[s * 2] = (uint16_t) (s % 3);
        owners[s * 2 + 1] = (uint16_t) ((s + 1) % 3);
    }

    rt.nshards = 8;
    rt.rf = 2;
    rt.nnodes = 3;
    rt.owners = owners;
    rt.node_ids = ids;

    conf.format = (miroir_doc_format_t) (data[0] % 3);
    conf.csv_delimiter = (data[0] & 0x10) ? ';' : 0;
    conf.primary_key = pks[(data[0] >> 2) % 3];
    conf.route = &rt;

    if (miroir_split(&conf, data + 1, size - 1, &res) == MIROIR_OK) {
        for (i = 0; i < res.nparts; i++) {
            if (res.err_kind != MIROIR_SPLIT_ERR_NONE) {
                if (res.parts[i].body != NULL || res.parts[i].ndocs) {
                    abort();
                }

                continue;
            }

            total += res.parts[i].ndocs;

            if (res.parts[i].ndocs
                && (res.parts[i].len < 20
                    || memcmp(res.parts[i].body, "{\"_miroir_shard\":", 17)
                    || res.parts[i].body[res.parts[i].len - 1] != '\n'))
            {
                abort();
            }
        }

        if (res.err_kind == MIROIR_SPLIT_ERR_NONE && total != 2 * res.ndocs) {
            abort();
        }
    }

    miroir_split_result_free(&res);

    if (miroir_split_ids(&rt, data + 1, size - 1, &res) == MIROIR_OK
        && res.err_kind == MIROIR_SPLIT_ERR_NONE)
    {
        total = 0;

        for (i = 0; i < res.nparts; i++) {
            total += res.parts[i].ndocs;
        }

        if (total != 2 * res.ndocs) {
            abort();
        }
    }

    miroir_split_result_free(&res);

    return 0;
}
