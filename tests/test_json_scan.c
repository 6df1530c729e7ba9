/*
 * test_json_scan.c -- the validating JSON lexer: serde_json messages and
 * positions, unescaping, key comparison, compaction.
 */

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "miroir_json_scan.h"


static const struct {
    const char  *in;
    const char  *err;       /* NULL: valid, scanner ends at rest */
    const char  *rest;
    int          value_mode;
} t_values[] = {
    { "0", NULL, "", 0 },
    { "-0.5e+7 ,", NULL, " ,", 0 },
    { "\"a\\\"b\\u00e9\\/\" x", NULL, " x", 0 },
    { " [1, [], {}, {\"a\": [true, false, null]}]]", NULL, "]", 0 },
    { "{\"a\":{\"b\":{\"c\":[[[\"}\"]]]}}}", NULL, "", 0 },
    { "", "EOF while parsing a value at line 1 column 0", NULL, 0 },
    { "[", "EOF while parsing a list at line 1 column 1", NULL, 0 },
    { "{", "EOF while parsing an object at line 1 column 1", NULL, 0 },
    { "{\"a\"", "EOF while parsing an object at line 1 column 4", NULL, 0 },
    { "{\"a\":1,", "EOF while parsing an object at line 1 column 7", NULL, 0 },
    { "\"abc", "EOF while parsing a string at line 1 column 4", NULL, 0 },
    { "[1 2]", "expected `,` or `]` at line 1 column 4", NULL, 0 },
    { "{\"a\":1 \"b\"}", "expected `,` or `}` at line 1 column 8", NULL, 0 },
    { "{\"a\" 1}", "expected `:` at line 1 column 6", NULL, 0 },
    { "{a:1}", "key must be a string at line 1 column 2", NULL, 0 },
    { "[1,]", "expected value at line 1 column 4", NULL, 0 },
    { "{\"a\":1,}", "key must be a string at line 1 column 8", NULL, 0 },
    { "[1,", "EOF while parsing a value at line 1 column 3", NULL, 0 },
    { "{\"a\":1,", "EOF while parsing an object at line 1 column 7", NULL, 0 },
    /* value mode: serde's Seq/MapAccess */
    { "[1,]", "trailing comma at line 1 column 4", NULL, 1 },
    { "{\"a\":1,}", "trailing comma at line 1 column 8", NULL, 1 },
    { "{\"a\":1,", "EOF while parsing a value at line 1 column 7", NULL, 1 },
    { "-", "EOF while parsing a value at line 1 column 1", NULL, 1 },
    { "1.", "EOF while parsing a value at line 1 column 2", NULL, 1 },
    { "\"\xff\"", "invalid unicode code point at line 1 column 3", NULL, 1 },
    { "\"\xc3\xa9\"", NULL, "", 1 },
    { "\"\\udc00\"", "lone leading surrogate in hex escape at line 1 "
      "column 7", NULL, 1 },
    { "\"\\ud83dx\"", "unexpected end of hex escape at line 1 column 8",
      NULL, 1 },
    { "\"\\ud83d\\u0041\"", "lone leading surrogate in hex escape at "
      "line 1 column 13", NULL, 1 },
    { "\"\\ud83d\\ude00\"", NULL, "", 1 },
    { "\"\\udc00\\ud83d\"", NULL, "", 0 },
    { "nul", "EOF while parsing a value at line 1 column 3", NULL, 0 },
    { "nux", "expected ident at line 1 column 3", NULL, 0 },
    { "x", "expected value at line 1 column 1", NULL, 0 },
    { "-", "invalid number at line 1 column 1", NULL, 0 },
    { "-a", "invalid number at line 1 column 2", NULL, 0 },
    { "1.", "invalid number at line 1 column 2", NULL, 0 },
    { "1.e", "invalid number at line 1 column 3", NULL, 0 },
    { "1e+", "invalid number at line 1 column 3", NULL, 0 },
    { "012", "invalid number at line 1 column 2", NULL, 0 },
    { "\"\\q\"", "invalid escape at line 1 column 3", NULL, 0 },
    { "\"\\u12x4\"", "invalid escape at line 1 column 7", NULL, 0 },
    { "\"\\u12", "EOF while parsing a string at line 1 column 5", NULL, 0 },
    { "\"a\tb\"", "control character (\\u0000-\\u001F) found while "
      "parsing a string at line 1 column 2", NULL, 0 },
    { "[\n\n  x]", "expected value at line 3 column 3", NULL, 0 },
    { "\xef\xbb\xbf{}", "expected value at line 1 column 1", NULL, 0 },
};


