/*
 * test_filter.c -- filter check, composition, restrictions, read plans.
 *
 * The restrictions are checked end to end: a small evaluator of the
 * subset of the filter grammar they use (OR, AND, NOT, parentheses, =,
 * IN) runs them against every shard's reserved fields and must select
 * exactly the shards of the read plan.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "miroir_filter.h"
#include "miroir_router.h"


/* ------------------------------------------------------------ evaluator */

typedef struct {
    const char                  *p;
    const miroir_route_table_t  *rt;
    uint32_t                     shard;
    int                          bad;
} ev_t;


static void
ev_ws(ev_t *e)
{
    while (*e->p == ' ') {
        e->p++;
    }
}


static int
ev_word(ev_t *e, const char *w)
{
    size_t  n = strlen(w);

    ev_ws(e);
    if (strncmp(e->p, w, n) == 0) {
        e->p += n;
        return 1;
    }

    return 0;
}


/* A value: a quoted string (\" and \\ unescaped) or a number. */
static void
ev_value(ev_t *e, char *buf, size_t size)
{
    size_t  n = 0;

    ev_ws(e);

    if (*e->p == '"') {
        for (e->p++; *e->p && *e->p != '"'; e->p++) {
            if (*e->p == '\\') {
                e->p++;
            }

            if (n + 1 < size) {
                buf[n++] = *e->p;
            }
        }

        if (*e->p != '"') {
            e->bad = 1;
        } else {
            e->p++;
        }

    } else {
        while (*e->p >= '0' && *e->p <= '9') {
            if (n + 1 < size) {
                buf[n++] = *e->p;
            }
            e->p++;
        }

        if (n == 0) {
            e->bad = 1;
        }
    }

    buf[n] = '\0';
}


/* The document's value of attr, as text. */
static void
ev_attr(ev_t *e, const char *attr, char *buf, size_t size)
{
    const uint16_t  *o = miroir_route_owners(e->rt, e->shard);

    if (strcmp(attr, "_miroir_shard") == 0) {
        snprintf(buf, size, "%u", e->shard);

    } else if (strncmp(attr, "_miroir_o", 9) == 0
               && (uint32_t) (attr[9] - '0') < e->rt->rf && attr[10] == 0)
    {
        snprintf(buf, size, "%s", e->rt->node_ids[o[attr[9] - '0']]);

    } else {
        e->bad = 1;
        buf[0] = 0;
    }
}


static int ev_expr(ev_t *e);


static int
ev_primary(ev_t *e)
{
    char    attr[32], have[80], v[80];
    size_t  n = 0;
    int     r;

    if (ev_word(e, "(")) {
        r = ev_expr(e);
        if (!ev_word(e, ")")) {
            e->bad = 1;
        }
        return r;
    }

    ev_ws(e);
    while ((*e->p >= 'a' && *e->p <= 'z') || *e->p == '_'
           || (*e->p >= '0' && *e->p <= '9'))
    {
        if (n + 1 < sizeof(attr)) {
            attr[n++] = *e->p;
        }
        e->p++;
    }

    attr[n] = 0;
    ev_attr(e, attr, have, sizeof(have));

    if (ev_word(e, "EXISTS")) {
        return 1;                       /* every field is set here */
    }

    if (ev_word(e, "=")) {
        ev_value(e, v, sizeof(v));
        return strcmp(have, v) == 0;
    }

    if (ev_word(e, "IN") && ev_word(e, "[")) {
        r = 0;
        do {
            ev_value(e, v, sizeof(v));
            r |= strcmp(have, v) == 0;
        } while (ev_word(e, ","));

        if (!ev_word(e, "]")) {
            e->bad = 1;
        }
        return r;
    }

    e->bad = 1;
    return 0;
}


static int
ev_not(ev_t *e)
{
    if (ev_word(e, "NOT ")) {
        return !ev_not(e);
    }

    return ev_primary(e);
}


