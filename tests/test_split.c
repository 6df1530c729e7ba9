/*
 * test_split.c -- the payload splitter: golden-derived error tables,
 * output format, CSV conversion, delete-batch grouping and a seeded
 * random property test.
 */

#include <check.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "miroir_split.h"
#include "miroir_bytes.h"


/* 3 nodes, 16 shards, rf 2: shard s is owned by s % 3 then (s + 1) % 3 */

#define T_NODES   3
#define T_SHARDS  16
#define T_RF      2

static uint16_t            t_owners[T_SHARDS * T_RF];
static const char *const   t_ids[T_NODES] = { "n0", "n1", "n2" };
static miroir_route_table_t t_rt;


static void
t_setup(void)
{
    uint32_t  s;

    for (s = 0; s < T_SHARDS; s++) {
        t_owners[s * T_RF] = (uint16_t) (s % T_NODES);
        t_owners[s * T_RF + 1] = (uint16_t) ((s + 1) % T_NODES);
    }

    t_rt.nshards = T_SHARDS;
    t_rt.rf = T_RF;
    t_rt.nnodes = T_NODES;
    t_rt.owners = t_owners;
    t_rt.node_ids = t_ids;
}


static miroir_rc_t
t_split(miroir_doc_format_t fmt, const char *pk, const char *body,
    miroir_split_result_t *res)
{
    miroir_split_conf_t  conf;

    memset(&conf, 0, sizeof(conf));
    conf.format = fmt;
    conf.csv_delimiter = 0;
    conf.primary_key = pk;
    conf.route = &t_rt;

    return miroir_split(&conf, body, strlen(body), res);
}


/* ---- errors, golden-derived ------------------------------------------ */

typedef struct {
    miroir_doc_format_t      fmt;
    const char              *pk;
    const char              *body;
    miroir_split_err_kind_t  kind;
    const char              *code;
    const char              *message;
    uint64_t                 err_doc;
} t_err_case_t;

#define TASK  MIROIR_SPLIT_ERR_TASK
#define REQ   MIROIR_SPLIT_ERR_REQUEST
#define JSON  MIROIR_DOC_JSON
#define NDJ   MIROIR_DOC_NDJSON
#define CSV   MIROIR_DOC_CSV

#define MAL_J  "The `json` payload provided is malformed. " \
               "`Couldn't serialize document value: "
#define MAL_N  "The `ndjson` payload provided is malformed. " \
               "`Couldn't serialize document value: "
#define BADID  "` is invalid. A document identifier can be of type " \
               "integer or string, only composed of alphanumeric " \
               "characters (a-z A-Z 0-9), hyphens (-) and underscores " \
               "(_), and can not be more than 511 bytes."
#define NOPK   "The primary key inference failed as the engine did not " \
               "find any field ending with `id` in its name. Please " \
               "specify the primary key manually using the `primaryKey` " \
               "query parameter."
#define MULTI  "Please specify the primary key manually using the " \
               "`primaryKey` query parameter."

