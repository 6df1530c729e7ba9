/*
 * test_federate.c -- the federated multi-search merge.
 *
 * Expected texts come from the 1.50 golden steps `federated` and
 * `federated-details` (t/golden/meilisearch-1.50.0.json) where the inputs
 * can be rebuilt, plus proxy-mode node answers (§9.6).
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "miroir_federate.h"


static void
params(miroir_federate_params_t *p, const miroir_fed_query_t *q, size_t n)
{
    memset(p, 0, sizeof(*p));
    p->limit = 20;
    p->page = 1;
    p->hits_per_page = 20;
    p->queries = q;
    p->nqueries = n;
}


static char *
result(miroir_federate_t *f)
{
    miroir_error_t  err;
    char           *out;
    size_t          len;

    ck_assert_int_eq(miroir_federate_result(f, 5, &out, &len, &err),
                     MIROIR_OK);
    ck_assert_uint_eq(len, strlen(out));

    return out;
}


/*
 * Golden `federated`: "dark" (weight 1) and "nolan" (weight 0.5) on
 * movies, limit 5.  The per-query answers carry `_rankingScore` (the
 * merged answers Miroir would get with showRankingScore).
 */
static const char  q_dark[] =
    "{\"hits\":[{\"id\":\"b_22\",\"_rankingScore\":1.0},"
    "{\"id\":2,\"_rankingScore\":0.9949494949494949},"
    "{\"id\":5,\"_rankingScore\":0.9949494949494949},"
    "{\"id\":8,\"_rankingScore\":0.9873737373737373},"
    "{\"id\":1,\"_rankingScore\":0.9747474747474747},"
    "{\"id\":17,\"_rankingScore\":0.5}],"
    "\"query\":\"dark\",\"processingTimeMs\":1,\"limit\":20,\"offset\":0,"
    "\"estimatedTotalHits\":8}";
static const char  q_nolan[] =
    "{\"hits\":[{\"id\":1,\"_rankingScore\":1.0},"
    "{\"id\":23,\"_rankingScore\":0.9}],"
    "\"query\":\"nolan\",\"processingTimeMs\":1,\"limit\":20,\"offset\":0,"
    "\"estimatedTotalHits\":4}";


START_TEST(test_federate_golden_weights)
{
    static const miroir_fed_query_t  q[] = {
        { "movies", 1.0, 0, 0, "id" }, { "movies", 0.5, 0, 0, "id" } };
    miroir_federate_params_t  p;
    miroir_federate_t        *f;
    miroir_error_t            err;
    char                     *out;

    params(&p, q, 2);
    p.limit = 5;
    ck_assert_int_eq(miroir_federate_create(&p, &f, &err), MIROIR_OK);
    ck_assert_int_eq(miroir_federate_add_query(f, 1, q_nolan,
                     strlen(q_nolan), &err), MIROIR_OK);
    ck_assert_int_eq(miroir_federate_add_query(f, 0, q_dark,
                     strlen(q_dark), &err), MIROIR_OK);
    out = result(f);
    ck_assert_str_eq(out,
        "{\"hits\":[{\"id\":\"b_22\",\"_federation\":{\"indexUid\":\"movies\","
        "\"queriesPosition\":0,\"weightedRankingScore\":1.0}},{\"id\":2,"
        "\"_federation\":{\"indexUid\":\"movies\",\"queriesPosition\":0,"
        "\"weightedRankingScore\":0.9949494949494949}},{\"id\":5,"
        "\"_federation\":{\"indexUid\":\"movies\",\"queriesPosition\":0,"
        "\"weightedRankingScore\":0.9949494949494949}},{\"id\":8,"
        "\"_federation\":{\"indexUid\":\"movies\",\"queriesPosition\":0,"
        "\"weightedRankingScore\":0.9873737373737373}},{\"id\":1,"
        "\"_federation\":{\"indexUid\":\"movies\",\"queriesPosition\":0,"
        "\"weightedRankingScore\":0.9747474747474747}}],"
        "\"processingTimeMs\":5,\"limit\":5,\"offset\":0,"
        "\"estimatedTotalHits\":12}");
    free(out);
    miroir_federate_free(f);

    /* the whole list: id 1 of "nolan" (0.5) is a duplicate, dropped;
     * 23 (0.45) ranks after 17 (0.5) */
    params(&p, q, 2);
    p.offset = 4;
    ck_assert_int_eq(miroir_federate_create(&p, &f, &err), MIROIR_OK);
    ck_assert_int_eq(miroir_federate_add_query(f, 0, q_dark,
                     strlen(q_dark), &err), MIROIR_OK);
    ck_assert_int_eq(miroir_federate_add_query(f, 1, q_nolan,
                     strlen(q_nolan), &err), MIROIR_OK);
    out = result(f);
    ck_assert_str_eq(out,
        "{\"hits\":[{\"id\":1,\"_federation\":{\"indexUid\":\"movies\","
        "\"queriesPosition\":0,\"weightedRankingScore\":0.9747474747474747}},"
        "{\"id\":17,\"_federation\":{\"indexUid\":\"movies\","
        "\"queriesPosition\":0,\"weightedRankingScore\":0.5}},"
        "{\"id\":23,\"_federation\":{\"indexUid\":\"movies\","
        "\"queriesPosition\":1,\"weightedRankingScore\":0.45}}],"
        "\"processingTimeMs\":5,\"limit\":20,\"offset\":4,"
        "\"estimatedTotalHits\":12}");
    free(out);
    miroir_federate_free(f);
}
END_TEST


