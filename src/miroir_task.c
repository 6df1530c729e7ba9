/*
 * miroir_task.c -- aggregate node tasks into one Meilisearch task.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "miroir_task.h"


enum {
    MIROIR_TASK_ENQUEUED = 0,
    MIROIR_TASK_PROCESSING,
    MIROIR_TASK_SUCCEEDED,
    MIROIR_TASK_FAILED,
    MIROIR_TASK_CANCELED
};

static const char  *miroir_task_status_names[] = {
    "enqueued", "processing", "succeeded", "failed", "canceled"
};

/* Counters summed by default. */
static const char  *miroir_task_default_counters[] = {
    "receivedDocuments", "indexedDocuments", "deletedDocuments",
    "editedDocuments", "providedIds", "matchedTasks", "canceledTasks",
    "deletedTasks"
};

#define MIROIR_TASK_NDEFAULT                                                 \
    (sizeof(miroir_task_default_counters) / sizeof(char *))
#define MIROIR_TASK_MAX_COUNTERS  32


typedef struct {
    const char          *name;
    miroir_task_mode_e   mode;
    int64_t              value;
    int64_t              sum;
    int                  seen;       /* some part had a number */
} miroir_task_acc_t;


/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t
miroir_task_days(int64_t y, unsigned m, unsigned d)
{
    int64_t   era;
    unsigned  yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned) (y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + (int64_t) doe - 719468;
}


static int
miroir_task_digits(const char **p, int n, int *v)
{
    int  i;

    *v = 0;

    for (i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9') {
            return 0;
        }

        *v = *v * 10 + ((*p)[i] - '0');
    }

    *p += n;

    return 1;
}


miroir_rc_t
miroir_task_parse_time(const char *s, int64_t *sec, int32_t *nsec)
{
    int      y, mo, d, h, mi, se, oh, om, n;
    int32_t  ns;
    int64_t  t;
    int      sign;

    if (s == NULL
        || !miroir_task_digits(&s, 4, &y) || *s++ != '-'
        || !miroir_task_digits(&s, 2, &mo) || *s++ != '-'
        || !miroir_task_digits(&s, 2, &d)
        || (*s != 'T' && *s != 't' && *s != ' ') || !*s++
        || !miroir_task_digits(&s, 2, &h) || *s++ != ':'
        || !miroir_task_digits(&s, 2, &mi) || *s++ != ':'
        || !miroir_task_digits(&s, 2, &se))
    {
        return MIROIR_EINVAL;
    }

    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59
        || se > 60)
    {
        return MIROIR_EINVAL;
    }

    ns = 0;

    if (*s == '.') {
        s++;
        for (n = 0; *s >= '0' && *s <= '9'; s++, n++) {
            if (n < 9) {
                ns = ns * 10 + (*s - '0');
            }
        }

        if (n == 0) {
            return MIROIR_EINVAL;
        }

        for ( ; n < 9; n++) {
            ns *= 10;
        }
    }

    t = miroir_task_days(y, (unsigned) mo, (unsigned) d) * 86400
        + h * 3600 + mi * 60 + se;

    if (*s == 'Z' || *s == 'z') {
        s++;

    } else if (*s == '+' || *s == '-') {
        sign = *s++ == '+' ? 1 : -1;

        if (!miroir_task_digits(&s, 2, &oh) || *s++ != ':'
            || !miroir_task_digits(&s, 2, &om))
        {
            return MIROIR_EINVAL;
        }

        t -= sign * (oh * 3600 + om * 60);

    } else {
        return MIROIR_EINVAL;
    }

    if (*s != '\0') {
        return MIROIR_EINVAL;
    }

    *sec = t;
    *nsec = ns;

    return MIROIR_OK;
}