static const t_err_case_t  t_err_cases[] = {
    /* golden docs-empty-body */
    { JSON, "id", "", REQ, "missing_payload", "A json payload is missing.",
      0 },
    { NDJ, "id", "", REQ, "missing_payload", "A ndjson payload is missing.",
      0 },
    { CSV, "id", "", REQ, "missing_payload", "A csv payload is missing.", 0 },
    /* golden docs-malformed */
    { JSON, "id", "[{\"id\": 1,", REQ, "malformed_payload",
      MAL_J "EOF while parsing an object at line 1 column 10`.", 0 },
    /* golden docs-array-of-numbers */
    { JSON, "id", "[1,2]", REQ, "malformed_payload",
      MAL_J "trailing characters at line 1 column 4`.", 0 },
    { JSON, "id", "{\"uid\": \"x\"", REQ, "malformed_payload",
      MAL_J "EOF while parsing an object at line 1 column 11`.", 0 },
    { JSON, "id", "[{\"id\":1},]", REQ, "malformed_payload",
      MAL_J "trailing comma at line 1 column 11`.", 0 },
    { JSON, "id", "[{\"id\":1}", REQ, "malformed_payload",
      MAL_J "EOF while parsing a list at line 1 column 9`.", 0 },
    { JSON, "id", "[{\"id\":1} {\"id\":2}]", REQ, "malformed_payload",
      MAL_J "expected `,` or `]` at line 1 column 11`.", 0 },
    { JSON, "id", "[\n {\"id\":1,\n  \"a\":}]", REQ, "malformed_payload",
      MAL_J "expected value at line 3 column 7`.", 0 },
    /* inside an array element (a raw value) vs a single object (a map) */
    { JSON, "id", "[{\"id\":1,}]", REQ, "malformed_payload",
      MAL_J "key must be a string at line 1 column 10`.", 0 },
    { JSON, "id", "{\"id\":1,}", REQ, "malformed_payload",
      MAL_J "trailing comma at line 1 column 9`.", 0 },
    { JSON, "id", "[{\"id\":[1,]}]", REQ, "malformed_payload",
      MAL_J "expected value at line 1 column 11`.", 0 },
    { JSON, "id", "{\"id\":1,\"a\":[1,]}", REQ, "malformed_payload",
      MAL_J "trailing comma at line 1 column 16`.", 0 },
    { JSON, "id", "[", REQ, "malformed_payload",
      MAL_J "EOF while parsing a list at line 1 column 1`.", 0 },
    { JSON, "id", "[{\"id\":\"\xff\"}]", REQ, "malformed_payload",
      MAL_J "invalid unicode code point at line 1 column 11`.", 0 },
    { JSON, "id", "{\"id\":\"\xff\"}", REQ, "malformed_payload",
      MAL_J "invalid unicode code point at line 1 column 9`.", 0 },
    { JSON, "id", "{\"id\":\"\\udc00\"}", REQ, "malformed_payload",
      MAL_J "lone leading surrogate in hex escape at line 1 column 13`.",
      0 },
    { JSON, "id", "[{\"id\":tru}]", REQ, "malformed_payload",
      MAL_J "expected ident at line 1 column 11`.", 0 },
    { JSON, "id", "[{\"id\":\"a\\x\"}]", REQ, "malformed_payload",
      MAL_J "invalid escape at line 1 column 11`.", 0 },
    { JSON, "id", "[{\"id\":01}]", REQ, "malformed_payload",
      MAL_J "invalid number at line 1 column 9`.", 0 },
    { JSON, "id", "[{1:1}]", REQ, "malformed_payload",
      MAL_J "key must be a string at line 1 column 3`.", 0 },
    { JSON, "id", "[{\"id\" 1}]", REQ, "malformed_payload",
      MAL_J "expected `:` at line 1 column 8`.", 0 },
    { JSON, "id", "[{\"id\":\"a\nb\"}]", REQ, "malformed_payload",
      MAL_J "control character (\\u0000-\\u001F) found while parsing a "
      "string at line 1 column 9`.", 0 },
    { JSON, "id", "1", REQ, "malformed_payload",
      MAL_J "data are neither an object nor a list of objects`.", 0 },
    { JSON, "id", "[1]", REQ, "malformed_payload",
      MAL_J "data are neither an object nor a list of objects`.", 0 },
    { JSON, "id", "  \n ", REQ, "malformed_payload",
      MAL_J "EOF while parsing a value at line 2 column 1`.", 0 },
    /* a BOM is not JSON whitespace for serde_json */
    { JSON, "id", "\xef\xbb\xbf[]", REQ, "malformed_payload",
      MAL_J "expected value at line 1 column 1`.", 0 },
    { JSON, "id", "{\"id\":1} x", REQ, "malformed_payload",
      MAL_J "trailing characters at line 1 column 10`.", 0 },
    { NDJ, "id", "{\"id\":1}\n{\"id\":2", REQ, "malformed_payload",
      MAL_N "EOF while parsing an object at line 2 column 7`.", 0 },
    { NDJ, "id", "{\"id\":1}\n[1]\n", REQ, "malformed_payload",
      MAL_N "data are neither an object nor a list of objects`.", 0 },
    { NDJ, "id", "{\"id\":1}x", REQ, "malformed_payload",
      MAL_N "expected value at line 1 column 9`.", 0 },
    { NDJ, "id", "{\"id\":1} 1x", REQ, "malformed_payload",
      MAL_N "trailing characters at line 1 column 11`.", 0 },
    { NDJ, "id", "{\"id\":1}\n{\"a\":\"\xc3\"}", REQ, "malformed_payload",
      MAL_N "invalid unicode code point at line 2 column 9`.", 0 },
    /* golden docs-invalid-id-* */
    { JSON, "id", "[{\"id\": 1.5, \"title\": \"x\"}]", TASK,
      "invalid_document_id", "Document identifier `1.5" BADID, 0 },
    { JSON, "id", "[{\"id\": \"a b\", \"title\": \"x\"}]", TASK,
      "invalid_document_id", "Document identifier `\"a b\"" BADID, 0 },
    { JSON, "id", "[{\"id\": true, \"title\": \"x\"}]", TASK,
      "invalid_document_id", "Document identifier `true" BADID, 0 },
    { JSON, "id", "[{\"id\": null}]", TASK,
      "invalid_document_id", "Document identifier `null" BADID, 0 },
    { JSON, "id", "[{\"id\": {\"a\": [1, 2]}}]", TASK,
      "invalid_document_id", "Document identifier `{\"a\":[1,2]}" BADID, 0 },
    { JSON, "id", "[{\"id\": \"\"}]", TASK,
      "invalid_document_id", "Document identifier `\"\"" BADID, 0 },
    { JSON, "id", "[{\"id\": \"\\u00e9\"}]", TASK,
      "invalid_document_id", "Document identifier `\"\xc3\xa9\"" BADID, 0 },
    { JSON, "id", "[{\"id\": 18446744073709551616}]", TASK,
      "invalid_document_id",
      "Document identifier `1.8446744073709552e19" BADID, 0 },
    { JSON, "id", "[{\"id\": -9223372036854775809}]", TASK,
      "invalid_document_id",
      "Document identifier `-9.223372036854776e18" BADID, 0 },
    { JSON, "id", "[{\"id\": -0}]", TASK,
      "invalid_document_id", "Document identifier `-0.0" BADID, 0 },
    { JSON, "id", "[{\"id\": 1.50}]", TASK,
      "invalid_document_id", "Document identifier `1.5" BADID, 0 },
    { JSON, "id", "[{\"id\": 1e3}]", TASK,
      "invalid_document_id", "Document identifier `1000.0" BADID, 0 },
    { JSON, "id", "[{\"n\": 2.50, \"s\": \"\\u0041\\/\"}]", TASK,
      "missing_document_id", "Document doesn't have a `id` attribute: "
      "`{\"n\":2.5,\"s\":\"A/\"}`.", 0 },
    /* golden docs-missing-id-middle */
    { JSON, "id", "[{\"id\": 50, \"title\": \"ok\"}, {\"title\": \"no id\"}, "
      "{\"id\": 51, \"title\": \"ok\"}]", TASK, "missing_document_id",
      "Document doesn't have a `id` attribute: `{\"title\":\"no id\"}`.", 1 },
    /* golden pk-infer-none, pk-infer-multiple, pk-infer-id-wins */
    { JSON, NULL, "[{\"name\": \"a\", \"value\": 1}]", TASK,
      "index_primary_key_no_candidate_found", NOPK, 0 },
    { JSON, NULL, "[{\"product_id\": 1, \"user_id\": 2}]", TASK,
      "index_primary_key_multiple_candidates_found",
      "The primary key inference failed as the engine found 2 fields "
      "ending with `id` in their names: 'product_id' and 'user_id'. "
      MULTI, 0 },
    { JSON, NULL, "[{\"product_id\": 1, \"id\": 2}]", TASK,
      "index_primary_key_multiple_candidates_found",
      "The primary key inference failed as the engine found 2 fields "
      "ending with `id` in their names: 'id' and 'product_id'. " MULTI, 0 },
    { JSON, NULL, "[{\"b_ID\": 1, \"paid\": 2, \"c\": 0, \"aId\": 3}]", TASK,
      "index_primary_key_multiple_candidates_found",
      "The primary key inference failed as the engine found 3 fields "
      "ending with `id` in their names: 'aId' and 'b_ID'. " MULTI, 0 },
    /* golden csv-delimiter (task 23): header isbn;title, no pk */
    { CSV, NULL, "isbn,title\n9,Semi\n", TASK,
      "index_primary_key_no_candidate_found", NOPK, 0 },
    /* golden csv-bad-number */
    { CSV, NULL, "id,n:number\n1,abc\n", REQ, "malformed_payload",
      "The `csv` payload provided is malformed: `Error parsing number "
      "\"abc\" at line 1: invalid float literal`.", 0 },
    { CSV, "id", "id,b:boolean\n1,true\n2, yes\n", REQ, "malformed_payload",
      "The `csv` payload provided is malformed: `Error parsing boolean "
      "\" yes\" at line 2: provided string was not `true` or `false``.", 0 },
    { CSV, "id", "id,a\n1,2\n3\n", REQ, "malformed_payload",
      "The `csv` payload provided is malformed: `CSV error: record 2 "
      "(line: 3, byte: 9): found record with 1 fields, but the previous "
      "record has 2 fields`.", 0 },
    { CSV, "id", "id,a\n1,\xff\n", REQ, "malformed_payload",
      "The `csv` payload provided is malformed: `CSV parse error: record 1 "
      "(line 2, byte: 5): invalid utf-8: invalid UTF-8 in field 1`.", 0 },
    { CSV, "id", "id,n:number\n1.5,1\n", TASK, "invalid_document_id",
      "Document identifier `\"1.5\"" BADID, 0 },
    { CSV, "id", "id:number,n\n1.5,1\n", TASK, "invalid_document_id",
      "Document identifier `1.5" BADID, 0 },
    { CSV, "id", "id:number,n\n,1\n", TASK, "invalid_document_id",
      "Document identifier `null" BADID, 0 },
    { CSV, "id", "a,b\n1,2\n", TASK, "missing_document_id",
      "Document doesn't have a `id` attribute: `{\"a\":\"1\",\"b\":\"2\"}`.",
      0 },
    /* precedence: the payload is syntax-checked before any id */
    { JSON, "id", "[{\"x\":1}, {\"id\":1}, {\"id\":", REQ,
      "malformed_payload",
      MAL_J "EOF while parsing a value at line 1 column 26`.", 0 },
    { JSON, NULL, "[{\"x\":1}, {\"id\":1}, {\"id\":", REQ,
      "malformed_payload",
      MAL_J "EOF while parsing a value at line 1 column 26`.", 0 },
    /* reserved fields are refused before the task, after syntax */
    { JSON, "id", "[{\"id\":1}, {\"id\":2, \"_miroir_shard\": 3}]", REQ,
      "miroir_reserved_field", "Document at position 1 has a field "
      "starting with `_miroir_`: such fields are reserved by Miroir.", 1 },
    { JSON, "id", "[{\"id\":1, \"\\u005fmiroir_o0\": \"x\"}, {\"x\":2}]", REQ,
      "miroir_reserved_field", "Document at position 0 has a field "
      "starting with `_miroir_`: such fields are reserved by Miroir.", 0 },
    /* nested primary key */
    { JSON, "p.sku", "[{\"p\": {\"sku\": 1}, \"p.sku\": 2}]", TASK,
      "invalid_document_id", "Document identifier `2" BADID, 0 },
    { JSON, "p.sku", "[{\"p\": {\"x\": 1}}]", TASK, "missing_document_id",
      "Document doesn't have a `p.sku` attribute: `{\"p\":{\"x\":1}}`.", 0 },
};


