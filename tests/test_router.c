/*
 * test_router.c -- placement: hash vectors, balance, weights, movement.
 */

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "miroir_router.h"


#define S       1024
#define MAXN    40

/* miroir_router_score() of the table in test_hash_vectors, %.12g */
#define HASH_VECTORS                                                         \
    "5.76031127577 13.0622141706 2.64099408413 2.5909801598 1.14268150039 "


typedef struct {
    char                 ids[MAXN][16];
    miroir_node_t        nodes[MAXN];
    size_t               n;
} fleet_t;


static void
fleet_init(fleet_t *f, size_t n, const char *fmt)
{
    size_t  i;

    memset(f, 0, sizeof(*f));
    f->n = n;

    for (i = 0; i < MAXN; i++) {
        snprintf(f->ids[i], sizeof(f->ids[i]), fmt, (int) i + 1);
        f->nodes[i].id = f->ids[i];
        f->nodes[i].weight = 1.0;
        f->nodes[i].state = MIROIR_NODE_ACTIVE;
    }
}


static miroir_router_t *
build(const fleet_t *f, uint32_t rf, double balance, miroir_route_kind_e k)
{
    miroir_router_conf_t   conf;
    miroir_router_t       *r;
    miroir_error_t         err;
    miroir_rc_t            rc;

    conf.nshards = S;
    conf.rf = rf;
    conf.kind = k;
    conf.balance = balance;

    rc = miroir_router_create(&conf, f->nodes, f->n, &r, &err);
    ck_assert_msg(rc == MIROIR_OK, "router: %s", err.message);

    return r;
}


static int
owns(const miroir_route_table_t *rt, uint32_t s, int node)
{
    const uint16_t  *o = miroir_route_owners(rt, s);
    uint32_t         j;

    for (j = 0; j < rt->rf; j++) {
        if (o[j] == node) {
            return 1;
        }
    }

    return 0;
}


/* Node indexes are positions in each fleet; map b's owner into a by id. */
typedef struct {
    size_t   moved;         /* copies present in b but not in a */
    size_t   not_onto;      /* ... whose new owner is not `onto` */
    size_t   not_held;      /* ... on a shard `from` did not hold in a */
} diff_t;


static diff_t
diff(const miroir_route_table_t *a, const miroir_route_table_t *b,
    const char *onto, const char *from)
{
    diff_t           d;
    uint32_t         s, j;
    int              ia, fa;
    const uint16_t  *ob;

    memset(&d, 0, sizeof(d));
    fa = from ? miroir_route_node_index(a, from) : -1;

    for (s = 0; s < b->nshards; s++) {
        ob = miroir_route_owners(b, s);

        for (j = 0; j < b->rf; j++) {
            ia = miroir_route_node_index(a, b->node_ids[ob[j]]);

            if (ia >= 0 && owns(a, s, ia)) {
                continue;
            }

            d.moved++;

            if (onto == NULL || strcmp(b->node_ids[ob[j]], onto) != 0) {
                d.not_onto++;
            }

            if (fa < 0 || !owns(a, s, fa)) {
                d.not_held++;
            }
        }
    }

    return d;
}


static double
max_over_mean(const uint32_t *v, size_t n, double mean)
{
    double  mx = 0;
    size_t  i;

    for (i = 0; i < n; i++) {
        if (v[i] > mx) {
            mx = v[i];
        }
    }

    return mx / mean;
}


/* The hash must never change: pin it. */

START_TEST(test_hash_vectors)
{
    static const struct {
        const char  *id;
        double       w;
        uint32_t     s;
    } v[] = {
        { "n1", 1.0, 0 }, { "n1", 1.0, 1 }, { "n2", 1.0, 0 },
        { "node-a", 2.0, 1023 }, { "x", 0.5, 65535 },
    };
    char    buf[512];
    size_t  i, len = 0;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        len += (size_t) snprintf(buf + len, sizeof(buf) - len, "%.12g ",
                                 miroir_router_score(v[i].id, v[i].w, v[i].s));
    }

    /* the seed is the shard number, u from the top 53 bits */
    ck_assert_uint_eq(XXH3_64bits_withSeed("n1", 2, 7),
                      XXH3_64bits_withSeed("n1", 2, 7));
    ck_assert_str_eq(buf, HASH_VECTORS);
}
END_TEST


