/*
 * test_facets.c -- facet distribution / stats merge.
 *
 * The golden step search-facets (t/golden/meilisearch-1.50.0.json) is split
 * over two nodes; the merge must give back the real node's answer byte for
 * byte (values, counts, key order).
 */

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "miroir_facets.h"


static const char  golden_dist[] =
    "{\"genres\":{\"action\":10,\"animation\":1,\"comedy\":4,\"crime\":3,"
    "\"drama\":9,\"fantasy\":5,\"horror\":1,\"mystery\":1,\"romance\":3,"
    "\"sci-fi\":5,\"thriller\":2,\"war\":1},\"rating\":{\"4.9\":1,\"5.1\":1,"
    "\"5.6\":1,\"6.2\":1,\"6.4\":1,\"6.8\":1,\"6.9\":1,\"7.1\":1,\"7.3\":2,"
    "\"7.5\":1,\"7.6\":1,\"7.8\":1,\"7.9\":1,\"8\":1,\"8.1\":2,\"8.2\":1,"
    "\"8.4\":2,\"8.7\":2,\"8.8\":1,\"9\":1},\"year\":{\"1990\":1,\"1994\":1,"
    "\"1998\":1,\"2000\":1,\"2001\":1,\"2003\":2,\"2004\":1,\"2005\":2,"
    "\"2008\":1,\"2010\":2,\"2012\":2,\"2014\":1,\"2017\":4,\"2019\":2,"
    "\"2020\":1}}";

static const char  golden_stats[] =
    "{\"rating\":{\"min\":4.9,\"max\":9.0},"
    "\"year\":{\"min\":1990.0,\"max\":2020.0}}";

/* the same split over two nodes, values in other orders */
static const char  node_a[] =
    "{\"year\":{\"2017\":2,\"1990\":1,\"2003\":2,\"2010\":1,\"2019\":1},"
    "\"genres\":{\"war\":1,\"action\":6,\"drama\":4,\"sci-fi\":5,"
    "\"comedy\":1},"
    "\"rating\":{\"4.9\":1,\"7.3\":1,\"8\":1,\"8.4\":2,\"9\":1,\"6.2\":1}}";
static const char  node_b[] =
    "{\"genres\":{\"action\":4,\"animation\":1,\"comedy\":3,\"crime\":3,"
    "\"drama\":5,\"fantasy\":5,\"horror\":1,\"mystery\":1,\"romance\":3,"
    "\"thriller\":2},"
    "\"rating\":{\"5.1\":1,\"5.6\":1,\"6.4\":1,\"6.8\":1,\"6.9\":1,"
    "\"7.1\":1,\"7.3\":1,\"7.5\":1,\"7.6\":1,\"7.8\":1,\"7.9\":1,\"8.1\":2,"
    "\"8.2\":1,\"8.7\":2,\"8.8\":1},"
    "\"year\":{\"1994\":1,\"1998\":1,\"2000\":1,\"2001\":1,\"2004\":1,"
    "\"2005\":2,\"2008\":1,\"2010\":1,\"2012\":2,\"2014\":1,\"2017\":2,"
    "\"2019\":1,\"2020\":1}}";
static const char  stats_a[] =
    "{\"year\":{\"min\":1990.0,\"max\":2019.0},"
    "\"rating\":{\"min\":4.9,\"max\":9.0}}";
static const char  stats_b[] =
    "{\"rating\":{\"min\":5.1,\"max\":8.8},"
    "\"year\":{\"min\":1994.0,\"max\":2020.0}}";


static miroir_span_t
sp(const char *s)
{
    miroir_span_t  v;

    ck_assert_int_eq(miroir_jspan_doc(s, strlen(s), &v), MIROIR_OK);

    return v;
}


/* Merge the given distributions with conf; compare to expect. */
static void
check_dist(const char *const *d, size_t n, const miroir_facet_conf_t *conf,
    const char *expect)
{
    miroir_facets_t  *f;
    miroir_error_t    err;
    miroir_buf_t      b;
    size_t            i;

    f = miroir_facets_create();
    ck_assert_ptr_nonnull(f);
    for (i = 0; i < n; i++) {
        ck_assert_int_eq(miroir_facets_add_distribution(f, sp(d[i]), &err),
                         MIROIR_OK);
    }

    memset(&b, 0, sizeof(b));
    ck_assert_int_eq(miroir_facets_write_distribution(f, conf, &b),
                     MIROIR_OK);
    miroir_buf_addc(&b, '\0');
    ck_assert_str_eq(b.data, expect);

    miroir_buf_free(&b);
    miroir_facets_free(f);
}


