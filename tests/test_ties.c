/*
 * test_ties.c -- stable ties: the hidden primary-key rule, its recognition
 * in a node's ranking rules, and its removal from ranking details.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "miroir_ties.h"


/* rules as JSON text -> appended -> printed */
static char *
append(const char *rules, const char *pk, int *rc, char *rule)
{
    char   *out;
    cJSON  *j;

    j = cJSON_Parse(rules);
    ck_assert_ptr_nonnull(j);

    *rc = miroir_ties_append(j, pk, rule, MIROIR_TIES_RULE_MAX);
    out = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);

    return out;
}


static char *
find(const char *rules, const char *pk, int *rc, char *rule)
{
    char   *out;
    cJSON  *j;

    j = cJSON_Parse(rules);
    ck_assert_ptr_nonnull(j);

    *rc = miroir_ties_find(j, pk, 1, rule, MIROIR_TIES_RULE_MAX);
    out = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);

    return out;
}


START_TEST(test_ties_append)
{
    int    rc;
    char  *s, rule[MIROIR_TIES_RULE_MAX];

    s = append("[\"words\",\"typo\"]", "id", &rc, rule);
    ck_assert_int_eq(rc, 1);
    ck_assert_str_eq(rule, "id:asc");
    ck_assert_str_eq(s, "[\"words\",\"typo\",\"id:asc\"]");
    free(s);

    /* the user's own id:desc: still id:asc after it */
    s = append("[\"words\",\"id:desc\"]", "id", &rc, rule);
    ck_assert_int_eq(rc, 1);
    ck_assert_str_eq(s, "[\"words\",\"id:desc\",\"id:asc\"]");
    free(s);

    /* the user's own id:asc: id:desc marks the list, never a duplicate */
    s = append("[\"words\",\"id:asc\"]", "id", &rc, rule);
    ck_assert_int_eq(rc, 1);
    ck_assert_str_eq(rule, "id:desc");
    ck_assert_str_eq(s, "[\"words\",\"id:asc\",\"id:desc\"]");
    free(s);

    /* both: nothing to add */
    s = append("[\"id:desc\",\"id:asc\"]", "id", &rc, rule);
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(s, "[\"id:desc\",\"id:asc\"]");
    free(s);

    /* an empty list */
    s = append("[]", "sku", &rc, NULL);
    ck_assert_int_eq(rc, 1);
    ck_assert_str_eq(s, "[\"sku:asc\"]");
    free(s);

    /* another field's rule is not the pk's */
    s = append("[\"ida:asc\",\"id\"]", "id", &rc, rule);
    ck_assert_int_eq(rc, 1);
    ck_assert_str_eq(s, "[\"ida:asc\",\"id\",\"id:asc\"]");
    free(s);
}
END_TEST


START_TEST(test_ties_append_bad)
{
    int     rc;
    char   *s, big[1000];
    cJSON  *j;

    s = append("{\"a\":1}", "id", &rc, NULL);
    ck_assert_int_eq(rc, -1);
    free(s);

    s = append("[\"words\"]", "", &rc, NULL);
    ck_assert_int_eq(rc, -1);
    ck_assert_str_eq(s, "[\"words\"]");
    free(s);

    /* Meilisearch refuses `_geo:asc` and the like as ranking rules */
    s = append("[\"words\"]", "_geo", &rc, NULL);
    ck_assert_int_eq(rc, -1);
    ck_assert_str_eq(s, "[\"words\"]");
    free(s);

    j = cJSON_Parse("[\"words\"]");
    ck_assert_int_eq(miroir_ties_append(j, NULL, NULL, 0), -1);

    memset(big, 'k', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(miroir_ties_append(j, big, NULL, 0), -1);
    ck_assert_int_eq(cJSON_GetArraySize(j), 1);
    cJSON_Delete(j);
}
END_TEST


START_TEST(test_ties_defaults)
{
    char   *s;
    cJSON  *d;

    d = miroir_ties_defaults();
    s = cJSON_PrintUnformatted(d);
    ck_assert_str_eq(s, "[\"words\",\"typo\",\"proximity\",\"attributeRank\","
                        "\"sort\",\"wordPosition\",\"exactness\"]");
    free(s);
    cJSON_Delete(d);
}
END_TEST


/* whatever the user wrote, append then find gives it back */
START_TEST(test_ties_roundtrip)
{
    static const char  *lists[] = {
        "[]", "[\"words\"]", "[\"id:asc\"]", "[\"id:desc\"]",
        "[\"words\",\"id:asc\",\"typo\"]", "[\"id:desc\",\"words\"]",
        "[\"words\",\"typo\",\"id:asc\"]", "[\"x:asc\"]",
        "[\"sort\",\"exactness\",\"id:desc\"]", "[\"id:asc\",\"id:x\"]"
    };
    int     rc;
    char   *s, *t, rule[MIROIR_TIES_RULE_MAX], found[MIROIR_TIES_RULE_MAX];
    size_t  i;

    for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        s = append(lists[i], "id", &rc, rule);
        ck_assert_int_eq(rc, 1);

        t = find(s, "id", &rc, found);
        ck_assert_msg(rc == 1, "%s", lists[i]);
        ck_assert_str_eq(found, rule);
        ck_assert_str_eq(t, lists[i]);
        free(s);
        free(t);
    }
}
END_TEST