START_TEST(test_balance)
{
    fleet_t           f;
    miroir_router_t  *r;
    uint32_t          rf;
    double            c, p;

    fleet_init(&f, 16, "n%d");

    for (rf = 1; rf <= 3; rf++) {
        r = build(&f, rf, MIROIR_ROUTER_BALANCE, MIROIR_ROUTE_TARGET);

        c = max_over_mean(r->copies, 16, (double) S * rf / 16);
        p = max_over_mean(r->primaries, 16, (double) S / 16);

        fprintf(stderr, "balance rf=%u copies max/mean=%.3f "
                "primaries max/mean=%.3f\n", rf, c, p);

        ck_assert_msg(c <= 1.10, "rf %u copies %.3f", rf, c);
        ck_assert_msg(p <= 1.10, "rf %u primaries %.3f", rf, p);

        miroir_router_free(r);

        r = build(&f, rf, 0, MIROIR_ROUTE_TARGET);
        c = max_over_mean(r->copies, 16, (double) S * rf / 16);
        fprintf(stderr, "plain HRW rf=%u copies max/mean=%.3f\n", rf, c);
        ck_assert(c <= 1.5);
        miroir_router_free(r);
    }
}
END_TEST


/* Balance holds for many node sets, not just n1..n16. */
START_TEST(test_balance_random_sets)
{
    fleet_t           f;
    miroir_router_t  *r;
    uint32_t          rf;
    char              fmt[32];
    double            c, worst[4] = { 0 };
    int               t;

    for (t = 0; t < 10; t++) {
        snprintf(fmt, sizeof(fmt), "set%d-%%d", t);
        fleet_init(&f, 16, fmt);

        for (rf = 1; rf <= 3; rf++) {
            r = build(&f, rf, MIROIR_ROUTER_BALANCE, MIROIR_ROUTE_TARGET);
            c = max_over_mean(r->copies, 16, (double) S * rf / 16);
            ck_assert_msg(c <= 1.10, "set %d rf %u: %.3f", t, rf, c);

            if (c > worst[rf]) {
                worst[rf] = c;
            }

            miroir_router_free(r);
        }
    }

    fprintf(stderr, "10 random sets worst max/mean rf1 %.3f rf2 %.3f "
            "rf3 %.3f\n", worst[1], worst[2], worst[3]);
}
END_TEST


START_TEST(test_weights)
{
    static const double  modes[] = { MIROIR_ROUTER_BALANCE, 0 };
    fleet_t              f;
    miroir_router_t     *r;
    uint32_t             rf;
    double               mean, ratio;
    size_t               i, m;

    fleet_init(&f, 8, "w%d");
    f.nodes[3].weight = 2.0;

    for (m = 0; m < 2; m++) {
        for (rf = 1; rf <= 3; rf++) {
            r = build(&f, rf, modes[m], MIROIR_ROUTE_TARGET);

            mean = 0;
            for (i = 0; i < 8; i++) {
                if (i != 3) {
                    mean += r->copies[i];
                }
            }

            mean /= 7;
            ratio = r->copies[3] / mean;

            fprintf(stderr, "weight 2 (balance %.2f) rf=%u holds %.3fx\n",
                    modes[m], rf, ratio);

            /* the bound must keep it within 10%; plain HRW within 20% */
            ck_assert(ratio >= (m == 0 ? 1.8 : 1.6));
            ck_assert(ratio <= (m == 0 ? 2.2 : 2.4));

            miroir_router_free(r);
        }
    }
}
END_TEST


/* Mixed weights: every node within 10% of its weighted share. */
START_TEST(test_weights_mixed)
{
    fleet_t           f;
    miroir_router_t  *r;
    uint32_t          rf;
    double            w, target, ratio, lo, hi;
    size_t            i;

    fleet_init(&f, 16, "m%d");
    w = 0;
    for (i = 0; i < 16; i++) {
        f.nodes[i].weight = 1 + i % 3;
        w += f.nodes[i].weight;
    }

    for (rf = 1; rf <= 3; rf++) {
        r = build(&f, rf, MIROIR_ROUTER_BALANCE, MIROIR_ROUTE_TARGET);
        lo = 10;
        hi = 0;

        for (i = 0; i < 16; i++) {
            target = (double) rf * S * f.nodes[i].weight / w;
            ratio = r->copies[i] / target;
            lo = ratio < lo ? ratio : lo;
            hi = ratio > hi ? ratio : hi;
        }

        fprintf(stderr, "weights 1,2,3 rf=%u copies/share in [%.3f, %.3f]\n",
                rf, lo, hi);
        ck_assert(lo >= 0.90 && hi <= 1.10);
        miroir_router_free(r);
    }
}
END_TEST