START_TEST(test_skip_value)
{
    miroir_json_scan_t  sc;
    char                msg[256];
    const char         *in = t_values[_i].in;

    miroir_json_scan_init(&sc, in, strlen(in));
    sc.value_mode = t_values[_i].value_mode;

    if (t_values[_i].err == NULL) {
        ck_assert_int_eq(miroir_json_skip_value(&sc), MIROIR_OK);
        ck_assert_str_eq((const char *) sc.p, t_values[_i].rest);

    } else {
        ck_assert_int_eq(miroir_json_skip_value(&sc), MIROIR_EINVAL);
        miroir_json_scan_error(&sc, msg, sizeof(msg));
        ck_assert_str_eq(msg, t_values[_i].err);
    }
}
END_TEST


START_TEST(test_depth_value_mode)
{
    /* serde_json: 127 nested containers pass, the 128th fails */
    char                 in[300];
    miroir_json_scan_t   sc;

    memset(in, '[', 128);
    memset(in + 128, ']', 128);

    miroir_json_scan_init(&sc, in, 256);
    sc.value_mode = 1;
    ck_assert_int_eq(miroir_json_skip_value(&sc), MIROIR_EINVAL);
    ck_assert_int_eq(sc.err, MIROIR_JSON_DEPTH);
    ck_assert_uint_eq(sc.err_index, 128);

    miroir_json_scan_init(&sc, in + 1, 254);
    sc.value_mode = 1;
    ck_assert_int_eq(miroir_json_skip_value(&sc), MIROIR_OK);
}
END_TEST


START_TEST(test_utf8)
{
    static const struct {
        const char  *s;
        int          ok;
    } cases[] = {
        { "plain ascii longer than eight bytes", 1 },
        { "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 1 },
        { "\xc0\x80", 0 },                 /* overlong NUL */
        { "\xe0\x80\x80", 0 },             /* overlong */
        { "\xed\xa0\x80", 0 },             /* surrogate */
        { "\xf4\x90\x80\x80", 0 },         /* > U+10FFFF */
        { "\xf5\x80\x80\x80", 0 },
        { "abcdefgh\xc3", 0 },             /* truncated */
        { "\xff", 0 },
    };
    unsigned  i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_msg(miroir_utf8_valid(cases[i].s, strlen(cases[i].s))
                      == cases[i].ok, "case %u", i);
    }
}
END_TEST


START_TEST(test_depth)
{
    /* N nested non-empty arrays around a 1: "[[[1]]]" */
    enum { N = MIROIR_JSON_MAX_DEPTH + 1 };
    char                *in = malloc(2 * N + 2);
    miroir_json_scan_t   sc;

    memset(in, '[', N);
    in[N] = '1';
    memset(in + N + 1, ']', N);
    in[2 * N + 1] = '\0';

    miroir_json_scan_init(&sc, in, 2 * N + 1);
    ck_assert_int_eq(miroir_json_skip_value(&sc), MIROIR_EINVAL);
    ck_assert_int_eq(sc.err, MIROIR_JSON_DEPTH);

    miroir_json_scan_init(&sc, in + 1, 2 * N - 1);
    ck_assert_int_eq(miroir_json_skip_value(&sc), MIROIR_OK);
    free(in);
}
END_TEST


START_TEST(test_unescape)
{
    static const struct {
        const char  *in;
        const char  *out;
    } cases[] = {
        { "\"plain\"", "plain" },
        { "\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "a\"\\/\b\f\n\r\t" },
        { "\"\\u0041\\u00e9\\u20ac\"", "A\xc3\xa9\xe2\x82\xac" },
        { "\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80" },
        { "\"\\ud83dx\"", "\xef\xbf\xbdx" },
        { "\"\\ude00\"", "\xef\xbf\xbd" },
    };
    miroir_json_scan_t  sc;
    miroir_json_str_t   s;
    miroir_bytes_t      b;
    unsigned            i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        miroir_json_scan_init(&sc, cases[i].in, strlen(cases[i].in));
        ck_assert_int_eq(miroir_json_scan_string(&sc, &s), MIROIR_OK);
        miroir_bytes_init(&b);
        ck_assert_int_eq(miroir_json_unescape(&s, &b), MIROIR_OK);
        miroir_bytes_putc(&b, '\0');
        ck_assert_str_eq((char *) b.data, cases[i].out);
        miroir_bytes_free(&b);
    }
}
END_TEST


