/*
 * miroir_filter.c -- filter composition and read plans.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "miroir_filter.h"


/* A growing string; on allocation failure it sets oom and stays put. */
typedef struct {
    char    *p;
    size_t   len;
    size_t   cap;
    int      oom;
} miroir_filter_buf_t;


static void
miroir_filter_put(miroir_filter_buf_t *b, const char *s, size_t n)
{
    char    *p;
    size_t   cap;

    if (b->oom) {
        return;
    }

    if (b->len + n + 1 > b->cap) {
        cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }

        p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }

        b->p = p;
        b->cap = cap;
    }

    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}


static void
miroir_filter_puts(miroir_filter_buf_t *b, const char *s)
{
    miroir_filter_put(b, s, strlen(s));
}


static void
miroir_filter_putq(miroir_filter_buf_t *b, const char *id)
{
    miroir_filter_put(b, "\"", 1);

    for (; *id; id++) {
        if (*id == '"' || *id == '\\') {
            miroir_filter_put(b, "\\", 1);
        }

        miroir_filter_put(b, id, 1);
    }

    miroir_filter_put(b, "\"", 1);
}


/* Take the string out of b; NULL if an allocation failed. */
static char *
miroir_filter_take(miroir_filter_buf_t *b)
{
    if (b->oom) {
        free(b->p);
        return NULL;
    }

    if (b->p == NULL) {
        return calloc(1, 1);
    }

    return b->p;
}


void
miroir_filter_free(char *s)
{
    free(s);
}


size_t
miroir_filter_quote(const char *id, char *buf, size_t size)
{
    size_t  n = 0;

#define MIROIR_PUT(c)                                                        \
    do {                                                                     \
        if (n + 1 < size) {                                                  \
            buf[n] = (c);                                                    \
        }                                                                    \
        n++;                                                                 \
    } while (0)

    MIROIR_PUT('"');

    for (; *id; id++) {
        if (*id == '"' || *id == '\\') {
            MIROIR_PUT('\\');
        }

        MIROIR_PUT(*id);
    }

    MIROIR_PUT('"');

#undef MIROIR_PUT

    if (size > 0) {
        buf[n < size ? n : size - 1] = '\0';
    }

    return n;
}


static int
miroir_filter_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
           || c == '\v';
}


/* May a quoted value start right after c (c == 0: start of string)? */
static int
miroir_filter_opens(char c)
{
    return c == 0 || miroir_filter_space(c) || c == '(' || c == '['
           || c == ',' || c == '=' || c == '!' || c == '<' || c == '>';
}


/* May a quoted value end right before c (c == 0: end of string)? */
static int
miroir_filter_closes(char c)
{
    return c == 0 || miroir_filter_space(c) || c == ')' || c == ']'
           || c == ',';
}


static miroir_rc_t
miroir_filter_bad(miroir_error_t *err, const char *s, size_t len, size_t col,
    const char *why)
{
    miroir_error_set(err, 400, "invalid_search_filter", "invalid_request",
                     "%s\n%zu:%zu %.*s", why, col + 1, col + 2,
                     (int) (len > 512 ? 512 : len), s);
    return MIROIR_EINVAL;
}


miroir_rc_t
miroir_filter_check(const char *s, size_t len, miroir_error_t *err)
{
    size_t  i, open_at;
    long    paren, bracket;
    char    q, prev;

    paren = 0;
    bracket = 0;
    prev = 0;

    for (i = 0; i < len; i++) {
        if (s[i] == '\0') {
            return miroir_filter_bad(err, s, len, i,
                                     "A filter cannot contain a NUL byte.");
        }

        switch (s[i]) {

        case '(':
            paren++;
            break;

        case ')':
            if (--paren < 0) {
                return miroir_filter_bad(err, s, len, i,
                                         "Found unexpected `)`.");
            }
            break;

        case '[':
            bracket++;
            break;

        case ']':
            if (--bracket < 0) {
                return miroir_filter_bad(err, s, len, i,
                                         "Found unexpected `]`.");
            }
            break;

        case '"':
        case '\'':
            if (!miroir_filter_opens(prev)) {
                return miroir_filter_bad(err, s, len, i,
                                         "A quote must start a value.");
            }

            q = s[i];
            open_at = i;

            for (i++; i < len && s[i] != q; i++) {
                if (s[i] == '\0') {
                    return miroir_filter_bad(err, s, len, i,
                                       "A filter cannot contain a NUL byte.");
                }

                if (s[i] != '\\') {
                    continue;
                }

                if (i + 1 < len && s[i + 1] == '\\') {
                    return miroir_filter_bad(err, s, len, i,
                                "A quoted value cannot contain `\\\\`.");
                }

                if (i + 1 < len && s[i + 1] == q) {
                    i++;
                }
            }

            if (i >= len) {
                return miroir_filter_bad(err, s, len, open_at,
                                         "Found an unterminated quote.");
            }

            if (!miroir_filter_closes(i + 1 < len ? s[i + 1] : 0)) {
                return miroir_filter_bad(err, s, len, i,
                                         "A quote must end a value.");
            }

            break;

        default:
            break;
        }

        prev = s[i];
    }

    if (paren != 0 || bracket != 0) {
        return miroir_filter_bad(err, s, len, len ? len - 1 : 0,
                                 paren ? "Expected a matching `)`."
                                       : "Expected a matching `]`.");
    }

    return MIROIR_OK;
}


