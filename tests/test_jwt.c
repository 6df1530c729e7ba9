/*
 * test_jwt.c -- tenant tokens: base64url, decoding and verification with
 * Meilisearch's messages (tokens recorded against a real Meilisearch
 * 1.50), search rules and the filter they impose.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "miroir_apikey.h"
#include "miroir_jwt.h"


#define MASTER  "golden-master-key-0123456789"
#define UID1    "11111111-1111-4111-8111-111111111111"

/* accepted by Meilisearch 1.50 (t/golden/meilisearch-1.50.0-keys.json) */
static const char  *tok_filter =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhcGlLZXlVaWQiOiIxMTExMTExMS0xMT"
    "ExLTQxMTEtODExMS0xMTExMTExMTExMTEiLCJzZWFyY2hSdWxlcyI6eyJtb3ZpZXMiOnsiZm"
    "lsdGVyIjoiZ2VucmVzID0gYWN0aW9uIn19LCJleHAiOjQxMDI0NDQ4MDB9.IyYFkYSEsshlO"
    "WcsF4eii3L9WAfFXaFKexcZRGduh0Q";
static const char  *tok_hs512 =
    "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJhcGlLZXlVaWQiOiIxMTExMTExMS0xMT"
    "ExLTQxMTEtODExMS0xMTExMTExMTExMTEiLCJzZWFyY2hSdWxlcyI6WyJtb3ZpZXMiXSwiZX"
    "hwIjo0MTAyNDQ0ODAwfQ.a8HlLjvWTOrFJU6pvbOMaNAC3yBf2BwGLgceUH96_LsF7_l17Bd"
    "NdEuH1Z8j5b6TdXWF2UEMDbhPKtYfF3QG2A";
/* refused: signed with another secret */
static const char  *tok_wrong =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhcGlLZXlVaWQiOiIxMTExMTExMS0xMT"
    "ExLTQxMTEtODExMS0xMTExMTExMTExMTEiLCJzZWFyY2hSdWxlcyI6WyJtb3ZpZXMiXSwiZX"
    "hwIjo0MTAyNDQ0ODAwfQ.p7Dr6OwJQUJSjODqfWDc9N6cim9W9yq4kXC0wN2xE2U";


static void
secret1(char *out)
{
    miroir_apikey_value(MASTER, strlen(MASTER), UID1, out);
}


/* A token for claims, signed with secret (HS256). */
static char *
make(const char *header, const char *claims, const char *secret)
{
    static char    out[4096];
    char           h[1024], c[2048], s[128];
    unsigned char  md[64];
    unsigned int   n;
    size_t         len;

    miroir_b64url_encode((const unsigned char *) header, strlen(header), h);
    miroir_b64url_encode((const unsigned char *) claims, strlen(claims), c);
    len = (size_t) snprintf(out, sizeof(out), "%s.%s", h, c);

    HMAC(EVP_sha256(), secret, (int) strlen(secret),
         (const unsigned char *) out, len, md, &n);

    miroir_b64url_encode(md, n, s);
    snprintf(out + len, sizeof(out) - len, ".%s", s);

    return out;
}


START_TEST(test_b64url)
{
    unsigned char  out[64];
    char           msg[128], enc[64];
    long           n;

    n = miroir_b64url_decode("aGk", 3, out, msg, sizeof(msg));
    ck_assert_int_eq(n, 2);
    ck_assert(memcmp(out, "hi", 2) == 0);

    n = miroir_b64url_decode("not", 3, out, msg, sizeof(msg));
    ck_assert_int_eq(n, -1);
    ck_assert_str_eq(msg, "Invalid last symbol 116, offset 2.");

    n = miroir_b64url_decode("a$bc", 4, out, msg, sizeof(msg));
    ck_assert_int_eq(n, -1);
    ck_assert_str_eq(msg, "Invalid symbol 36, offset 1.");

    n = miroir_b64url_decode("abcde", 5, out, msg, sizeof(msg));
    ck_assert_int_eq(n, -1);
    ck_assert_str_eq(msg, "Invalid input length.");

    n = miroir_b64url_decode("aGk=", 4, out, msg, sizeof(msg));
    ck_assert_int_eq(n, -1);

    miroir_b64url_encode((const unsigned char *) "\xfb\xff", 2, enc);
    ck_assert_str_eq(enc, "-_8");
}
END_TEST


