/*
 * test_admin_body.c -- the admin topology bodies: shape, types, actions,
 * weight range, the exact error messages, ?force= / ?dry_run= values.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "miroir_admin_body.h"


#define E_OBJECT  "The body must be a JSON object."
#define E_ADD     "`id` and `address` must be strings, `key` a string when " \
                  "present."
#define E_ID      "`id` must be a string."
#define E_ACTION  "`action` must be one of `add`, `reweight`, `drain`, " \
                  "`remove`."
#define E_WEIGHT  "`weight` must be an integer from 1 to 1000."


typedef struct {
    const char             *body;      /* NULL: the body did not parse */
    miroir_admin_action_t   kind;
    int                     generic;
    const char             *path_id;   /* from the path, or NULL */
    const char             *error;     /* NULL: valid */
    miroir_admin_action_t   want_kind;
    const char             *id;
    const char             *address;
    const char             *key;
    unsigned                weight;
    int                     force;
} case_t;


#define ADD       MIROIR_ADMIN_ADD
#define REWEIGHT  MIROIR_ADMIN_REWEIGHT
#define DRAIN     MIROIR_ADMIN_DRAIN
#define REMOVE    MIROIR_ADMIN_REMOVE

static const case_t  cases[] = {

    /* POST /_miroir/nodes */
    { "{\"id\":\"n3\",\"address\":\"127.0.0.1:7703\"}", ADD, 0, NULL, NULL,
      ADD, "n3", "127.0.0.1:7703", "", 1, 0 },
    { "{\"id\":\"n3\",\"address\":\"127.0.0.1:1\",\"weight\":7,"
      "\"key\":\"k\"}", ADD, 0, NULL, NULL, ADD, "n3", "127.0.0.1:1", "k",
      7, 0 },
    { "{\"id\":\"n3\",\"address\":\"a\",\"key\":null,\"weight\":1000}", ADD,
      0, NULL, NULL, ADD, "n3", "a", "", 1000, 0 },
    { "{\"id\":\"n3\",\"address\":\"a\",\"weight\":2.0}", ADD, 0, NULL, NULL,
      ADD, "n3", "a", "", 2, 0 },
    /* a \u0000 ends the string, as a C string */
    { "{\"id\":\"n3\\u0000x\",\"address\":\"a\"}", ADD, 0, NULL, NULL,
      ADD, "n3", "a", "", 1, 0 },
    /* id syntax is the rebalancer's: any string passes here */
    { "{\"id\":\"\",\"address\":\"\"}", ADD, 0, NULL, NULL, ADD, "", "", "",
      1, 0 },
    { NULL, ADD, 0, NULL, E_OBJECT, ADD, NULL, NULL, NULL, 0, 0 },
    { "[]", ADD, 0, NULL, E_OBJECT, ADD, NULL, NULL, NULL, 0, 0 },
    { "\"x\"", ADD, 0, NULL, E_OBJECT, ADD, NULL, NULL, NULL, 0, 0 },
    { "{\"address\":\"a\"}", ADD, 0, NULL, E_ADD, ADD, NULL, NULL, NULL, 0,
      0 },
    { "{\"id\":null,\"address\":\"a\"}", ADD, 0, NULL, E_ADD, ADD, NULL,
      NULL, NULL, 0, 0 },
    { "{\"id\":3,\"address\":\"a\"}", ADD, 0, NULL, E_ADD, ADD, NULL, NULL,
      NULL, 0, 0 },
    { "{\"id\":\"n\"}", ADD, 0, NULL, E_ADD, ADD, NULL, NULL, NULL, 0, 0 },
    { "{\"id\":\"n\",\"address\":[]}", ADD, 0, NULL, E_ADD, ADD, NULL, NULL,
      NULL, 0, 0 },
    { "{\"id\":\"n\",\"address\":\"a\",\"key\":1}", ADD, 0, NULL, E_ADD,
      ADD, NULL, NULL, NULL, 0, 0 },
    { "{\"id\":\"n\",\"address\":\"a\",\"weight\":0}", ADD, 0, NULL,
      E_WEIGHT, ADD, NULL, NULL, NULL, 0, 0 },
    { "{\"id\":\"n\",\"address\":\"a\",\"weight\":1001}", ADD, 0, NULL,
      E_WEIGHT, ADD, NULL, NULL, NULL, 0, 0 },
    { "{\"id\":\"n\",\"address\":\"a\",\"weight\":1.5}", ADD, 0, NULL,
      E_WEIGHT, ADD, NULL, NULL, NULL, 0, 0 },
    { "{\"id\":\"n\",\"address\":\"a\",\"weight\":-3}", ADD, 0, NULL,
      E_WEIGHT, ADD, NULL, NULL, NULL, 0, 0 },
    { "{\"id\":\"n\",\"address\":\"a\",\"weight\":1e999}", ADD, 0, NULL,
      E_WEIGHT, ADD, NULL, NULL, NULL, 0, 0 },
    { "{\"id\":\"n\",\"address\":\"a\",\"weight\":\"2\"}", ADD, 0, NULL,
      E_WEIGHT, ADD, NULL, NULL, NULL, 0, 0 },
    { "{\"id\":\"n\",\"address\":\"a\",\"weight\":null}", ADD, 0, NULL,
      E_WEIGHT, ADD, NULL, NULL, NULL, 0, 0 },
    /* the types before the weight */
    { "{\"id\":1,\"address\":\"a\",\"weight\":0}", ADD, 0, NULL, E_ADD,
      ADD, NULL, NULL, NULL, 0, 0 },

    /* PATCH /_miroir/nodes/{id}: the id comes from the path */
    { "{\"weight\":3}", REWEIGHT, 0, "n1", NULL, REWEIGHT, "n1", "", "", 3,
      0 },
    { "{\"weight\":3,\"id\":\"other\"}", REWEIGHT, 0, "n1", NULL, REWEIGHT,
      "n1", "", "", 3, 0 },
    { "{}", REWEIGHT, 0, "n1", E_WEIGHT, REWEIGHT, NULL, NULL, NULL, 0, 0 },
    { "{\"weight\":true}", REWEIGHT, 0, "n1", E_WEIGHT, REWEIGHT, NULL,
      NULL, NULL, 0, 0 },
    { "nope", REWEIGHT, 0, "n1", E_OBJECT, REWEIGHT, NULL, NULL, NULL, 0,
      0 },

    /* POST /_miroir/rebalance */
    { "{\"action\":\"add\",\"id\":\"n4\",\"address\":\"b\",\"weight\":2}",
      ADD, 1, NULL, NULL, ADD, "n4", "b", "", 2, 0 },
    { "{\"action\":\"reweight\",\"id\":\"n1\",\"weight\":9}", ADD, 1, NULL,
      NULL, REWEIGHT, "n1", "", "", 9, 0 },
    { "{\"action\":\"drain\",\"id\":\"n1\",\"weight\":0}", ADD, 1, NULL,
      NULL, DRAIN, "n1", "", "", 1, 0 },
    { "{\"action\":\"remove\",\"id\":\"n1\"}", ADD, 1, NULL, NULL, REMOVE,
      "n1", "", "", 1, 0 },
    { "{\"action\":\"remove\",\"id\":\"n1\",\"force\":true}", ADD, 1, NULL,
      NULL, REMOVE, "n1", "", "", 1, 1 },
    { "{\"action\":\"remove\",\"id\":\"n1\",\"force\":\"true\"}", ADD, 1,
      NULL, NULL, REMOVE, "n1", "", "", 1, 0 },
    /* force only counts for remove */
    { "{\"action\":\"drain\",\"id\":\"n1\",\"force\":true}", ADD, 1, NULL,
      NULL, DRAIN, "n1", "", "", 1, 0 },
    { "{\"id\":\"n1\"}", ADD, 1, NULL, E_ACTION, ADD, NULL, NULL, NULL, 0,
      0 },
    { "{\"action\":\"Add\",\"id\":\"n1\"}", ADD, 1, NULL, E_ACTION, ADD,
      NULL, NULL, NULL, 0, 0 },
    { "{\"action\":\"adds\",\"id\":\"n1\"}", ADD, 1, NULL, E_ACTION, ADD,
      NULL, NULL, NULL, 0, 0 },
    { "{\"action\":7,\"id\":\"n1\"}", ADD, 1, NULL, E_ACTION, ADD, NULL,
      NULL, NULL, 0, 0 },
    { "{\"action\":null}", ADD, 1, NULL, E_ACTION, ADD, NULL, NULL, NULL, 0,
      0 },
    { "{\"action\":\"drain\"}", ADD, 1, NULL, E_ID, ADD, NULL, NULL, NULL,
      0, 0 },
    { "{\"action\":\"drain\",\"id\":[]}", ADD, 1, NULL, E_ID, ADD, NULL,
      NULL, NULL, 0, 0 },
    { "{\"action\":\"add\",\"id\":\"n\"}", ADD, 1, NULL, E_ADD, ADD, NULL,
      NULL, NULL, 0, 0 },
    { "{\"action\":\"reweight\",\"id\":\"n1\"}", ADD, 1, NULL, E_WEIGHT,
      ADD, NULL, NULL, NULL, 0, 0 },
    { "[1]", ADD, 1, NULL, E_OBJECT, ADD, NULL, NULL, NULL, 0, 0 },
};