static int
miroir_filter_blank(const char *s)
{
    for (; *s; s++) {
        if (!miroir_filter_space(*s)) {
            return 0;
        }
    }

    return 1;
}


static miroir_rc_t
miroir_filter_shape(miroir_error_t *err)
{
    miroir_error_set(err, 400, "invalid_search_filter", "invalid_request",
                     "Invalid value type at `.filter`: expected a string, "
                     "an array of strings and arrays of strings, or null.");
    return MIROIR_EINVAL;
}


/*
 * Does JSON text contain the escape \u0000?  cJSON would silently cut the
 * string there, changing what the filter means.
 */
static int
miroir_filter_has_nul(const char *s, size_t len)
{
    size_t  i;

    for (i = 0; i + 1 < len; i++) {
        if (s[i] != '\\') {
            continue;
        }

        if (s[i + 1] == 'u' && i + 5 < len
            && memcmp(s + i + 2, "0000", 4) == 0)
        {
            return 1;
        }

        i++;                    /* skip the escaped character */
    }

    return 0;
}


/* The JSON string text of s; NULL: ENOMEM. */
static char *
miroir_filter_json_string(const char *s)
{
    cJSON  *j;
    char   *out;

    j = cJSON_CreateString(s);
    if (j == NULL) {
        return NULL;
    }

    out = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);

    return out;
}


/* Re-home a cJSON allocation into a malloc() one (they may differ). */
static char *
miroir_filter_own(char *s)
{
    char  *p;

    if (s == NULL) {
        return NULL;
    }

    p = strdup(s);
    cJSON_free(s);

    return p;
}


miroir_rc_t
miroir_filter_compose(const char *user, size_t len, const char *restr,
    char **out, miroir_error_t *err)
{
    cJSON       *j, *item, *leaf, *r;
    char        *s, *res;
    const char  *u;
    size_t       ulen;
    miroir_rc_t  rc;
    miroir_filter_buf_t  b;

    if (user == NULL || len == 0) {
        j = NULL;

    } else {
        if (memchr(user, '\0', len) != NULL
            || miroir_filter_has_nul(user, len))
        {
            return miroir_filter_bad(err, "", 0, 0,
                                     "A filter cannot contain a NUL byte.");
        }

        j = cJSON_ParseWithLength(user, len);
        if (j == NULL) {
            return miroir_filter_shape(err);
        }
    }

    if (j == NULL || cJSON_IsNull(j)) {
        cJSON_Delete(j);

        if (restr == NULL) {
            *out = NULL;
            return MIROIR_OK;
        }

        res = miroir_filter_own(miroir_filter_json_string(restr));
        if (res == NULL) {
            return MIROIR_ENOMEM;
        }

        *out = res;
        return MIROIR_OK;
    }

    if (cJSON_IsString(j)) {
        u = j->valuestring;
        ulen = strlen(u);

        rc = miroir_filter_check(u, ulen, err);
        if (rc != MIROIR_OK) {
            cJSON_Delete(j);
            return rc;
        }

        memset(&b, 0, sizeof(b));

        if (restr == NULL || miroir_filter_blank(u)) {
            miroir_filter_puts(&b, restr ? restr : u);

        } else {
            miroir_filter_puts(&b, "(");
            miroir_filter_put(&b, u, ulen);
            miroir_filter_puts(&b, ") AND (");
            miroir_filter_puts(&b, restr);
            miroir_filter_puts(&b, ")");
        }

        cJSON_Delete(j);

        s = miroir_filter_take(&b);
        if (s == NULL) {
            return MIROIR_ENOMEM;
        }

        res = miroir_filter_own(miroir_filter_json_string(s));
        free(s);

        if (res == NULL) {
            return MIROIR_ENOMEM;
        }

        *out = res;
        return MIROIR_OK;
    }

    if (!cJSON_IsArray(j)) {
        cJSON_Delete(j);
        return miroir_filter_shape(err);
    }

    cJSON_ArrayForEach(item, j) {
        if (cJSON_IsString(item)) {
            continue;
        }

        if (!cJSON_IsArray(item)) {
            cJSON_Delete(j);
            return miroir_filter_shape(err);
        }

        cJSON_ArrayForEach(leaf, item) {
            if (!cJSON_IsString(leaf)) {
                cJSON_Delete(j);
                return miroir_filter_shape(err);
            }
        }
    }

    if (restr != NULL) {
        r = cJSON_CreateString(restr);
        if (r == NULL || !cJSON_AddItemToArray(j, r)) {
            cJSON_Delete(r);
            cJSON_Delete(j);
            return MIROIR_ENOMEM;
        }
    }

    res = miroir_filter_own(cJSON_PrintUnformatted(j));
    cJSON_Delete(j);

    if (res == NULL) {
        return MIROIR_ENOMEM;
    }

    *out = res;
    return MIROIR_OK;
}