/* Golden `federated-details`: `_federation` goes before `_rankingScore`. */
START_TEST(test_federate_golden_details)
{
    static const miroir_fed_query_t  q[] = {
        { "movies", 1.0, 1, 0, NULL }, { "shop", 1.0, 1, 0, NULL } };
    static const char  movies[] =
        "{\"hits\":[{\"id\":4,\"_rankingScore\":0.9949494949494949,"
        "\"_rankingScoreDetails\":{\"words\":{\"order\":0,\"score\":1.0}}},"
        "{\"id\":\"a-21\",\"_rankingScore\":0.9873737373737373}],"
        "\"estimatedTotalHits\":7}";
    static const char  shop[] =
        "{\"hits\":[{\"sku\":\"x1\",\"_rankingScore\":0.9848484848484849},"
        "{\"sku\":\"x3\",\"_rankingScore\":0.9848484848484849}],"
        "\"estimatedTotalHits\":2}";
    miroir_federate_params_t  p;
    miroir_federate_t        *f;
    miroir_error_t            err;
    char                     *out;

    params(&p, q, 2);
    p.limit = 4;
    p.request_uid = "u";
    ck_assert_int_eq(miroir_federate_create(&p, &f, &err), MIROIR_OK);
    ck_assert_int_eq(miroir_federate_add_query(f, 1, shop, strlen(shop),
                                               &err), MIROIR_OK);
    ck_assert_int_eq(miroir_federate_add_query(f, 0, movies, strlen(movies),
                                               &err), MIROIR_OK);
    out = result(f);
    ck_assert_str_eq(out,
        "{\"hits\":[{\"id\":4,\"_federation\":{\"indexUid\":\"movies\","
        "\"queriesPosition\":0,\"weightedRankingScore\":0.9949494949494949},"
        "\"_rankingScore\":0.9949494949494949},{\"id\":\"a-21\","
        "\"_federation\":{\"indexUid\":\"movies\",\"queriesPosition\":0,"
        "\"weightedRankingScore\":0.9873737373737373},"
        "\"_rankingScore\":0.9873737373737373},{\"sku\":\"x1\","
        "\"_federation\":{\"indexUid\":\"shop\",\"queriesPosition\":1,"
        "\"weightedRankingScore\":0.9848484848484849},"
        "\"_rankingScore\":0.9848484848484849},{\"sku\":\"x3\","
        "\"_federation\":{\"indexUid\":\"shop\",\"queriesPosition\":1,"
        "\"weightedRankingScore\":0.9848484848484849},"
        "\"_rankingScore\":0.9848484848484849}],\"processingTimeMs\":5,"
        "\"limit\":4,\"offset\":0,\"estimatedTotalHits\":9,"
        "\"requestUid\":\"u\"}");
    free(out);
    miroir_federate_free(f);
}
END_TEST


#define FED(q, s, v)  "\"_federation\":{\"indexUid\":\"movies\"," \
    "\"queriesPosition\":" #q ",\"weightedRankingScore\":" #s \
    ",\"weightedScoreValues\":" v "}"

