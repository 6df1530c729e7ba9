/*
 * test_apikey.c -- API keys: actions and wildcards, index patterns, key
 * values (as Meilisearch derives them), UUIDs and dates, the key store
 * (create/update/delete/list/persist) with Meilisearch's errors, and the
 * authorization decision.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "miroir_apikey.h"


#define MASTER  "golden-master-key-0123456789"
#define UID1    "11111111-1111-4111-8111-111111111111"
#define NOW     (1800000000LL * 1000000000LL)


static uint64_t
bit(int a)
{
    return 1ULL << a;
}


START_TEST(test_actions)
{
    uint64_t  m;

    ck_assert_int_eq(miroir_action_lookup("search", 6), MIROIR_ACT_SEARCH);
    ck_assert_int_eq(miroir_action_lookup("*.get", 5), MIROIR_ACT_ALL_GET);
    ck_assert_int_eq(miroir_action_lookup("fly", 3), -1);
    ck_assert_str_eq(miroir_action_name(MIROIR_ACT_DSR_ALL),
                     "dynamicSearchRules.*");

    m = miroir_action_covers(MIROIR_ACT_ALL);
    ck_assert(m & bit(MIROIR_ACT_KEYS_CREATE));
    ck_assert(m & bit(MIROIR_ACT_SEARCH));
    ck_assert(!(m & bit(MIROIR_ACT_DOCUMENTS_ALL)));     /* only basics */

    m = miroir_action_covers(MIROIR_ACT_DOCUMENTS_ALL);
    ck_assert(m == (bit(MIROIR_ACT_DOCUMENTS_ADD)
                    | bit(MIROIR_ACT_DOCUMENTS_GET)
                    | bit(MIROIR_ACT_DOCUMENTS_DELETE)));

    m = miroir_action_covers(MIROIR_ACT_ALL_GET);
    ck_assert(m & bit(MIROIR_ACT_SEARCH));
    ck_assert(m & bit(MIROIR_ACT_VERSION));
    ck_assert(m & bit(MIROIR_ACT_INDEXES_GET));
    ck_assert(m & bit(MIROIR_ACT_STATS_GET));
    ck_assert(!(m & bit(MIROIR_ACT_KEYS_GET)));
    ck_assert(!(m & bit(MIROIR_ACT_DOCUMENTS_ADD)));

    m = miroir_action_covers(MIROIR_ACT_CHATS_SETTINGS_ALL);
    ck_assert(m == (bit(MIROIR_ACT_CHATS_SETTINGS_GET)
                    | bit(MIROIR_ACT_CHATS_SETTINGS_UPDATE)));

    ck_assert(miroir_action_covers(MIROIR_ACT_SEARCH)
              == bit(MIROIR_ACT_SEARCH));
}
END_TEST


START_TEST(test_patterns_values)
{
    char  v[65], u[37];

    ck_assert(miroir_index_pattern_valid("*", 1));
    ck_assert(miroir_index_pattern_valid("mov*", 4));
    ck_assert(miroir_index_pattern_valid("a_b-9", 5));
    ck_assert(!miroir_index_pattern_valid("a b", 3));
    ck_assert(!miroir_index_pattern_valid("a*b", 3));
    ck_assert(!miroir_index_pattern_valid("", 0));

    ck_assert(miroir_index_pattern_match("*", 1, "x", 1));
    ck_assert(miroir_index_pattern_match("mov*", 4, "mov", 3));
    ck_assert(miroir_index_pattern_match("mov*", 4, "movies", 6));
    ck_assert(!miroir_index_pattern_match("mov*", 4, "mo", 2));
    ck_assert(!miroir_index_pattern_match("movies", 6, "movies2", 7));

    /* the values a real Meilisearch gave (keys golden file) */
    miroir_apikey_value(MASTER, strlen(MASTER), UID1, v);
    ck_assert_str_eq(v, "1dfe0c077c5a002d2ed2031de9610b5010a3e70e9883e4352dc"
                        "90fc13c1361d3");
    miroir_apikey_value(MASTER, strlen(MASTER),
                        "33333333-3333-4333-8333-333333333333", v);
    ck_assert_str_eq(v, "ab9702c9569ddd922d09b2af7c5888a742183a66e77bd52cdeb"
                        "81d1f3daa319f");

    ck_assert(miroir_uuid_parse("11111111111141118111111111111111", 32, u));
    ck_assert_str_eq(u, UID1);
    ck_assert(miroir_uuid_parse("urn:uuid:AAAAAAAA-1111-4111-8111-"
                                "111111111111", 45, u));
    ck_assert_str_eq(u, "aaaaaaaa-1111-4111-8111-111111111111");
    ck_assert(!miroir_uuid_parse("not-a-uuid", 10, u));
    ck_assert(!miroir_uuid_parse("1111111-11111-4111-8111-111111111111", 36,
                                 u));

    ck_assert_int_eq(miroir_uuid_v4(u), MIROIR_OK);
    ck_assert_int_eq(strlen(u), 36);
    ck_assert_int_eq(u[14], '4');

    ck_assert(miroir_ct_equal("abc", 3, "abc", 3));
    ck_assert(!miroir_ct_equal("abc", 3, "abd", 3));
    ck_assert(!miroir_ct_equal("abc", 3, "ab", 2));
    ck_assert(!miroir_ct_equal("abc", 3, "abcabc", 6));
    ck_assert(!miroir_ct_equal("", 0, "x", 1));
}
END_TEST


