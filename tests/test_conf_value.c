/*
 * test_conf_value.c -- the miroir_cluster values Miroir parses itself:
 * unsigned integers (ngx_atoi()'s rules), node ids, write_quorum, on/off,
 * node parameters weight= and key= (quote stripping).
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "miroir_conf_value.h"


#define S(s)  s, sizeof(s) - 1


START_TEST(test_uint)
{
    uint64_t  v;

    ck_assert_int_eq(miroir_conf_uint(S("0"), &v), MIROIR_OK);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(miroir_conf_uint(S("1024"), &v), MIROIR_OK);
    ck_assert_uint_eq(v, 1024);
    ck_assert_int_eq(miroir_conf_uint(S("007"), &v), MIROIR_OK);
    ck_assert_uint_eq(v, 7);
    ck_assert_int_eq(miroir_conf_uint(S("9223372036854775807"), &v),
                     MIROIR_OK);
    ck_assert_uint_eq(v, INT64_MAX);

    v = 42;
    ck_assert_int_eq(miroir_conf_uint(S("9223372036854775808"), &v),
                     MIROIR_EINVAL);
    ck_assert_int_eq(miroir_conf_uint(S("99999999999999999999"), &v),
                     MIROIR_EINVAL);
    ck_assert_int_eq(miroir_conf_uint(S(""), &v), MIROIR_EINVAL);
    ck_assert_int_eq(miroir_conf_uint(S("-1"), &v), MIROIR_EINVAL);
    ck_assert_int_eq(miroir_conf_uint(S("+1"), &v), MIROIR_EINVAL);
    ck_assert_int_eq(miroir_conf_uint(S("1k"), &v), MIROIR_EINVAL);
    ck_assert_int_eq(miroir_conf_uint(S(" 1"), &v), MIROIR_EINVAL);
    ck_assert_int_eq(miroir_conf_uint(S("1.0"), &v), MIROIR_EINVAL);
    ck_assert_uint_eq(v, 42);                   /* untouched on error */

    /* only len bytes are read */
    ck_assert_int_eq(miroir_conf_uint("12x", 2, &v), MIROIR_OK);
    ck_assert_uint_eq(v, 12);
}
END_TEST


START_TEST(test_node_id)
{
    char  id[MIROIR_NODE_ID_LEN + 1];

    ck_assert(miroir_conf_node_id_valid(S("n1")));
    ck_assert(miroir_conf_node_id_valid(S("A-z_09")));
    ck_assert(miroir_conf_node_id_valid(S("-")));
    ck_assert(!miroir_conf_node_id_valid(S("")));
    ck_assert(!miroir_conf_node_id_valid(S("n 1")));
    ck_assert(!miroir_conf_node_id_valid(S("n.1")));
    ck_assert(!miroir_conf_node_id_valid(S("n\"1")));
    ck_assert(!miroir_conf_node_id_valid(S("n\xc3\xa9")));
    ck_assert(!miroir_conf_node_id_valid("n\0", 2));

    memset(id, 'a', sizeof(id));
    ck_assert(miroir_conf_node_id_valid(id, MIROIR_NODE_ID_LEN - 1));
    ck_assert(!miroir_conf_node_id_valid(id, MIROIR_NODE_ID_LEN));
    ck_assert(!miroir_conf_node_id_valid(id, MIROIR_NODE_ID_LEN + 1));
}
END_TEST


START_TEST(test_keywords)
{
    ck_assert_int_eq(miroir_conf_quorum(S("all")), 0);
    ck_assert_int_eq(miroir_conf_quorum(S("majority")), 1);
    ck_assert_int_eq(miroir_conf_quorum(S("one")), 2);
    ck_assert_int_eq(miroir_conf_quorum(S("ALL")), -1);
    ck_assert_int_eq(miroir_conf_quorum(S("al")), -1);
    ck_assert_int_eq(miroir_conf_quorum(S("alll")), -1);
    ck_assert_int_eq(miroir_conf_quorum(S("2")), -1);
    ck_assert_int_eq(miroir_conf_quorum(S("")), -1);
    ck_assert_int_eq(miroir_conf_quorum("all\0", 4), -1);

    ck_assert_int_eq(miroir_conf_flag(S("on")), 1);
    ck_assert_int_eq(miroir_conf_flag(S("off")), 0);
    ck_assert_int_eq(miroir_conf_flag(S("On")), -1);
    ck_assert_int_eq(miroir_conf_flag(S("of")), -1);
    ck_assert_int_eq(miroir_conf_flag(S("1")), -1);
    ck_assert_int_eq(miroir_conf_flag(S("")), -1);
}
END_TEST


typedef struct {
    const char             *param;
    miroir_conf_node_rc_t   rc;
    unsigned                weight;
    const char             *key;        /* NULL: no key */
} param_case_t;

