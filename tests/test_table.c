/*
 * test_table.c -- the stateful shard table: balance after sequences of
 * changes, minimal movement (adds move copies only onto the new node,
 * about R*S/(N+1) of them; removals move only the removed node's copies),
 * weights honoured within 10%, and the errors.
 */

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "miroir_table.h"
#include "miroir_router.h"


#define NS  1024


typedef struct {
    char             ids[MIROIR_MAX_NODES][24];
    miroir_node_t    nodes[MIROIR_MAX_NODES];
    size_t           nnodes;
    uint32_t         rf;
    uint16_t        *owners;
} cluster_t;


static void
cluster_init(cluster_t *c, size_t n, uint32_t rf, const double *weights)
{
    size_t                i;
    miroir_router_t      *r;
    miroir_error_t        err;
    miroir_router_conf_t  conf = { NS, rf, MIROIR_ROUTE_CURRENT,
                                   MIROIR_ROUTER_BALANCE };

    memset(c, 0, sizeof(*c));
    c->nnodes = n;
    c->rf = rf;

    for (i = 0; i < n; i++) {
        snprintf(c->ids[i], sizeof(c->ids[i]), "n%zu", i + 1);
        c->nodes[i].id = c->ids[i];
        c->nodes[i].weight = weights ? weights[i] : 1.0;
        c->nodes[i].state = MIROIR_NODE_ACTIVE;
    }

    ck_assert_int_eq(miroir_router_create(&conf, c->nodes, n, &r, &err),
                     MIROIR_OK);
    c->owners = malloc(NS * rf * sizeof(uint16_t));
    memcpy(c->owners, r->owners, NS * rf * sizeof(uint16_t));
    miroir_router_free(r);
}


/* Apply a change; return the number of copies that moved. */
static uint32_t
cluster_next(cluster_t *c, size_t old_nnodes, int32_t focus,
    int32_t only_to, int32_t only_from)
{
    size_t                i;
    uint16_t             *next;
    uint32_t              moved;
    miroir_error_t        err;
    miroir_route_table_t  rt = { NS, c->rf, (uint32_t) old_nnodes,
                                 c->owners, NULL };

    next = malloc(NS * c->rf * sizeof(uint16_t));
    ck_assert_int_eq(miroir_table_next(&rt, c->nodes, c->nnodes, focus,
                                       NULL, next, &err), MIROIR_OK);
    moved = 0;

    for (i = 0; i < (size_t) NS * c->rf; i++) {
        if (next[i] != c->owners[i]) {
            moved++;

            if (only_to >= 0) {
                ck_assert_uint_eq(next[i], (uint32_t) only_to);
            }

            if (only_from >= 0) {
                ck_assert_uint_eq(c->owners[i], (uint32_t) only_from);
            }
        }
    }

    free(c->owners);
    c->owners = next;

    return moved;
}


/*
 * Every shard has rf distinct eligible owners; each node's load (copies /
 * target) is at most lim, and at least 2 - lim when two_sided (the
 * router's initial table bounds only the fullest node).
 */
static void
cluster_check2(cluster_t *c, double lim, int two_sided)
{
    double    wsum, t, load;
    size_t    i;
    uint32_t  s, j, k, copies[MIROIR_MAX_NODES];

    memset(copies, 0, sizeof(copies));

    for (s = 0; s < NS; s++) {
        for (j = 0; j < c->rf; j++) {
            uint16_t  x = c->owners[s * c->rf + j];

            ck_assert_uint_lt(x, c->nnodes);
            ck_assert(miroir_table_eligible(c->nodes[x].state));

            for (k = 0; k < j; k++) {
                ck_assert_uint_ne(c->owners[s * c->rf + k], x);
            }

            copies[x]++;
        }
    }

    wsum = 0.0;

    for (i = 0; i < c->nnodes; i++) {
        if (miroir_table_eligible(c->nodes[i].state)) {
            wsum += c->nodes[i].weight;
        }
    }

    for (i = 0; i < c->nnodes; i++) {
        if (!miroir_table_eligible(c->nodes[i].state)) {
            ck_assert_uint_eq(copies[i], 0);
            continue;
        }

        t = (double) NS * c->rf * c->nodes[i].weight / wsum;
        load = copies[i] / t;

        if (load > lim || (two_sided && load < 2.0 - lim)) {
            ck_abort_msg("node %s holds %u copies, target %.1f (rf %u)",
                         c->nodes[i].id, copies[i], t, c->rf);
        }
    }
}


static void
cluster_check(cluster_t *c, double lim)
{
    cluster_check2(c, lim, 0);
}


static uint32_t
cluster_held(cluster_t *c, size_t x)
{
    size_t    i;
    uint32_t  n;

    n = 0;

    for (i = 0; i < (size_t) NS * c->rf; i++) {
        n += c->owners[i] == x;
    }

    return n;
}