START_TEST(test_dates)
{
    int64_t  s;
    char     b[64];

    ck_assert(miroir_parse_date("2099-12-31T23:59:59Z", 20, &s));
    ck_assert(s == 4102444799LL);
    ck_assert(miroir_parse_date("2100-01-01", 10, &s));
    ck_assert(s == 4102444800LL);
    ck_assert(miroir_parse_date("2099-12-31 23:59:59", 19, &s));
    ck_assert(s == 4102444799LL);
    ck_assert(miroir_parse_date("2099-12-31T23:59:59", 19, &s));
    ck_assert(miroir_parse_date("2100-01-01T02:00:00.5+02:00", 27, &s));
    ck_assert(s == 4102444800LL);
    ck_assert(!miroir_parse_date("tomorrow", 8, &s));
    ck_assert(!miroir_parse_date("2099-02-30", 10, &s));
    ck_assert(!miroir_parse_date("2099-12-31T25:00:00Z", 20, &s));
    ck_assert(!miroir_parse_date("2099-12-31 23:59:59Z", 20, &s));

    miroir_rfc3339(4102444799LL, 0, b, sizeof(b));
    ck_assert_str_eq(b, "2099-12-31T23:59:59Z");
    miroir_rfc3339(0, 120000000, b, sizeof(b));
    ck_assert_str_eq(b, "1970-01-01T00:00:00.12Z");
}
END_TEST


static long
create(miroir_keystore_t *ks, const char *body, miroir_error_t *err)
{
    return miroir_keystore_create(ks, body, strlen(body), MASTER,
                                  strlen(MASTER), NOW, err);
}


