/*
 * test_task.c -- task aggregation: status rules, counters, times.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "miroir_task.h"


#define MAXP  4

/* A node task with the fields that vary; NULL strings become null. */
static char *
part(const char *status, const char *details, const char *error,
    const char *started, const char *finished)
{
    char  buf[2048], s[64], f[64];

    snprintf(s, sizeof(s), started ? "\"%s\"" : "null", started);
    snprintf(f, sizeof(f), finished ? "\"%s\"" : "null", finished);

    snprintf(buf, sizeof(buf),
             "{\"uid\":7,\"batchUid\":3,\"indexUid\":\"movies\","
             "\"status\":\"%s\",\"type\":\"documentAdditionOrUpdate\","
             "\"canceledBy\":null%s%s,\"error\":%s,\"duration\":null,"
             "\"enqueuedAt\":\"2026-01-01T00:00:00Z\",\"startedAt\":%s,"
             "\"finishedAt\":%s}",
             status, details ? ",\"details\":" : "", details ? details : "",
             error ? error : "null", s, f);

    return strdup(buf);
}


typedef struct {
    const char  *status;
    const char  *details;
    const char  *error;
    const char  *started;
    const char  *finished;
    int64_t      primary;
} part_spec_t;


typedef struct {
    const char             *name;
    part_spec_t             p[MAXP];
    size_t                  n;
    miroir_task_counter_t   c[3];
    size_t                  nc;
    uint32_t                rf;
    const char             *want;
} case_t;


#define T0   "2026-01-01T00:00:01.250Z"
#define T1   "2026-01-01T00:00:01.100000001Z"
#define T2   "2026-01-01T00:00:02Z"
#define T3   "2026-01-01T00:00:01.750Z"
#define E1   "{\"message\":\"one\",\"code\":\"invalid_document_id\"," \
             "\"type\":\"invalid_request\",\"link\":\"x\"}"
#define E2   "{\"message\":\"two\",\"code\":\"internal\"," \
             "\"type\":\"internal\",\"link\":\"y\"}"

#define HEAD(st)                                                             \
    "{\"uid\":42,\"batchUid\":42,\"indexUid\":\"movies\",\"status\":\"" st   \
    "\",\"type\":\"documentAdditionOrUpdate\",\"canceledBy\":null,"