size_t
miroir_task_duration(int64_t sec, int32_t nsec, char *buf, size_t size)
{
    char     days[32], frac[16];
    int64_t  d;
    int      digits, i;
    int32_t  f;

    d = sec / 86400;
    sec %= 86400;

    days[0] = '\0';
    if (d > 0) {
        snprintf(days, sizeof(days), "%lldD", (long long) d);
    }

    frac[0] = '\0';
    if (nsec > 0) {
        f = nsec;
        digits = 9;

        while (digits > 3 && f % 1000 == 0) {
            f /= 1000;
            digits -= 3;
        }

        /* digits is 3, 6 or 9 and f < 10^digits: write them by hand */
        frac[0] = '.';
        for (i = digits; i > 0; i--) {
            frac[i] = (char) ('0' + f % 10);
            f /= 10;
        }
        frac[digits + 1] = '\0';
    }

    return (size_t) snprintf(buf, size, "P%sT%lld%sS", days, (long long) sec,
                             frac);
}


static int
miroir_task_status(const cJSON *task)
{
    const cJSON  *st;
    int           i;

    st = cJSON_GetObjectItemCaseSensitive(task, "status");
    if (!cJSON_IsString(st)) {
        return -1;
    }

    for (i = 0; i <= MIROIR_TASK_CANCELED; i++) {
        if (strcmp(st->valuestring, miroir_task_status_names[i]) == 0) {
            return i;
        }
    }

    return -1;
}


/*
 * The part whose timestamp `key` is earliest (latest if late), or -1.
 * Unparsable timestamps are skipped.
 */
static int
miroir_task_pick_time(const miroir_task_part_t *parts, size_t n,
    const char *key, int late, int64_t *sec, int32_t *nsec)
{
    const cJSON  *v;
    int64_t       s;
    int32_t       ns;
    size_t        i;
    int           best = -1;

    for (i = 0; i < n; i++) {
        v = cJSON_GetObjectItemCaseSensitive(parts[i].task, key);

        if (!cJSON_IsString(v)
            || miroir_task_parse_time(v->valuestring, &s, &ns) != MIROIR_OK)
        {
            continue;
        }

        if (best < 0
            || (late ? (s > *sec || (s == *sec && ns > *nsec))
                     : (s < *sec || (s == *sec && ns < *nsec))))
        {
            best = (int) i;
            *sec = s;
            *nsec = ns;
        }
    }

    return best;
}


static miroir_task_acc_t *
miroir_task_acc_find(miroir_task_acc_t *acc, size_t n, const char *name)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (strcmp(acc[i].name, name) == 0) {
            return &acc[i];
        }
    }

    return NULL;
}