static size_t
cluster_add(cluster_t *c, double weight)
{
    size_t  x;

    x = c->nnodes++;
    snprintf(c->ids[x], sizeof(c->ids[x]), "n%zu", x + 1);
    c->nodes[x].id = c->ids[x];
    c->nodes[x].weight = weight;
    c->nodes[x].state = MIROIR_NODE_JOINING;

    return x;
}


START_TEST(test_add_one)
{
    size_t     x;
    uint32_t   rf, moved;
    cluster_t  c;

    for (rf = 1; rf <= 3; rf++) {
        cluster_init(&c, 16, rf, NULL);
        cluster_check(&c, 1.10);

        x = cluster_add(&c, 1.0);
        moved = cluster_next(&c, 16, (int32_t) x, (int32_t) x, -1);

        ck_assert_uint_le(moved, (uint32_t) (1.1 * rf * NS / 17.0));
        ck_assert_uint_ge(moved, (uint32_t) (0.9 * rf * NS / 17.0));
        cluster_check(&c, 1.10);
        free(c.owners);
    }
}
END_TEST


START_TEST(test_drain_and_remove)
{
    uint32_t   rf, moved, held;
    cluster_t  c;

    for (rf = 1; rf <= 3; rf++) {
        cluster_init(&c, 16, rf, NULL);

        held = cluster_held(&c, 3);
        c.nodes[3].state = MIROIR_NODE_DRAINING;
        moved = cluster_next(&c, 16, -1, -1, 3);
        ck_assert_uint_eq(moved, held);
        cluster_check(&c, 1.10);

        /* removing a drained node moves nothing more */
        c.nodes[3].state = MIROIR_NODE_REMOVED;
        ck_assert_uint_eq(cluster_next(&c, 16, -1, -1, -1), 0);

        /* a dead node removed by force: only its shards move */
        c.nodes[7].state = MIROIR_NODE_REMOVED;
        moved = cluster_next(&c, 16, -1, -1, 7);
        ck_assert_uint_gt(moved, 0);
        cluster_check(&c, 1.10);
        free(c.owners);
    }
}
END_TEST


/* Random adds and removes from 16 equal nodes keep everything in bounds. */
START_TEST(test_random_sequences)
{
    int        step, seq, live, pick;
    size_t     x, i, old;
    uint32_t   rf, moved, held;
    cluster_t  c;

    srand(12345);

    for (rf = 1; rf <= 3; rf++) {
        for (seq = 0; seq < 4; seq++) {
            cluster_init(&c, 16, rf, NULL);

            for (step = 0; step < 20; step++) {
                live = 0;

                for (i = 0; i < c.nnodes; i++) {
                    live += miroir_table_eligible(c.nodes[i].state);
                }

                old = c.nnodes;

                if ((rand() % 2 == 0 || live <= 6)
                    && c.nnodes < MIROIR_MAX_NODES)
                {
                    x = cluster_add(&c, 1.0);
                    moved = cluster_next(&c, old, (int32_t) x, (int32_t) x,
                                         -1);
                    ck_assert_uint_le(moved,
                        (uint32_t) (1.1 * rf * NS / (live + 1.0)) + 1);

                } else {
                    pick = rand() % live;

                    for (i = 0; i < c.nnodes; i++) {
                        if (miroir_table_eligible(c.nodes[i].state)
                            && pick-- == 0)
                        {
                            break;
                        }
                    }

                    held = cluster_held(&c, i);

                    c.nodes[i].state = MIROIR_NODE_REMOVED;
                    moved = cluster_next(&c, old, -1, -1, (int32_t) i);
                    ck_assert_uint_eq(moved, held);
                }

                cluster_check(&c, 1.10);
            }

            free(c.owners);
        }
    }
}
END_TEST


/* Unequal weights, then reweights: every node within 10% of its share. */
START_TEST(test_weights)
{
    int        step;
    size_t     i, x;
    uint32_t   rf;
    double     w[16];
    cluster_t  c;

    srand(777);

    for (rf = 1; rf <= 3; rf++) {
        for (i = 0; i < 16; i++) {
            w[i] = 1 + rand() % 3;
        }

        cluster_init(&c, 16, rf, w);

        /* the router's table is the start; bring each node to target */
        for (i = 0; i < 16; i++) {
            cluster_next(&c, 16, (int32_t) i, -1, -1);
        }

        cluster_check2(&c, 1.10, 1);

        for (step = 0; step < 10; step++) {
            i = (size_t) (rand() % 16);
            c.nodes[i].weight = 1 + rand() % 4;
            cluster_next(&c, 16, (int32_t) i, -1, -1);
            cluster_check2(&c, 1.10, 1);
        }

        /* a heavy node added takes a bigger share, only onto itself */
        x = cluster_add(&c, 4.0);
        cluster_next(&c, 16, (int32_t) x, (int32_t) x, -1);
        cluster_check2(&c, 1.10, 1);

        free(c.owners);
    }
}
END_TEST


