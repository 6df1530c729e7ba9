/*
 * test_docid.c -- document id validation, canonical form, rendering for
 * messages and primary key inference.
 */

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "miroir_docid.h"


static const struct {
    const char  *value;
    const char  *canon;     /* NULL: invalid id */
} t_ids[] = {
    { "1", "1" },
    { "0", "0" },
    { "-42", "-42" },
    { "-0", NULL },                     /* serde_json: -0.0 */
    { "18446744073709551615", "18446744073709551615" },
    { "18446744073709551616", NULL },
    { "-9223372036854775808", "-9223372036854775808" },
    { "-9223372036854775809", NULL },
    { "1.0", NULL },
    { "1e2", NULL },
    { "\"1\"", "1" },
    { "\"abc-DEF_09\"", "abc-DEF_09" },
    { "\"a\\u002db\"", "a-b" },
    { "\"\"", NULL },
    { "\"a b\"", NULL },
    { "\"a.b\"", NULL },
    { "\"\\u00e9\"", NULL },
    { "true", NULL },
    { "null", NULL },
    { "[1]", NULL },
    { "{\"a\":1}", NULL },
};


START_TEST(test_canonical)
{
    miroir_bytes_t  b;
    miroir_rc_t     rc;

    miroir_bytes_init(&b);
    rc = miroir_docid_canonical(t_ids[_i].value, strlen(t_ids[_i].value), &b);

    if (t_ids[_i].canon == NULL) {
        ck_assert_int_eq(rc, MIROIR_EINVAL);

    } else {
        ck_assert_int_eq(rc, MIROIR_OK);
        ck_assert_uint_eq(b.len, strlen(t_ids[_i].canon));
        ck_assert(memcmp(b.data, t_ids[_i].canon, b.len) == 0);
    }

    miroir_bytes_free(&b);
}
END_TEST


START_TEST(test_valid_str_length)
{
    char  s[513];

    memset(s, 'x', sizeof(s));
    ck_assert_int_eq(miroir_docid_valid_str(s, 511), 1);
    ck_assert_int_eq(miroir_docid_valid_str(s, 512), 0);
    ck_assert_int_eq(miroir_docid_valid_str(s, 0), 0);
}
END_TEST


START_TEST(test_render)
{
    static const struct {
        const char  *in;
        const char  *out;
    } cases[] = {
        { "\"a b\"", "\"a b\"" },
        { "\"\\u0041\\/\\n\"", "\"A/\\n\"" },
        { "{ \"a\" : [ 1 , 2 ] }", "{\"a\":[1,2]}" },
        { "1.5", "1.5" },
        { "1.50", "1.5" },
        { "1e3", "1000.0" },
        { "-0", "-0.0" },
        { "-12", "-12" },
        { "18446744073709551616", "1.8446744073709552e19" },
        { "[ 1.0 , { \"a\" : -2E-7 } ]", "[1.0,{\"a\":-2e-7}]" },
        { "\"\\u00e9\\t\"", "\"\xc3\xa9\\t\"" },
    };
    miroir_bytes_t  b;
    unsigned        i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        miroir_bytes_init(&b);
        ck_assert_int_eq(miroir_docid_render(cases[i].in, strlen(cases[i].in),
                                             &b), MIROIR_OK);
        miroir_bytes_putc(&b, '\0');
        ck_assert_str_eq((char *) b.data, cases[i].out);
        miroir_bytes_free(&b);
    }
}
END_TEST


START_TEST(test_infer)
{
    miroir_pk_infer_t  inf;
    miroir_error_t     err;
    char              *pk = NULL;

    ck_assert_int_eq(miroir_pk_is_candidate("id", 2), 1);
    ck_assert_int_eq(miroir_pk_is_candidate("userID", 6), 1);
    ck_assert_int_eq(miroir_pk_is_candidate("paid", 4), 1);
    ck_assert_int_eq(miroir_pk_is_candidate("i", 1), 0);
    ck_assert_int_eq(miroir_pk_is_candidate("idx", 3), 0);

    memset(&inf, 0, sizeof(inf));
    ck_assert_int_eq(miroir_pk_infer_finish(&inf, &pk, &err), MIROIR_ERROR);
    ck_assert_str_eq(err.code, "index_primary_key_no_candidate_found");

    miroir_pk_infer_add(&inf, "uid", 3);
    miroir_pk_infer_add(&inf, "uid", 3);
    ck_assert_int_eq(miroir_pk_infer_finish(&inf, &pk, &err), MIROIR_OK);
    ck_assert_str_eq(pk, "uid");
    free(pk);

    miroir_pk_infer_add(&inf, "Zid", 3);
    miroir_pk_infer_add(&inf, "aid", 3);
    ck_assert_int_eq(miroir_pk_infer_finish(&inf, &pk, &err), MIROIR_ERROR);
    ck_assert_str_eq(err.code, "index_primary_key_multiple_candidates_found");
    ck_assert_str_eq(err.message, "The primary key inference failed as the "
                     "engine found 3 fields ending with `id` in their names: "
                     "'Zid' and 'aid'. Please specify the primary key "
                     "manually using the `primaryKey` query parameter.");
    miroir_pk_infer_free(&inf);
}
END_TEST


START_TEST(test_messages)
{
    miroir_error_t  err;

    ck_assert_int_eq(miroir_docid_error_missing(&err, "id",
                     "{ \"title\" : \"no id\" }", 21), MIROIR_ERROR);
    ck_assert_str_eq(err.code, "missing_document_id");
    ck_assert_str_eq(err.message, "Document doesn't have a `id` attribute: "
                     "`{\"title\":\"no id\"}`.");

    ck_assert_int_eq(miroir_docid_error_invalid(&err, "\"a b\"", 5),
                     MIROIR_ERROR);
    ck_assert_str_eq(err.code, "invalid_document_id");
    ck_assert(strncmp(err.message, "Document identifier `\"a b\"` is invalid.",
                      39) == 0);
}
END_TEST


int
main(void)
{
    Suite    *s = suite_create("docid");
    TCase    *tc = tcase_create("core");
    SRunner  *sr;
    int       failed;

    tcase_add_loop_test(tc, test_canonical, 0,
                        sizeof(t_ids) / sizeof(t_ids[0]));
    tcase_add_test(tc, test_valid_str_length);
    tcase_add_test(tc, test_render);
    tcase_add_test(tc, test_infer);
    tcase_add_test(tc, test_messages);
    suite_add_tcase(s, tc);

    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