START_TEST(test_errors)
{
    const t_err_case_t     *c = &t_err_cases[_i];
    miroir_split_result_t   res;
    uint32_t                n;

    ck_assert_int_eq(t_split(c->fmt, c->pk, c->body, &res), MIROIR_OK);
    ck_assert_msg(res.err_kind == c->kind, "case %d: kind %d (%s)", _i,
                  res.err_kind, res.err.message);
    ck_assert_str_eq(res.err.code, c->code);
    ck_assert_str_eq(res.err.message, c->message);
    ck_assert_int_eq(res.err.status, 400);
    ck_assert_str_eq(res.err.type, "invalid_request");

    if (c->kind != REQ || strcmp(c->code, "miroir_reserved_field") == 0) {
        ck_assert_uint_eq(res.err_doc, c->err_doc);
    }

    for (n = 0; n < res.nparts; n++) {
        ck_assert_ptr_null(res.parts[n].body);
        ck_assert_uint_eq(res.parts[n].ndocs, 0);
    }

    miroir_split_result_free(&res);
}
END_TEST


/* ---- valid payloads -------------------------------------------------- */

/* collect all part bodies into one string, node by node */
static char *
t_all(const miroir_split_result_t *res)
{
    miroir_bytes_t  b;
    uint32_t      i;
    size_t        len;

    miroir_bytes_init(&b);

    for (i = 0; i < res->nparts; i++) {
        miroir_bytes_append(&b, res->parts[i].body, res->parts[i].len);
    }

    miroir_bytes_putc(&b, '\0');

    return (char *) miroir_bytes_detach(&b, &len);
}


static uint32_t
t_shard(const char *canon)
{
    return miroir_shard_of(canon, strlen(canon), T_SHARDS);
}


