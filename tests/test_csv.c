/*
 * test_csv.c -- CSV records (quoting, terminators, BOM, empty lines),
 * typed headers and cell conversion as Meilisearch does it.
 */

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "miroir_csv.h"


/* read all records of in, joined as "f|f\n" */
static char *
t_records(const char *in, unsigned char delim)
{
    miroir_csv_t         c;
    miroir_csv_record_t  rec;
    miroir_bytes_t       out;
    size_t               i, len;
    int                  got;

    memset(&rec, 0, sizeof(rec));
    miroir_bytes_init(&out);
    miroir_csv_init(&c, in, strlen(in), delim);

    for ( ;; ) {
        ck_assert_int_eq(miroir_csv_read(&c, &rec, &got), MIROIR_OK);

        if (!got) {
            break;
        }

        for (i = 0; i < rec.n; i++) {
            if (i) {
                miroir_bytes_putc(&out, '|');
            }

            miroir_bytes_append(&out, rec.bytes.data + rec.offs[i],
                                rec.offs[i + 1] - rec.offs[i]);
        }

        miroir_bytes_putc(&out, '\n');
    }

    miroir_bytes_putc(&out, '\0');
    miroir_csv_record_free(&rec);

    return (char *) miroir_bytes_detach(&out, &len);
}


START_TEST(test_records)
{
    static const struct {
        const char  *in;
        const char  *out;
    } cases[] = {
        { "a,b\n1,2\n", "a|b\n1|2\n" },
        { "a,b\r\n1,2", "a|b\n1|2\n" },
        { "a,b\r1,2\r", "a|b\n1|2\n" },
        { "\n\na\n\n\nb\n", "a\nb\n" },
        { "\xef\xbb\xbf" "a,b\n", "a|b\n" },
        { "\"x,y\",\"q\"\"q\"\n", "x,y|q\"q\n" },
        { "\"multi\nline\",z\n", "multi\nline|z\n" },
        { "a\"b,c\n", "a\"b|c\n" },
        { "\"ab\"cd,e\n", "abcd|e\n" },
        { "a,,\n", "a||\n" },
        { "\"unterminated", "unterminated\n" },
        { "", "" },
    };
    char  *r;

    r = t_records(cases[_i].in, ',');
    ck_assert_str_eq(r, cases[_i].out);
    free(r);
}
END_TEST


START_TEST(test_delimiter)
{
    char  *r = t_records("a;b,c\n1;2\n", ';');

    ck_assert_str_eq(r, "a|b,c\n1|2\n");
    free(r);
}
END_TEST


START_TEST(test_header_type)
{
    size_t  n;

    ck_assert_int_eq(miroir_csv_header_type("pages:number", 12, &n),
                     MIROIR_CSV_NUMBER);
    ck_assert_uint_eq(n, 5);
    ck_assert_int_eq(miroir_csv_header_type("ok:boolean", 10, &n),
                     MIROIR_CSV_BOOLEAN);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(miroir_csv_header_type("t:string", 8, &n),
                     MIROIR_CSV_STRING);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(miroir_csv_header_type("a:b", 3, &n), MIROIR_CSV_STRING);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(miroir_csv_header_type("a:b:number", 10, &n),
                     MIROIR_CSV_NUMBER);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(miroir_csv_header_type("plain", 5, &n),
                     MIROIR_CSV_STRING);
    ck_assert_uint_eq(n, 5);
}
END_TEST


START_TEST(test_values)
{
    static const struct {
        miroir_csv_type_t  t;
        const char        *in;
        const char        *out;     /* NULL: error */
    } cases[] = {
        { MIROIR_CSV_STRING, "", "null" },
        { MIROIR_CSV_STRING, " a\"b ", "\" a\\\"b \"" },
        { MIROIR_CSV_BOOLEAN, " true ", "true" },
        { MIROIR_CSV_BOOLEAN, "False", NULL },
        { MIROIR_CSV_BOOLEAN, " ", "null" },
        { MIROIR_CSV_NUMBER, "9223372036854775807", "9223372036854775807" },
        { MIROIR_CSV_NUMBER, "9223372036854775808", "9.223372036854776e18" },
        { MIROIR_CSV_NUMBER, "0.1", "0.1" },
        { MIROIR_CSV_NUMBER, "100", "100" },
        { MIROIR_CSV_NUMBER, "1e15", "1000000000000000.0" },
        { MIROIR_CSV_NUMBER, "1e16", "1e16" },
        { MIROIR_CSV_NUMBER, "0.00001", "0.00001" },
        { MIROIR_CSV_NUMBER, "0.000001", "1e-6" },
        { MIROIR_CSV_NUMBER, "-2.5E-3", "-0.0025" },
        { MIROIR_CSV_NUMBER, "Infinity", "null" },
        { MIROIR_CSV_NUMBER, "0x10", NULL },
        { MIROIR_CSV_NUMBER, "1_000", NULL },
        { MIROIR_CSV_NUMBER, ".", NULL },
        { MIROIR_CSV_NUMBER, "1e", NULL },
    };
    miroir_bytes_t  b;
    miroir_error_t  err;
    miroir_rc_t     rc;

    miroir_bytes_init(&b);
    rc = miroir_csv_put_value(&b, cases[_i].t, cases[_i].in,
                              strlen(cases[_i].in), 1, &err);

    if (cases[_i].out == NULL) {
        ck_assert_int_eq(rc, MIROIR_ERROR);
        ck_assert_str_eq(err.code, "malformed_payload");

    } else {
        ck_assert_int_eq(rc, MIROIR_OK);
        miroir_bytes_putc(&b, '\0');
        ck_assert_str_eq((char *) b.data, cases[_i].out);
    }

    miroir_bytes_free(&b);
}
END_TEST


int
main(void)
{
    Suite    *s = suite_create("csv");
    TCase    *tc = tcase_create("core");
    SRunner  *sr;
    int       failed;

    tcase_add_loop_test(tc, test_records, 0, 12);
    tcase_add_test(tc, test_delimiter);
    tcase_add_test(tc, test_header_type);
    tcase_add_loop_test(tc, test_values, 0, 19);
    suite_add_tcase(s, tc);

    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
