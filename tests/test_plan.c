/*
 * test_plan.c -- rebalance plans: exact small cases, JSON, and a replay
 * of every plan (copy, then delete) that checks each shard keeps its
 * copies throughout and ends with exactly the new owners.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "miroir_plan.h"
#include "miroir_router.h"


static const char *ids3[] = { "n1", "n2", "n3" };


START_TEST(test_small_json)
{
    static const uint16_t  oo[] = { 0, 1 }, no[] = { 2, 1 };
    miroir_route_table_t   old = { 2, 1, 2, oo, ids3 };
    miroir_route_table_t   new = { 2, 1, 3, no, ids3 };
    miroir_plan_t         *p;
    miroir_error_t         err;
    char                  *j;

    ck_assert_int_eq(miroir_plan_create(&old, &new, &p, &err), MIROIR_OK);
    ck_assert_uint_eq(p->nmoves, 1);
    ck_assert_uint_eq(p->nshards, 1);
    ck_assert_uint_eq(p->shards[0].shard, 0);
    ck_assert_uint_eq(p->shards[0].old_owners[0], 0);
    ck_assert_uint_eq(p->shards[0].new_owners[0], 2);
    ck_assert_int_eq(p->moves[0].source, 0);

    j = miroir_plan_json(p);
    ck_assert_str_eq(j, "{\"moves\":[{\"shard\":0,\"from\":\"n1\","
                        "\"to\":\"n3\"}],\"shardsMoving\":1,"
                        "\"copiesMoved\":1,\"shardsRelabeled\":0}");
    free(j);
    miroir_plan_free(p);
}
END_TEST


/* rf 2 -> 3 adds copies (from null), 3 -> 2 deletes last; order swaps. */
START_TEST(test_rf_change_and_relabel)
{
    static const uint16_t  o2[] = { 0, 1, 1, 2 };
    static const uint16_t  o3[] = { 0, 1, 2, 1, 2, 0 };
    static const uint16_t  sw[] = { 1, 0, 1, 2 };
    miroir_route_table_t   t2 = { 2, 2, 3, o2, ids3 };
    miroir_route_table_t   t3 = { 2, 3, 3, o3, ids3 };
    miroir_route_table_t   ts = { 2, 2, 3, sw, ids3 };
    miroir_plan_t         *p;
    miroir_error_t         err;
    char                  *j;

    ck_assert_int_eq(miroir_plan_create(&t2, &t3, &p, &err), MIROIR_OK);
    ck_assert_uint_eq(p->nmoves, 2);
    ck_assert_int_eq(p->moves[0].from, -1);
    ck_assert_int_eq(p->moves[0].to, 2);
    ck_assert_int_eq(p->moves[1].from, -1);
    ck_assert_int_eq(p->moves[1].to, 0);
    ck_assert_uint_eq(p->copies_moved, 2);
    miroir_plan_free(p);

    ck_assert_int_eq(miroir_plan_create(&t3, &t2, &p, &err), MIROIR_OK);
    ck_assert_uint_eq(p->nmoves, 2);
    ck_assert_int_eq(p->moves[0].to, -1);
    ck_assert_int_eq(p->moves[0].source, -1);
    ck_assert_uint_eq(p->copies_moved, 0);
    j = miroir_plan_json(p);
    ck_assert_str_eq(j, "{\"moves\":[{\"shard\":0,\"from\":\"n3\","
                        "\"to\":null},{\"shard\":1,\"from\":\"n1\","
                        "\"to\":null}],\"shardsMoving\":2,"
                        "\"copiesMoved\":0,\"shardsRelabeled\":0}");
    free(j);
    miroir_plan_free(p);

    ck_assert_int_eq(miroir_plan_create(&t2, &ts, &p, &err), MIROIR_OK);
    ck_assert_uint_eq(p->nmoves, 0);
    ck_assert_uint_eq(p->shards_relabeled, 1);
    ck_assert_uint_eq(p->nshards, 1);
    ck_assert(p->shards[0].relabel && !p->shards[0].moving);
    miroir_plan_free(p);

    ck_assert_int_eq(miroir_plan_create(&t2, &t2, &p, &err), MIROIR_OK);
    ck_assert_uint_eq(p->nmoves + p->nshards, 0);
    j = miroir_plan_json(p);
    ck_assert_str_eq(j, "{\"moves\":[],\"shardsMoving\":0,"
                        "\"copiesMoved\":0,\"shardsRelabeled\":0}");
    free(j);
    miroir_plan_free(p);
}
END_TEST


START_TEST(test_shard_count_mismatch)
{
    static const uint16_t  o[] = { 0, 1, 2 };
    miroir_route_table_t   a = { 2, 1, 3, o, ids3 };
    miroir_route_table_t   b = { 3, 1, 3, o, ids3 };
    miroir_plan_t         *p = (miroir_plan_t *) 0x1;
    miroir_error_t         err;

    ck_assert_int_eq(miroir_plan_create(&a, &b, &p, &err), MIROIR_EINVAL);
    ck_assert_ptr_eq(p, (miroir_plan_t *) 0x1);
    ck_assert_str_eq(err.code, "miroir_invalid_topology");
}
END_TEST