START_TEST(test_output_format)
{
    miroir_split_result_t  res;
    char                   exp[256];
    uint32_t               s, o0, o1, other;
    const char            *body;

    body = "[ {\"id\" : \"a-1\",\"v\":[1,{\"x\":\"}\"}]},{}]";

    ck_assert_int_eq(t_split(JSON, "id", body, &res), MIROIR_OK);
    ck_assert_int_eq(res.err_kind, TASK);       /* {} has no id */
    ck_assert_uint_eq(res.err_doc, 1);
    ck_assert_uint_eq(res.ndocs, 2);
    miroir_split_result_free(&res);

    body = "[ {\"id\" : \"a-1\",\"v\":[1,{\"x\":\"}\"}]} ]";
    ck_assert_int_eq(t_split(JSON, "id", body, &res), MIROIR_OK);
    ck_assert_int_eq(res.err_kind, MIROIR_SPLIT_ERR_NONE);
    ck_assert_uint_eq(res.ndocs, 1);
    ck_assert_str_eq(res.primary_key, "id");

    s = t_shard("a-1");
    o0 = s % 3;
    o1 = (s + 1) % 3;
    other = 3 - o0 - o1;

    snprintf(exp, sizeof(exp), "{\"_miroir_shard\":%u,\"_miroir_o0\":\"n%u\","
             "\"_miroir_o1\":\"n%u\",\"id\" : \"a-1\",\"v\":[1,{\"x\":\"}\"}]}"
             "\n", s, o0, o1);

    ck_assert_uint_eq(res.parts[o0].len, strlen(exp));
    ck_assert(memcmp(res.parts[o0].body, exp, strlen(exp)) == 0);
    ck_assert_uint_eq(res.parts[o1].len, strlen(exp));
    ck_assert(memcmp(res.parts[o1].body, exp, strlen(exp)) == 0);
    ck_assert_ptr_null(res.parts[other].body);
    ck_assert_uint_eq(res.parts[o0].ndocs, 1);
    ck_assert_uint_eq(res.parts[other].ndocs, 0);
    miroir_split_result_free(&res);
}
END_TEST


START_TEST(test_empty_object_doc)
{
    miroir_split_result_t  res;
    char                   exp[128], *all;
    uint32_t               s;

    /* "{}" with pk "x" is missing; with an id the tags close the object */
    ck_assert_int_eq(t_split(NDJ, "id", "{\"id\":7}", &res), MIROIR_OK);
    ck_assert_int_eq(res.err_kind, MIROIR_SPLIT_ERR_NONE);
    s = t_shard("7");
    snprintf(exp, sizeof(exp), "{\"_miroir_shard\":%u,\"_miroir_o0\":\"n%u\","
             "\"_miroir_o1\":\"n%u\",\"id\":7}\n", s, s % 3, (s + 1) % 3);
    all = t_all(&res);
    ck_assert(strstr(all, exp) != NULL);
    free(all);
    miroir_split_result_free(&res);
}
END_TEST


/* canonical id: 1 and "1" land on the same shard, escapes are decoded */
START_TEST(test_canonical_ids)
{
    static const struct {
        const char  *body;
        const char  *pk;
        const char  *canon;
    } cases[] = {
        { "{\"id\":1}", "id", "1" },
        { "{\"id\":\"1\"}", "id", "1" },
        { "{\"\\u0069d\":\"a\\u002Db\"}", "id", "a-b" },
        { "{\"id\":18446744073709551615}", "id", "18446744073709551615" },
        { "{\"id\":-9223372036854775808}", "id", "-9223372036854775808" },
        { "{\"id\":-5}", "id", "-5" },
        { "{\"id\":1,\"id\":\"x\"}", "id", "x" },      /* last wins */
        { "{\"p\":{\"q\":{\"sku\":\"s1\"}}}", "p.q.sku", "s1" },
        { "{\"p.q\":{\"sku\":\"s2\"}}", "p.q.sku", "s2" },
        { "{\"a\":{\"id\":9},\"id\":\"top\"}", "id", "top" },
        { "\t{ \"a\" : [ {\"id\":1} ] ,\r\n\"id\" : \"Z_z\" }\n", "id",
          "Z_z" },
    };
    miroir_split_result_t  res;
    uint32_t               s, i;
    char                   tag[64];

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(t_split(JSON, cases[i].pk, cases[i].body, &res),
                         MIROIR_OK);
        ck_assert_msg(res.err_kind == MIROIR_SPLIT_ERR_NONE, "case %u: %s",
                      i, res.err.message);
        s = t_shard(cases[i].canon);
        snprintf(tag, sizeof(tag), "{\"_miroir_shard\":%u,", s);
        ck_assert_uint_eq(res.parts[s % 3].ndocs, 1);
        ck_assert(memcmp(res.parts[s % 3].body, tag, strlen(tag)) == 0);
        miroir_split_result_free(&res);
    }
}
END_TEST


START_TEST(test_id_length)
{
    miroir_split_result_t  res;
    char                   body[700];

    memset(body, 'a', sizeof(body));
    memcpy(body, "{\"id\":\"", 7);
    memcpy(body + 7 + 511, "\"}", 3);
    ck_assert_int_eq(t_split(JSON, "id", body, &res), MIROIR_OK);
    ck_assert_int_eq(res.err_kind, MIROIR_SPLIT_ERR_NONE);
    miroir_split_result_free(&res);

    memset(body, 'a', sizeof(body));
    memcpy(body, "{\"id\":\"", 7);
    memcpy(body + 7 + 512, "\"}", 3);
    ck_assert_int_eq(t_split(JSON, "id", body, &res), MIROIR_OK);
    ck_assert_int_eq(res.err_kind, TASK);
    ck_assert_str_eq(res.err.code, "invalid_document_id");
    miroir_split_result_free(&res);
}
END_TEST


