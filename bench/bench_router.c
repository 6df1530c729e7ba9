/*
 * bench_router.c -- router table build time and lookups per second,
 * S = 1024 shards, N = 16 nodes, RF = 2.
 *
 * Prints "name: value unit" lines.  A lookup is what a write does per
 * document: xxh3 of a 10-byte key, modulo S, then the owners row.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "miroir_router.h"


#define S        1024
#define N        16
#define RF       2
#define BUILDS   20
#define LOOKUPS  20000000


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static double
build_ms(const miroir_node_t *nodes, double balance)
{
    miroir_router_conf_t   conf;
    miroir_router_t       *r;
    miroir_error_t         err;
    double                 t0;
    int                    i;

    conf.nshards = S;
    conf.rf = RF;
    conf.kind = MIROIR_ROUTE_TARGET;
    conf.balance = balance;

    t0 = now();

    for (i = 0; i < BUILDS; i++) {
        if (miroir_router_create(&conf, nodes, N, &r, &err) != MIROIR_OK) {
            fprintf(stderr, "router: %s\n", err.message);
            exit(1);
        }

        miroir_router_free(r);
    }

    return (now() - t0) * 1000 / BUILDS;
}


int
main(void)
{
    static char                  ids[N][8];
    miroir_node_t                nodes[N];
    miroir_router_conf_t         conf;
    miroir_router_t             *r;
    miroir_error_t               err;
    const miroir_route_table_t  *rt;
    char                         key[16];
    uint64_t                     sink = 0;
    double                       t0, t;
    uint32_t                     i, s;
    int                          k;

    for (k = 0; k < N; k++) {
        snprintf(ids[k], sizeof(ids[k]), "n%d", k + 1);
        nodes[k].id = ids[k];
        nodes[k].weight = 1;
        nodes[k].state = MIROIR_NODE_ACTIVE;
    }

    printf("router_build_balanced: %.3f ms\n",
           build_ms(nodes, MIROIR_ROUTER_BALANCE));
    printf("router_build_plain_hrw: %.3f ms\n", build_ms(nodes, 0));

    conf.nshards = S;
    conf.rf = RF;
    conf.kind = MIROIR_ROUTE_TARGET;
    conf.balance = MIROIR_ROUTER_BALANCE;

    if (miroir_router_create(&conf, nodes, N, &r, &err) != MIROIR_OK) {
        fprintf(stderr, "router: %s\n", err.message);
        return 1;
    }

    rt = miroir_router_table(r);
    memcpy(key, "doc-000000", 10);

    t0 = now();

    for (i = 0; i < LOOKUPS; i++) {
        /* cheap distinct keys: the last 4 bytes vary */
        memcpy(key + 6, &i, sizeof(i));
        s = miroir_route_shard(rt, key, 10);
        sink += miroir_route_owners(rt, s)[RF - 1];
    }

    t = now() - t0;

    printf("router_lookups: %.1f Mlookups/s\n", LOOKUPS / t / 1e6);
    printf("router_lookup_ns: %.1f ns\n", t * 1e9 / LOOKUPS);

    if (sink == 1) {
        puts("");
    }

    miroir_router_free(r);

    return 0;
}
