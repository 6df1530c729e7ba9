/*
 * bench_split.c -- payload splitter throughput against cJSON_Parse.
 *
 * Builds a ~20 MB (or argv[1] MB) JSON array of movie-like documents in
 * memory (nested arrays and objects, escapes, numbers), then times
 * miroir_split() (3 nodes, 1024 shards, rf 2) and cJSON_Parse() +
 * cJSON_Delete() on the same bytes; best of 3 runs each.  Also NDJSON and CSV splitting.
 * Prints "name: value unit" lines.
 */

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "miroir_split.h"
#include "miroir_bytes.h"


#define NSHARDS  1024
#define RF       2
#define TARGET   (20u * 1000 * 1000)     /* bytes; argv[1] = MB overrides */

static uint16_t           owners[NSHARDS * RF];
static const char *const  ids[3] = { "node-a", "node-b", "node-c" };


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}


static void
gen_doc(miroir_bytes_t *b, unsigned i, int string_id)
{
    char  tmp[512];

    if (string_id) {
        snprintf(tmp, sizeof(tmp), "{\"id\": \"movie-%u\", ", i);
    } else {
        snprintf(tmp, sizeof(tmp), "{\"id\": %u, ", i);
    }

    miroir_bytes_puts(b, tmp);
    snprintf(tmp, sizeof(tmp),
        "\"title\": \"The \\\"Dark\\\" Knight %u\", \"overview\": \"Batman "
        "raises the stakes in his war on crime in Gotham \\u00e9t\\u00e9 "
        "with Lt. Jim Gordon and DA Harvey Dent, number %u\", "
        "\"genres\": [\"action\", \"crime\", \"drama\"], \"year\": %u, "
        "\"rating\": %u.%u, \"cast\": [{\"name\": \"Christian Bale\", "
        "\"role\": \"Bruce\"}, {\"name\": \"Heath Ledger\", \"role\": "
        "\"Joker\"}], \"meta\": {\"votes\": %u, \"tags\": [], "
        "\"ok\": true, \"x\": null}}", i, i * 7, 1950 + i % 70, i % 10,
        i % 7, i * 13);
    miroir_bytes_puts(b, tmp);
}


static double
bench_split(miroir_doc_format_t fmt, const unsigned char *p, size_t len,
    uint64_t *ndocs)
{
    miroir_route_table_t   rt = { NSHARDS, RF, 3, owners, ids };
    miroir_split_conf_t    conf = { fmt, 0, "id", &rt };
    miroir_split_result_t  res;
    double                 t, best = 1e9;
    int                    r;

    for (r = 0; r < 3; r++) {
        t = now();

        if (miroir_split(&conf, p, len, &res) != MIROIR_OK
            || res.err_kind != MIROIR_SPLIT_ERR_NONE)
        {
            fprintf(stderr, "split failed: %s\n", res.err.message);
            exit(1);
        }

        t = now() - t;
        *ndocs = res.ndocs;
        miroir_split_result_free(&res);

        if (t < best) {
            best = t;
        }
    }

    return (double) len / best / 1e6;
}


int
main(int argc, char **argv)
{
    miroir_bytes_t  json, ndjson, csv;
    unsigned        i, s;
    double          t, best = 1e9, split_mbs, cjson_mbs, mbs;
    uint64_t        ndocs = 0;
    cJSON          *root;
    int             r;
    char            tmp[256];
    size_t          target = TARGET;

    if (argc > 1) {
        target = (size_t) strtoul(argv[1], NULL, 10) * 1000 * 1000;
    }

    for (s = 0; s < NSHARDS; s++) {
        owners[s * RF] = (uint16_t) (s % 3);
        owners[s * RF + 1] = (uint16_t) ((s + 1) % 3);
    }

    miroir_bytes_init(&json);
    miroir_bytes_init(&ndjson);
    miroir_bytes_init(&csv);

    miroir_bytes_putc(&json, '[');
    miroir_bytes_puts(&csv, "id,title,year:number,rating:number,ok:boolean,"
                            "overview\n");

    for (i = 0; json.len < target; i++) {
        if (i) {
            miroir_bytes_puts(&json, ",\n");
        }

        gen_doc(&json, i, i % 2);
        gen_doc(&ndjson, i, i % 2);
        miroir_bytes_putc(&ndjson, '\n');

        snprintf(tmp, sizeof(tmp), "movie-%u,\"The \"\"Dark\"\" Knight %u\","
                 "%u,%u.%u,true,\"Batman raises the stakes in his war on "
                 "crime, in Gotham\"\n", i, i, 1950 + i % 70, i % 10, i % 7);
        miroir_bytes_puts(&csv, tmp);
    }

    miroir_bytes_putc(&json, ']');
    miroir_bytes_putc(&json, '\0');             /* for cJSON */
    json.len--;

    printf("payload_json: %.1f MB\n", (double) json.len / 1e6);
    printf("payload_docs: %u docs\n", i);

    split_mbs = bench_split(MIROIR_DOC_JSON, json.data, json.len, &ndocs);
    printf("split_json: %.0f MB/s\n", split_mbs);

    for (r = 0; r < 3; r++) {
        t = now();
        root = cJSON_ParseWithLength((const char *) json.data, json.len);

        if (root == NULL) {
            fprintf(stderr, "cJSON failed\n");
            return 1;
        }

        cJSON_Delete(root);
        t = now() - t;

        if (t < best) {
            best = t;
        }
    }

    cjson_mbs = (double) json.len / best / 1e6;
    printf("cjson_parse: %.0f MB/s\n", cjson_mbs);
    printf("split_vs_cjson: %.2f x\n", split_mbs / cjson_mbs);

    mbs = bench_split(MIROIR_DOC_NDJSON, ndjson.data, ndjson.len, &ndocs);
    printf("split_ndjson: %.0f MB/s\n", mbs);

    mbs = bench_split(MIROIR_DOC_CSV, csv.data, csv.len, &ndocs);
    printf("split_csv: %.0f MB/s\n", mbs);

    miroir_bytes_free(&json);
    miroir_bytes_free(&ndjson);
    miroir_bytes_free(&csv);

    return 0;
}