START_TEST(test_str_eq)
{
    miroir_json_scan_t  sc;
    miroir_json_str_t   s;
    miroir_bytes_t      b;
    const char         *in = "\"\\u0069d\"";

    miroir_bytes_init(&b);
    miroir_json_scan_init(&sc, in, strlen(in));
    ck_assert_int_eq(miroir_json_scan_string(&sc, &s), MIROIR_OK);
    ck_assert_int_eq(s.escaped, 1);
    ck_assert_int_eq(miroir_json_str_eq(&s, "id", 2, &b), 1);
    ck_assert_int_eq(miroir_json_str_eq(&s, "ix", 2, &b), 0);
    ck_assert_int_eq(miroir_json_str_eq(&s, "idx", 3, &b), 0);

    in = "\"id\"";
    miroir_json_scan_init(&sc, in, strlen(in));
    ck_assert_int_eq(miroir_json_scan_string(&sc, &s), MIROIR_OK);
    ck_assert_int_eq(miroir_json_str_eq(&s, "id", 2, &b), 1);
    ck_assert_int_eq(miroir_json_str_eq(&s, "i", 1, &b), 0);
    miroir_bytes_free(&b);
}
END_TEST


START_TEST(test_compact)
{
    miroir_bytes_t  b;
    const char     *in = "{ \"a b\" : [ 1 ,\n\t\"x \\\" y\" ] , \"c\":{ } }";

    miroir_bytes_init(&b);
    ck_assert_int_eq(miroir_json_compact(in, strlen(in), &b), MIROIR_OK);
    miroir_bytes_putc(&b, '\0');
    ck_assert_str_eq((char *) b.data, "{\"a b\":[1,\"x \\\" y\"],\"c\":{}}");
    miroir_bytes_free(&b);
}
END_TEST


START_TEST(test_number_kind)
{
    miroir_json_scan_t  sc;
    int                 is_int;

    miroir_json_scan_init(&sc, "-12", 3);
    ck_assert_int_eq(miroir_json_scan_number(&sc, &is_int), MIROIR_OK);
    ck_assert_int_eq(is_int, 1);

    miroir_json_scan_init(&sc, "1.0", 3);
    ck_assert_int_eq(miroir_json_scan_number(&sc, &is_int), MIROIR_OK);
    ck_assert_int_eq(is_int, 0);

    miroir_json_scan_init(&sc, "1E2", 3);
    ck_assert_int_eq(miroir_json_scan_number(&sc, &is_int), MIROIR_OK);
    ck_assert_int_eq(is_int, 0);
}
END_TEST


START_TEST(test_bytes)
{
    miroir_bytes_t  b;
    size_t          len;
    unsigned char  *p;

    miroir_bytes_init(&b);
    ck_assert_int_eq(miroir_bytes_put_i64(&b, INT64_MIN), MIROIR_OK);
    ck_assert_int_eq(miroir_bytes_putc(&b, ' '), MIROIR_OK);
    ck_assert_int_eq(miroir_bytes_put_u64(&b, UINT64_MAX), MIROIR_OK);
    ck_assert_int_eq(miroir_bytes_put_json_str(&b, " \"\\\x01\x1f\xc3\xa9",
                                               7), MIROIR_OK);
    miroir_bytes_putc(&b, '\0');
    ck_assert_str_eq((char *) b.data, "-9223372036854775808 "
                     "18446744073709551615 \\\"\\\\\\u0001\\u001f\xc3\xa9");
    p = miroir_bytes_detach(&b, &len);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(len, strlen((char *) p) + 1);
    free(p);
}
END_TEST


int
main(void)
{
    Suite    *s = suite_create("json_scan");
    TCase    *tc = tcase_create("core");
    SRunner  *sr;
    int       failed;

    tcase_add_loop_test(tc, test_skip_value, 0,
                        sizeof(t_values) / sizeof(t_values[0]));
    tcase_add_test(tc, test_depth);
    tcase_add_test(tc, test_depth_value_mode);
    tcase_add_test(tc, test_utf8);
    tcase_add_test(tc, test_unescape);
    tcase_add_test(tc, test_str_eq);
    tcase_add_test(tc, test_compact);
    tcase_add_test(tc, test_number_kind);
    tcase_add_test(tc, test_bytes);
    suite_add_tcase(s, tc);

    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