START_TEST(test_facets_golden)
{
    static const char *const  d[] = { node_a, node_b };
    miroir_facet_conf_t       conf;
    miroir_facets_t          *f;
    miroir_error_t            err;
    miroir_buf_t              b;

    memset(&conf, 0, sizeof(conf));
    conf.max_values = 100;
    conf.candidates = 24;
    check_dist(d, 2, &conf, golden_dist);

    f = miroir_facets_create();
    ck_assert_int_eq(miroir_facets_add_stats(f, sp(stats_a), &err),
                     MIROIR_OK);
    ck_assert_int_eq(miroir_facets_add_stats(f, sp(stats_b), &err),
                     MIROIR_OK);
    ck_assert(miroir_facets_has_stats(f));
    ck_assert(!miroir_facets_has_distribution(f));
    memset(&b, 0, sizeof(b));
    ck_assert_int_eq(miroir_facets_write_stats(f, &b), MIROIR_OK);
    miroir_buf_addc(&b, '\0');
    ck_assert_str_eq(b.data, golden_stats);
    miroir_buf_free(&b);
    miroir_facets_free(f);
}
END_TEST


START_TEST(test_facets_count_order)
{
    static const char *const  d[] = {
        "{\"g\":{\"b\":3,\"a\":1,\"10\":1,\"c\":2}}",
        "{\"g\":{\"a\":3,\"d\":5,\"9\":4}}",
    };
    static const miroir_facet_rule_t  rules[] = {
        { "*", MIROIR_FACET_COUNT } };
    miroir_facet_conf_t  conf;

    memset(&conf, 0, sizeof(conf));
    conf.rules = rules;
    conf.nrules = 1;
    conf.max_values = 100;
    /* numbers first by count; strings by count, ties alphabetical */
    check_dist(d, 2, &conf,
               "{\"g\":{\"9\":4,\"10\":1,\"d\":5,\"a\":4,\"b\":3,\"c\":2}}");

    conf.max_values = 3;
    check_dist(d, 2, &conf, "{\"g\":{\"9\":4,\"10\":1,\"d\":5}}");

    conf.max_values = 0;
    check_dist(d, 2, &conf, "{\"g\":{}}");
}
END_TEST


START_TEST(test_facets_per_facet_rule)
{
    static const char *const  d[] = {
        "{\"a\":{\"x\":1,\"y\":2},\"b\":{\"x\":1,\"y\":2}}" };
    static const miroir_facet_rule_t  rules[] = {
        { "b", MIROIR_FACET_COUNT }, { "*", MIROIR_FACET_ALPHA } };
    miroir_facet_conf_t  conf;

    memset(&conf, 0, sizeof(conf));
    conf.rules = rules;
    conf.nrules = 2;
    conf.max_values = 10;
    check_dist(d, 1, &conf,
               "{\"a\":{\"x\":1,\"y\":2},\"b\":{\"y\":2,\"x\":1}}");
    ck_assert_int_eq(miroir_facet_order(&conf, "b", 1), MIROIR_FACET_COUNT);
    ck_assert_int_eq(miroir_facet_order(&conf, "zz", 2), MIROIR_FACET_ALPHA);
    ck_assert_int_eq(miroir_facet_order(NULL, "b", 1), MIROIR_FACET_ALPHA);
}
END_TEST


START_TEST(test_facets_alpha_numbers)
{
    static const char *const  d[] = {
        "{\"n\":{\"10\":1,\"9\":1,\"b\":1}}", "{\"n\":{\"2.5\":1,\"A\":2}}" };
    miroir_facet_conf_t  conf;

    memset(&conf, 0, sizeof(conf));
    conf.max_values = 100;

    /* <= 3000 candidates: numbers by their text (1.50 quirk) */
    conf.candidates = 3000;
    check_dist(d, 2, &conf,
               "{\"n\":{\"10\":1,\"2.5\":1,\"9\":1,\"A\":2,\"b\":1}}");

    conf.candidates = 3001;
    check_dist(d, 2, &conf,
               "{\"n\":{\"2.5\":1,\"9\":1,\"10\":1,\"A\":2,\"b\":1}}");
}
END_TEST


START_TEST(test_facets_normalized_grouping)
{
    /* one value, spelled differently on two nodes: the first node's wins */
    static const char *const  d[] = {
        "{\"g\":{\"Action\":2,\"drama\":1}}",
        "{\"g\":{\"action\":3,\" Drama \":1,\"\\u00e9t\\u00e9\":1}}" };
    miroir_facet_conf_t  conf;

    memset(&conf, 0, sizeof(conf));
    conf.max_values = 100;
    check_dist(d, 2, &conf,
               "{\"g\":{\"Action\":5,\"drama\":2,\"\\u00e9t\\u00e9\":1}}");
}
END_TEST


