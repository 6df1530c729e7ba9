/*
 * test_rank.c -- ranking details parsing and comparison.
 *
 * Vectors: pairs of `_rankingScoreDetails` (shapes from the 1.50 golden
 * transcript, t/golden/meilisearch-1.50.0.json) with the expected order.
 */

#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "miroir_rank.h"


typedef struct {
    const char  *name;
    const char  *a;
    const char  *b;
    int          mode;
    int          expect;       /* sign of cmp(a, b): -1 a first */
} rank_vec_t;


static const rank_vec_t  vecs[] = {
    { "golden dark knight: words 2/2 beats 1/2",
      "{\"words\":{\"order\":0,\"matchingWords\":2,\"maxMatchingWords\":2,"
      "\"score\":1.0},\"typo\":{\"order\":1,\"typoCount\":0,"
      "\"maxTypoCount\":2,\"score\":1.0},\"proximity\":{\"order\":2,"
      "\"score\":1.0},\"attributeRank\":{\"order\":3,\"score\":1.0},"
      "\"wordPosition\":{\"order\":4,\"score\":0.9047619047619048},"
      "\"exactness\":{\"order\":5,\"matchType\":\"noExactMatch\","
      "\"matchingWords\":2,\"maxMatchingWords\":2,"
      "\"score\":0.3333333333333333}}",
      "{\"words\":{\"order\":0,\"matchingWords\":1,\"maxMatchingWords\":2,"
      "\"score\":0.5},\"typo\":{\"order\":1,\"typoCount\":0,"
      "\"maxTypoCount\":1,\"score\":1.0},\"proximity\":{\"order\":2,"
      "\"score\":1.0},\"attributeRank\":{\"order\":3,\"score\":1.0},"
      "\"wordPosition\":{\"order\":4,\"score\":1.0},\"exactness\":"
      "{\"order\":5,\"matchType\":\"exactMatch\",\"score\":1.0}}",
      MIROIR_RANK_EXACT, -1 },
    { "keys in any textual order: `order` decides",
      "{\"typo\":{\"order\":1,\"score\":0.5},\"words\":{\"order\":0,"
      "\"score\":1.0}}",
      "{\"words\":{\"order\":0,\"score\":0.5},\"typo\":{\"order\":1,"
      "\"score\":1.0}}",
      MIROIR_RANK_EXACT, -1 },
    { "later rule decides",
      "{\"words\":{\"order\":0,\"score\":1.0},\"exactness\":{\"order\":1,"
      "\"matchType\":\"matchesStart\",\"score\":0.6666666666666666}}",
      "{\"words\":{\"order\":0,\"score\":1.0},\"exactness\":{\"order\":1,"
      "\"matchType\":\"exactMatch\",\"score\":1.0}}",
      MIROIR_RANK_EXACT, 1 },
    { "identical details tie",
      "{\"proximity\":{\"order\":0,\"score\":0.5}}",
      "{\"proximity\":{\"order\":0,\"score\":0.5}}",
      MIROIR_RANK_EXACT, 0 },
    { "empty details (placeholder) tie",
      "{}", "{}", MIROIR_RANK_EXACT, 0 },
    { "year:desc larger first",
      "{\"year:desc\":{\"order\":0,\"value\":2019.0}}",
      "{\"year:desc\":{\"order\":0,\"value\":2017.0}}",
      MIROIR_RANK_EXACT, -1 },
    { "rating:asc smaller first",
      "{\"rating:asc\":{\"order\":0,\"value\":5.1}}",
      "{\"rating:asc\":{\"order\":0,\"value\":4.9}}",
      MIROIR_RANK_EXACT, 1 },
    { "missing value last, asc",
      "{\"year:asc\":{\"order\":0,\"value\":null}}",
      "{\"year:asc\":{\"order\":0,\"value\":3000}}",
      MIROIR_RANK_EXACT, 1 },
    { "missing value last, desc",
      "{\"year:desc\":{\"order\":0,\"value\":null}}",
      "{\"year:desc\":{\"order\":0,\"value\":-5}}",
      MIROIR_RANK_EXACT, 1 },
    { "numbers before strings, desc",
      "{\"f:desc\":{\"order\":0,\"value\":\"zzz\"}}",
      "{\"f:desc\":{\"order\":0,\"value\":1}}",
      MIROIR_RANK_EXACT, 1 },
    { "numbers before strings, asc",
      "{\"f:asc\":{\"order\":0,\"value\":1e9}}",
      "{\"f:asc\":{\"order\":0,\"value\":\"a\"}}",
      MIROIR_RANK_EXACT, -1 },
    { "strings byte-wise asc",
      "{\"title:asc\":{\"order\":0,\"value\":\"darkness falls\"}}",
      "{\"title:asc\":{\"order\":0,\"value\":\"dark shadows\"}}",
      MIROIR_RANK_EXACT, 1 },
    { "string prefix first asc",
      "{\"t:asc\":{\"order\":0,\"value\":\"dark\"}}",
      "{\"t:asc\":{\"order\":0,\"value\":\"darkness\"}}",
      MIROIR_RANK_EXACT, -1 },
    { "escaped string compares unescaped",
      "{\"t:asc\":{\"order\":0,\"value\":\"\\u0061b\"}}",
      "{\"t:asc\":{\"order\":0,\"value\":\"ab\"}}",
      MIROIR_RANK_EXACT, 0 },
    { "sort then score",
      "{\"year:desc\":{\"order\":0,\"value\":2000},\"words\":{\"order\":1,"
      "\"score\":0.2}}",
      "{\"year:desc\":{\"order\":0,\"value\":2000},\"words\":{\"order\":1,"
      "\"score\":0.3}}",
      MIROIR_RANK_EXACT, 1 },
    { "geo asc: nearer first",
      "{\"_geoPoint(1, 2):asc\":{\"order\":0,\"value\":{\"lat\":1,\"lng\":2},"
      "\"distance\":10.5}}",
      "{\"_geoPoint(1, 2):asc\":{\"order\":0,\"value\":{\"lat\":1,\"lng\":3},"
      "\"distance\":300.0}}",
      MIROIR_RANK_EXACT, -1 },
    { "geo desc: farther first",
      "{\"_geoPoint(1, 2):desc\":{\"order\":0,\"value\":null,"
      "\"distance\":null}}",
      "{\"_geoPoint(1, 2):desc\":{\"order\":0,\"value\":{\"lat\":1,"
      "\"lng\":3},\"distance\":300.0}}",
      MIROIR_RANK_EXACT, 1 },
    { "skipped loses against a score",
      "{\"words\":{\"order\":0,\"score\":1.0},\"skipped\":{\"order\":1}}",
      "{\"words\":{\"order\":0,\"score\":1.0},\"typo\":{\"order\":1,"
      "\"score\":0.1}}",
      MIROIR_RANK_EXACT, 1 },
    { "shorter key last",
      "{\"words\":{\"order\":0,\"score\":1.0}}",
      "{\"words\":{\"order\":0,\"score\":1.0},\"typo\":{\"order\":1,"
      "\"score\":0.1}}",
      MIROIR_RANK_EXACT, 1 },
    { "hidden sort rules tie",
      "{\"<hidden-rule-0>\":{\"order\":0,\"value\":\"<hidden>\"}}",
      "{\"<hidden-rule-0>\":{\"order\":0,\"value\":\"<hidden>\"}}",
      MIROIR_RANK_EXACT, 0 },
    { "vector similarity",
      "{\"vectorSort\":{\"order\":0,\"similarity\":0.9}}",
      "{\"vectorSort\":{\"order\":0,\"similarity\":0.95}}",
      MIROIR_RANK_EXACT, 1 },
    { "exact mode: tiny difference counts",
      "{\"words\":{\"order\":0,\"score\":0.5000000000000001}}",
      "{\"words\":{\"order\":0,\"score\":0.5}}",
      MIROIR_RANK_EXACT, -1 },
};