START_TEST(test_create_errors)
{
    miroir_error_t     err;
    miroir_keystore_t  ks;

    memset(&ks, 0, sizeof(ks));

    ck_assert_int_eq(create(&ks, "{\"uid\":\"" UID1 "\",\"actions\":"
                            "[\"search\"],\"indexes\":[\"movies\"],"
                            "\"expiresAt\":null}", &err), 0);
    ck_assert_str_eq(ks.keys[0].value, "1dfe0c077c5a002d2ed2031de9610b5010a"
                                       "3e70e9883e4352dc90fc13c1361d3");

    ck_assert_int_eq(create(&ks, "{\"uid\":\"" UID1 "\",\"actions\":"
                            "[\"search\"],\"indexes\":[\"*\"],"
                            "\"expiresAt\":null}", &err), -1);
    ck_assert_int_eq(err.status, 409);
    ck_assert_str_eq(err.code, "api_key_already_exists");

    ck_assert_int_eq(create(&ks, "{\"actions\":[\"fly\"],\"indexes\":[\"*\"],"
                            "\"expiresAt\":null}", &err), -1);
    ck_assert_str_eq(err.code, "invalid_api_key_actions");
    ck_assert(strncmp(err.message, "Unknown value `fly` at `.actions[0]`: "
                      "expected one of `*`, `search`, `documents.*`, ", 84)
              == 0);

    ck_assert_int_eq(create(&ks, "{\"indexes\":[\"*\"],\"expiresAt\":null}",
                            &err), -1);
    ck_assert_str_eq(err.message, "Missing field `actions`");
    ck_assert_str_eq(err.code, "missing_api_key_actions");

    ck_assert_int_eq(create(&ks, "{\"actions\":[\"search\"],\"indexes\":"
                            "[\"*\"],\"expiresAt\":\"2000-01-01T00:00:00Z\"}",
                            &err), -1);
    ck_assert_str_eq(err.code, "invalid_api_key_expires_at");
    ck_assert_str_eq(err.message, "Invalid value at `.expiresAt`: "
                     "`2000-01-01T00:00:00Z` is not a valid date. It should "
                     "follow the RFC 3339 format to represents a date or "
                     "datetime in the future or specified as a null value. "
                     "e.g. 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS'.\n");

    /* the first bad member in body order wins over a missing one */
    ck_assert_int_eq(create(&ks, "{\"name\":true,\"foo\":1}", &err), -1);
    ck_assert_str_eq(err.message, "Invalid value type at `.name`: expected a "
                     "string, but found a boolean: `true`");

    ck_assert_int_eq(create(&ks, "{\"foo\":1}", &err), -1);
    ck_assert_str_eq(err.code, "bad_request");

    ck_assert_int_eq(create(&ks, "{\"actions\":[\"search\"],\"indexes\":"
                            "[\"a*b\"],\"expiresAt\":null}", &err), -1);
    ck_assert_str_eq(err.code, "invalid_api_key_indexes");

    ck_assert_int_eq(create(&ks, "{\"uid\":\"x\",\"actions\":[\"search\"],"
                            "\"indexes\":[\"*\"],\"expiresAt\":null}", &err),
                     -1);
    ck_assert_str_eq(err.code, "invalid_api_key_uid");

    ck_assert_int_eq(create(&ks, "{", &err), -1);
    ck_assert_str_eq(err.code, "malformed_payload");

    ck_assert_int_eq(ks.n, 1);
    miroir_keystore_free(&ks);
}
END_TEST


START_TEST(test_store)
{
    char               *text, *dump;
    long                i;
    cJSON              *j;
    miroir_error_t      err;
    miroir_keystore_t   ks, ks2;

    memset(&ks, 0, sizeof(ks));

    ck_assert_int_eq(miroir_keystore_defaults(&ks, MASTER, strlen(MASTER),
                                              NOW), MIROIR_OK);
    ck_assert_int_eq(ks.n, 4);

    i = create(&ks, "{\"uid\":\"" UID1 "\",\"name\":\"n\",\"actions\":"
               "[\"documents.*\"],\"indexes\":[\"mov*\"],"
               "\"expiresAt\":\"2099-12-31\"}", &err);
    ck_assert_int_eq(i, 4);

    /* newest first */
    text = miroir_keystore_list(&ks, "1", 1, "2", 1, &err);
    j = cJSON_Parse(text);
    ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "results"), 0)
                     ->child->valuestring, "Default Search API Key");
    ck_assert_int_eq(cJSON_GetObjectItem(j, "total")->valueint, 5);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "results")),
                     2);
    cJSON_Delete(j);
    cJSON_free(text);

    ck_assert_ptr_null(miroir_keystore_list(&ks, NULL, 0, "x", 1, &err));
    ck_assert_str_eq(err.code, "invalid_api_key_limit");

    ck_assert_int_eq(miroir_keystore_find(&ks, UID1, 36), 4);
    ck_assert_int_eq(miroir_keystore_find(&ks, ks.keys[4].value, 64), 4);
    ck_assert_int_eq(miroir_keystore_find(&ks, "nope", 4), -1);

    ck_assert_int_eq(miroir_keystore_update(&ks, 4, "{\"indexes\":[]}", 14,
                                            NOW + 1, &err), -1);
    ck_assert_str_eq(err.code, "immutable_api_key_indexes");
    ck_assert_int_eq(miroir_keystore_update(&ks, 4, "{\"name\":null}", 13,
                                            NOW + 1, &err), 0);
    ck_assert_ptr_null(ks.keys[4].name);
    ck_assert(ks.keys[4].updated_at == NOW + 1);

    /* persisted and loaded back, values derived again */
    dump = miroir_keystore_dump(&ks);
    ck_assert_int_eq(miroir_keystore_load(&ks2, dump, strlen(dump), MASTER,
                                          strlen(MASTER)), MIROIR_OK);
    ck_assert_int_eq(ks2.n, 5);
    ck_assert_str_eq(ks2.keys[4].value, ks.keys[4].value);
    ck_assert(ks2.keys[4].expires_at == 4102358400LL);
    ck_assert(ks2.keys[4].created_at == NOW);
    ck_assert(ks2.keys[4].mask == ks.keys[4].mask);
    ck_assert_str_eq(ks2.keys[0].name, "Default Chat API Key");
    cJSON_free(dump);

    j = miroir_apikey_json(&ks2.keys[4]);
    text = cJSON_PrintUnformatted(j);
    ck_assert(strstr(text, "\"name\":null,\"description\":null,"
                           "\"key\":\"1dfe"));
    ck_assert(strstr(text, "\"actions\":[\"documents.*\"],\"indexes\":"
                           "[\"mov*\"],"
                           "\"expiresAt\":\"2099-12-31T00:00:00Z\""));
    cJSON_free(text);
    cJSON_Delete(j);

    miroir_keystore_delete(&ks2, 0);
    ck_assert_int_eq(ks2.n, 4);
    ck_assert_int_eq(miroir_keystore_find(&ks2, UID1, 36), 3);

    /* a load starts from an empty store: release the loaded one first */
    miroir_keystore_free(&ks2);
    ck_assert_int_eq(miroir_keystore_load(&ks2, "{}", 2, MASTER, 1),
                     MIROIR_EINVAL);

    miroir_keystore_free(&ks2);
    miroir_keystore_free(&ks);
}
END_TEST


