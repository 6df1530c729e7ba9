/*
 * miroir-split -- split a document payload into per-node NDJSON bodies
 * tagged with _miroir_shard / _miroir_o<i>, exactly as the write path
 * would (miroir_split()), so that tests can load emulated nodes directly.
 *
 *   cc -O2 -Isrc tools/miroir-split.c src/miroir_{router,split,split_ids,csv,\
 *      docid,bytes,error,json_scan,jspan}.c -lcjson -lxxhash -lm \
 *      -o miroir-split
 *   miroir-split --shards 64 --rf 2 --nodes n1,n2,n3 [--weights 1,1,2]
 *                [--format json|ndjson|csv] [--pk id] --out DIR < payload
 *
 * Writes DIR/<node id>.ndjson for every node (possibly empty).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "miroir_router.h"
#include "miroir_split.h"


static void
usage(void)
{
    fprintf(stderr, "usage: miroir-split --shards S --rf R --nodes a,b,c "
            "[--weights 1,1,2] [--format json|ndjson|csv] [--pk KEY] "
            "--out DIR < payload\n");
    exit(2);
}


int
main(int argc, char **argv)
{
    int                    i;
    char                  *nodes_arg, *weights_arg, *out_dir, *pk, *fmt;
    char                  *ids[MIROIR_MAX_NODES], *tok, *save, path[4096];
    char                  *buf;
    size_t                 n, len, cap;
    double                 w;
    FILE                  *f;
    miroir_node_t          nodes[MIROIR_MAX_NODES];
    miroir_error_t         err;
    miroir_router_t       *router;
    miroir_split_conf_t    conf;
    miroir_router_conf_t   rc;
    miroir_split_result_t  res;

    memset(&rc, 0, sizeof(rc));
    rc.nshards = 64;
    rc.rf = 1;
    rc.kind = MIROIR_ROUTE_CURRENT;
    rc.balance = MIROIR_ROUTER_BALANCE;
    nodes_arg = weights_arg = out_dir = pk = NULL;
    fmt = "json";

    for (i = 1; i < argc; i++) {
        if (i + 1 >= argc) {
            usage();
        }

        if (strcmp(argv[i], "--shards") == 0) {
            rc.nshards = (uint32_t) atoi(argv[++i]);
        } else if (strcmp(argv[i], "--rf") == 0) {
            rc.rf = (uint32_t) atoi(argv[++i]);
        } else if (strcmp(argv[i], "--nodes") == 0) {
            nodes_arg = argv[++i];
        } else if (strcmp(argv[i], "--weights") == 0) {
            weights_arg = argv[++i];
        } else if (strcmp(argv[i], "--format") == 0) {
            fmt = argv[++i];
        } else if (strcmp(argv[i], "--pk") == 0) {
            pk = argv[++i];
        } else if (strcmp(argv[i], "--out") == 0) {
            out_dir = argv[++i];
        } else {
            usage();
        }
    }

    if (nodes_arg == NULL || out_dir == NULL) {
        usage();
    }

    n = 0;
    for (tok = strtok_r(nodes_arg, ",", &save); tok && n < MIROIR_MAX_NODES;
         tok = strtok_r(NULL, ",", &save))
    {
        ids[n] = tok;
        nodes[n].id = tok;
        nodes[n].weight = 1.0;
        nodes[n].state = MIROIR_NODE_ACTIVE;
        n++;
    }

    if (weights_arg) {
        i = 0;
        for (tok = strtok_r(weights_arg, ",", &save); tok && (size_t) i < n;
             tok = strtok_r(NULL, ",", &save))
        {
            w = atof(tok);
            nodes[i++].weight = w;
        }
    }

    router = NULL;
    if (miroir_router_create(&rc, nodes, n, &router, &err) != MIROIR_OK) {
        fprintf(stderr, "miroir-split: router: %s\n", err.message);
        return 1;
    }

    cap = 1 << 20;
    len = 0;
    buf = malloc(cap);
    while (buf) {
        size_t  got = fread(buf + len, 1, cap - len, stdin);

        len += got;
        if (len < cap) {
            break;
        }

        cap *= 2;
        buf = realloc(buf, cap);
    }

    if (buf == NULL) {
        fprintf(stderr, "miroir-split: out of memory\n");
        return 1;
    }

    memset(&conf, 0, sizeof(conf));
    conf.format = strcmp(fmt, "ndjson") == 0 ? MIROIR_DOC_NDJSON
                  : strcmp(fmt, "csv") == 0 ? MIROIR_DOC_CSV
                  : MIROIR_DOC_JSON;
    conf.primary_key = pk;
    conf.route = miroir_router_table(router);

    memset(&res, 0, sizeof(res));
    if (miroir_split(&conf, buf, len, &res) != MIROIR_OK
        || res.err_kind != MIROIR_SPLIT_ERR_NONE)
    {
        fprintf(stderr, "miroir-split: %s\n", res.err.message);
        return 1;
    }

    for (i = 0; (size_t) i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s.ndjson", out_dir, ids[i]);
        f = fopen(path, "w");
        if (f == NULL) {
            fprintf(stderr, "miroir-split: %s: %s\n", path, strerror(errno));
            return 1;
        }

        if (res.parts[i].len) {
            fwrite(res.parts[i].body, 1, res.parts[i].len, f);
        }

        fclose(f);
    }

    printf("%s\n", res.primary_key ? res.primary_key : "");

    miroir_split_result_free(&res);
    miroir_router_free(router);
    free(buf);

    return 0;
}