static const rank_vec_t  wvecs[] = {
    { "weighted: epsilon ties",
      "[{\"weightedScore\":0.5000000000000001}]",
      "[{\"weightedScore\":0.5}]",
      MIROIR_RANK_FEDERATED, 0 },
    { "weighted: larger first",
      "[{\"weightedScore\":0.9}]", "[{\"weightedScore\":0.8}]",
      MIROIR_RANK_FEDERATED, -1 },
    { "weighted: sort desc",
      "[{\"weightedScore\":0.9},{\"sort\":{\"asc\":false,\"value\":1}}]",
      "[{\"weightedScore\":0.9},{\"sort\":{\"asc\":false,\"value\":2}}]",
      MIROIR_RANK_FEDERATED, 1 },
    { "weighted: score vs sort, more remaining first",
      "[{\"weightedScore\":0.1},{\"sort\":{\"asc\":true,\"value\":1}}]",
      "[{\"sort\":{\"asc\":true,\"value\":2}}]",
      MIROIR_RANK_FEDERATED, -1 },
    { "weighted: geo asc nearer first",
      "[{\"geoSort\":{\"asc\":true,\"distance\":5.0}}]",
      "[{\"geoSort\":{\"asc\":true,\"distance\":50.0}}]",
      MIROIR_RANK_FEDERATED, -1 },
    { "weighted: geo missing distance last",
      "[{\"geoSort\":{\"asc\":true,\"distance\":null}}]",
      "[{\"geoSort\":{\"asc\":true,\"distance\":50.0}}]",
      MIROIR_RANK_FEDERATED, 1 },
    { "weighted: vectorSort vs weightedScore compare",
      "[{\"vectorSort\":0.7}]", "[{\"weightedScore\":0.8}]",
      MIROIR_RANK_FEDERATED, 1 },
};