static int
ev_and(ev_t *e)
{
    int  r = ev_not(e);

    while (ev_word(e, "AND ")) {
        r &= ev_not(e);
    }

    return r;
}


static int
ev_expr(ev_t *e)
{
    int  r = ev_and(e);

    while (ev_word(e, "OR ")) {
        r |= ev_and(e);
    }

    return r;
}


static int
eval(const char *f, const miroir_route_table_t *rt, uint32_t s)
{
    ev_t  e;
    int   r;

    e.p = f;
    e.rt = rt;
    e.shard = s;
    e.bad = 0;

    r = ev_expr(&e);
    ev_ws(&e);
    ck_assert_msg(!e.bad && *e.p == 0, "cannot evaluate: %s", f);

    return r;
}


/* --------------------------------------------------------------- fleet */

static miroir_router_t *
fleet(size_t n, uint32_t rf, uint32_t shards)
{
    static char           ids[16][24];
    miroir_node_t         nodes[16];
    miroir_router_conf_t  conf;
    miroir_router_t      *r;
    miroir_error_t        err;
    size_t                i;

    for (i = 0; i < n; i++) {
        snprintf(ids[i], sizeof(ids[i]), "n%zu", i + 1);
        nodes[i].id = ids[i];
        nodes[i].weight = 1;
        nodes[i].state = MIROIR_NODE_ACTIVE;
    }

    conf.nshards = shards;
    conf.rf = rf;
    conf.kind = MIROIR_ROUTE_TARGET;
    conf.balance = MIROIR_ROUTER_BALANCE;

    ck_assert_int_eq(miroir_router_create(&conf, nodes, n, &r, &err),
                     MIROIR_OK);
    return r;
}


/* ---------------------------------------------------------------- tests */

START_TEST(test_check)
{
    static const struct {
        const char  *f;
        int          ok;
    } v[] = {
        { "", 1 },
        { "genre = horror", 1 },
        { "(a = 1 OR b = 2) AND NOT c IN [x, y, ]", 1 },
        { "title = \"a (b\"", 1 },
        { "title = 'it\\'s )'", 1 },
        { "title = \"say \\\"hi)\\\"\"", 1 },
        { "a = \"x\" AND b='y'", 1 },
        { "a IN [\"x]\", 'y']", 1 },
        { "_geoRadius(45.4, 9.1, 2000)", 1 },
        { "a = \"back\\slash\"", 1 },
        { "(a = 1", 0 },
        { "a = 1)", 0 },
        { "a = 1) OR (b = 2", 0 },
        { "a IN [1, 2", 0 },
        { "a = 1]", 0 },
        { "a = \"open", 0 },
        { "a = 'open", 0 },
        { "a = \"x\\\"", 0 },
        { "a = \"x\\\\\" OR b = \")", 0 },
        { "a = x'y ) OR (z'", 0 },
        { "a = \"x\"y", 0 },
        { ")(", 0 },
    };
    miroir_error_t  err;
    size_t          i;
    miroir_rc_t     rc;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        rc = miroir_filter_check(v[i].f, strlen(v[i].f), &err);
        ck_assert_msg((rc == MIROIR_OK) == v[i].ok, "%s", v[i].f);

        if (!v[i].ok) {
            ck_assert_int_eq(err.status, 400);
            ck_assert_str_eq(err.code, "invalid_search_filter");
        }
    }

    ck_assert_int_eq(miroir_filter_check("a\0b", 3, &err), MIROIR_EINVAL);
}
END_TEST