START_TEST(test_facets_stats_raw_text)
{
    miroir_facets_t  *f;
    miroir_error_t    err;
    miroir_buf_t      b;

    f = miroir_facets_create();
    ck_assert_int_eq(miroir_facets_add_stats(f,
        sp("{\"p\":{\"min\":2.50,\"max\":1e3}}"), &err), MIROIR_OK);
    ck_assert_int_eq(miroir_facets_add_stats(f,
        sp("{\"p\":{\"min\":-0.5,\"max\":999.0},\"q\":{\"min\":1,"
           "\"max\":1}}"), &err), MIROIR_OK);
    memset(&b, 0, sizeof(b));
    ck_assert_int_eq(miroir_facets_write_stats(f, &b), MIROIR_OK);
    miroir_buf_addc(&b, '\0');
    ck_assert_str_eq(b.data, "{\"p\":{\"min\":-0.5,\"max\":1e3},"
                     "\"q\":{\"min\":1,\"max\":1}}");
    miroir_buf_free(&b);
    miroir_facets_free(f);
}
END_TEST


/* Miroir's routing tags (asked by facets ["*"]) never reach the client */
START_TEST(test_facets_reserved_hidden)
{
    static const char *const  d[] = {
        "{\"_miroir_o0\":{\"n1\":3},\"g\":{\"a\":1},"
        "\"_miroir_shard\":{\"4\":1}}",
        "{\"g\":{\"a\":2},\"_miroir_o1\":{\"n2\":1}}",
    };
    miroir_facet_rule_t  rule = { "*", MIROIR_FACET_ALPHA };
    miroir_facet_conf_t  conf = { 100, &rule, 1, 0 };
    miroir_facets_t     *f;
    miroir_error_t       err;
    miroir_buf_t         b;

    check_dist(d, 2, &conf, "{\"g\":{\"a\":3}}");

    f = miroir_facets_create();
    ck_assert_int_eq(miroir_facets_add_stats(f,
        sp("{\"_miroir_shard\":{\"min\":0,\"max\":63},"
           "\"p\":{\"min\":1,\"max\":2}}"), &err), MIROIR_OK);
    memset(&b, 0, sizeof(b));
    ck_assert_int_eq(miroir_facets_write_stats(f, &b), MIROIR_OK);
    miroir_buf_addc(&b, '\0');
    ck_assert_str_eq(b.data, "{\"p\":{\"min\":1,\"max\":2}}");
    miroir_buf_free(&b);
    miroir_facets_free(f);
}
END_TEST


static const char *const  bad_dist[] = {
    "[]", "{\"g\":[]}", "{\"g\":{\"a\":\"1\"}}", "{\"g\":{\"a\":-1}}",
    "{\"g\":{\"a\":null}}",
};

static const char *const  bad_stats[] = {
    "[]", "{\"g\":1}", "{\"g\":{\"min\":1}}", "{\"g\":{\"max\":1}}",
    "{\"g\":{\"min\":\"1\",\"max\":2}}",
};


START_TEST(test_facets_bad)
{
    miroir_facets_t  *f;
    miroir_error_t    err;

    f = miroir_facets_create();
    ck_assert_int_eq(miroir_facets_add_distribution(f, sp(bad_dist[_i]),
                                                    &err), MIROIR_ERROR);
    ck_assert_int_eq(err.status, 500);
    ck_assert_int_eq(miroir_facets_add_stats(f, sp(bad_stats[_i]), &err),
                     MIROIR_ERROR);
    miroir_facets_free(f);
    miroir_facets_free(NULL);
}
END_TEST


static Suite *
facets_suite(void)
{
    Suite  *s = suite_create("facets");
    TCase  *tc = tcase_create("core");

    tcase_add_test(tc, test_facets_golden);
    tcase_add_test(tc, test_facets_count_order);
    tcase_add_test(tc, test_facets_per_facet_rule);
    tcase_add_test(tc, test_facets_alpha_numbers);
    tcase_add_test(tc, test_facets_normalized_grouping);
    tcase_add_test(tc, test_facets_stats_raw_text);
    tcase_add_test(tc, test_facets_reserved_hidden);
    tcase_add_loop_test(tc, test_facets_bad, 0,
                        sizeof(bad_dist) / sizeof(bad_dist[0]));
    suite_add_tcase(s, tc);

    return s;
}


int
main(void)
{
    SRunner  *sr = srunner_create(facets_suite());
    int       failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