START_TEST(test_inference)
{
    miroir_split_result_t  res;

    /* golden pk-infer-id: "uid" ends with "id" */
    ck_assert_int_eq(t_split(JSON, NULL, "[{\"uid\": 1, \"name\": \"a\"}]",
                             &res), MIROIR_OK);
    ck_assert_int_eq(res.err_kind, MIROIR_SPLIT_ERR_NONE);
    ck_assert_str_eq(res.primary_key, "uid");
    ck_assert_int_eq(res.pk_inferred, 1);
    miroir_split_result_free(&res);

    /* only the first document counts; later ones must have the key */
    ck_assert_int_eq(t_split(NDJ, NULL, "{\"ID\":\"a\"}\n{\"x\":1,\"ID\":2}",
                             &res), MIROIR_OK);
    ck_assert_int_eq(res.err_kind, MIROIR_SPLIT_ERR_NONE);
    ck_assert_str_eq(res.primary_key, "ID");
    ck_assert_uint_eq(res.ndocs, 2);
    miroir_split_result_free(&res);

    /* empty array: nothing to infer, nothing to send */
    ck_assert_int_eq(t_split(JSON, NULL, "[]", &res), MIROIR_OK);
    ck_assert_int_eq(res.err_kind, MIROIR_SPLIT_ERR_NONE);
    ck_assert_ptr_null(res.primary_key);
    ck_assert_uint_eq(res.ndocs, 0);
    miroir_split_result_free(&res);

    /* CSV: inference over the header names (type suffix removed) */
    ck_assert_int_eq(t_split(CSV, NULL, "name,uid:number\na,1\n", &res),
                     MIROIR_OK);
    ck_assert_int_eq(res.err_kind, MIROIR_SPLIT_ERR_NONE);
    ck_assert_str_eq(res.primary_key, "uid");
    miroir_split_result_free(&res);
}
END_TEST


/* golden csv-typed, csv-get */
START_TEST(test_csv_typed)
{
    static const char *docs[] = {
        "\"isbn\":\"111\",\"title\":\"Dune\",\"pages\":412,\"available\":true,"
        "\"author\":\"Frank Herbert\"}\n",
        "\"isbn\":\"222\",\"title\":\"Emma\",\"pages\":null,"
        "\"available\":false,\"author\":\"Jane Austen\"}\n",
        "\"isbn\":\"333\",\"title\":\"Hello, World\",\"pages\":12,"
        "\"available\":true,\"author\":null}\n",
    };
    miroir_split_result_t  res;
    char                  *all;
    unsigned               i;

    ck_assert_int_eq(t_split(CSV, "isbn",
        "isbn,title:string,pages:number,available:boolean,author\n"
        "111,Dune,412,true,Frank Herbert\n222,Emma,,false,Jane Austen\n"
        "333,\"Hello, World\",12,true,\n", &res), MIROIR_OK);
    ck_assert_int_eq(res.err_kind, MIROIR_SPLIT_ERR_NONE);
    ck_assert_uint_eq(res.ndocs, 3);
    ck_assert_uint_eq(res.parts[0].ndocs + res.parts[1].ndocs
                      + res.parts[2].ndocs, 6);

    all = t_all(&res);

    for (i = 0; i < 3; i++) {
        ck_assert_msg(strstr(all, docs[i]) != NULL, "doc %u in %s", i, all);
    }

    free(all);
    miroir_split_result_free(&res);
}
END_TEST


START_TEST(test_csv_values)
{
    static const struct {
        const char  *cell;
        const char  *json;
    } cases[] = {
        { "1", "1" }, { " -7 ", "-7" }, { "+3", "3" }, { "1.5", "1.5" },
        { "1e3", "1000.0" }, { ".5", "0.5" }, { "5.", "5.0" },
        { "1e21", "1e21" }, { "1e-7", "1e-7" }, { "0.0001", "0.0001" },
        { "123456789012345678901", "1.2345678901234568e20" },
        { "NaN", "null" }, { "-inf", "null" }, { "-0.0", "-0.0" },
        { "", "null" }, { "  ", "null" },
    };
    miroir_split_result_t  res;
    char                   body[128], exp[128], *all;
    unsigned               i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(body, sizeof(body), "id,n:number\nk,%s\n", cases[i].cell);
        ck_assert_int_eq(t_split(CSV, "id", body, &res), MIROIR_OK);
        ck_assert_msg(res.err_kind == MIROIR_SPLIT_ERR_NONE, "%s: %s",
                      cases[i].cell, res.err.message);
        snprintf(exp, sizeof(exp), "\"id\":\"k\",\"n\":%s}\n", cases[i].json);
        all = t_all(&res);
        ck_assert_msg(strstr(all, exp) != NULL, "%s -> %s", cases[i].cell,
                      all);
        free(all);
        miroir_split_result_free(&res);
    }
}
END_TEST


START_TEST(test_csv_quoting)
{
    miroir_split_result_t  res;
    miroir_split_conf_t    conf;
    const char            *body;
    char                  *all;

    body = "\xef\xbb\xbfid;t;a:b\r\n\"x\";\"say \"\"hi\"\"\n2\";q\r\n\r\n"
           "y;\\;\"\"\n";
    memset(&conf, 0, sizeof(conf));
    conf.format = CSV;
    conf.csv_delimiter = ';';
    conf.primary_key = "id";
    conf.route = &t_rt;

    ck_assert_int_eq(miroir_split(&conf, body, strlen(body), &res),
                     MIROIR_OK);
    ck_assert_msg(res.err_kind == MIROIR_SPLIT_ERR_NONE, "%s",
                  res.err.message);
    ck_assert_uint_eq(res.ndocs, 2);
    all = t_all(&res);
    ck_assert(strstr(all, "\"id\":\"x\",\"t\":\"say \\\"hi\\\"\\n2\","
                          "\"a:b\":\"q\"}\n") != NULL);
    ck_assert(strstr(all, "\"id\":\"y\",\"t\":\"\\\\\",\"a:b\":null}\n")
              != NULL);
    free(all);
    miroir_split_result_free(&res);

    /* header only: no documents */
    ck_assert_int_eq(t_split(CSV, "id", "id,a\n", &res), MIROIR_OK);
    ck_assert_int_eq(res.err_kind, MIROIR_SPLIT_ERR_NONE);
    ck_assert_uint_eq(res.ndocs, 0);
    miroir_split_result_free(&res);
}
END_TEST