START_TEST(test_golden_tokens)
{
    char            secret[65];
    miroir_jwt_t    jwt;
    miroir_error_t  err;
    const cJSON    *f;

    secret1(secret);

    ck_assert_int_eq(miroir_jwt_decode(&jwt, tok_filter, strlen(tok_filter),
                                       &err), MIROIR_JWT_OK);
    ck_assert_str_eq(jwt.api_key_uid, UID1);
    ck_assert_int_eq(jwt.alg, 256);
    ck_assert(jwt.has_exp && jwt.exp == 4102444800LL);
    ck_assert_int_eq(miroir_jwt_verify(&jwt, secret, 64, 1700000000, &err),
                     MIROIR_JWT_OK);

    f = miroir_jwt_rules_filter(jwt.rules, "movies", 6);
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq(f->valuestring, "genres = action");
    ck_assert(miroir_jwt_rules_allow(jwt.rules, "movies", 6));
    ck_assert(!miroir_jwt_rules_allow(jwt.rules, "private", 7));

    /* expired afterwards, with Meilisearch's words */
    ck_assert_int_eq(miroir_jwt_verify(&jwt, secret, 64, 4102444801LL, &err),
                     MIROIR_JWT_BAD);
    ck_assert_str_eq(err.message, "Tenant token expired. Was valid up to "
                                  "`4102444800` and we're now `4102444801`.");
    ck_assert_str_eq(err.code, "invalid_api_key");
    ck_assert_int_eq(err.status, 403);
    miroir_jwt_free(&jwt);

    ck_assert_int_eq(miroir_jwt_decode(&jwt, tok_hs512, strlen(tok_hs512),
                                       &err), MIROIR_JWT_OK);
    ck_assert_int_eq(jwt.alg, 512);
    ck_assert_int_eq(miroir_jwt_verify(&jwt, secret, 64, 1700000000, &err),
                     MIROIR_JWT_OK);
    ck_assert_ptr_null(miroir_jwt_rules_filter(jwt.rules, "movies", 6));
    miroir_jwt_free(&jwt);

    ck_assert_int_eq(miroir_jwt_decode(&jwt, tok_wrong, strlen(tok_wrong),
                                       &err), MIROIR_JWT_OK);
    ck_assert_int_eq(miroir_jwt_verify(&jwt, secret, 64, 1700000000, &err),
                     MIROIR_JWT_BAD);
    ck_assert_str_eq(err.message,
                     "Could not decode tenant token, InvalidSignature.");
    miroir_jwt_free(&jwt);
}
END_TEST


START_TEST(test_decode_errors)
{
    char            secret[65], *t;
    miroir_jwt_t    jwt;
    miroir_error_t  err;

    secret1(secret);

    /* not a JWT: the caller tries it as an API key */
    ck_assert_int_eq(miroir_jwt_decode(&jwt, "abc", 3, &err),
                     MIROIR_JWT_NOT_TOKEN);
    ck_assert_int_eq(miroir_jwt_decode(&jwt, "a.b", 3, &err),
                     MIROIR_JWT_NOT_TOKEN);

    ck_assert_int_eq(miroir_jwt_decode(&jwt, "not.a.jwt", 9, &err),
                     MIROIR_JWT_BAD);
    ck_assert_str_eq(err.message, "Could not decode tenant token, Base64 "
                                  "error: Invalid last symbol 116, offset "
                                  "2..");

    t = make("{\"alg\":\"HS256\"}", "{\"apiKeyUid\":\"" UID1 "\"}", secret);
    ck_assert_int_eq(miroir_jwt_decode(&jwt, t, strlen(t), &err),
                     MIROIR_JWT_BAD);
    ck_assert(strstr(err.message, "JSON error: missing field `searchRules`"));

    t = make("{\"alg\":\"HS256\"}", "{\"searchRules\":[\"*\"]}", secret);
    ck_assert_int_eq(miroir_jwt_decode(&jwt, t, strlen(t), &err),
                     MIROIR_JWT_BAD);
    ck_assert(strstr(err.message, "missing field `apiKeyUid`"));

    t = make("{\"alg\":\"none\"}", "{}", secret);
    ck_assert_int_eq(miroir_jwt_decode(&jwt, t, strlen(t), &err),
                     MIROIR_JWT_BAD);
    ck_assert(strstr(err.message, "unknown variant `none`"));

    t = make("{\"alg\":\"RS256\"}", "{\"apiKeyUid\":\"" UID1 "\","
             "\"searchRules\":[\"*\"]}", secret);
    ck_assert_int_eq(miroir_jwt_decode(&jwt, t, strlen(t), &err),
                     MIROIR_JWT_OK);
    ck_assert_int_eq(miroir_jwt_verify(&jwt, secret, 64, 0, &err),
                     MIROIR_JWT_BAD);
    ck_assert_str_eq(err.message,
                     "Could not decode tenant token, InvalidAlgorithm.");
    miroir_jwt_free(&jwt);

    t = make("{\"alg\":\"HS256\"}", "{\"apiKeyUid\":\"" UID1 "\","
             "\"searchRules\":5}", secret);
    ck_assert_int_eq(miroir_jwt_decode(&jwt, t, strlen(t), &err),
                     MIROIR_JWT_BAD);
    ck_assert(strstr(err.message, "untagged enum SearchRules"));

    t = make("{\"alg\":\"HS256\"}", "{\"apiKeyUid\":\"" UID1 "\","
             "\"searchRules\":[\"*\"],\"aud\":\"x\"}", secret);
    ck_assert_int_eq(miroir_jwt_decode(&jwt, t, strlen(t), &err),
                     MIROIR_JWT_BAD);
    ck_assert_str_eq(err.message,
                     "Could not decode tenant token, InvalidAudience.");

    /* a valid token with the last byte of its signature changed */
    t = make("{\"alg\":\"HS256\"}", "{\"apiKeyUid\":\"" UID1 "\","
             "\"searchRules\":[\"*\"]}", secret);
    t[strlen(t) - 1] ^= 1;
    ck_assert_int_eq(miroir_jwt_decode(&jwt, t, strlen(t), &err),
                     MIROIR_JWT_OK);
    ck_assert_int_eq(jwt.has_exp, 0);
    ck_assert_int_eq(miroir_jwt_verify(&jwt, secret, 64, 0, &err),
                     MIROIR_JWT_BAD);
    miroir_jwt_free(&jwt);
}
END_TEST