static int
sign(int x)
{
    return (x > 0) - (x < 0);
}


static void
parse(const char *s, miroir_rank_key_t *k, int weighted)
{
    miroir_span_t   sp;
    miroir_error_t  err;
    miroir_rc_t     rc;

    ck_assert_int_eq(miroir_jspan_doc(s, strlen(s), &sp), MIROIR_OK);
    rc = weighted ? miroir_rank_parse_weighted(sp, k, &err)
                  : miroir_rank_parse_details(sp, k, &err);
    ck_assert_msg(rc == MIROIR_OK, "parse %s: %s", s, err.message);
}


START_TEST(test_rank_vectors)
{
    const rank_vec_t   *v = &vecs[_i];
    miroir_rank_key_t   a, b;

    parse(v->a, &a, 0);
    parse(v->b, &b, 0);

    ck_assert_msg(sign(miroir_rank_cmp(&a, &b, v->mode)) == v->expect,
                  "%s", v->name);
    ck_assert_msg(sign(miroir_rank_cmp(&b, &a, v->mode)) == -v->expect,
                  "%s (reversed)", v->name);
    ck_assert_int_eq(miroir_rank_cmp(&a, &a, v->mode), 0);

    miroir_rank_key_free(&a);
    miroir_rank_key_free(&b);
}
END_TEST


START_TEST(test_rank_weighted)
{
    const rank_vec_t   *v = &wvecs[_i];
    miroir_rank_key_t   a, b;

    parse(v->a, &a, 1);
    parse(v->b, &b, 1);

    ck_assert_msg(sign(miroir_rank_cmp(&a, &b, v->mode)) == v->expect,
                  "%s", v->name);
    ck_assert_msg(sign(miroir_rank_cmp(&b, &a, v->mode)) == -v->expect,
                  "%s (reversed)", v->name);

    miroir_rank_key_free(&a);
    miroir_rank_key_free(&b);
}
END_TEST