START_TEST(test_ties_find)
{
    int    rc;
    char  *s;

    /* lists Miroir did not write */
    s = find("[\"words\",\"typo\"]", "id", &rc, NULL);
    ck_assert_int_eq(rc, 0);
    free(s);

    s = find("[\"words\",\"price:asc\"]", "id", &rc, NULL);
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(s, "[\"words\",\"price:asc\"]");
    free(s);

    s = find("[\"words\",\"id:desc\"]", "id", &rc, NULL);
    ck_assert_int_eq(rc, 0);
    free(s);

    s = find("[]", "id", &rc, NULL);
    ck_assert_int_eq(rc, 0);
    free(s);

    s = find("[\"words\",\"id:asc\"]", "", &rc, NULL);
    ck_assert_int_eq(rc, 0);
    free(s);

    s = find("[\"words\",3]", "id", &rc, NULL);
    ck_assert_int_eq(rc, 0);
    free(s);

    /* the one ambiguous list: both pk rules, ending with one */
    s = find("[\"id:desc\",\"id:asc\"]", "id", &rc, NULL);
    ck_assert_int_eq(rc, 1);
    ck_assert_str_eq(s, "[\"id:desc\"]");
    free(s);
}
END_TEST


START_TEST(test_ties_drop)
{
    char   *s;
    cJSON  *j;

    j = cJSON_Parse("[\"words\",\"id:asc\"]");
    ck_assert_int_eq(miroir_ties_drop(j, "id:desc"), 0);
    ck_assert_int_eq(miroir_ties_drop(j, "id:asc"), 1);
    s = cJSON_PrintUnformatted(j);
    ck_assert_str_eq(s, "[\"words\"]");
    free(s);
    ck_assert_int_eq(miroir_ties_drop(j, NULL), 0);
    cJSON_Delete(j);

    j = cJSON_Parse("null");
    ck_assert_int_eq(miroir_ties_drop(j, "id:asc"), 0);
    cJSON_Delete(j);
}
END_TEST


static char *
strip(const char *text, const char *rule)
{
    char    *buf;
    size_t   len;

    buf = strdup(text);
    len = miroir_ties_strip_details(buf, strlen(buf), rule);
    ck_assert_uint_eq(len, strlen(buf));

    return buf;
}


START_TEST(test_ties_strip_details)
{
    char  *s;

    s = strip("{\"hits\":[{\"id\":1,\"_rankingScoreDetails\":{\"words\":"
              "{\"order\":0,\"score\":1.0},\"id:asc\":{\"order\":1,"
              "\"value\":1.0}}},{\"id\":\"b}\",\"_rankingScoreDetails\":{"
              "\"id:asc\":{\"order\":0,\"value\":\"b}\\\"\"}},\"x\":2}],"
              "\"query\":\"\"}", "id:asc");
    ck_assert_str_eq(s, "{\"hits\":[{\"id\":1,\"_rankingScoreDetails\":{"
                        "\"words\":{\"order\":0,\"score\":1.0}}},{\"id\":"
                        "\"b}\",\"_rankingScoreDetails\":{},\"x\":2}],"
                        "\"query\":\"\"}");
    free(s);

    /* a user rule on the pk that is not the last member stays */
    s = strip("{\"_rankingScoreDetails\":{\"id:asc\":{\"order\":0,"
              "\"value\":1.0},\"words\":{\"order\":1}}}", "id:asc");
    ck_assert_str_eq(s, "{\"_rankingScoreDetails\":{\"id:asc\":{\"order\":0,"
                        "\"value\":1.0},\"words\":{\"order\":1}}}");
    free(s);

    /* the pk not displayed: Meilisearch redacts the key */
    s = strip("{\"_rankingScoreDetails\":{\"sort\":1,\"<hidden-rule-1>\":"
              "{\"order\":1,\"value\":\"<hidden>\"}}}", "id:asc");
    ck_assert_str_eq(s, "{\"_rankingScoreDetails\":{\"sort\":1}}");
    free(s);

    /* a document field with the same name inside a string: untouched */
    s = strip("{\"t\":\"\\\"_rankingScoreDetails\\\":{\\\"id:asc\\\":1}\","
              "\"v\":[1,{\"a\":\"}\"}]}", "id:asc");
    ck_assert_str_eq(s, "{\"t\":\"\\\"_rankingScoreDetails\\\":{\\\"id:asc"
                        "\\\":1}\",\"v\":[1,{\"a\":\"}\"}]}");
    free(s);

    /* other rules of the same name prefix stay */
    s = strip("{\"_rankingScoreDetails\":{\"id:ascx\":{\"order\":0}}}",
              "id:asc");
    ck_assert_str_eq(s, "{\"_rankingScoreDetails\":{\"id:ascx\":"
                        "{\"order\":0}}}");
    free(s);

    /* truncated text: no crash, nothing removed past the end */
    s = strip("{\"_rankingScoreDetails\":{\"id:asc\":{\"order\":0,",
              "id:asc");
    free(s);

    s = strip("{\"_rankingScoreDetails\":", "id:asc");
    ck_assert_str_eq(s, "{\"_rankingScoreDetails\":");
    free(s);

    ck_assert_uint_eq(miroir_ties_strip_details(NULL, 0, "id:asc"), 0);
}
END_TEST


static Suite *
ties_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("ties");
    tc = tcase_create("core");

    tcase_add_test(tc, test_ties_append);
    tcase_add_test(tc, test_ties_append_bad);
    tcase_add_test(tc, test_ties_defaults);
    tcase_add_test(tc, test_ties_roundtrip);
    tcase_add_test(tc, test_ties_find);
    tcase_add_test(tc, test_ties_drop);
    tcase_add_test(tc, test_ties_strip_details);
    suite_add_tcase(s, tc);

    return s;
}


int
main(void)
{
    int       failed;
    SRunner  *sr;

    sr = srunner_create(ties_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