/* golden pk-ndjson */
START_TEST(test_ndjson)
{
    miroir_split_result_t  res;
    char                  *all;

    ck_assert_int_eq(t_split(NDJ, "sku",
        "{\"sku\": \"x1\", \"name\": \"red chair\", \"price\": 10}\n"
        "{\"sku\": \"x2\", \"name\": \"blue chair\", \"price\": 12.5}\n"
        "{\"sku\": \"x3\", \"name\": \"red table\", \"price\": 30, "
        "\"tags\": [\"wood\"]}\n", &res), MIROIR_OK);
    ck_assert_int_eq(res.err_kind, MIROIR_SPLIT_ERR_NONE);
    ck_assert_uint_eq(res.ndocs, 3);
    all = t_all(&res);
    ck_assert(strstr(all, ",\"sku\": \"x3\", \"name\": \"red table\", "
                          "\"price\": 30, \"tags\": [\"wood\"]}\n") != NULL);
    free(all);
    miroir_split_result_free(&res);

    /* values may be glued or spread over lines */
    ck_assert_int_eq(t_split(NDJ, "id", "{\"id\":1}{\"id\":2}\n\n {\n\"id\"\n:3"
                             "}", &res), MIROIR_OK);
    ck_assert_int_eq(res.err_kind, MIROIR_SPLIT_ERR_NONE);
    ck_assert_uint_eq(res.ndocs, 3);
    miroir_split_result_free(&res);

    /* whitespace only: zero documents */
    ck_assert_int_eq(t_split(NDJ, "id", " \n\n", &res), MIROIR_OK);
    ck_assert_int_eq(res.err_kind, MIROIR_SPLIT_ERR_NONE);
    ck_assert_uint_eq(res.ndocs, 0);
    miroir_split_result_free(&res);
}
END_TEST


START_TEST(test_json_shapes)
{
    miroir_split_result_t  res;

    /* golden docs-single-object */
    ck_assert_int_eq(t_split(JSON, "id", "{\"id\": 26, \"title\": "
                             "\"Oppenheimer\"}", &res), MIROIR_OK);
    ck_assert_int_eq(res.err_kind, MIROIR_SPLIT_ERR_NONE);
    ck_assert_uint_eq(res.ndocs, 1);
    miroir_split_result_free(&res);

    /* golden docs-empty-array */
    ck_assert_int_eq(t_split(JSON, "id", " [ ] ", &res), MIROIR_OK);
    ck_assert_int_eq(res.err_kind, MIROIR_SPLIT_ERR_NONE);
    ck_assert_uint_eq(res.ndocs, 0);
    miroir_split_result_free(&res);

    /* Meilisearch stops reading after the array's ']' */
    ck_assert_int_eq(t_split(JSON, "id", "[{\"id\":1}] trailing", &res),
                     MIROIR_OK);
    ck_assert_int_eq(res.err_kind, MIROIR_SPLIT_ERR_NONE);
    ck_assert_uint_eq(res.ndocs, 1);
    miroir_split_result_free(&res);
}
END_TEST


/* ---- delete-batch ---------------------------------------------------- */

START_TEST(test_split_ids)
{
    miroir_split_result_t  res;
    const char            *body = "[50, \"51\", \"nope\", 51]";
    uint32_t               s50 = t_shard("50"), s51 = t_shard("51");
    uint32_t               snope = t_shard("nope"), i;
    uint64_t               total = 0;
    cJSON                 *a;

    ck_assert_int_eq(miroir_split_ids(&t_rt, body, strlen(body), &res),
                     MIROIR_OK);
    ck_assert_int_eq(res.err_kind, MIROIR_SPLIT_ERR_NONE);
    ck_assert_uint_eq(res.ndocs, 4);

    for (i = 0; i < T_NODES; i++) {
        total += res.parts[i].ndocs;

        if (res.parts[i].body) {
            a = cJSON_ParseWithLength((char *) res.parts[i].body,
                                      res.parts[i].len);
            ck_assert_ptr_nonnull(a);
            ck_assert_int_eq(cJSON_GetArraySize(a), (int) res.parts[i].ndocs);
            cJSON_Delete(a);
        }
    }

    ck_assert_uint_eq(total, 8);
    ck_assert(res.parts[s50 % 3].ndocs >= 1);
    ck_assert(res.parts[s51 % 3].ndocs >= 2);     /* 51 and "51" together */
    ck_assert(res.parts[snope % 3].ndocs >= 1);
    miroir_split_result_free(&res);

    ck_assert_int_eq(miroir_split_ids(&t_rt, "", 0, &res), MIROIR_OK);
    ck_assert_str_eq(res.err.code, "missing_payload");
    miroir_split_result_free(&res);

    ck_assert_int_eq(miroir_split_ids(&t_rt, "[1,", 3, &res), MIROIR_OK);
    ck_assert_str_eq(res.err.message, "The json payload provided is "
                     "malformed. `EOF while parsing a value at line 1 column "
                     "3`.");
    miroir_split_result_free(&res);

    ck_assert_int_eq(miroir_split_ids(&t_rt, "{}", 2, &res), MIROIR_OK);
    ck_assert_str_eq(res.err.code, "bad_request");
    miroir_split_result_free(&res);

    ck_assert_int_eq(miroir_split_ids(&t_rt, "[]", 2, &res), MIROIR_OK);
    ck_assert_int_eq(res.err_kind, MIROIR_SPLIT_ERR_NONE);
    ck_assert_uint_eq(res.ndocs, 0);
    miroir_split_result_free(&res);
}
END_TEST


/*
 * Extra destinations (a shard being migrated): its documents and ids
 * also reach the extra nodes, tagged with the route's owners; other
 * shards are untouched; owners and repeated slots are not doubled.
 */