/* Extreme weights: no room anywhere for some copies, still a table. */
START_TEST(test_weights_extreme)
{
    fleet_t           f;
    miroir_router_t  *r;
    uint32_t          rf, s, j, k;
    const uint16_t   *o;

    fleet_init(&f, 3, "x%d");
    f.nodes[0].weight = 100;

    for (rf = 1; rf <= 3; rf++) {
        r = build(&f, rf, MIROIR_ROUTER_BALANCE, MIROIR_ROUTE_TARGET);

        for (s = 0; s < S; s++) {
            o = miroir_route_owners(&r->table, s);
            for (j = 0; j < rf; j++) {
                ck_assert_uint_lt(o[j], 3);
                for (k = 0; k < j; k++) {
                    ck_assert_uint_ne(o[j], o[k]);
                }
            }
        }

        ck_assert_uint_eq(r->copies[0] + r->copies[1] + r->copies[2],
                          rf * S);
        ck_assert_uint_ge(r->copies[0], rf == 1 ? 900 : S);
        miroir_router_free(r);
    }
}
END_TEST


/* Plain HRW: strictly minimal movement. */
START_TEST(test_add_remove_plain)
{
    fleet_t           f;
    miroir_router_t  *a, *b;
    uint32_t          rf;
    diff_t            d;
    double            bound;

    fleet_init(&f, 16, "n%d");

    for (rf = 1; rf <= 3; rf++) {
        a = build(&f, rf, 0, MIROIR_ROUTE_TARGET);

        f.n = 17;
        b = build(&f, rf, 0, MIROIR_ROUTE_TARGET);
        f.n = 16;

        d = diff(&a->table, &b->table, "n17", NULL);
        bound = 1.1 * rf * S / 17.0;

        fprintf(stderr, "plain add rf=%u moved %zu (bound %.1f, "
                "minimal %.1f)\n", rf, d.moved, bound, rf * S / 17.0);

        ck_assert_uint_eq(d.not_onto, 0);
        ck_assert(d.moved <= bound);
        ck_assert_uint_eq(d.moved, b->copies[16]);

        miroir_router_free(b);

        /* remove n5 */
        f.nodes[4].state = MIROIR_NODE_REMOVED;
        b = build(&f, rf, 0, MIROIR_ROUTE_TARGET);
        f.nodes[4].state = MIROIR_NODE_ACTIVE;

        d = diff(&a->table, &b->table, NULL, "n5");
        ck_assert_uint_eq(d.not_held, 0);
        ck_assert_uint_eq(d.moved, a->copies[4]);
        ck_assert_uint_eq(b->copies[4], 0);

        miroir_router_free(a);
        miroir_router_free(b);
    }
}
END_TEST


/* Balanced mode: movement close to minimal, few moves between old nodes. */
START_TEST(test_add_remove_balanced)
{
    fleet_t           f;
    miroir_router_t  *a, *b;
    uint32_t          rf;
    diff_t            d;
    double            minimal;

    fleet_init(&f, 16, "n%d");

    for (rf = 1; rf <= 3; rf++) {
        a = build(&f, rf, MIROIR_ROUTER_BALANCE, MIROIR_ROUTE_TARGET);

        f.n = 17;
        b = build(&f, rf, MIROIR_ROUTER_BALANCE, MIROIR_ROUTE_TARGET);
        f.n = 16;

        d = diff(&a->table, &b->table, "n17", NULL);
        minimal = rf * S / 17.0;

        fprintf(stderr, "balanced add rf=%u moved %zu = %.3fx minimal, "
                "%zu between old nodes\n", rf, d.moved, d.moved / minimal,
                d.not_onto);

        ck_assert(d.moved <= 1.25 * minimal);
        ck_assert(d.not_onto <= 0.25 * minimal);

        miroir_router_free(b);

        f.nodes[4].state = MIROIR_NODE_REMOVED;
        b = build(&f, rf, MIROIR_ROUTER_BALANCE, MIROIR_ROUTE_TARGET);
        f.nodes[4].state = MIROIR_NODE_ACTIVE;

        d = diff(&a->table, &b->table, NULL, "n5");

        fprintf(stderr, "balanced remove rf=%u moved %zu (held %u), "
                "%zu on shards n5 did not hold\n", rf, d.moved,
                a->copies[4], d.not_held);

        ck_assert_uint_eq(b->copies[4], 0);
        ck_assert(d.moved <= 1.3 * a->copies[4]);

        miroir_router_free(a);
        miroir_router_free(b);
    }
}
END_TEST