static const case_t  cases[] = {

    { "document write, all succeeded: received fixed, indexed by primary",
      { { "succeeded", "{\"receivedDocuments\":7,\"indexedDocuments\":7}",
          NULL, T0, T3, 4 },
        { "succeeded", "{\"receivedDocuments\":7,\"indexedDocuments\":7}",
          NULL, T1, "2026-01-01T00:00:01.900Z", 3 },
        { "succeeded", "{\"receivedDocuments\":6,\"indexedDocuments\":6}",
          NULL, "2026-01-01T00:00:01.300Z", T2, 3 } }, 3,
      { { "receivedDocuments", MIROIR_TASK_FIXED, 10 },
        { "indexedDocuments", MIROIR_TASK_PRIMARY, 0 } }, 2, 2,
      HEAD("succeeded")
      "\"details\":{\"receivedDocuments\":10,\"indexedDocuments\":10},"
      "\"error\":null,\"duration\":\"PT0.899999999S\","
      "\"enqueuedAt\":\"2026-01-01T00:00:00Z\",\"startedAt\":\"" T1 "\","
      "\"finishedAt\":\"" T2 "\"}" },

    { "running: least advanced, nulls stay null, no finish",
      { { "processing",
          "{\"receivedDocuments\":7,\"indexedDocuments\":null}",
          NULL, T0, NULL, 4 },
        { "enqueued",
          "{\"receivedDocuments\":7,\"indexedDocuments\":null}",
          NULL, NULL, NULL, 3 } }, 2,
      { { "receivedDocuments", MIROIR_TASK_FIXED, 10 },
        { "indexedDocuments", MIROIR_TASK_PRIMARY, 0 } }, 2, 2,
      HEAD("enqueued")
      "\"details\":{\"receivedDocuments\":10,\"indexedDocuments\":null},"
      "\"error\":null,\"duration\":null,"
      "\"enqueuedAt\":\"2026-01-01T00:00:00Z\",\"startedAt\":\"" T0 "\","
      "\"finishedAt\":null}" },

    { "processing beats succeeded",
      { { "succeeded", NULL, NULL, T0, T3, 0 },
        { "processing", NULL, NULL, T1, NULL, 0 } }, 2, { { 0 } }, 0, 2,
      HEAD("processing")
      "\"error\":null,\"duration\":null,"
      "\"enqueuedAt\":\"2026-01-01T00:00:00Z\",\"startedAt\":\"" T1 "\","
      "\"finishedAt\":null}" },

    { "failed: first error in node order",
      { { "succeeded", NULL, NULL, T0, T3, 0 },
        { "failed", NULL, E1, T0, T2, 0 },
        { "failed", NULL, E2, T0, T3, 0 },
        { "canceled", NULL, NULL, T0, T3, 0 } }, 4, { { 0 } }, 0, 2,
      HEAD("failed")
      "\"error\":" E1 ",\"duration\":\"PT0.750S\","
      "\"enqueuedAt\":\"2026-01-01T00:00:00Z\",\"startedAt\":\"" T0 "\","
      "\"finishedAt\":\"" T2 "\"}" },

    { "canceled when none failed",
      { { "succeeded", NULL, NULL, T0, T3, 0 },
        { "canceled", NULL, NULL, NULL, T3, 0 } }, 2, { { 0 } }, 0, 2,
      HEAD("canceled")
      "\"error\":null,\"duration\":\"PT0.500S\","
      "\"enqueuedAt\":\"2026-01-01T00:00:00Z\",\"startedAt\":\"" T0 "\","
      "\"finishedAt\":\"" T3 "\"}" },

    { "delete by filter broadcast: deleted / rf, filter kept once",
      { { "succeeded", "{\"providedIds\":0,\"deletedDocuments\":6,"
          "\"originalFilter\":\"\\\"year > 2000\\\"\"}", NULL, T0, T3, 0 },
        { "succeeded", "{\"providedIds\":0,\"deletedDocuments\":4,"
          "\"originalFilter\":\"\\\"year > 2000\\\"\"}", NULL, T0, T3, 0 },
        { "succeeded", "{\"providedIds\":0,\"deletedDocuments\":2,"
          "\"originalFilter\":\"\\\"year > 2000\\\"\"}", NULL, T0, T3, 0 } },
      3, { { "deletedDocuments", MIROIR_TASK_DIV_RF, 0 } }, 1, 2,
      HEAD("succeeded")
      "\"details\":{\"providedIds\":0,\"deletedDocuments\":6,"
      "\"originalFilter\":\"\\\"year > 2000\\\"\"},"
      "\"error\":null,\"duration\":\"PT0.500S\","
      "\"enqueuedAt\":\"2026-01-01T00:00:00Z\",\"startedAt\":\"" T0 "\","
      "\"finishedAt\":\"" T3 "\"}" },

    { "settings: numbers that are not counters are kept once",
      { { "succeeded", "{\"searchCutoffMs\":150,\"pagination\":"
          "{\"maxTotalHits\":500}}", NULL, T0, T3, 0 },
        { "succeeded", "{\"searchCutoffMs\":150,\"pagination\":"
          "{\"maxTotalHits\":500}}", NULL, T0, T3, 0 } }, 2, { { 0 } }, 0, 2,
      HEAD("succeeded")
      "\"details\":{\"searchCutoffMs\":150,\"pagination\":"
      "{\"maxTotalHits\":500}},"
      "\"error\":null,\"duration\":\"PT0.500S\","
      "\"enqueuedAt\":\"2026-01-01T00:00:00Z\",\"startedAt\":\"" T0 "\","
      "\"finishedAt\":\"" T3 "\"}" },
};


START_TEST(test_cases)
{
    const case_t        *c = &cases[_i];
    miroir_task_part_t   parts[MAXP];
    cJSON               *j[MAXP];
    miroir_task_conf_t   conf;
    miroir_error_t       err;
    char                *txt, *out;
    size_t               i;

    for (i = 0; i < c->n; i++) {
        txt = part(c->p[i].status, c->p[i].details, c->p[i].error,
                   c->p[i].started, c->p[i].finished);
        j[i] = cJSON_Parse(txt);
        ck_assert_msg(j[i] != NULL, "bad fixture %s", txt);
        free(txt);

        parts[i].task = j[i];
        parts[i].primary = c->p[i].primary;
    }

    memset(&conf, 0, sizeof(conf));
    conf.uid = 42;
    conf.enqueued_at = "2026-01-01T00:00:00Z";
    conf.has_batch_uid = 1;
    conf.batch_uid = 42;
    conf.rf = c->rf;
    conf.counters = c->c;
    conf.ncounters = c->nc;

    ck_assert_int_eq(miroir_task_aggregate(&conf, parts, c->n, &out, &err),
                     MIROIR_OK);
    ck_assert_msg(strcmp(out, c->want) == 0, "%s:\n got %s\nwant %s",
                  c->name, out, c->want);

    free(out);
    for (i = 0; i < c->n; i++) {
        cJSON_Delete(j[i]);
    }
}
END_TEST