START_TEST(test_compose)
{
    static const struct {
        const char  *user;     /* JSON text, NULL = absent */
        const char  *restr;
        const char  *want;     /* JSON text, NULL = no filter / error */
        int          ok;
    } v[] = {
        { NULL, "_miroir_o0 = \"n2\"", "\"_miroir_o0 = \\\"n2\\\"\"", 1 },
        { "null", "r = 1", "\"r = 1\"", 1 },
        { NULL, NULL, NULL, 1 },
        { "\"a = 1 OR b = 2\"", "r = 1", "\"(a = 1 OR b = 2) AND (r = 1)\"",
          1 },
        { "\"  \"", "r = 1", "\"r = 1\"", 1 },
        { "\"a = 1\"", NULL, "\"a = 1\"", 1 },
        { "\"t = \\\"x\\\"\"", "r = 1",
          "\"(t = \\\"x\\\") AND (r = 1)\"", 1 },
        { "[\"a = 1\", [\"b = 2\", \"c = 3\"]]", "r = 1",
          "[\"a = 1\",[\"b = 2\",\"c = 3\"],\"r = 1\"]", 1 },
        { "[]", "r = 1", "[\"r = 1\"]", 1 },
        { "[\"a = 1) OR (b = 2\"]", "r = 1",
          "[\"a = 1) OR (b = 2\",\"r = 1\"]", 1 },
        { "\"a = 1) OR (b = 2\"", "r = 1", NULL, 0 },
        { "\"a = \\\"x\"", "r = 1", NULL, 0 },
        { "\"a = 1\\u0000) OR (x = 1\"", "r = 1", NULL, 0 },
        { "[\"a\\u0000b\"]", "r = 1", NULL, 0 },
        { "[[[\"a = 1\"]]]", "r = 1", NULL, 0 },
        { "[1]", "r = 1", NULL, 0 },
        { "[[\"a\", 2]]", "r = 1", NULL, 0 },
        { "42", "r = 1", NULL, 0 },
        { "{\"a\":1}", "r = 1", NULL, 0 },
        { "true", "r = 1", NULL, 0 },
        { "\"unterminated", "r = 1", NULL, 0 },
    };
    miroir_error_t  err;
    size_t          i;
    char           *out;
    miroir_rc_t     rc;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        out = (char *) 0x1;
        rc = miroir_filter_compose(v[i].user,
                                   v[i].user ? strlen(v[i].user) : 0,
                                   v[i].restr, &out, &err);

        if (!v[i].ok) {
            ck_assert_msg(rc == MIROIR_EINVAL, "%s", v[i].user);
            ck_assert_ptr_eq(out, (char *) 0x1);
            ck_assert_str_eq(err.code, "invalid_search_filter");
            ck_assert_int_eq(err.status, 400);
            continue;
        }

        ck_assert_msg(rc == MIROIR_OK, "%s", v[i].user);

        if (v[i].want == NULL) {
            ck_assert_ptr_null(out);
        } else {
            ck_assert_str_eq(out, v[i].want);
        }

        miroir_filter_free(out);
    }
}
END_TEST


START_TEST(test_quote_and_builders)
{
    char      buf[64], *s;
    uint32_t  sh[] = { 3, 17, 1023 };

    ck_assert_uint_eq(miroir_filter_quote("n2", buf, sizeof(buf)), 4);
    ck_assert_str_eq(buf, "\"n2\"");

    miroir_filter_quote("a\"b\\c", buf, sizeof(buf));
    ck_assert_str_eq(buf, "\"a\\\"b\\\\c\"");

    ck_assert_uint_eq(miroir_filter_quote("abcdef", buf, 4), 8);
    ck_assert_str_eq(buf, "\"ab");

    s = miroir_filter_leader("n2");
    ck_assert_str_eq(s, "_miroir_o0 = \"n2\"");
    free(s);

    s = miroir_filter_leader("we\"ird");
    ck_assert_str_eq(s, "_miroir_o0 = \"we\\\"ird\"");
    free(s);

    s = miroir_filter_shards(sh, 3, 0);
    ck_assert_str_eq(s, "_miroir_shard IN [3, 17, 1023]");
    free(s);

    s = miroir_filter_shards(sh, 1, 1);
    ck_assert_str_eq(s, "_miroir_shard EXISTS AND NOT _miroir_shard IN [3]");
    free(s);

    s = miroir_filter_and("a = 1", "b = 2 OR c = 3");
    ck_assert_str_eq(s, "(a = 1) AND (b = 2 OR c = 3)");
    free(s);

    s = miroir_filter_and(NULL, "b = 2");
    ck_assert_str_eq(s, "b = 2");
    free(s);
}
END_TEST