/* A reweight moves copies only to or from the reweighted node. */
START_TEST(test_reweight_moves_only_that_node)
{
    size_t     i, j;
    uint16_t  *before;
    cluster_t  c;

    cluster_init(&c, 8, 2, NULL);
    before = malloc(NS * 2 * sizeof(uint16_t));
    memcpy(before, c.owners, NS * 2 * sizeof(uint16_t));

    c.nodes[2].weight = 2.0;
    cluster_next(&c, 8, 2, 2, -1);
    cluster_check(&c, 1.10);

    memcpy(before, c.owners, NS * 2 * sizeof(uint16_t));
    c.nodes[2].weight = 0.5;
    cluster_next(&c, 8, 2, -1, 2);
    cluster_check(&c, 1.10);

    for (i = 0; i < NS; i++) {
        for (j = 0; j < 2; j++) {
            if (before[i * 2 + j] != c.owners[i * 2 + j]) {
                ck_assert_uint_eq(before[i * 2 + j], 2);
            }
        }
    }

    free(before);
    free(c.owners);
}
END_TEST


START_TEST(test_errors)
{
    uint16_t              out[NS * 2];
    cluster_t             c;
    miroir_error_t        err;
    miroir_route_table_t  rt;

    cluster_init(&c, 2, 2, NULL);
    rt = (miroir_route_table_t) { NS, 2, 2, c.owners, NULL };

    c.nodes[1].state = MIROIR_NODE_DRAINING;
    ck_assert_int_eq(miroir_table_next(&rt, c.nodes, 2, -1, NULL, out, &err),
                     MIROIR_ERROR);
    ck_assert_int_eq(err.status, 400);
    ck_assert_str_eq(err.code, "miroir_invalid_topology");

    c.nodes[1].state = MIROIR_NODE_ACTIVE;
    ck_assert_int_eq(miroir_table_next(&rt, c.nodes, 2, 5, NULL, out, &err),
                     MIROIR_ERROR);

    c.nodes[1].weight = NAN;
    ck_assert_int_eq(miroir_table_next(&rt, c.nodes, 2, -1, NULL, out, &err),
                     MIROIR_ERROR);

    /* an unchanged topology gives the same table */
    c.nodes[1].weight = 1.0;
    ck_assert_int_eq(miroir_table_next(&rt, c.nodes, 2, 1, NULL, out, &err),
                     MIROIR_OK);
    ck_assert_int_eq(memcmp(out, c.owners, sizeof(out)), 0);

    free(c.owners);
}
END_TEST


/* Changes stack on a pending target: add then remove moves nothing. */
START_TEST(test_stacked_add_remove)
{
    size_t                x;
    uint16_t             *cur, *tgt, *back;
    cluster_t             c;
    miroir_error_t        err;
    miroir_route_table_t  rt;

    cluster_init(&c, 16, 2, NULL);
    cur = c.owners;
    tgt = malloc(NS * 2 * sizeof(uint16_t));
    back = malloc(NS * 2 * sizeof(uint16_t));

    x = cluster_add(&c, 1.0);
    rt = (miroir_route_table_t) { NS, 2, 16, cur, NULL };
    ck_assert_int_eq(miroir_table_next(&rt, c.nodes, 17, (int32_t) x, cur,
                                       tgt, &err), MIROIR_OK);
    ck_assert_int_ne(memcmp(tgt, cur, NS * 2 * sizeof(uint16_t)), 0);

    c.nodes[x].state = MIROIR_NODE_REMOVED;
    rt = (miroir_route_table_t) { NS, 2, 17, tgt, NULL };
    ck_assert_int_eq(miroir_table_next(&rt, c.nodes, 17, -1, cur, back,
                                       &err), MIROIR_OK);
    ck_assert_int_eq(memcmp(back, cur, NS * 2 * sizeof(uint16_t)), 0);

    free(cur);
    free(tgt);
    free(back);
}
END_TEST


int
main(void)
{
    int       nf;
    Suite    *s;
    TCase    *tc;
    SRunner  *sr;

    s = suite_create("table");
    tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_add_one);
    tcase_add_test(tc, test_drain_and_remove);
    tcase_add_test(tc, test_random_sequences);
    tcase_add_test(tc, test_weights);
    tcase_add_test(tc, test_reweight_moves_only_that_node);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_stacked_add_remove);
    suite_add_tcase(s, tc);

    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    nf = srunner_ntests_failed(sr);
    srunner_free(sr);

    return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