START_TEST(test_bad_parts)
{
    static const char   *bad[] = {
        "{\"uid\":1}", "{\"status\":\"done\"}", "[1]", "{\"status\":3}"
    };
    miroir_task_part_t   p;
    miroir_task_conf_t   conf;
    miroir_error_t       err;
    cJSON               *j;
    char                *out = (char *) 0x1;
    size_t               i;

    memset(&conf, 0, sizeof(conf));
    conf.enqueued_at = "2026-01-01T00:00:00Z";

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        j = cJSON_Parse(bad[i]);
        p.task = j;
        p.primary = 0;

        ck_assert_int_eq(miroir_task_aggregate(&conf, &p, 1, &out, &err),
                         MIROIR_EINVAL);
        ck_assert_ptr_eq(out, (char *) 0x1);
        ck_assert_int_eq(err.status, 500);
        cJSON_Delete(j);
    }

    ck_assert_int_eq(miroir_task_aggregate(&conf, &p, 0, &out, &err),
                     MIROIR_EINVAL);
}
END_TEST


START_TEST(test_no_batch_and_canceled_by)
{
    miroir_task_part_t   p;
    miroir_task_conf_t   conf;
    miroir_error_t       err;
    char                *txt, *out;

    txt = part("canceled", NULL, NULL, NULL, NULL);
    p.task = cJSON_Parse(txt);
    p.primary = 0;
    free(txt);

    memset(&conf, 0, sizeof(conf));
    conf.uid = 5000000000ULL;
    conf.enqueued_at = "2026-01-01T00:00:00Z";
    conf.has_canceled_by = 1;
    conf.canceled_by = 9;

    ck_assert_int_eq(miroir_task_aggregate(&conf, &p, 1, &out, &err),
                     MIROIR_OK);
    ck_assert_str_eq(out, "{\"uid\":5000000000,\"batchUid\":null,"
                          "\"indexUid\":\"movies\",\"status\":\"canceled\","
                          "\"type\":\"documentAdditionOrUpdate\","
                          "\"canceledBy\":9,\"error\":null,"
                          "\"duration\":null,"
                          "\"enqueuedAt\":\"2026-01-01T00:00:00Z\","
                          "\"startedAt\":null,\"finishedAt\":null}");
    free(out);
    cJSON_Delete((cJSON *) p.task);
}
END_TEST


START_TEST(test_duration_format)
{
    static const struct {
        int64_t      sec;
        int32_t      nsec;
        const char  *want;
    } v[] = {
        { 0, 123000000, "PT0.123S" },
        { 1, 0, "PT1S" },
        { 0, 12000, "PT0.000012S" },
        { 0, 0, "PT0S" },
        { 0, 1, "PT0.000000001S" },
        { 90061, 500000000, "P1DT3661.500S" },
        { 86400, 0, "P1DT0S" },
    };
    char    buf[64];
    size_t  i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        ck_assert_uint_eq(miroir_task_duration(v[i].sec, v[i].nsec, buf,
                                               sizeof(buf)),
                          strlen(v[i].want));
        ck_assert_str_eq(buf, v[i].want);
    }
}
END_TEST


START_TEST(test_parse_time)
{
    static const struct {
        const char  *s;
        int          ok;
        int64_t      sec;
        int32_t      nsec;
    } v[] = {
        { "1970-01-01T00:00:00Z", 1, 0, 0 },
        { "2026-01-01T00:00:00Z", 1, 1767225600, 0 },
        { "2026-01-01T00:00:01.5Z", 1, 1767225601, 500000000 },
        { "2026-01-01T00:00:01.123456789Z", 1, 1767225601, 123456789 },
        { "2026-01-01T00:00:01.1234567891Z", 1, 1767225601, 123456789 },
        { "2026-01-01T02:00:00+02:00", 1, 1767225600, 0 },
        { "2024-02-29T12:00:00-01:30", 1, 1709213400, 0 },
        { "2026-01-01T00:00:00", 0, 0, 0 },
        { "2026-13-01T00:00:00Z", 0, 0, 0 },
        { "2026-01-01T00:00:00.Z", 0, 0, 0 },
        { "2026-01-01T00:00:00Zx", 0, 0, 0 },
        { "yesterday", 0, 0, 0 },
        { "", 0, 0, 0 },
    };
    int64_t  sec;
    int32_t  nsec;
    size_t   i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        ck_assert_msg((miroir_task_parse_time(v[i].s, &sec, &nsec)
                       == MIROIR_OK) == v[i].ok, "%s", v[i].s);

        if (v[i].ok) {
            ck_assert_int_eq(sec, v[i].sec);
            ck_assert_int_eq(nsec, v[i].nsec);
        }
    }
}
END_TEST


static Suite *
task_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("task");
    tc = tcase_create("core");

    tcase_add_loop_test(tc, test_cases, 0,
                        (int) (sizeof(cases) / sizeof(cases[0])));
    tcase_add_test(tc, test_bad_parts);
    tcase_add_test(tc, test_no_batch_and_canceled_by);
    tcase_add_test(tc, test_duration_format);
    tcase_add_test(tc, test_parse_time);

    suite_add_tcase(s, tc);

    return s;
}


int
main(void)
{
    SRunner  *sr;
    int       failed;

    sr = srunner_create(task_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