char *
miroir_filter_leader(const char *id)
{
    miroir_filter_buf_t  b;

    memset(&b, 0, sizeof(b));
    miroir_filter_puts(&b, "_miroir_o0 = ");
    miroir_filter_putq(&b, id);

    return miroir_filter_take(&b);
}


char *
miroir_filter_shards(const uint32_t *shards, size_t n, int negate)
{
    miroir_filter_buf_t  b;
    char                 num[16];
    size_t               i;

    memset(&b, 0, sizeof(b));
    /*
     * A document without _miroir_shard (an owner-field stub a migration
     * pass left until its cleanup, ngx_miroir_rebalance_mig.c) matches
     * no shard: NOT alone would let it through.
     */
    miroir_filter_puts(&b, negate ? "_miroir_shard EXISTS AND NOT "
                                    "_miroir_shard IN ["
                                  : "_miroir_shard IN [");

    for (i = 0; i < n; i++) {
        snprintf(num, sizeof(num), i ? ", %u" : "%u", shards[i]);
        miroir_filter_puts(&b, num);
    }

    miroir_filter_puts(&b, "]");

    return miroir_filter_take(&b);
}


char *
miroir_filter_and(const char *a, const char *b)
{
    miroir_filter_buf_t  buf;

    if (a == NULL || b == NULL) {
        return strdup(a ? a : (b ? b : ""));
    }

    memset(&buf, 0, sizeof(buf));
    miroir_filter_puts(&buf, "(");
    miroir_filter_puts(&buf, a);
    miroir_filter_puts(&buf, ") AND (");
    miroir_filter_puts(&buf, b);
    miroir_filter_puts(&buf, ")");

    return miroir_filter_take(&buf);
}


/* First owner of shard s that is not down, as a position, or rf. */
static uint32_t
miroir_filter_first_live(const miroir_route_table_t *rt, const uint8_t *down,
    uint32_t s)
{
    const uint16_t  *o;
    uint32_t         k;

    o = rt->owners + (size_t) s * rt->rf;

    for (k = 0; k < rt->rf; k++) {
        if (down == NULL || !down[o[k]]) {
            break;
        }
    }

    return k;
}