/* Proxy-mode answers of two nodes; year:desc sort after the score. */
static const char  node0[] =
    "{\"hits\":["
    "{\"id\":1," FED(0, 0.9, "[{\"weightedScore\":0.9},{\"sort\":{\"asc\""
    ":false,\"value\":2001.0}}]") "},"
    "{\"id\":2," FED(1, 0.5, "[{\"weightedScore\":0.5},{\"sort\":{\"asc\""
    ":false,\"value\":1990.0}}]") "}],"
    "\"processingTimeMs\":1,\"limit\":20,\"offset\":0,"
    "\"estimatedTotalHits\":3,\"facetsByIndex\":{\"movies\":{"
    "\"distribution\":{\"genres\":{\"drama\":2,\"action\":1}},"
    "\"stats\":{\"year\":{\"min\":1990.0,\"max\":2001.0}}}}}";
static const char  node1[] =
    "{\"hits\":["
    "{\"id\":3," FED(0, 0.9, "[{\"weightedScore\":0.9},{\"sort\":{\"asc\""
    ":false,\"value\":2010.0}}]") ",\"_miroir_o0\":\"n1\"},"
    "{\"id\":4," FED(1, 0.9, "[{\"weightedScore\":0.9},{\"sort\":{\"asc\""
    ":false,\"value\":2001.0}}]") "}],"
    "\"processingTimeMs\":1,\"limit\":20,\"offset\":0,"
    "\"estimatedTotalHits\":2,\"facetsByIndex\":{\"movies\":{"
    "\"distribution\":{\"genres\":{\"action\":4}},\"stats\":{}}}}";


START_TEST(test_federate_proxy_nodes)
{
    static const miroir_fed_query_t  q[] = {
        { "movies", 1.0, 0, 0, NULL }, { "movies", 1.0, 0, 0, NULL } };
    miroir_federate_params_t  p;
    miroir_federate_t        *f;
    miroir_error_t            err;
    char                     *out;

    params(&p, q, 2);
    ck_assert_int_eq(miroir_federate_create(&p, &f, &err), MIROIR_OK);
    ck_assert_int_eq(miroir_federate_add_node(f, 1, node1, strlen(node1),
                                              &err), MIROIR_OK);
    ck_assert_int_eq(miroir_federate_add_node(f, 0, node0, strlen(node0),
                                              &err), MIROIR_OK);
    out = result(f);
    /* 3 (2010) > 1 (2001, query 0) > 4 (2001, query 1) > 2 */
    ck_assert_str_eq(out,
        "{\"hits\":["
        "{\"id\":3,\"_federation\":{\"indexUid\":\"movies\","
        "\"queriesPosition\":0,\"weightedRankingScore\":0.9}},"
        "{\"id\":1,\"_federation\":{\"indexUid\":\"movies\","
        "\"queriesPosition\":0,\"weightedRankingScore\":0.9}},"
        "{\"id\":4,\"_federation\":{\"indexUid\":\"movies\","
        "\"queriesPosition\":1,\"weightedRankingScore\":0.9}},"
        "{\"id\":2,\"_federation\":{\"indexUid\":\"movies\","
        "\"queriesPosition\":1,\"weightedRankingScore\":0.5}}],"
        "\"processingTimeMs\":5,\"limit\":20,\"offset\":0,"
        "\"estimatedTotalHits\":5,\"facetsByIndex\":{\"movies\":{"
        "\"distribution\":{\"genres\":{\"action\":5,\"drama\":2}},"
        "\"stats\":{\"year\":{\"min\":1990.0,\"max\":2001.0}}}}}");
    free(out);
    miroir_federate_free(f);

    /* page mode, mergeFacets */
    params(&p, q, 2);
    p.page_mode = 1;
    p.page = 2;
    p.hits_per_page = 3;
    p.merge_facets = 1;
    p.merge_max_values = 1;
    ck_assert_int_eq(miroir_federate_create(&p, &f, &err), MIROIR_OK);
    ck_assert_int_eq(miroir_federate_add_node(f, 0, node0, strlen(node0),
                                              &err), MIROIR_OK);
    ck_assert_int_eq(miroir_federate_add_node(f, 1, node1, strlen(node1),
                                              &err), MIROIR_OK);
    out = result(f);
    ck_assert_str_eq(out,
        "{\"hits\":["
        "{\"id\":2,\"_federation\":{\"indexUid\":\"movies\","
        "\"queriesPosition\":1,\"weightedRankingScore\":0.5}}],"
        "\"processingTimeMs\":5,\"hitsPerPage\":3,\"page\":2,"
        "\"totalPages\":2,\"totalHits\":5,"
        "\"facetDistribution\":{\"genres\":{\"action\":5}},"
        "\"facetStats\":{\"year\":{\"min\":1990.0,\"max\":2001.0}}}");
    free(out);
    miroir_federate_free(f);
}
END_TEST