/* Build the details object; *details = NULL when there are none. */
static miroir_rc_t
miroir_task_details(const miroir_task_conf_t *conf,
    const miroir_task_part_t *parts, size_t nparts, cJSON **details)
{
    miroir_task_acc_t   acc[MIROIR_TASK_MAX_COUNTERS], *a;
    size_t              nacc, i;
    const cJSON        *d, *item;
    cJSON              *out, *v;
    int64_t             x;
    uint32_t            rf;

    nacc = 0;

    for (i = 0; i < MIROIR_TASK_NDEFAULT; i++) {
        acc[nacc].name = miroir_task_default_counters[i];
        acc[nacc].mode = MIROIR_TASK_SUM;
        acc[nacc].value = 0;
        nacc++;
    }

    for (i = 0; i < conf->ncounters; i++) {
        a = miroir_task_acc_find(acc, nacc, conf->counters[i].name);

        if (a == NULL) {
            if (nacc == MIROIR_TASK_MAX_COUNTERS) {
                continue;
            }
            a = &acc[nacc++];
            a->name = conf->counters[i].name;
        }

        a->mode = conf->counters[i].mode;
        a->value = conf->counters[i].value;
    }

    for (i = 0; i < nacc; i++) {
        acc[i].sum = 0;
        acc[i].seen = 0;
    }

    out = NULL;

    for (i = 0; i < nparts; i++) {
        d = cJSON_GetObjectItemCaseSensitive(parts[i].task, "details");
        if (!cJSON_IsObject(d)) {
            continue;
        }

        if (out == NULL) {
            out = cJSON_CreateObject();
            if (out == NULL) {
                return MIROIR_ENOMEM;
            }
        }

        cJSON_ArrayForEach(item, d) {
            if (item->string == NULL) {
                continue;
            }

            a = miroir_task_acc_find(acc, nacc, item->string);

            if (a != NULL && cJSON_IsNumber(item)) {
                x = (int64_t) item->valuedouble;

                if (a->mode == MIROIR_TASK_PRIMARY) {
                    x = x < parts[i].primary ? x : parts[i].primary;
                }

                a->sum += x;
                a->seen = 1;
            }

            if (cJSON_GetObjectItemCaseSensitive(out, item->string)) {
                continue;
            }

            v = cJSON_Duplicate(item, 1);
            if (v == NULL || !cJSON_AddItemToObject(out, item->string, v)) {
                cJSON_Delete(v);
                cJSON_Delete(out);
                return MIROIR_ENOMEM;
            }
        }
    }

    rf = conf->rf ? conf->rf : 1;

    for (i = 0; i < nacc; i++) {
        a = &acc[i];

        if (a->mode == MIROIR_TASK_FIXED) {
            if (out == NULL) {
                out = cJSON_CreateObject();
                if (out == NULL) {
                    return MIROIR_ENOMEM;
                }
            }

            x = a->value;

        } else if (!a->seen) {
            continue;                   /* absent or null: leave it */

        } else {
            x = a->mode == MIROIR_TASK_DIV_RF ? a->sum / rf : a->sum;
        }

        v = cJSON_CreateNumber((double) x);
        if (v == NULL) {
            cJSON_Delete(out);
            return MIROIR_ENOMEM;
        }

        if (cJSON_GetObjectItemCaseSensitive(out, a->name)) {
            cJSON_ReplaceItemInObjectCaseSensitive(out, a->name, v);

        } else if (!cJSON_AddItemToObject(out, a->name, v)) {
            cJSON_Delete(v);
            cJSON_Delete(out);
            return MIROIR_ENOMEM;
        }
    }

    *details = out;

    return MIROIR_OK;
}


/* Add a copy of src (or null) under key. */
static int
miroir_task_copy(cJSON *obj, const char *key, const cJSON *src)
{
    cJSON  *v;

    v = src ? cJSON_Duplicate(src, 1) : cJSON_CreateNull();
    if (v == NULL) {
        return 0;
    }

    if (!cJSON_AddItemToObject(obj, key, v)) {
        cJSON_Delete(v);
        return 0;
    }

    return 1;
}


