/*
 * bench_merge.c -- cost of merging 16 node answers of 20 hits each (the
 * client asked offset 0, limit 20), side by side with only cJSON-parsing
 * the same 16 bodies.  Goal: merge <= 1.5 x parse.
 *
 * Hits look like the golden movies documents with full 1.50 ranking
 * details (6 rules and a sort).  Prints `name: value unit` lines.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "miroir_merge.h"


#define NODES  16
#define HITS   20
#define ITERS  2000


static double
now_us(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}


static char *
make_body(unsigned node, size_t *len)
{
    miroir_buf_t  b;
    char          tmp[1024];
    unsigned      i, w, rank;

    memset(&b, 0, sizeof(b));
    miroir_buf_adds(&b, "{\"hits\":[");

    for (i = 0; i < HITS; i++) {
        rank = i + node % 3;
        w = 2 - (rank / 12 > 1 ? 1 : rank / 12);
        snprintf(tmp, sizeof(tmp),
            "%s{\"id\":%u,\"title\":\"The Dark Knight %u\",\"overview\":"
            "\"Batman raises the stakes in his war on crime in Gotham, part "
            "%u of the saga\",\"genres\":[\"action\",\"crime\",\"drama\"],"
            "\"year\":%u,\"rating\":%u.%u,\"director\":\"Christopher Nolan\","
            "\"_miroir_o0\":\"n%u\",\"_rankingScore\":0.%u,"
            "\"_rankingScoreDetails\":{\"words\":{\"order\":0,"
            "\"matchingWords\":%u,\"maxMatchingWords\":2,\"score\":%s},"
            "\"typo\":{\"order\":1,\"typoCount\":0,\"maxTypoCount\":2,"
            "\"score\":1.0},\"proximity\":{\"order\":2,\"score\":1.0},"
            "\"attributeRank\":{\"order\":3,\"score\":1.0},",
            i ? "," : "", node * 1000 + i, i, node, 2020 - rank, 9 - rank / 3,
            rank % 10, node, 99 - rank, w, w == 2 ? "1.0" : "0.5");
        miroir_buf_adds(&b, tmp);
        snprintf(tmp, sizeof(tmp),
            "\"year:desc\":{\"order\":4,\"value\":%u.0},"
            "\"wordPosition\":{\"order\":5,\"score\":0.%u},"
            "\"exactness\":{\"order\":6,\"matchType\":\"noExactMatch\","
            "\"matchingWords\":2,\"maxMatchingWords\":2,"
            "\"score\":0.3333333333333333}}}",
            2020 - rank, 9047619 - rank % 4);
        miroir_buf_adds(&b, tmp);
    }

    miroir_buf_adds(&b, "],\"query\":\"dark knight\",\"processingTimeMs\":2,"
                    "\"limit\":20,\"offset\":0,\"estimatedTotalHits\":412,"
                    "\"requestUid\":\"0190d2b4-6f00-7000-8000-000000000000\"}");
    miroir_buf_addc(&b, '\0');

    *len = b.len - 1;

    return b.data;
}


int
main(void)
{
    char                  *bodies[NODES], *out;
    size_t                 lens[NODES], total, len, i, it;
    miroir_merge_params_t  p;
    miroir_merge_t        *m;
    miroir_error_t         err;
    cJSON                 *j;
    double                 t0, parse_us, merge_us, sink;

    total = 0;
    for (i = 0; i < NODES; i++) {
        bodies[i] = make_body((unsigned) i, &lens[i]);
        total += lens[i];
    }

    memset(&p, 0, sizeof(p));
    p.limit = 20;
    p.max_total_hits = 1000;
    p.facets.max_values = 100;

    sink = 0;

    /* warm up both paths */
    for (it = 0; it < 50; it++) {
        for (i = 0; i < NODES; i++) {
            j = cJSON_ParseWithLength(bodies[i], lens[i]);
            sink += j != NULL;
            cJSON_Delete(j);
        }
    }

    t0 = now_us();
    for (it = 0; it < ITERS; it++) {
        for (i = 0; i < NODES; i++) {
            j = cJSON_ParseWithLength(bodies[i], lens[i]);
            sink += j != NULL;
            cJSON_Delete(j);
        }
    }
    parse_us = (now_us() - t0) / ITERS;

    t0 = now_us();
    for (it = 0; it < ITERS; it++) {
        if (miroir_merge_create(&p, NODES, &m, &err) != MIROIR_OK) {
            return 1;
        }
        for (i = 0; i < NODES; i++) {
            if (miroir_merge_add(m, i, bodies[i], lens[i], &err)
                != MIROIR_OK)
            {
                fprintf(stderr, "add: %s\n", err.message);
                return 1;
            }
        }
        if (miroir_merge_result(m, 3, &out, &len, &err) != MIROIR_OK) {
            return 1;
        }
        sink += (double) len;
        free(out);
        miroir_merge_free(m);
    }
    merge_us = (now_us() - t0) / ITERS;

    printf("input_bytes: %zu bytes\n", total);
    printf("cjson_parse_16x20: %.1f us\n", parse_us);
    printf("merge_16x20: %.1f us\n", merge_us);
    printf("merge_over_parse: %.2f x\n", merge_us / parse_us);
    printf("merge_throughput: %.0f MB/s\n", total / merge_us);

    for (i = 0; i < NODES; i++) {
        free(bodies[i]);
    }

    return sink < 0;
}