/* Seeded random add/remove sequences. */
START_TEST(test_property_sequences)
{
    fleet_t           f;
    miroir_router_t  *a, *b;
    uint32_t          rf, seed, live, s, j;
    int               step, pick, i;
    diff_t            d;
    char              prev[16];
    double            c;

    for (seed = 1; seed <= 4; seed++) {
        srand(seed);
        fleet_init(&f, 24, "p%d");
        rf = 1 + seed % 3;

        for (i = 0; i < 24; i++) {
            f.nodes[i].state = i < 8 ? MIROIR_NODE_ACTIVE
                                     : MIROIR_NODE_REMOVED;
        }

        a = build(&f, rf, 0, MIROIR_ROUTE_TARGET);

        for (step = 0; step < 12; step++) {
            live = 0;
            for (i = 0; i < 24; i++) {
                live += f.nodes[i].state == MIROIR_NODE_ACTIVE;
            }

            pick = rand() % 24;
            if (live <= rf + 1) {
                while (f.nodes[pick].state == MIROIR_NODE_ACTIVE) {
                    pick = (pick + 1) % 24;
                }
            }

            f.nodes[pick].state = f.nodes[pick].state == MIROIR_NODE_ACTIVE
                                  ? MIROIR_NODE_REMOVED : MIROIR_NODE_ACTIVE;
            snprintf(prev, sizeof(prev), "%s", f.ids[pick]);

            b = build(&f, rf, 0, MIROIR_ROUTE_TARGET);

            if (f.nodes[pick].state == MIROIR_NODE_ACTIVE) {
                d = diff(&a->table, &b->table, prev, NULL);
                ck_assert_uint_eq(d.not_onto, 0);
                ck_assert_uint_eq(d.moved, b->copies[pick]);

            } else {
                d = diff(&a->table, &b->table, NULL, prev);
                ck_assert_uint_eq(d.not_held, 0);
                ck_assert_uint_eq(d.moved, a->copies[pick]);
            }

            /* every shard has rf distinct, owning owners */
            for (s = 0; s < S; s++) {
                const uint16_t *o = miroir_route_owners(&b->table, s);

                for (j = 0; j < rf; j++) {
                    ck_assert(f.nodes[o[j]].state == MIROIR_NODE_ACTIVE);
                    ck_assert(j == 0 || o[j] != o[0]);
                    ck_assert(j < 2 || o[j] != o[1]);
                }
            }

            miroir_router_free(a);
            a = b;

            /* the balanced mode on the same fleet stays within 10% */
            b = build(&f, rf, MIROIR_ROUTER_BALANCE, MIROIR_ROUTE_TARGET);
            live = 0;
            for (i = 0; i < 24; i++) {
                live += f.nodes[i].state == MIROIR_NODE_ACTIVE;
            }

            c = 0;
            for (i = 0; i < 24; i++) {
                if (b->copies[i] > c) {
                    c = b->copies[i];
                }
            }

            c /= (double) S * rf / live;
            ck_assert_msg(c <= 1.10 + (double) live / S * 2,
                          "seed %u step %d: %.3f", seed, step, c);
            miroir_router_free(b);
        }

        miroir_router_free(a);
    }
}
END_TEST


START_TEST(test_states)
{
    fleet_t           f;
    miroir_router_t  *cur, *tgt;

    fleet_init(&f, 5, "s%d");
    f.nodes[1].state = MIROIR_NODE_DRAINING;
    f.nodes[2].state = MIROIR_NODE_JOINING;
    f.nodes[3].state = MIROIR_NODE_REMOVED;
    f.nodes[4].state = MIROIR_NODE_DOWN;

    cur = build(&f, 2, MIROIR_ROUTER_BALANCE, MIROIR_ROUTE_CURRENT);
    tgt = build(&f, 2, MIROIR_ROUTER_BALANCE, MIROIR_ROUTE_TARGET);

    ck_assert_uint_gt(cur->copies[1], 0);      /* draining: current only */
    ck_assert_uint_eq(tgt->copies[1], 0);
    ck_assert_uint_eq(cur->copies[2], 0);      /* joining: target only */
    ck_assert_uint_gt(tgt->copies[2], 0);
    ck_assert_uint_eq(cur->copies[3], 0);      /* removed: never */
    ck_assert_uint_eq(tgt->copies[3], 0);
    ck_assert_uint_gt(cur->copies[4], 0);      /* down: still owns */
    ck_assert_uint_gt(tgt->copies[4], 0);

    ck_assert_uint_eq(cur->copies[0] + cur->copies[1] + cur->copies[4],
                      2 * S);

    miroir_router_free(cur);
    miroir_router_free(tgt);
}
END_TEST