START_TEST(test_allows)
{
    long               i;
    miroir_error_t     err;
    miroir_keystore_t  ks;
    miroir_apikey_t   *k;

    memset(&ks, 0, sizeof(ks));

    i = create(&ks, "{\"actions\":[\"search\",\"indexes.get\"],\"indexes\":"
               "[\"mov*\",\"tv\"],\"expiresAt\":\"2030-01-01\"}", &err);
    ck_assert_int_eq(i, 0);
    k = &ks.keys[0];

    ck_assert(miroir_apikey_allows(k, MIROIR_ACT_SEARCH, "movies", 6,
                                   1800000000, &err));
    ck_assert(miroir_apikey_allows(k, MIROIR_ACT_INDEXES_GET, NULL, 0,
                                   1800000000, &err));

    ck_assert(!miroir_apikey_allows(k, MIROIR_ACT_SEARCH, "private", 7,
                                    1800000000, &err));
    ck_assert_str_eq(err.message, "The API key cannot acces the index "
                     "`private`, authorized indexes are [\"mov*\", \"tv\"].");
    ck_assert_int_eq(err.status, 403);

    ck_assert(!miroir_apikey_allows(k, MIROIR_ACT_DOCUMENTS_GET, "movies", 6,
                                    1800000000, &err));
    ck_assert_str_eq(err.message, "The provided API key is invalid.");

    ck_assert(!miroir_apikey_allows(k, MIROIR_ACT_ALL_GET, NULL, 0,
                                    1800000000, &err));

    /* expired */
    ck_assert(!miroir_apikey_allows(k, MIROIR_ACT_SEARCH, "movies", 6,
                                    1900000000, &err));
    ck_assert_str_eq(err.code, "invalid_api_key");

    miroir_keystore_free(&ks);

    memset(&ks, 0, sizeof(ks));
    ck_assert_int_eq(create(&ks, "{\"actions\":[\"documents.*\"],\"indexes\":"
                            "[\"*\"],\"expiresAt\":null}", &err), 0);
    ck_assert(miroir_apikey_allows(&ks.keys[0], MIROIR_ACT_DOCUMENTS_ALL,
                                   "m", 1, 1800000000, &err));
    ck_assert(miroir_apikey_allows(&ks.keys[0], MIROIR_ACT_DOCUMENTS_GET,
                                   "m", 1, 1800000000, &err));
    ck_assert(!miroir_apikey_allows(&ks.keys[0], MIROIR_ACT_SEARCH,
                                    "m", 1, 1800000000, &err));
    miroir_keystore_free(&ks);
}
END_TEST


static Suite *
apikey_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("apikey");
    tc = tcase_create("core");

    tcase_add_test(tc, test_actions);
    tcase_add_test(tc, test_patterns_values);
    tcase_add_test(tc, test_dates);
    tcase_add_test(tc, test_create_errors);
    tcase_add_test(tc, test_store);
    tcase_add_test(tc, test_allows);

    suite_add_tcase(s, tc);

    return s;
}


int
main(void)
{
    SRunner  *sr;
    int       failed;

    sr = srunner_create(apikey_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