static void
check_str(const char *got, size_t len, const char *want, size_t i)
{
    ck_assert_msg(len == strlen(want) && memcmp(got, want, len) == 0,
                  "case %zu: \"%.*s\" instead of \"%s\"", i, (int) len, got,
                  want);
}


START_TEST(test_bodies)
{
    cJSON                *json;
    miroir_rc_t           rc;
    miroir_error_t        err;
    const case_t         *c = &cases[_i];
    miroir_admin_body_t   b;

    json = c->body ? cJSON_Parse(c->body) : NULL;

    if (c->body && strcmp(c->body, "nope") != 0) {
        ck_assert_msg(json != NULL, "case %d does not parse", _i);
    }

    memset(&b, 0, sizeof(b));
    b.id = c->path_id;
    b.id_len = c->path_id ? strlen(c->path_id) : 0;
    memset(&err, 0, sizeof(err));

    rc = miroir_admin_body_parse(json, c->kind, c->generic, &b, &err);

    if (c->error) {
        ck_assert_msg(rc == MIROIR_ERROR, "case %d passes", _i);
        ck_assert_int_eq(err.status, 400);
        ck_assert_str_eq(err.code, "miroir_invalid_request");
        ck_assert_str_eq(err.type, "invalid_request");
        ck_assert_str_eq(err.message, c->error);

    } else {
        ck_assert_msg(rc == MIROIR_OK, "case %d: %s", _i, err.message);
        ck_assert_int_eq(b.kind, c->want_kind);
        check_str(b.id, b.id_len, c->id, _i);
        check_str(b.address, b.address_len, c->address, _i);
        check_str(b.key, b.key_len, c->key, _i);
        ck_assert_uint_eq(b.weight, c->weight);
        ck_assert_int_eq(b.force, c->force);
    }

    cJSON_Delete(json);
}
END_TEST


