/*
 * miroir_ties.c -- stable ties: the hidden `<primaryKey>:asc` ranking rule
 * (see miroir_ties.h).
 */

#include <stdio.h>
#include <string.h>

#include "miroir_ties.h"


static const char  *miroir_ties_default_rules[] = {
    "words", "typo", "proximity", "attributeRank", "sort", "wordPosition",
    "exactness"
};


cJSON *
miroir_ties_defaults(void)
{
    return cJSON_CreateStringArray(miroir_ties_default_rules,
                                   (int) (sizeof(miroir_ties_default_rules)
                                          / sizeof(char *)));
}


/* "pk:asc" / "pk:desc" into buf; 0 if it does not fit. */
static int
miroir_ties_print(char *buf, size_t size, const char *pk, const char *dir)
{
    int  n;

    n = snprintf(buf, size, "%s:%s", pk, dir);

    return n > 0 && (size_t) n < size;
}


/* Whether array rules holds the string s, other than element skip. */
static int
miroir_ties_has(const cJSON *rules, const char *s, const cJSON *skip)
{
    const cJSON  *it;

    cJSON_ArrayForEach(it, rules) {
        if (it != skip && cJSON_IsString(it)
            && strcmp(it->valuestring, s) == 0)
        {
            return 1;
        }
    }

    return 0;
}


int
miroir_ties_rule(const cJSON *rules, const char *pk, char *rule, size_t size)
{
    char  asc[MIROIR_TIES_RULE_MAX], desc[MIROIR_TIES_RULE_MAX];

    /* Meilisearch refuses rules on its reserved _geo* names */

    if (!cJSON_IsArray(rules) || pk == NULL || pk[0] == '\0'
        || strncmp(pk, "_geo", 4) == 0
        || !miroir_ties_print(asc, sizeof(asc), pk, "asc")
        || !miroir_ties_print(desc, sizeof(desc), pk, "desc"))
    {
        return -1;
    }

    if (!miroir_ties_has(rules, asc, NULL)) {
        if (strlen(asc) >= size) {
            return -1;
        }

        memcpy(rule, asc, strlen(asc) + 1);
        return 1;
    }

    if (!miroir_ties_has(rules, desc, NULL)) {
        if (strlen(desc) >= size) {
            return -1;
        }

        memcpy(rule, desc, strlen(desc) + 1);
        return 1;
    }

    return 0;
}


int
miroir_ties_append(cJSON *rules, const char *pk, char *rule, size_t size)
{
    int    rc;
    char   buf[MIROIR_TIES_RULE_MAX];
    cJSON  *s;

    rc = miroir_ties_rule(rules, pk, buf, sizeof(buf));
    if (rc != 1) {
        return rc;
    }

    s = cJSON_CreateString(buf);
    if (s == NULL || !cJSON_AddItemToArray(rules, s)) {
        cJSON_Delete(s);
        return -1;
    }

    if (rule) {
        if (strlen(buf) >= size) {
            return -1;
        }

        memcpy(rule, buf, strlen(buf) + 1);
    }

    return 1;
}


int
miroir_ties_find(cJSON *rules, const char *pk, int remove, char *rule,
    size_t size)
{
    char    asc[MIROIR_TIES_RULE_MAX], desc[MIROIR_TIES_RULE_MAX];
    cJSON  *last;
    int     mine;

    if (!cJSON_IsArray(rules) || rules->child == NULL || pk == NULL
        || pk[0] == '\0'
        || !miroir_ties_print(asc, sizeof(asc), pk, "asc")
        || !miroir_ties_print(desc, sizeof(desc), pk, "desc"))
    {
        return 0;
    }

    last = rules->child->prev;      /* cJSON keeps the tail in child->prev */

    if (!cJSON_IsString(last)) {
        return 0;
    }

    mine = 0;

    if (strcmp(last->valuestring, asc) == 0) {
        mine = !miroir_ties_has(rules, asc, last);

    } else if (strcmp(last->valuestring, desc) == 0) {
        mine = !miroir_ties_has(rules, desc, last)
               && miroir_ties_has(rules, asc, last);
    }

    if (!mine) {
        return 0;
    }

    if (rule) {
        if (strlen(last->valuestring) >= size) {
            return 0;
        }

        memcpy(rule, last->valuestring, strlen(last->valuestring) + 1);
    }

    if (remove) {
        cJSON_Delete(cJSON_DetachItemViaPointer(rules, last));
    }

    return 1;
}