START_TEST(test_split_extra)
{
    uint16_t               extra[T_SHARDS * 2];
    uint32_t               s7, i, owner0, owner1, third;
    uint64_t               total;
    miroir_split_conf_t    conf;
    miroir_split_result_t  res;
    const char            *body = "[{\"id\":7,\"v\":1},{\"id\":8}]";
    const char            *p;

    s7 = t_shard("7");
    owner0 = t_owners[s7 * T_RF];
    owner1 = t_owners[s7 * T_RF + 1];
    third = 3 - owner0 - owner1;

    for (i = 0; i < T_SHARDS * 2; i++) {
        extra[i] = MIROIR_SPLIT_NO_NODE;
    }

    extra[s7 * 2] = (uint16_t) owner1;          /* an owner: skipped */
    extra[s7 * 2 + 1] = (uint16_t) third;

    memset(&conf, 0, sizeof(conf));
    conf.format = MIROIR_DOC_JSON;
    conf.primary_key = "id";
    conf.route = &t_rt;
    conf.extra = extra;
    conf.nextra = 2;

    ck_assert_int_eq(miroir_split(&conf, body, strlen(body), &res),
                     MIROIR_OK);
    ck_assert_int_eq(res.err_kind, MIROIR_SPLIT_ERR_NONE);

    total = 0;
    for (i = 0; i < T_NODES; i++) {
        total += res.parts[i].ndocs;
    }

    /* doc 7: 2 owners + 1 extra; doc 8: its 2 owners (or 3 if same) */
    ck_assert_uint_eq(total, 2 + 1 + 2
                             + (t_shard("8") == s7 ? 1 : 0));

    ck_assert_ptr_nonnull(res.parts[third].body);
    p = strstr((char *) res.parts[third].body, "\"id\":7");
    ck_assert_ptr_nonnull(p);

    /* the extra copy carries the owners' tags, not its own node */
    ck_assert_ptr_nonnull(strstr((char *) res.parts[third].body,
                                 t_ids[owner0]));
    ck_assert_int_eq(memcmp(res.parts[third].body, "{\"_miroir_shard\":",
                            17), 0);
    miroir_split_result_free(&res);

    /* ids */
    body = "[7, \"7\"]";
    ck_assert_int_eq(miroir_split_ids_conf(&conf, body, strlen(body), &res),
                     MIROIR_OK);
    ck_assert_uint_eq(res.ndocs, 2);
    ck_assert_uint_eq(res.parts[owner0].ndocs, 2);
    ck_assert_uint_eq(res.parts[owner1].ndocs, 2);
    ck_assert_uint_eq(res.parts[third].ndocs, 2);
    miroir_split_result_free(&res);

    /* without extra: the third node gets nothing of shard 7 */
    conf.extra = NULL;
    ck_assert_int_eq(miroir_split_ids_conf(&conf, body, strlen(body), &res),
                     MIROIR_OK);
    ck_assert_uint_eq(res.parts[third].ndocs, 0);
    miroir_split_result_free(&res);

    /* a bad extra width */
    conf.extra = extra;
    conf.nextra = 0;
    ck_assert_int_eq(miroir_split(&conf, "[]", 2, &res), MIROIR_EINVAL);
    miroir_split_result_free(&res);
    ck_assert_int_eq(miroir_split_ids_conf(&conf, "[]", 2, &res),
                     MIROIR_EINVAL);
    miroir_split_result_free(&res);
}
END_TEST


START_TEST(test_bad_conf)
{
    miroir_split_result_t  res;
    miroir_split_conf_t    conf;
    miroir_route_table_t   rt = t_rt;

    memset(&conf, 0, sizeof(conf));
    ck_assert_int_eq(miroir_split(&conf, "[]", 2, &res), MIROIR_EINVAL);
    miroir_split_result_free(&res);

    rt.rf = 0;
    conf.route = &rt;
    ck_assert_int_eq(miroir_split(&conf, "[]", 2, &res), MIROIR_EINVAL);
    miroir_split_result_free(&res);
}
END_TEST


/* ---- property test --------------------------------------------------- */

static uint64_t  t_rng;

static uint32_t
t_rand(void)
{
    t_rng ^= t_rng << 13;
    t_rng ^= t_rng >> 7;
    t_rng ^= t_rng << 17;
    return (uint32_t) (t_rng >> 11);
}


static void
t_ws(miroir_bytes_t *b)
{
    static const char  ws[] = " \t\r";

    while (t_rand() % 4 == 0) {
        miroir_bytes_putc(b, (unsigned char) ws[t_rand() % 3]);
    }
}


static void
t_rand_string(miroir_bytes_t *b)
{
    static const char *bits[] = { "a", "Z", "\\\"", "\\\\", "\\n",
                                  "\\u00e9", "\\ud83d\\ude00", "\xc3\xa9",
                                  "}", "]", ",", ":", "{", " ", "\\/" };
    unsigned  n = t_rand() % 6;

    miroir_bytes_putc(b, '"');

    while (n--) {
        miroir_bytes_puts(b, bits[t_rand() % 15]);
    }

    miroir_bytes_putc(b, '"');
}


static void
t_rand_value(miroir_bytes_t *b, int depth)
{
    unsigned  n, i;

    switch (depth > 3 ? t_rand() % 4 : t_rand() % 6) {
    case 0: t_rand_string(b); break;
    case 1: miroir_bytes_puts(b, t_rand() % 2 ? "-12.5e3" : "0"); break;
    case 2: miroir_bytes_puts(b, t_rand() % 2 ? "true" : "null"); break;
    case 3: miroir_bytes_put_u64(b, t_rand()); break;
    case 4:
        miroir_bytes_putc(b, '[');
        n = t_rand() % 4;
        for (i = 0; i < n; i++) {
            if (i) { miroir_bytes_putc(b, ','); }
            t_ws(b);
            t_rand_value(b, depth + 1);
            t_ws(b);
        }
        miroir_bytes_putc(b, ']');
        break;
    default:
        miroir_bytes_putc(b, '{');
        n = t_rand() % 4;
        for (i = 0; i < n; i++) {
            if (i) { miroir_bytes_putc(b, ','); }
            t_ws(b);
            t_rand_string(b);
            t_ws(b);
            miroir_bytes_putc(b, ':');
            t_rand_value(b, depth + 1);
        }
        miroir_bytes_putc(b, '}');
    }
}


/* one document with id number k (string or integer form) */
static void
t_rand_doc(miroir_bytes_t *b, unsigned k, char *canon)
{
    unsigned  nf = t_rand() % 4, idpos = nf ? t_rand() % (nf + 1) : 0, i;

    if (t_rand() % 2) {
        snprintf(canon, 32, "%u", k);
    } else {
        snprintf(canon, 32, "d-%u_X", k);
    }

    miroir_bytes_putc(b, '{');
    t_ws(b);

    for (i = 0; i <= nf; i++) {
        if (i) {
            miroir_bytes_putc(b, ',');
            t_ws(b);
        }

        if (i == idpos) {
            miroir_bytes_puts(b, "\"id\"");
            t_ws(b);
            miroir_bytes_putc(b, ':');
            t_ws(b);

            if (canon[0] == 'd') {
                miroir_bytes_putc(b, '"');
                miroir_bytes_puts(b, canon);
                miroir_bytes_putc(b, '"');
            } else {
                miroir_bytes_puts(b, canon);
            }

        } else {
            miroir_bytes_puts(b, "\"f");
            miroir_bytes_put_u64(b, i);
            miroir_bytes_puts(b, "\":");
            t_ws(b);
            t_rand_value(b, 0);
        }

        t_ws(b);
    }

    miroir_bytes_putc(b, '}');
}