START_TEST(test_rules)
{
    cJSON        *r;
    char         *list;
    const cJSON  *f;

    r = cJSON_Parse("{\"*\":{\"filter\":\"a\"},\"mov*\":{\"filter\":\"b\"},"
                    "\"movies\":{\"filter\":\"c\"},\"m*\":null,"
                    "\"x\":{\"filter\":null}}");

    f = miroir_jwt_rules_filter(r, "movies", 6);
    ck_assert_str_eq(f->valuestring, "c");      /* exact first */
    f = miroir_jwt_rules_filter(r, "movie", 5);
    ck_assert_str_eq(f->valuestring, "b");      /* then the longest */
    ck_assert_ptr_null(miroir_jwt_rules_filter(r, "mx", 2));     /* null */
    f = miroir_jwt_rules_filter(r, "other", 5);
    ck_assert_str_eq(f->valuestring, "a");
    ck_assert_ptr_null(miroir_jwt_rules_filter(r, "x", 1));
    ck_assert(miroir_jwt_rules_allow(r, "anything", 8));

    list = miroir_jwt_rules_list(r);
    ck_assert_str_eq(list, "[\"*\", \"mov*\", \"movies\", \"m*\", \"x\"]");
    free(list);
    cJSON_Delete(r);

    r = cJSON_Parse("[\"movies\",\"tv*\"]");
    ck_assert(miroir_jwt_rules_allow(r, "movies", 6));
    ck_assert(miroir_jwt_rules_allow(r, "tvshows", 7));
    ck_assert(!miroir_jwt_rules_allow(r, "movie", 5));
    ck_assert_ptr_null(miroir_jwt_rules_filter(r, "movies", 6));
    cJSON_Delete(r);
}
END_TEST


START_TEST(test_filter_expr)
{
    int    empty;
    char  *s;

    s = miroir_jwt_filter_expr("\"a = 1\"", 7, &empty);
    ck_assert_str_eq(s, "(a = 1)");
    free(s);

    s = miroir_jwt_filter_expr("[\"a\",[\"b\",\"c\"],[\"d\"]]", 21, &empty);
    ck_assert_str_eq(s, "(a) AND ((b) OR (c)) AND ((d))");
    free(s);

    ck_assert_ptr_null(miroir_jwt_filter_expr("[]", 2, &empty));
    ck_assert_int_eq(empty, 1);
    ck_assert_ptr_null(miroir_jwt_filter_expr("\" \"", 3, &empty));
    ck_assert_int_eq(empty, 1);
    ck_assert_ptr_null(miroir_jwt_filter_expr("5", 1, &empty));
    ck_assert_int_eq(empty, 0);
    ck_assert_ptr_null(miroir_jwt_filter_expr("[[1]]", 5, &empty));
    ck_assert_int_eq(empty, 0);
}
END_TEST


static Suite *
jwt_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("jwt");
    tc = tcase_create("core");

    tcase_add_test(tc, test_b64url);
    tcase_add_test(tc, test_golden_tokens);
    tcase_add_test(tc, test_decode_errors);
    tcase_add_test(tc, test_rules);
    tcase_add_test(tc, test_filter_expr);

    suite_add_tcase(s, tc);

    return s;
}


int
main(void)
{
    SRunner  *sr;
    int       failed;

    sr = srunner_create(jwt_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