miroir_rc_t
miroir_filter_reader(const miroir_route_table_t *rt, const uint8_t *down,
    uint16_t reader, char **out)
{
    miroir_filter_buf_t   b;
    const uint16_t       *o;
    uint8_t              *seen;      /* [position][node] */
    uint32_t              s, k, j, n, nterms, cnt;
    int                   any;
    char                 *res;

    if (reader >= rt->nnodes || (down && down[reader])) {
        return MIROIR_EINVAL;
    }

    seen = calloc((size_t) MIROIR_MAX_RF * rt->nnodes, 1);
    if (seen == NULL) {
        return MIROIR_ENOMEM;
    }

    memset(&b, 0, sizeof(b));
    nterms = 0;

    for (k = 0; k < rt->rf; k++) {

        /* which down nodes stand in front of the reader at position k */

        memset(seen, 0, (size_t) MIROIR_MAX_RF * rt->nnodes);
        any = 0;

        for (s = 0; s < rt->nshards; s++) {
            o = rt->owners + (size_t) s * rt->rf;

            if (o[k] != reader || miroir_filter_first_live(rt, down, s) != k)
            {
                continue;
            }

            any = 1;
            for (j = 0; j < k; j++) {
                seen[(size_t) j * rt->nnodes + o[j]] = 1;
            }
        }

        if (!any) {
            continue;
        }

        if (nterms++ > 0) {
            miroir_filter_puts(&b, " OR ");
        }

        if (k > 0) {
            miroir_filter_puts(&b, "(");
        }

        for (j = 0; j < k; j++) {
            cnt = 0;
            for (n = 0; n < rt->nnodes; n++) {
                cnt += seen[(size_t) j * rt->nnodes + n];
            }

            miroir_filter_puts(&b, "_miroir_o");
            miroir_filter_put(&b, &"012"[j], 1);
            miroir_filter_puts(&b, cnt == 1 ? " = " : " IN [");

            cnt = 0;
            for (n = 0; n < rt->nnodes; n++) {
                if (seen[(size_t) j * rt->nnodes + n]) {
                    if (cnt++ > 0) {
                        miroir_filter_puts(&b, ", ");
                    }

                    miroir_filter_putq(&b, rt->node_ids[n]);
                }
            }

            miroir_filter_puts(&b, cnt == 1 ? " AND " : "] AND ");
        }

        miroir_filter_puts(&b, "_miroir_o");
        miroir_filter_put(&b, &"012"[k], 1);
        miroir_filter_puts(&b, " = ");
        miroir_filter_putq(&b, rt->node_ids[reader]);

        if (k > 0) {
            miroir_filter_puts(&b, ")");
        }
    }

    free(seen);

    if (nterms == 0) {
        free(b.p);
        *out = NULL;
        return MIROIR_OK;
    }

    res = miroir_filter_take(&b);
    if (res == NULL) {
        return MIROIR_ENOMEM;
    }

    *out = res;
    return MIROIR_OK;
}


miroir_rc_t
miroir_read_plan_create(const miroir_route_table_t *rt, const uint8_t *down,
    miroir_read_plan_t **out)
{
    miroir_read_plan_t  *p;
    uint32_t             s, k, n, *pos;

    p = calloc(1, sizeof(miroir_read_plan_t));
    pos = calloc(rt->nnodes + 1, sizeof(uint32_t));

    if (p == NULL || pos == NULL) {
        free(pos);
        free(p);
        return MIROIR_ENOMEM;
    }

    p->nnodes = rt->nnodes;
    p->off = calloc(rt->nnodes + 1, sizeof(uint32_t));
    p->shards = malloc((rt->nshards ? rt->nshards : 1) * sizeof(uint32_t));
    p->missing = malloc((rt->nshards ? rt->nshards : 1) * sizeof(uint32_t));

    if (p->off == NULL || p->shards == NULL || p->missing == NULL) {
        free(pos);
        miroir_read_plan_free(p);
        return MIROIR_ENOMEM;
    }

    /* count, prefix-sum, fill: shards stay ascending per node */

    for (s = 0; s < rt->nshards; s++) {
        k = miroir_filter_first_live(rt, down, s);

        if (k == rt->rf) {
            p->missing[p->nmissing++] = s;
            continue;
        }

        p->off[rt->owners[(size_t) s * rt->rf + k] + 1]++;
    }

    for (n = 0; n < rt->nnodes; n++) {
        p->off[n + 1] += p->off[n];
        pos[n] = p->off[n];
    }

    for (s = 0; s < rt->nshards; s++) {
        k = miroir_filter_first_live(rt, down, s);

        if (k < rt->rf) {
            n = rt->owners[(size_t) s * rt->rf + k];
            p->shards[pos[n]++] = s;
        }
    }

    free(pos);
    *out = p;

    return MIROIR_OK;
}


void
miroir_read_plan_free(miroir_read_plan_t *p)
{
    if (p == NULL) {
        return;
    }

    free(p->off);
    free(p->shards);
    free(p->missing);
    free(p);
}


uint32_t
miroir_read_plan_covers(const miroir_route_table_t *rt, const uint8_t *down,
    uint16_t *nodes)
{
    uint32_t  n, s, k, count;
    int       all;

    count = 0;

    for (n = 0; n < rt->nnodes; n++) {
        if (down && down[n]) {
            continue;
        }

        all = 1;
        for (s = 0; all && s < rt->nshards; s++) {
            all = 0;
            for (k = 0; k < rt->rf; k++) {
                if (rt->owners[(size_t) s * rt->rf + k] == n) {
                    all = 1;
                    break;
                }
            }
        }

        if (all) {
            if (nodes) {
                nodes[count] = (uint16_t) n;
            }
            count++;
        }
    }

    return count;
}