START_TEST(test_property)
{
    enum { NDOCS = 300 };
    miroir_bytes_t         body, *docs;
    miroir_split_result_t  res;
    char                   canon[NDOCS][32], *line, *nl, *end, tag[128];
    unsigned               seen[NDOCS][T_NODES], primary[NDOCS];
    unsigned               k, n, fmt, round;
    uint32_t               s;
    size_t                 taglen;
    cJSON                 *o, *id;

    docs = calloc(NDOCS, sizeof(miroir_bytes_t));
    ck_assert_ptr_nonnull(docs);

    for (round = 0; round < 20; round++) {
        t_rng = 0x9e3779b97f4a7c15ULL + round;
        fmt = round % 2 ? NDJ : JSON;
        miroir_bytes_init(&body);

        if (fmt == JSON) {
            miroir_bytes_putc(&body, '[');
        }

        for (k = 0; k < NDOCS; k++) {
            miroir_bytes_reset(&docs[k]);
            t_rand_doc(&docs[k], k, canon[k]);

            if (k && fmt == JSON) {
                miroir_bytes_putc(&body, ',');
            }

            t_ws(&body);
            miroir_bytes_append(&body, docs[k].data, docs[k].len);
            if (fmt == NDJ) {
                miroir_bytes_putc(&body, '\n');
            }
            t_ws(&body);
        }

        if (fmt == JSON) {
            miroir_bytes_putc(&body, ']');
        }

        {
            miroir_split_conf_t  conf = { fmt, 0, NULL, &t_rt,
                                           NULL, 0 };

            ck_assert_int_eq(miroir_split(&conf, body.data, body.len, &res),
                             MIROIR_OK);
        }

        ck_assert_msg(res.err_kind == MIROIR_SPLIT_ERR_NONE, "round %u: %s",
                      round, res.err.message);
        ck_assert_uint_eq(res.ndocs, NDOCS);
        ck_assert_str_eq(res.primary_key, "id");
        memset(seen, 0, sizeof(seen));
        memset(primary, 0, sizeof(primary));

        for (n = 0; n < T_NODES; n++) {
            unsigned  count = 0;

            line = (char *) res.parts[n].body;
            end = line + res.parts[n].len;

            while (line && line < end) {
                nl = memchr(line, '\n', (size_t) (end - line));
                ck_assert_ptr_nonnull(nl);
                count++;

                o = cJSON_ParseWithLength(line, (size_t) (nl - line));
                ck_assert_ptr_nonnull(o);
                id = cJSON_GetObjectItemCaseSensitive(o, "id");
                ck_assert_ptr_nonnull(id);

                if (cJSON_IsString(id)) {
                    ck_assert(sscanf(id->valuestring, "d-%u_X", &k) == 1);
                } else {
                    k = (unsigned) id->valuedouble;
                }

                ck_assert_uint_lt(k, NDOCS);
                s = t_shard(canon[k]);
                seen[k][n]++;

                /* exact tag bytes, then the document's own bytes */
                taglen = (size_t) snprintf(tag, sizeof(tag),
                    "{\"_miroir_shard\":%u,\"_miroir_o0\":\"n%u\","
                    "\"_miroir_o1\":\"n%u\",", s, s % 3, (s + 1) % 3);
                ck_assert(memcmp(line, tag, taglen) == 0);
                ck_assert_uint_eq((size_t) (nl - line) - taglen + 1,
                                  docs[k].len);
                ck_assert(memcmp(line + taglen, docs[k].data + 1,
                                 docs[k].len - 1) == 0);

                if (s % 3 == n) {
                    primary[k]++;
                }

                cJSON_Delete(o);
                line = nl + 1;
            }

            ck_assert_uint_eq(count, res.parts[n].ndocs);
        }

        /* every document exactly once on each owner, nowhere else; the
         * primaries together hold every input document once */
        for (k = 0; k < NDOCS; k++) {
            s = t_shard(canon[k]);

            for (n = 0; n < T_NODES; n++) {
                ck_assert_uint_eq(seen[k][n],
                                  (n == s % 3 || n == (s + 1) % 3) ? 1 : 0);
            }

            ck_assert_uint_eq(primary[k], 1);
        }

        miroir_split_result_free(&res);
        miroir_bytes_free(&body);
    }

    for (k = 0; k < NDOCS; k++) {
        miroir_bytes_free(&docs[k]);
    }

    free(docs);
}
END_TEST


static Suite *
split_suite(void)
{
    Suite  *s = suite_create("split");
    TCase  *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, t_setup, NULL);
    tcase_add_loop_test(tc, test_errors, 0,
                        sizeof(t_err_cases) / sizeof(t_err_cases[0]));
    tcase_add_test(tc, test_output_format);
    tcase_add_test(tc, test_empty_object_doc);
    tcase_add_test(tc, test_canonical_ids);
    tcase_add_test(tc, test_id_length);
    tcase_add_test(tc, test_inference);
    tcase_add_test(tc, test_csv_typed);
    tcase_add_test(tc, test_csv_values);
    tcase_add_test(tc, test_csv_quoting);
    tcase_add_test(tc, test_ndjson);
    tcase_add_test(tc, test_json_shapes);
    tcase_add_test(tc, test_split_ids);
    tcase_add_test(tc, test_split_extra);
    tcase_add_test(tc, test_bad_conf);
    tcase_add_test(tc, test_property);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    return s;
}


int
main(void)
{
    SRunner  *sr = srunner_create(split_suite());
    int       failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