/* The shape the design names: one failure, RF 2. */
START_TEST(test_failover_shape)
{
    miroir_router_t             *r;
    const miroir_route_table_t  *rt;
    uint8_t                      down[8] = { 0 };
    char                        *f;

    r = fleet(4, 2, 64);
    rt = miroir_router_table(r);

    ck_assert_int_eq(miroir_filter_reader(rt, NULL, 1, &f), MIROIR_OK);
    ck_assert_str_eq(f, "_miroir_o0 = \"n2\"");
    free(f);

    down[0] = 1;
    ck_assert_int_eq(miroir_filter_reader(rt, down, 1, &f), MIROIR_OK);
    ck_assert_str_eq(f, "_miroir_o0 = \"n2\" OR "
                        "(_miroir_o0 = \"n1\" AND _miroir_o1 = \"n2\")");
    free(f);

    ck_assert_int_eq(miroir_filter_reader(rt, down, 0, &f), MIROIR_EINVAL);
    ck_assert_int_eq(miroir_filter_reader(rt, down, 9, &f), MIROIR_EINVAL);

    miroir_router_free(r);

    /* RF 3, two failures: IN lists at the earlier positions */
    r = fleet(5, 3, 256);
    rt = miroir_router_table(r);
    down[0] = 1;
    down[1] = 1;

    ck_assert_int_eq(miroir_filter_reader(rt, down, 2, &f), MIROIR_OK);
    fprintf(stderr, "rf3 n1,n2 down, reader n3: %s\n", f);
    ck_assert_ptr_nonnull(strstr(f, "_miroir_o0 IN [\"n1\", \"n2\"] AND "
                                    "_miroir_o1 IN [\"n1\", \"n2\"] AND "
                                    "_miroir_o2 = \"n3\""));
    free(f);

    miroir_router_free(r);
}
END_TEST


/*
 * Every subset of down nodes, RF 2 and 3, 3..6 nodes: each shard with a
 * live owner is answered exactly once, and each reader's filter selects
 * exactly its shards of the plan.
 */
START_TEST(test_read_plan_exhaustive)
{
    miroir_router_t             *r;
    const miroir_route_table_t  *rt;
    miroir_read_plan_t          *p;
    uint8_t                      down[8];
    uint32_t                     rf, mask, s, i, k, seen[64], answered;
    size_t                       n;
    char                        *f;
    int                          in_plan, live;
    const uint16_t              *o;

    for (rf = 2; rf <= 3; rf++) {
        for (n = rf; n <= 6; n++) {
            r = fleet(n, rf, 64);
            rt = miroir_router_table(r);

            for (mask = 0; mask < (1u << n); mask++) {
                for (i = 0; i < n; i++) {
                    down[i] = (mask >> i) & 1;
                }

                ck_assert_int_eq(miroir_read_plan_create(rt, down, &p),
                                 MIROIR_OK);
                memset(seen, 0, sizeof(seen));
                answered = 0;

                for (i = 0; i < n; i++) {
                    for (k = p->off[i]; k < p->off[i + 1]; k++) {
                        ck_assert(!down[i]);
                        ck_assert(k == p->off[i]
                                  || p->shards[k] > p->shards[k - 1]);
                        seen[p->shards[k]]++;
                        answered++;
                    }
                }

                for (k = 0; k < p->nmissing; k++) {
                    seen[p->missing[k]] += 100;
                }

                for (s = 0; s < 64; s++) {
                    o = miroir_route_owners(rt, s);
                    live = 0;
                    for (k = 0; k < rf; k++) {
                        live |= !down[o[k]];
                    }

                    ck_assert_uint_eq(seen[s], live ? 1 : 100);
                }

                /* the filters select exactly the plan */
                for (i = 0; i < n; i++) {
                    if (down[i]) {
                        continue;
                    }

                    ck_assert_int_eq(miroir_filter_reader(rt, down,
                                                          (uint16_t) i, &f),
                                     MIROIR_OK);

                    if (f == NULL) {
                        ck_assert_uint_eq(p->off[i + 1], p->off[i]);
                        continue;
                    }

                    for (s = 0; s < 64; s++) {
                        in_plan = 0;
                        for (k = p->off[i]; k < p->off[i + 1]; k++) {
                            in_plan |= p->shards[k] == s;
                        }

                        ck_assert_msg(eval(f, rt, s) == in_plan,
                                      "rf %u n %zu mask %u node %u shard %u:"
                                      " %s", rf, n, mask, i, s, f);
                    }

                    free(f);
                }

                (void) answered;
                miroir_read_plan_free(p);
            }

            miroir_router_free(r);
        }
    }
}
END_TEST