START_TEST(test_rank_opposite_sort_uses_global)
{
    miroir_rank_key_t  a, b;

    parse("[{\"sort\":{\"asc\":true,\"value\":1}}]", &a, 1);
    parse("[{\"sort\":{\"asc\":false,\"value\":1}}]", &b, 1);
    a.global = 0.3;
    b.global = 0.7;

    ck_assert_int_gt(miroir_rank_cmp(&a, &b, MIROIR_RANK_FEDERATED), 0);

    miroir_rank_key_free(&a);
    miroir_rank_key_free(&b);
}
END_TEST


static const char *const  bad_details[] = {
    "[]",
    "{\"words\":{\"score\":1.0}}",              /* no order */
    "{\"words\":1}",
    "{\"words\":{\"order\":\"0\",\"score\":1}}",
};


START_TEST(test_rank_bad)
{
    miroir_rank_key_t  k;
    miroir_span_t      sp;
    miroir_error_t     err;
    const char        *s = bad_details[_i];

    ck_assert_int_eq(miroir_jspan_doc(s, strlen(s), &sp), MIROIR_OK);
    ck_assert_int_eq(miroir_rank_parse_details(sp, &k, &err), MIROIR_ERROR);
    ck_assert_int_eq(err.status, 500);
    ck_assert_str_eq(err.code, "internal");
}
END_TEST


START_TEST(test_rank_too_many)
{
    char               buf[8192];
    size_t             n, i;
    miroir_rank_key_t  k;
    miroir_span_t      sp;
    miroir_error_t     err;

    n = 0;
    buf[n++] = '{';
    for (i = 0; i < MIROIR_RANK_MAX_RULES + 1; i++) {
        n += (size_t) snprintf(buf + n, sizeof(buf) - n,
                               "%s\"f%zu:asc\":{\"order\":%zu,\"value\":1}",
                               i ? "," : "", i, i);
    }
    buf[n++] = '}';

    ck_assert_int_eq(miroir_jspan_doc(buf, n, &sp), MIROIR_OK);
    ck_assert_int_eq(miroir_rank_parse_details(sp, &k, &err), MIROIR_ERROR);
}
END_TEST


/*
 * miroir_jspan_num() reads simple numbers without strtod() (ranking
 * details carry many): it must give strtod()'s double, bit for bit.
 */
START_TEST(test_rank_num_exact)
{
    static const char  *fixed[] = {
        "0", "-0", "1", "1.0", "0.5", "0.9876543209876543", "1e-7", "2E+3",
        "-0.0", "9007199254740992", "9007199254740993", "1e22", "1e23",
        "123456789012345678901", "0.30000000000000004", "4.35e-5",
        "0.000000000000000000000001", "17976931348623157e292", "5e-324",
        "0.1", "0.2", "0.3", "3.14159", "-2.5e-3", "1.7976931348623157e308"
    };
    char            buf[64];
    size_t          i;
    double          want, got;
    unsigned        seed;
    miroir_span_t   sp;

    for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        sp.p = fixed[i];
        sp.len = strlen(fixed[i]);
        want = strtod(fixed[i], NULL);
        got = miroir_jspan_num(sp);
        ck_assert_msg(memcmp(&want, &got, sizeof(double)) == 0, "%s",
                      fixed[i]);
    }

    seed = 12345;

    for (i = 0; i < 200000; i++) {
        seed = seed * 1103515245 + 12345;

        switch (i % 4) {
        case 0:     /* scores: 0.xxxx with 1 to 17 digits */
            snprintf(buf, sizeof(buf), "%.*f", (int) (1 + seed % 17),
                     (double) (seed >> 8) / (double) (1 << 24));
            break;
        case 1:     /* integers */
            snprintf(buf, sizeof(buf), "%u", seed >> (seed % 31));
            break;
        case 2:     /* exponents */
            snprintf(buf, sizeof(buf), "%u.%ue%d", (seed >> 20) % 1000,
                     (seed >> 4) % 100000, (int) (seed % 61) - 30);
            break;
        default:    /* negative, shortest round trip */
            snprintf(buf, sizeof(buf), "-%.17g",
                     (double) seed / (double) ((seed >> 3) | 1));
            break;
        }

        sp.p = buf;
        sp.len = strlen(buf);
        want = strtod(buf, NULL);
        got = miroir_jspan_num(sp);
        ck_assert_msg(memcmp(&want, &got, sizeof(double)) == 0, "%s", buf);
    }
}
END_TEST