static const param_case_t  params[] = {
    { "weight=1", MIROIR_CONF_NODE_OK, 1, NULL },
    { "weight=10000", MIROIR_CONF_NODE_OK, 10000, NULL },
    { "weight=0042", MIROIR_CONF_NODE_OK, 42, NULL },
    { "weight=0", MIROIR_CONF_NODE_BAD_WEIGHT, 1, NULL },
    { "weight=10001", MIROIR_CONF_NODE_BAD_WEIGHT, 1, NULL },
    { "weight=", MIROIR_CONF_NODE_BAD_WEIGHT, 1, NULL },
    { "weight=-1", MIROIR_CONF_NODE_BAD_WEIGHT, 1, NULL },
    { "weight=2x", MIROIR_CONF_NODE_BAD_WEIGHT, 1, NULL },
    { "weight=99999999999999999999", MIROIR_CONF_NODE_BAD_WEIGHT, 1, NULL },
    { "key=abc", MIROIR_CONF_NODE_OK, 1, "abc" },
    { "key=\"abc\"", MIROIR_CONF_NODE_OK, 1, "abc" },
    { "key='abc'", MIROIR_CONF_NODE_OK, 1, "abc" },
    { "key=\"a b\"", MIROIR_CONF_NODE_OK, 1, "a b" },
    { "key=\"abc'", MIROIR_CONF_NODE_OK, 1, "\"abc'" },
    { "key=\"abc", MIROIR_CONF_NODE_OK, 1, "\"abc" },
    { "key=\"\"x\"\"", MIROIR_CONF_NODE_OK, 1, "\"x\"" },  /* one pair */
    { "key=\"", MIROIR_CONF_NODE_OK, 1, "\"" },
    { "key==", MIROIR_CONF_NODE_OK, 1, "=" },
    { "key=weight=3", MIROIR_CONF_NODE_OK, 1, "weight=3" },
    { "key=", MIROIR_CONF_NODE_EMPTY_KEY, 1, NULL },
    { "key=\"\"", MIROIR_CONF_NODE_EMPTY_KEY, 1, NULL },
    { "key=''", MIROIR_CONF_NODE_EMPTY_KEY, 1, NULL },
    { "weight", MIROIR_CONF_NODE_UNKNOWN, 1, NULL },
    { "Weight=2", MIROIR_CONF_NODE_UNKNOWN, 1, NULL },
    { "key", MIROIR_CONF_NODE_UNKNOWN, 1, NULL },
    { "keys=a", MIROIR_CONF_NODE_UNKNOWN, 1, NULL },
    { "backup", MIROIR_CONF_NODE_UNKNOWN, 1, NULL },
    { "", MIROIR_CONF_NODE_UNKNOWN, 1, NULL },
};


START_TEST(test_node_param)
{
    miroir_conf_node_t     node;
    const param_case_t    *c = &params[_i];
    miroir_conf_node_rc_t  rc;

    miroir_conf_node_init(&node);

    rc = miroir_conf_node_param(c->param, strlen(c->param), &node);

    ck_assert_msg(rc == c->rc, "\"%s\": %d instead of %d", c->param, rc,
                  c->rc);
    ck_assert_uint_eq(node.weight, c->weight);

    if (c->key == NULL) {
        ck_assert_ptr_null(node.key);
        ck_assert_uint_eq(node.key_len, 0);

    } else {
        ck_assert_ptr_nonnull(node.key);
        ck_assert_msg(node.key_len == strlen(c->key)
                      && memcmp(node.key, c->key, node.key_len) == 0,
                      "\"%s\": key \"%.*s\"", c->param, (int) node.key_len,
                      node.key);

        /* the key points into the token */
        ck_assert(node.key >= c->param
                  && node.key + node.key_len <= c->param + strlen(c->param));
    }
}
END_TEST


START_TEST(test_node_params_override)
{
    miroir_conf_node_t  node;

    miroir_conf_node_init(&node);
    ck_assert_uint_eq(node.weight, 1);
    ck_assert_ptr_null(node.key);

    ck_assert_int_eq(miroir_conf_node_param(S("weight=5"), &node),
                     MIROIR_CONF_NODE_OK);
    ck_assert_int_eq(miroir_conf_node_param(S("key=k1"), &node),
                     MIROIR_CONF_NODE_OK);
    ck_assert_int_eq(miroir_conf_node_param(S("weight=7"), &node),
                     MIROIR_CONF_NODE_OK);
    ck_assert_int_eq(miroir_conf_node_param(S("key='k2'"), &node),
                     MIROIR_CONF_NODE_OK);
    ck_assert_uint_eq(node.weight, 7);
    ck_assert_uint_eq(node.key_len, 2);
    ck_assert(memcmp(node.key, "k2", 2) == 0);

    /* a refused parameter changes nothing */
    ck_assert_int_eq(miroir_conf_node_param(S("weight=0"), &node),
                     MIROIR_CONF_NODE_BAD_WEIGHT);
    ck_assert_int_eq(miroir_conf_node_param(S("key=\"\""), &node),
                     MIROIR_CONF_NODE_EMPTY_KEY);
    ck_assert_uint_eq(node.weight, 7);
    ck_assert_uint_eq(node.key_len, 2);
}
END_TEST


static Suite *
conf_value_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("conf_value");
    tc = tcase_create("core");

    tcase_add_test(tc, test_uint);
    tcase_add_test(tc, test_node_id);
    tcase_add_test(tc, test_keywords);
    tcase_add_loop_test(tc, test_node_param, 0,
                        (int) (sizeof(params) / sizeof(params[0])));
    tcase_add_test(tc, test_node_params_override);

    suite_add_tcase(s, tc);

    return s;
}


int
main(void)
{
    SRunner  *sr;
    int       failed;

    sr = srunner_create(conf_value_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