/* Composition end to end: the restriction still selects what it did. */
START_TEST(test_compose_keeps_restriction)
{
    miroir_router_t             *r;
    const miroir_route_table_t  *rt;
    char                        *lead, *out, *excl, *both;
    uint32_t                     mig[] = { 1, 2, 3 };
    miroir_error_t               err;

    r = fleet(3, 2, 16);
    rt = miroir_router_table(r);

    lead = miroir_filter_leader("n1");
    excl = miroir_filter_shards(mig, 3, 1);
    both = miroir_filter_and(lead, excl);

    ck_assert_int_eq(eval(both, rt, 1), 0);

    ck_assert_int_eq(miroir_filter_compose("\"_miroir_o0 = n1 OR x = 1\"",
                                           26, both, &out, &err), MIROIR_OK);
    ck_assert_str_eq(out, "\"(_miroir_o0 = n1 OR x = 1) AND "
                          "((_miroir_o0 = \\\"n1\\\") AND "
                          "(_miroir_shard EXISTS AND "
                          "NOT _miroir_shard IN [1, 2, 3]))\"");

    free(out);
    free(lead);
    free(excl);
    free(both);
    miroir_router_free(r);
}
END_TEST


START_TEST(test_covers)
{
    miroir_router_t  *r;
    uint16_t          c[8];
    uint8_t           down[8] = { 0 };

    r = fleet(3, 3, 64);                      /* rf = N: all cover */
    ck_assert_uint_eq(miroir_read_plan_covers(&r->table, NULL, c), 3);
    ck_assert_uint_eq(c[0], 0);
    ck_assert_uint_eq(c[2], 2);
    down[1] = 1;
    ck_assert_uint_eq(miroir_read_plan_covers(&r->table, down, c), 2);
    ck_assert_uint_eq(c[1], 2);
    miroir_router_free(r);

    r = fleet(2, 2, 64);
    ck_assert_uint_eq(miroir_read_plan_covers(&r->table, NULL, NULL), 2);
    miroir_router_free(r);

    r = fleet(4, 2, 64);                      /* balanced: no cover */
    ck_assert_uint_eq(miroir_read_plan_covers(&r->table, NULL, c), 0);
    miroir_router_free(r);
}
END_TEST


static Suite *
filter_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("filter");
    tc = tcase_create("core");
    tcase_set_timeout(tc, 60);

    tcase_add_test(tc, test_check);
    tcase_add_test(tc, test_compose);
    tcase_add_test(tc, test_quote_and_builders);
    tcase_add_test(tc, test_failover_shape);
    tcase_add_test(tc, test_read_plan_exhaustive);
    tcase_add_test(tc, test_compose_keeps_restriction);
    tcase_add_test(tc, test_covers);

    suite_add_tcase(s, tc);

    return s;
}


int
main(void)
{
    SRunner  *sr;
    int       failed;

    sr = srunner_create(filter_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