static const char *const  bad_nodes[] = {
    "{\"hits\":[{\"id\":1}]}",
    "{\"hits\":[{\"id\":1,\"_federation\":{\"queriesPosition\":0,"
    "\"weightedRankingScore\":1}}]}",
    "{\"hits\":[{\"id\":1,\"_federation\":{\"queriesPosition\":5,"
    "\"weightedRankingScore\":1,\"weightedScoreValues\":[]}}]}",
    "{\"hits\":[{\"id\":1,\"_federation\":{\"queriesPosition\":0,"
    "\"weightedRankingScore\":1,\"weightedScoreValues\":[{\"x\":1}]}}]}",
    "{\"hits\":[{\"id\":1,\"_federation\":{\"queriesPosition\":0,"
    "\"weightedRankingScore\":1,\"weightedScoreValues\":[{\"sort\":1}]}}]}",
    "{\"hits\":[],\"facetsByIndex\":{\"nope\":{}}}",
    "{\"hits\":[],\"facetsByIndex\":{\"movies\":{\"distribution\":[]}}}",
    "{\"hits\":[",
};


START_TEST(test_federate_bad_node)
{
    static const miroir_fed_query_t  q[] = { { "movies", 1.0, 0, 0, NULL } };
    miroir_federate_params_t  p;
    miroir_federate_t        *f;
    miroir_error_t            err;
    char                     *out;

    params(&p, q, 1);
    ck_assert_int_eq(miroir_federate_create(&p, &f, &err), MIROIR_OK);
    ck_assert_int_eq(miroir_federate_add_node(f, 0, bad_nodes[_i],
                     strlen(bad_nodes[_i]), &err), MIROIR_ERROR);
    ck_assert_int_ge(err.status, 500);
    out = result(f);
    ck_assert_str_eq(out, "{\"hits\":[],\"processingTimeMs\":5,"
                     "\"limit\":20,\"offset\":0,\"estimatedTotalHits\":0}");
    free(out);
    ck_assert_int_eq(miroir_federate_add_query(f, 1, "{}", 2, &err),
                     MIROIR_EINVAL);
    miroir_federate_free(f);
}
END_TEST


START_TEST(test_federate_float_text)
{
    static const struct { double v; const char *t; }  f[] = {
        { 1.0, "1.0" }, { 0.45, "0.45" }, { 0.9949494949494949,
          "0.9949494949494949" }, { 1e-7, "1e-7" }, { 2.5e-5, "2.5e-5" },
        { 1e20, "1e20" }, { 0.0, "0.0" }, { 123456.0, "123456.0" },
    };
    miroir_buf_t  b;
    size_t        i;

    for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        memset(&b, 0, sizeof(b));
        miroir_buf_addf(&b, f[i].v);
        miroir_buf_addc(&b, '\0');
        ck_assert_str_eq(b.data, f[i].t);
        miroir_buf_free(&b);
    }
}
END_TEST


START_TEST(test_federate_bad_params)
{
    miroir_federate_params_t  p;
    miroir_federate_t        *f;
    miroir_error_t            err;

    params(&p, NULL, 0);
    ck_assert_int_eq(miroir_federate_create(&p, &f, &err), MIROIR_EINVAL);
    miroir_federate_free(NULL);
}
END_TEST


/*
 * Property: proxy-mode hits of one query with random [score, sort]
 * values over k nodes; the federated merge equals the reference order.
 */