miroir_rc_t
miroir_task_aggregate(const miroir_task_conf_t *conf,
    const miroir_task_part_t *parts, size_t nparts, char **out,
    miroir_error_t *err)
{
    cJSON         *t, *details;
    const cJSON   *first, *e, *cm;
    char          *txt, *res, dur[64];
    size_t         i;
    int            st, status, least, any_failed, any_canceled, all_ok;
    int            started, finished, ok;
    int64_t        s0, s1;
    int32_t        n0, n1;
    miroir_rc_t    rc;

    if (nparts == 0 || conf->enqueued_at == NULL) {
        miroir_error_set(err, 500, "internal", "internal",
                         "A task needs at least one part.");
        return MIROIR_EINVAL;
    }

    least = MIROIR_TASK_SUCCEEDED;
    any_failed = -1;
    any_canceled = 0;
    all_ok = 1;

    for (i = 0; i < nparts; i++) {
        st = cJSON_IsObject(parts[i].task) ? miroir_task_status(parts[i].task)
                                           : -1;
        if (st < 0) {
            miroir_error_set(err, 500, "internal", "internal",
                             "Node task %zu has no valid status.", i);
            return MIROIR_EINVAL;
        }

        if (st == MIROIR_TASK_FAILED && any_failed < 0) {
            any_failed = (int) i;
        }

        any_canceled |= st == MIROIR_TASK_CANCELED;
        all_ok &= st == MIROIR_TASK_SUCCEEDED;

        if (st <= MIROIR_TASK_SUCCEEDED && st < least) {
            least = st;
        }
    }

    if (any_failed >= 0) {
        status = MIROIR_TASK_FAILED;
    } else if (any_canceled) {
        status = MIROIR_TASK_CANCELED;
    } else if (all_ok) {
        status = MIROIR_TASK_SUCCEEDED;
    } else {
        status = least;
    }

    rc = miroir_task_details(conf, parts, nparts, &details);
    if (rc != MIROIR_OK) {
        return rc;
    }

    first = parts[0].task;
    t = cJSON_CreateObject();
    ok = t != NULL;

    ok = ok && cJSON_AddNumberToObject(t, "uid", (double) conf->uid);

    if (conf->has_batch_uid) {
        ok = ok && cJSON_AddNumberToObject(t, "batchUid",
                                           (double) conf->batch_uid);
    } else {
        ok = ok && cJSON_AddNullToObject(t, "batchUid");
    }

    ok = ok && miroir_task_copy(t, "indexUid",
                  cJSON_GetObjectItemCaseSensitive(first, "indexUid"));
    ok = ok && cJSON_AddStringToObject(t, "status",
                                       miroir_task_status_names[status]);
    ok = ok && miroir_task_copy(t, "type",
                  cJSON_GetObjectItemCaseSensitive(first, "type"));

    if (conf->has_canceled_by) {
        ok = ok && cJSON_AddNumberToObject(t, "canceledBy",
                                           (double) conf->canceled_by);
    } else {
        ok = ok && cJSON_AddNullToObject(t, "canceledBy");
    }

    if (details != NULL) {
        if (ok && cJSON_AddItemToObject(t, "details", details)) {
            details = NULL;
        } else {
            ok = 0;
        }
    }

    cJSON_Delete(details);

    e = NULL;
    if (any_failed >= 0) {
        e = cJSON_GetObjectItemCaseSensitive(parts[any_failed].task,
                                             "error");
        if (cJSON_IsNull(e)) {
            e = NULL;
        }
    }

    ok = ok && miroir_task_copy(t, "error", e);

    started = miroir_task_pick_time(parts, nparts, "startedAt", 0, &s0, &n0);
    finished = -1;

    if (status >= MIROIR_TASK_SUCCEEDED) {
        finished = miroir_task_pick_time(parts, nparts, "finishedAt", 1,
                                         &s1, &n1);
    }

    if (started >= 0 && finished >= 0
        && (s1 > s0 || (s1 == s0 && n1 >= n0)))
    {
        s1 -= s0;
        n1 -= n0;

        if (n1 < 0) {
            n1 += 1000000000;
            s1--;
        }

        miroir_task_duration(s1, n1, dur, sizeof(dur));
        ok = ok && cJSON_AddStringToObject(t, "duration", dur);

    } else {
        ok = ok && cJSON_AddNullToObject(t, "duration");
    }

    ok = ok && cJSON_AddStringToObject(t, "enqueuedAt", conf->enqueued_at);

    ok = ok && miroir_task_copy(t, "startedAt", started < 0 ? NULL
              : cJSON_GetObjectItemCaseSensitive(parts[started].task,
                                                 "startedAt"));
    ok = ok && miroir_task_copy(t, "finishedAt", finished < 0 ? NULL
              : cJSON_GetObjectItemCaseSensitive(parts[finished].task,
                                                 "finishedAt"));

    cm = cJSON_GetObjectItemCaseSensitive(first, "customMetadata");
    if (cm != NULL) {
        ok = ok && miroir_task_copy(t, "customMetadata", cm);
    }

    txt = ok ? cJSON_PrintUnformatted(t) : NULL;
    cJSON_Delete(t);

    if (txt == NULL) {
        return MIROIR_ENOMEM;
    }

    res = strdup(txt);
    cJSON_free(txt);

    if (res == NULL) {
        return MIROIR_ENOMEM;
    }

    *out = res;

    return MIROIR_OK;
}