START_TEST(test_errors)
{
    static const struct {
        uint32_t   rf;
        uint32_t   shards;
        double     balance;
        size_t     n;
        int        removed;   /* how many nodes to mark removed */
        double     weight0;
        int        dup;
    } v[] = {
        { 3, S, 1.05, 2, 0, 1, 0 },        /* RF > nodes */
        { 2, S, 1.05, 3, 2, 1, 0 },        /* RF > live nodes */
        { 4, S, 1.05, 5, 0, 1, 0 },        /* RF > MAX_RF */
        { 1, 0, 1.05, 3, 0, 1, 0 },        /* no shards */
        { 1, S, 0.5, 3, 0, 1, 0 },         /* bad balance */
        { 1, S, 1.05, 3, 0, 0, 0 },        /* zero weight */
        { 1, S, 1.05, 3, 0, NAN, 0 },      /* NaN weight */
        { 1, S, 1.05, 3, 0, 1, 1 },        /* duplicate id */
        { 1, S, 1.05, 0, 0, 1, 0 },        /* no node */
    };
    fleet_t               f;
    miroir_router_conf_t  conf;
    miroir_router_t      *r;
    miroir_error_t        err;
    size_t                i;
    int                   k;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        fleet_init(&f, v[i].n, "e%d");

        for (k = 0; k < v[i].removed; k++) {
            f.nodes[k].state = MIROIR_NODE_REMOVED;
        }

        f.nodes[0].weight = v[i].weight0;
        if (v[i].dup) {
            f.nodes[1].id = f.ids[0];
        }

        conf.nshards = v[i].shards;
        conf.rf = v[i].rf;
        conf.kind = MIROIR_ROUTE_TARGET;
        conf.balance = v[i].balance;
        r = (miroir_router_t *) 0x1;

        ck_assert_int_eq(miroir_router_create(&conf, f.nodes, f.n, &r, &err),
                         MIROIR_EINVAL);
        ck_assert_ptr_eq(r, (miroir_router_t *) 0x1);
        ck_assert_int_eq(err.status, 400);
        ck_assert_str_eq(err.code, "miroir_invalid_topology");
    }
}
END_TEST


/* The table depends on the ids, not on the order they are listed in. */
START_TEST(test_order_independent)
{
    fleet_t           f, g;
    miroir_router_t  *a, *b;
    uint32_t          s, j;
    size_t            i;
    const uint16_t   *oa, *ob;

    fleet_init(&f, 12, "o%d");
    f.nodes[5].weight = 3.0;
    fleet_init(&g, 12, "o%d");

    for (i = 0; i < 12; i++) {
        g.nodes[i] = f.nodes[11 - i];
    }

    a = build(&f, 3, MIROIR_ROUTER_BALANCE, MIROIR_ROUTE_TARGET);
    b = build(&g, 3, MIROIR_ROUTER_BALANCE, MIROIR_ROUTE_TARGET);

    for (s = 0; s < S; s++) {
        oa = miroir_route_owners(&a->table, s);
        ob = miroir_route_owners(&b->table, s);

        for (j = 0; j < 3; j++) {
            ck_assert_str_eq(a->node_ids[oa[j]], b->node_ids[ob[j]]);
        }
    }

    ck_assert_int_eq(miroir_route_node_index(&a->table, "o6"), 5);
    ck_assert_int_eq(miroir_route_node_index(&a->table, "nope"), -1);
    ck_assert_uint_eq(miroir_route_shard(&a->table, "42", 2),
                      miroir_shard_of("42", 2, S));

    miroir_router_free(a);
    miroir_router_free(b);
}
END_TEST


static Suite *
router_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("router");
    tc = tcase_create("core");
    tcase_set_timeout(tc, 60);

    tcase_add_test(tc, test_hash_vectors);
    tcase_add_test(tc, test_balance);
    tcase_add_test(tc, test_balance_random_sets);
    tcase_add_test(tc, test_weights);
    tcase_add_test(tc, test_weights_mixed);
    tcase_add_test(tc, test_weights_extreme);
    tcase_add_test(tc, test_add_remove_plain);
    tcase_add_test(tc, test_add_remove_balanced);
    tcase_add_test(tc, test_property_sequences);
    tcase_add_test(tc, test_states);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_order_independent);

    suite_add_tcase(s, tc);

    return s;
}


int
main(void)
{
    SRunner  *sr;
    int       failed;

    sr = srunner_create(router_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