/* ------------------------------------------------------------- replay */

#define NS     256
#define MAXN   12

typedef struct {
    char            ids[MAXN][24];
    miroir_node_t   nodes[MAXN];
} fleet_t;


static miroir_router_t *
build(fleet_t *f, uint32_t rf, miroir_route_kind_e kind)
{
    miroir_router_conf_t   conf;
    miroir_router_t       *r;
    miroir_error_t         err;

    conf.nshards = NS;
    conf.rf = rf;
    conf.kind = kind;
    conf.balance = MIROIR_ROUTER_BALANCE;

    ck_assert_int_eq(miroir_router_create(&conf, f->nodes, MAXN, &r, &err),
                     MIROIR_OK);
    return r;
}


/*
 * Replay p on the old copies: per shard, a bitset of node ids (indexes
 * of the fleet, which both tables share).  Returns the smallest copy
 * count any shard had along the way.
 */
static uint32_t
replay(const miroir_plan_t *p, const miroir_route_table_t *old,
    const miroir_route_table_t *new)
{
    uint32_t  have[NS], s, k, minc, c, done_add;
    size_t    i;

    for (s = 0; s < NS; s++) {
        have[s] = 0;
        for (k = 0; k < old->rf; k++) {
            have[s] |= 1u << old->owners[s * old->rf + k];
        }
    }

    minc = MIROIR_MAX_RF;
    done_add = 0;

    for (i = 0; i < p->nmoves; i++) {
        const miroir_plan_move_t  *m = &p->moves[i];

        if (m->to >= 0) {
            ck_assert_msg(!done_add, "a copy after a delete-only move");
            ck_assert(have[m->shard] & (1u << m->source));
            ck_assert(!(have[m->shard] & (1u << m->to)));
            have[m->shard] |= 1u << m->to;

        } else {
            done_add = 1;
        }

        if (m->from >= 0) {
            ck_assert(have[m->shard] & (1u << m->from));
            have[m->shard] &= ~(1u << m->from);
        }

        c = (uint32_t) __builtin_popcount(have[m->shard]);
        if (c < minc) {
            minc = c;
        }
    }

    for (s = 0; s < NS; s++) {
        c = 0;
        for (k = 0; k < new->rf; k++) {
            c |= 1u << new->owners[s * new->rf + k];
        }

        ck_assert_uint_eq(have[s], c);
    }

    return minc;
}


START_TEST(test_replay_random)
{
    fleet_t           f;
    miroir_router_t  *cur, *tgt;
    miroir_plan_t    *p;
    miroir_error_t    err;
    uint32_t          seed, rf, nrf, minc, live, k;
    int               step, i, pick, op;
    char             *j;

    for (seed = 1; seed <= 6; seed++) {
        srand(seed);

        for (i = 0; i < MAXN; i++) {
            snprintf(f.ids[i], sizeof(f.ids[i]), "r%d", i);
            f.nodes[i].id = f.ids[i];
            f.nodes[i].weight = 1;
            f.nodes[i].state = i < 5 ? MIROIR_NODE_ACTIVE
                                     : MIROIR_NODE_REMOVED;
        }

        rf = 1 + seed % 3;
        cur = build(&f, rf, MIROIR_ROUTE_TARGET);

        for (step = 0; step < 10; step++) {
            live = 0;
            for (i = 0; i < MAXN; i++) {
                live += f.nodes[i].state == MIROIR_NODE_ACTIVE;
            }

            pick = rand() % MAXN;
            op = rand() % 4;
            nrf = rf;

            if (op == 0 || live <= 4) {                    /* add */
                while (f.nodes[pick].state == MIROIR_NODE_ACTIVE) {
                    pick = (pick + 1) % MAXN;
                }
                f.nodes[pick].state = MIROIR_NODE_JOINING;

            } else if (op == 1) {                          /* drain */
                while (f.nodes[pick].state != MIROIR_NODE_ACTIVE) {
                    pick = (pick + 1) % MAXN;
                }
                f.nodes[pick].state = MIROIR_NODE_DRAINING;

            } else if (op == 2) {                          /* reweight */
                while (f.nodes[pick].state != MIROIR_NODE_ACTIVE) {
                    pick = (pick + 1) % MAXN;
                }
                f.nodes[pick].weight = 1 + rand() % 3;

            } else {                                       /* rf change */
                nrf = 1 + rand() % MIROIR_MAX_RF;
            }

            tgt = build(&f, nrf, MIROIR_ROUTE_TARGET);

            ck_assert_int_eq(miroir_plan_create(miroir_router_table(cur),
                                                miroir_router_table(tgt),
                                                &p, &err), MIROIR_OK);

            minc = replay(p, miroir_router_table(cur),
                          miroir_router_table(tgt));
            if (p->nmoves) {
                ck_assert_uint_ge(minc, rf < nrf ? rf : nrf);
            }

            /* counts agree with the moves */
            k = 0;
            for (i = 0; i < (int) p->nmoves; i++) {
                k += p->moves[i].to >= 0;
            }
            ck_assert_uint_eq(k, p->copies_moved);

            j = miroir_plan_json(p);
            ck_assert_ptr_nonnull(j);
            free(j);
            miroir_plan_free(p);

            /* the change is done: joining -> active, draining -> gone */
            for (i = 0; i < MAXN; i++) {
                if (f.nodes[i].state == MIROIR_NODE_JOINING) {
                    f.nodes[i].state = MIROIR_NODE_ACTIVE;
                } else if (f.nodes[i].state == MIROIR_NODE_DRAINING) {
                    f.nodes[i].state = MIROIR_NODE_REMOVED;
                }
            }

            miroir_router_free(cur);
            miroir_router_free(tgt);
            rf = nrf;
            cur = build(&f, rf, MIROIR_ROUTE_TARGET);
        }

        miroir_router_free(cur);
    }
}
END_TEST