/* The reference string scanner: byte by byte (miroir_jspan reads words). */
static int
ref_string_len(const char *p, size_t n)
{
    size_t  i;

    if (n == 0 || p[0] != '"') {
        return -1;
    }

    for (i = 1; i < n; i++) {
        if (p[i] == '"') {
            return (int) i + 1;
        }
        if ((unsigned char) p[i] < 0x20) {
            return -1;
        }
        if (p[i] == '\\') {
            if (i + 1 >= n) {
                return -1;
            }
            if (p[i + 1] == 'u') {
                if (i + 5 >= n || !isxdigit((unsigned char) p[i + 2])
                    || !isxdigit((unsigned char) p[i + 3])
                    || !isxdigit((unsigned char) p[i + 4])
                    || !isxdigit((unsigned char) p[i + 5]))
                {
                    return -1;
                }
                i += 5;
            } else if (strchr("\"\\/bfnrt", p[i + 1]) == NULL
                       || p[i + 1] == '\0')
            {
                return -1;
            } else {
                i++;
            }
        }
    }

    return -1;
}


START_TEST(test_rank_jspan_strings)
{
    static const char   alpha[] = "ab\"\\\x01\x7f\xc3\xa9u0/n ";
    char                buf[64];
    size_t              len, i;
    unsigned            seed;
    int                 want;
    miroir_span_t       sp;
    miroir_rc_t         rc;

    seed = 777;

    for (i = 0; i < 300000; i++) {
        seed = seed * 1103515245 + 12345;
        len = 1 + (seed >> 8) % 40;
        buf[0] = '"';
        for (size_t j = 1; j < len; j++) {
            seed = seed * 1103515245 + 12345;
            /* mostly plain bytes, sometimes a special one */
            buf[j] = (seed >> 16) % 4 ? 'x'
                     : alpha[(seed >> 8) % (sizeof(alpha) - 1)];
        }

        want = ref_string_len(buf, len);
        rc = miroir_jspan_doc(buf, len, &sp);

        /* the whole text is one string exactly when the scan ends at len */
        ck_assert_msg((rc == MIROIR_OK && sp.len == len) == (want == (int) len),
                      "%.*s", (int) len, buf);
    }
}
END_TEST


static Suite *
rank_suite(void)
{
    Suite  *s = suite_create("rank");
    TCase  *tc = tcase_create("core");

    tcase_add_loop_test(tc, test_rank_vectors, 0,
                        sizeof(vecs) / sizeof(vecs[0]));
    tcase_add_loop_test(tc, test_rank_weighted, 0,
                        sizeof(wvecs) / sizeof(wvecs[0]));
    tcase_add_test(tc, test_rank_opposite_sort_uses_global);
    tcase_add_loop_test(tc, test_rank_bad, 0,
                        sizeof(bad_details) / sizeof(bad_details[0]));
    tcase_add_test(tc, test_rank_too_many);
    tcase_add_test(tc, test_rank_num_exact);
    tcase_add_test(tc, test_rank_jspan_strings);
    suite_add_tcase(s, tc);

    return s;
}


int
main(void)
{
    SRunner  *sr = srunner_create(rank_suite());
    int       failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