START_TEST(test_federate_property)
{
    static const miroir_fed_query_t  q[] = { { "i", 1.0, 0, 0, NULL } };
    uint64_t                  st = 77 + (uint64_t) _i;
    miroir_federate_params_t  p;
    miroir_federate_t        *f;
    miroir_error_t            err;
    miroir_buf_t              nb[4], want;
    size_t                    nh, k, i, j, node[40];
    int                       sc[40], yr[40], ord[40], t;
    char                     *out, tmp[64];

    nh = 1 + _i % 40;
    k = 1 + _i % 4;
    for (i = 0; i < nh; i++) {
        st = st * 6364136223846793005ULL + 1;
        sc[i] = (int) ((st >> 33) % 3);
        yr[i] = (int) ((st >> 40) % 4);
        node[i] = (st >> 50) % k;
        ord[i] = (int) i;
    }

    /* reference: score desc, year desc, then node, then id */
    for (i = 1; i < nh; i++) {
        for (j = i; j > 0; j--) {
            int a = ord[j - 1], b = ord[j];
            int c = sc[a] != sc[b] ? (sc[a] > sc[b] ? -1 : 1)
                  : yr[a] != yr[b] ? (yr[a] > yr[b] ? -1 : 1)
                  : node[a] != node[b] ? (node[a] < node[b] ? -1 : 1)
                  : (a < b ? -1 : 1);
            if (c < 0) {
                break;
            }
            t = ord[j]; ord[j] = ord[j - 1]; ord[j - 1] = t;
        }
    }

    memset(nb, 0, sizeof(nb));
    memset(&want, 0, sizeof(want));
    for (j = 0; j < k; j++) {
        miroir_buf_adds(&nb[j], "{\"hits\":[");
    }
    miroir_buf_adds(&want, "{\"hits\":[");
    for (i = 0; i < nh; i++) {
        t = ord[i];
        j = node[t];
        if (nb[j].data[nb[j].len - 1] == '}') {
            miroir_buf_addc(&nb[j], ',');
        }
        snprintf(tmp, sizeof(tmp), "{\"id\":%d,\"_federation\":{", t);
        miroir_buf_adds(&nb[j], tmp);
        snprintf(tmp, sizeof(tmp), "\"queriesPosition\":0,"
                 "\"weightedRankingScore\":0.%d,", sc[t] + 1);
        miroir_buf_adds(&nb[j], tmp);
        snprintf(tmp, sizeof(tmp), "\"weightedScoreValues\":[{\"weighted");
        miroir_buf_adds(&nb[j], tmp);
        snprintf(tmp, sizeof(tmp), "Score\":0.%d},{\"sort\":{\"asc\":false,",
                 sc[t] + 1);
        miroir_buf_adds(&nb[j], tmp);
        snprintf(tmp, sizeof(tmp), "\"value\":%d}}]}}", yr[t]);
        miroir_buf_adds(&nb[j], tmp);

        if (i) {
            miroir_buf_addc(&want, ',');
        }
        snprintf(tmp, sizeof(tmp), "{\"id\":%d,\"_federation\":{", t);
        miroir_buf_adds(&want, tmp);
        snprintf(tmp, sizeof(tmp), "\"queriesPosition\":0,"
                 "\"weightedRankingScore\":0.%d}}", sc[t] + 1);
        miroir_buf_adds(&want, tmp);
    }
    miroir_buf_adds(&want, "],");

    params(&p, q, 1);
    p.limit = 100;
    ck_assert_int_eq(miroir_federate_create(&p, &f, &err), MIROIR_OK);
    for (j = k; j-- > 0; ) {
        miroir_buf_adds(&nb[j], "],\"estimatedTotalHits\":1}");
        ck_assert_msg(miroir_federate_add_node(f, j, nb[j].data, nb[j].len,
                                               &err) == MIROIR_OK,
                      "%s", err.message);
    }
    out = result(f);
    miroir_buf_addc(&want, '\0');
    ck_assert_msg(strncmp(out, want.data, want.len - 1) == 0,
                  "got %s\nwant %s", out, want.data);
    free(out);
    miroir_federate_free(f);
    for (j = 0; j < k; j++) {
        miroir_buf_free(&nb[j]);
    }
    miroir_buf_free(&want);
}
END_TEST


static Suite *
federate_suite(void)
{
    Suite  *s = suite_create("federate");
    TCase  *tc = tcase_create("core");

    tcase_add_test(tc, test_federate_golden_weights);
    tcase_add_test(tc, test_federate_golden_details);
    tcase_add_test(tc, test_federate_proxy_nodes);
    tcase_add_loop_test(tc, test_federate_bad_node, 0,
                        sizeof(bad_nodes) / sizeof(bad_nodes[0]));
    tcase_add_test(tc, test_federate_bad_params);
    tcase_add_test(tc, test_federate_float_text);
    tcase_add_loop_test(tc, test_federate_property, 0, 200);
    suite_add_tcase(s, tc);

    return s;
}


int
main(void)
{
    SRunner  *sr = srunner_create(federate_suite());
    int       failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