/*
 * Adding a node with plain HRW: every move goes to it, deletes a copy
 * from an old owner and copies from another one that keeps the shard.
 */
START_TEST(test_add_node_plan)
{
    fleet_t               f;
    miroir_router_conf_t  conf;
    miroir_router_t      *a, *b;
    miroir_plan_t        *p;
    miroir_error_t        err;
    size_t                i;
    int                   n;

    for (n = 0; n < MAXN; n++) {
        snprintf(f.ids[n], sizeof(f.ids[n]), "a%d", n);
        f.nodes[n].id = f.ids[n];
        f.nodes[n].weight = 1;
        f.nodes[n].state = MIROIR_NODE_ACTIVE;
    }

    conf.nshards = NS;
    conf.rf = 2;
    conf.kind = MIROIR_ROUTE_TARGET;
    conf.balance = 0;

    ck_assert_int_eq(miroir_router_create(&conf, f.nodes, MAXN - 1, &a,
                                          &err), MIROIR_OK);
    ck_assert_int_eq(miroir_router_create(&conf, f.nodes, MAXN, &b, &err),
                     MIROIR_OK);
    ck_assert_int_eq(miroir_plan_create(miroir_router_table(a),
                                        miroir_router_table(b), &p, &err),
                     MIROIR_OK);

    ck_assert_uint_eq(p->copies_moved, b->copies[MAXN - 1]);
    ck_assert_uint_eq(p->shards_moving, p->nmoves);

    for (i = 0; i < p->nmoves; i++) {
        ck_assert_int_eq(p->moves[i].to, MAXN - 1);
        ck_assert_int_ge(p->moves[i].from, 0);
        ck_assert_int_ne(p->moves[i].source, p->moves[i].from);
    }

    fprintf(stderr, "add 1 node to %d (rf 2, %d shards): %u copies move, "
            "%u shards relabeled\n", MAXN - 1, NS, p->copies_moved,
            p->shards_relabeled);

    miroir_plan_free(p);
    miroir_router_free(a);
    miroir_router_free(b);
}
END_TEST


/* Removing a node: destinations round-robin, so the first moves differ. */
START_TEST(test_spread)
{
    fleet_t           f;
    miroir_router_t  *a, *b;
    miroir_plan_t    *p;
    miroir_error_t    err;
    int               n, i, j;

    for (n = 0; n < MAXN; n++) {
        snprintf(f.ids[n], sizeof(f.ids[n]), "s%d", n);
        f.nodes[n].id = f.ids[n];
        f.nodes[n].weight = 1;
        f.nodes[n].state = MIROIR_NODE_ACTIVE;
    }

    a = build(&f, 2, MIROIR_ROUTE_TARGET);
    f.nodes[3].state = MIROIR_NODE_DRAINING;
    b = build(&f, 2, MIROIR_ROUTE_TARGET);

    ck_assert_int_eq(miroir_plan_create(miroir_router_table(a),
                                        miroir_router_table(b), &p, &err),
                     MIROIR_OK);
    ck_assert_uint_ge(p->nmoves, 8);

    /* the first 8 moves go to 8 different nodes */
    for (i = 0; i < 8; i++) {
        for (j = 0; j < i; j++) {
            ck_assert_int_ne(p->moves[i].to, p->moves[j].to);
        }
    }

    miroir_plan_free(p);
    miroir_router_free(a);
    miroir_router_free(b);
}
END_TEST


static Suite *
plan_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("plan");
    tc = tcase_create("core");
    tcase_set_timeout(tc, 60);

    tcase_add_test(tc, test_small_json);
    tcase_add_test(tc, test_rf_change_and_relabel);
    tcase_add_test(tc, test_shard_count_mismatch);
    tcase_add_test(tc, test_replay_random);
    tcase_add_test(tc, test_add_node_plan);
    tcase_add_test(tc, test_spread);

    suite_add_tcase(s, tc);

    return s;
}


int
main(void)
{
    SRunner  *sr;
    int       failed;

    sr = srunner_create(plan_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