int
miroir_ties_drop(cJSON *rules, const char *rule)
{
    cJSON  *last;

    if (!cJSON_IsArray(rules) || rules->child == NULL || rule == NULL) {
        return 0;
    }

    last = rules->child->prev;

    if (!cJSON_IsString(last) || strcmp(last->valuestring, rule) != 0) {
        return 0;
    }

    cJSON_Delete(cJSON_DetachItemViaPointer(rules, last));

    return 1;
}


/* ------------------------------------------------------------ details */

/* Past the string starting at p (its opening quote), or end. */
static const char *
miroir_ties_skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\') {
            p++;

        } else if (*p == '"') {
            return p + 1;
        }
    }

    return end;
}


/* Past the value starting at p (after whitespace), or end. */
static const char *
miroir_ties_skip_value(const char *p, const char *end)
{
    int  depth;

    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
        p++;
    }

    if (p < end && *p == '"') {
        return miroir_ties_skip_string(p, end);
    }

    if (p < end && (*p == '{' || *p == '[')) {
        depth = 0;

        while (p < end) {
            if (*p == '"') {
                p = miroir_ties_skip_string(p, end);
                continue;
            }

            if (*p == '{' || *p == '[') {
                depth++;

            } else if (*p == '}' || *p == ']') {
                if (--depth == 0) {
                    return p + 1;
                }
            }

            p++;
        }

        return end;
    }

    while (p < end && *p != ',' && *p != '}' && *p != ']') {
        p++;
    }

    return p;
}


static const char *
miroir_ties_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
        p++;
    }

    return p;
}


/*
 * The details object starts at obj ('{'): find its last member; if it is
 * the hidden rule's, return in *cut_from / *cut_to the bytes to remove.
 * @return the end of the object.
 */
static const char *
miroir_ties_details(const char *obj, const char *end, const char *rule,
    size_t rlen, const char **cut_from, const char **cut_to)
{
    const char  *p, *mstart, *kstart, *kend, *vend;
    const char  *last_from, *last_k, *last_kend, *last_vend;

    *cut_from = NULL;
    last_from = NULL;
    last_k = NULL;
    last_kend = NULL;
    last_vend = NULL;

    p = obj + 1;

    for ( ;; ) {
        mstart = p;             /* at ',' (or just after '{') */
        p = miroir_ties_ws(p, end);

        if (p >= end) {
            return end;
        }

        if (*p == '}') {
            break;
        }

        if (*p == ',') {
            p++;
            p = miroir_ties_ws(p, end);
        }

        if (p >= end || *p != '"') {
            return end;         /* not what Miroir writes: leave it */
        }

        kstart = p;
        kend = miroir_ties_skip_string(p, end);
        p = miroir_ties_ws(kend, end);

        if (p >= end || *p != ':') {
            return end;
        }

        vend = miroir_ties_skip_value(p + 1, end);

        last_from = mstart;
        last_k = kstart;
        last_kend = kend;
        last_vend = vend;

        p = vend;
    }

    if (last_k) {
        if (((size_t) (last_kend - last_k) == rlen + 2
             && memcmp(last_k + 1, rule, rlen) == 0)
            || ((size_t) (last_kend - last_k) > 14
                && memcmp(last_k, "\"<hidden-rule-", 14) == 0))
        {
            /* the member and its comma, or the only member */
            *cut_from = last_from == obj + 1 ? obj + 1 : last_from;
            *cut_to = last_vend;
        }
    }

    return p + 1;
}


size_t
miroir_ties_strip_details(char *text, size_t len, const char *rule)
{
    static const char   key[] = "\"_rankingScoreDetails\"";
    char               *p, *end, *q;
    const char         *obj_end, *cut_from, *cut_to;
    size_t              rlen, n;

    if (text == NULL || rule == NULL) {
        return len;
    }

    rlen = strlen(rule);
    p = text;
    end = text + len;

    while (p < end) {
        if (*p != '"') {
            p++;
            continue;
        }

        if ((size_t) (end - p) > sizeof(key) - 1
            && memcmp(p, key, sizeof(key) - 1) == 0)
        {
            q = (char *) miroir_ties_ws(p + sizeof(key) - 1, end);

            if (q < end && *q == ':') {
                q = (char *) miroir_ties_ws(q + 1, end);

                if (q < end && *q == '{') {
                    obj_end = miroir_ties_details(q, end, rule, rlen,
                                                  &cut_from, &cut_to);

                    if (cut_from) {
                        n = (size_t) (cut_to - cut_from);
                        /* with the terminating NUL */
                        memmove((char *) cut_from, cut_to,
                                (size_t) (end - cut_to) + 1);
                        end -= n;
                        len -= n;
                        obj_end -= n;
                    }

                    p = (char *) obj_end;
                    continue;
                }
            }
        }

        p = (char *) miroir_ties_skip_string(p, end);
    }

    return len;
}