START_TEST(test_error_json)
{
    char                  buf[512];
    cJSON                *json;
    miroir_error_t        err;
    miroir_admin_body_t   b;

    memset(&b, 0, sizeof(b));
    json = cJSON_Parse("{\"weight\":0}");
    ck_assert_int_eq(miroir_admin_body_parse(json, MIROIR_ADMIN_REWEIGHT, 0,
                                             &b, &err), MIROIR_ERROR);
    cJSON_Delete(json);

    miroir_error_json(&err, buf, sizeof(buf));
    ck_assert_str_eq(buf, "{\"message\":\"`weight` must be an integer from "
                          "1 to 1000.\",\"code\":\"miroir_invalid_request\","
                          "\"type\":\"invalid_request\",\"link\":"
                          "\"https://docs.meilisearch.com/errors#"
                          "miroir_invalid_request\"}");
}
END_TEST


START_TEST(test_arg_true)
{
    ck_assert(miroir_admin_arg_true("true", 4));
    ck_assert(miroir_admin_arg_true("TRUE", 4));
    ck_assert(miroir_admin_arg_true("True", 4));
    ck_assert(miroir_admin_arg_true("truex", 4));   /* only len bytes */
    ck_assert(!miroir_admin_arg_true("truex", 5));
    ck_assert(!miroir_admin_arg_true("1", 1));
    ck_assert(!miroir_admin_arg_true("yes", 3));
    ck_assert(!miroir_admin_arg_true("", 0));
    ck_assert(!miroir_admin_arg_true("tru", 3));
    ck_assert(!miroir_admin_arg_true(NULL, 4));
}
END_TEST


static Suite *
admin_body_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("admin_body");
    tc = tcase_create("core");

    tcase_add_loop_test(tc, test_bodies, 0,
                        (int) (sizeof(cases) / sizeof(cases[0])));
    tcase_add_test(tc, test_error_json);
    tcase_add_test(tc, test_arg_true);

    suite_add_tcase(s, tc);

    return s;
}


int
main(void)
{
    SRunner  *sr;
    int       failed;

    sr = srunner_create(admin_body_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
