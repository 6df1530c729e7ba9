/*
 * miroir_apikey.c -- Meilisearch API keys: actions, index patterns, key
 * values, the key store and the authorization decision (see the header).
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "miroir_apikey.h"


static const char  *miroir_action_names[MIROIR_ACT_N] = {
    "*", "search", "documents.*", "documents.add", "documents.get",
    "documents.delete", "indexes.*", "indexes.create", "indexes.get",
    "indexes.update", "indexes.delete", "indexes.swap", "tasks.*",
    "tasks.cancel", "tasks.delete", "tasks.get", "settings.*",
    "settings.get", "settings.update", "stats.*", "stats.get", "metrics.*",
    "metrics.get", "dumps.*", "dumps.create", "snapshots.*",
    "snapshots.create", "version", "keys.create", "keys.get", "keys.update",
    "keys.delete", "experimental.get", "experimental.update", "export",
    "network.get", "network.update", "chatCompletions", "chats.*",
    "chats.get", "chats.delete", "chatsSettings.*", "chatsSettings.get",
    "chatsSettings.update", "*.get", "webhooks.get", "webhooks.update",
    "webhooks.delete", "webhooks.create", "webhooks.*", "indexes.compact",
    "fields.post", "tasks.compact", "dynamicSearchRules.get",
    "dynamicSearchRules.create", "dynamicSearchRules.update",
    "dynamicSearchRules.delete", "dynamicSearchRules.*"
};


int
miroir_action_lookup(const char *s, size_t len)
{
    int  i;

    for (i = 0; i < MIROIR_ACT_N; i++) {
        if (strlen(miroir_action_names[i]) == len
            && memcmp(miroir_action_names[i], s, len) == 0)
        {
            return i;
        }
    }

    return -1;
}


const char *
miroir_action_name(int action)
{
    return (action >= 0 && action < MIROIR_ACT_N)
           ? miroir_action_names[action] : "";
}


static int
miroir_action_is_wild(const char *name)
{
    size_t  len;

    len = strlen(name);

    return name[0] == '*' || (len > 2 && memcmp(name + len - 2, ".*", 2) == 0);
}


/* Meilisearch's Action::is_read(): what "*.get" grants. */
static int
miroir_action_is_read(int a)
{
    const char  *name;
    size_t       len;

    if (a == MIROIR_ACT_SEARCH || a == MIROIR_ACT_VERSION) {
        return 1;
    }

    if (a == MIROIR_ACT_KEYS_GET) {
        return 0;
    }

    name = miroir_action_names[a];
    len = strlen(name);

    return len > 4 && memcmp(name + len - 4, ".get", 4) == 0;
}


uint64_t
miroir_action_covers(int action)
{
    int          i;
    size_t       plen;
    uint64_t     mask;
    const char  *name, *other;

    if (action < 0 || action >= MIROIR_ACT_N) {
        return 0;
    }

    name = miroir_action_names[action];

    if (!miroir_action_is_wild(name)) {
        return 1ULL << action;
    }

    mask = 0;
    plen = strlen(name) - 1;            /* "documents." */

    for (i = 0; i < MIROIR_ACT_N; i++) {
        other = miroir_action_names[i];

        if (miroir_action_is_wild(other)) {
            continue;
        }

        if (action == MIROIR_ACT_ALL
            || (action == MIROIR_ACT_ALL_GET && miroir_action_is_read(i))
            || (action != MIROIR_ACT_ALL_GET
                && strncmp(other, name, plen) == 0))
        {
            mask |= 1ULL << i;
        }
    }

    return mask;
}


static int
miroir_index_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '-' || c == '_';
}


int
miroir_index_pattern_valid(const char *s, size_t len)
{
    size_t  i;

    if (len == 0 || len > 400) {
        return 0;
    }

    if (s[len - 1] == '*') {
        len--;
    }

    for (i = 0; i < len; i++) {
        if (!miroir_index_char((unsigned char) s[i])) {
            return 0;
        }
    }

    return 1;
}


int
miroir_index_pattern_match(const char *pat, size_t plen, const char *index,
    size_t ilen)
{
    if (plen && pat[plen - 1] == '*') {
        plen--;
        return ilen >= plen && memcmp(pat, index, plen) == 0;
    }

    return plen == ilen && memcmp(pat, index, ilen) == 0;
}


void
miroir_apikey_value(const char *master, size_t mlen, const char *uid,
    char *out)
{
    static const char  hex[] = "0123456789abcdef";
    unsigned char      md[EVP_MAX_MD_SIZE];
    unsigned int       mdlen, i;

    mdlen = 0;

    if (HMAC(EVP_sha256(), master, (int) mlen, (const unsigned char *) uid,
             strlen(uid), md, &mdlen) == NULL)
    {
        mdlen = 0;
    }

    for (i = 0; i < mdlen && i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xf];
    }

    out[2 * i] = '\0';
}


int
miroir_ct_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t         i;
    unsigned long  diff;

    diff = alen ^ blen;

    for (i = 0; i < blen; i++) {
        diff |= (unsigned char) b[i]
                ^ (unsigned char) (alen ? a[i % alen] : 0);
    }

    return diff == 0;
}


miroir_rc_t
miroir_uuid_v4(char *out)
{
    static const char  hex[] = "0123456789abcdef";
    unsigned char      b[16];
    int                i, j;

    if (RAND_bytes(b, sizeof(b)) != 1) {
        return MIROIR_ERROR;
    }

    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;

    for (i = 0, j = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out[j++] = '-';
        }

        out[j++] = hex[b[i] >> 4];
        out[j++] = hex[b[i] & 0xf];
    }

    out[j] = '\0';

    return MIROIR_OK;
}


int
miroir_uuid_parse(const char *s, size_t len, char *out)
{
    static const int  groups[] = { 8, 4, 4, 4, 12 };
    char              digits[32];
    size_t            i, n;
    int               g, j, k;
    unsigned char     c;

    if (len >= 9 && strncmp(s, "urn:uuid:", 9) == 0) {
        s += 9;
        len -= 9;
    }

    n = 0;

    if (len == 32) {
        for (i = 0; i < 32; i++) {
            digits[n++] = s[i];
        }

    } else if (len == 36) {
        for (i = 0; i < 36; i++) {
            if (i == 8 || i == 13 || i == 18 || i == 23) {
                if (s[i] != '-') {
                    return 0;
                }

                continue;
            }

            digits[n++] = s[i];
        }

    } else {
        return 0;
    }

    for (i = 0; i < 32; i++) {
        c = (unsigned char) digits[i];

        if (c >= 'A' && c <= 'F') {
            digits[i] = (char) (c - 'A' + 'a');

        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return 0;
        }
    }

    for (g = 0, j = 0, k = 0; g < 5; g++) {
        if (g) {
            out[k++] = '-';
        }

        memcpy(out + k, digits + j, groups[g]);
        k += groups[g];
        j += groups[g];
    }

    out[k] = '\0';

    return 1;
}


/* ------------------------------------------------------------ dates */

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t
miroir_days_from_civil(int64_t y, unsigned m, unsigned d)
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


size_t
miroir_rfc3339(int64_t sec, long nsec, char *buf, size_t size)
{
    time_t     t;
    struct tm  tm;
    char       frac[32];
    int        n;

    t = (time_t) sec;

    if (gmtime_r(&t, &tm) == NULL) {
        memset(&tm, 0, sizeof(tm));
    }

    frac[0] = '\0';

    if (nsec > 0) {
        snprintf(frac, sizeof(frac), ".%09ld", nsec);
        n = (int) strlen(frac);

        while (n > 1 && frac[n - 1] == '0') {
            frac[--n] = '\0';
        }
    }

    n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d%sZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, frac);

    return n < 0 ? 0 : (size_t) n;
}


static int
miroir_digits(const char *s, size_t n, int *v)
{
    size_t  i;

    *v = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }

        *v = *v * 10 + (s[i] - '0');
    }

    return 1;
}


int
miroir_parse_date(const char *s, size_t len, int64_t *sec)
{
    static const int  mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
                                  30, 31 };
    int               y, mo, d, h, mi, se, oh, om, leap;
    size_t            i;
    int64_t           off;

    h = mi = se = 0;
    off = 0;

    if (len < 10 || !miroir_digits(s, 4, &y) || s[4] != '-'
        || !miroir_digits(s + 5, 2, &mo) || s[7] != '-'
        || !miroir_digits(s + 8, 2, &d))
    {
        return 0;
    }

    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1]
        || (mo == 2 && d == 29 && !leap))
    {
        return 0;
    }

    if (len == 10) {
        goto done;
    }

    if (len < 19 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
        || !miroir_digits(s + 11, 2, &h) || s[13] != ':'
        || !miroir_digits(s + 14, 2, &mi) || s[16] != ':'
        || !miroir_digits(s + 17, 2, &se)
        || h > 23 || mi > 59 || se > 60)
    {
        return 0;
    }

    i = 19;

    if (s[10] == ' ') {
        /* "YYYY-MM-DD HH:MM:SS", UTC, nothing after */
        if (len != 19) {
            return 0;
        }

        goto done;
    }

    if (i < len && s[i] == '.') {
        i++;

        if (i == len || s[i] < '0' || s[i] > '9') {
            return 0;
        }

        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
    }

    if (i == len) {
        /* "YYYY-MM-DDTHH:MM:SS" without an offset: UTC */
        if (i != 19) {
            return 0;
        }

        goto done;
    }

    if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len) {
        goto done;
    }

    if ((s[i] == '+' || s[i] == '-') && i + 6 == len
        && miroir_digits(s + i + 1, 2, &oh) && s[i + 3] == ':'
        && miroir_digits(s + i + 4, 2, &om) && oh < 24 && om < 60)
    {
        off = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
        goto done;
    }

    return 0;

done:

    *sec = miroir_days_from_civil(y, mo, d) * 86400
           + h * 3600 + mi * 60 + (se > 59 ? 59 : se) - off;

    return 1;
}


/* ------------------------------------------------------------ the store */

static void
miroir_apikey_clear(miroir_apikey_t *k)
{
    size_t  i;

    free(k->name);
    free(k->description);
    free(k->actions);

    for (i = 0; i < k->nindexes; i++) {
        free(k->indexes[i]);
    }

    free(k->indexes);
    memset(k, 0, sizeof(*k));
}


void
miroir_keystore_free(miroir_keystore_t *ks)
{
    size_t  i;

    for (i = 0; i < ks->n; i++) {
        miroir_apikey_clear(&ks->keys[i]);
    }

    free(ks->keys);
    memset(ks, 0, sizeof(*ks));
}


static miroir_apikey_t *
miroir_keystore_push(miroir_keystore_t *ks)
{
    size_t            cap;
    miroir_apikey_t  *keys;

    if (ks->n == ks->cap) {
        cap = ks->cap ? ks->cap * 2 : 8;

        keys = realloc(ks->keys, cap * sizeof(miroir_apikey_t));
        if (keys == NULL) {
            return NULL;
        }

        ks->keys = keys;
        ks->cap = cap;
    }

    memset(&ks->keys[ks->n], 0, sizeof(miroir_apikey_t));

    return &ks->keys[ks->n++];
}


static char *
miroir_strdup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}


/* Fill k's actions and indexes from arrays already validated. */
static miroir_rc_t
miroir_apikey_set_lists(miroir_apikey_t *k, cJSON *actions, cJSON *indexes)
{
    int     a;
    size_t  n;
    cJSON  *it;

    n = (size_t) cJSON_GetArraySize(actions);
    k->actions = malloc(n ? n : 1);
    if (k->actions == NULL) {
        return MIROIR_ENOMEM;
    }

    cJSON_ArrayForEach(it, actions) {
        a = miroir_action_lookup(it->valuestring, strlen(it->valuestring));
        if (a < 0) {
            return MIROIR_EINVAL;
        }

        k->actions[k->nactions++] = (uint8_t) a;
        k->mask |= miroir_action_covers(a);
    }

    n = (size_t) cJSON_GetArraySize(indexes);
    k->indexes = calloc(n ? n : 1, sizeof(char *));
    if (k->indexes == NULL) {
        return MIROIR_ENOMEM;
    }

    cJSON_ArrayForEach(it, indexes) {
        k->indexes[k->nindexes] = strdup(it->valuestring);
        if (k->indexes[k->nindexes] == NULL) {
            return MIROIR_ENOMEM;
        }

        k->nindexes++;
    }

    return MIROIR_OK;
}


static miroir_rc_t
miroir_keystore_add(miroir_keystore_t *ks, const char *uid, const char *name,
    const char *description, const char *actions_json,
    const char *master, size_t mlen, int64_t now_ns)
{
    cJSON            *actions, *indexes;
    miroir_rc_t       rc;
    miroir_apikey_t  *k;

    actions = cJSON_Parse(actions_json);
    indexes = cJSON_Parse("[\"*\"]");

    k = miroir_keystore_push(ks);

    if (k == NULL || actions == NULL || indexes == NULL) {
        cJSON_Delete(actions);
        cJSON_Delete(indexes);
        return MIROIR_ENOMEM;
    }

    memcpy(k->uid, uid, MIROIR_APIKEY_UID_LEN + 1);
    miroir_apikey_value(master, mlen, k->uid, k->value);
    k->name = strdup(name);
    k->description = strdup(description);
    k->expires_at = MIROIR_APIKEY_NO_EXPIRY;
    k->created_at = now_ns;
    k->updated_at = now_ns;

    rc = miroir_apikey_set_lists(k, actions, indexes);

    cJSON_Delete(actions);
    cJSON_Delete(indexes);

    if (k->name == NULL || k->description == NULL) {
        rc = MIROIR_ENOMEM;
    }

    return rc;
}


miroir_rc_t
miroir_keystore_defaults(miroir_keystore_t *ks, const char *master,
    size_t mlen, int64_t now_ns)
{
    /* in creation order: a list shows the newest first, which is the
       order a fresh Meilisearch 1.50 lists its default keys in */
    static const struct {
        const char  *name;
        const char  *description;
        const char  *actions;
    } defaults[] = {
        { "Default Chat API Key",
          "Use it to chat and search from the frontend",
          "[\"chatCompletions\",\"search\"]" },
        { "Default Read-Only Admin API Key",
          "Use it to read information across the whole database. Caution! "
          "Do not expose this key on a public frontend",
          "[\"*.get\",\"keys.get\"]" },
        { "Default Admin API Key",
          "Use it for anything that is not a search operation. Caution! "
          "Do not expose it on a public frontend",
          "[\"*\"]" },
        { "Default Search API Key",
          "Use it to search from the frontend",
          "[\"search\"]" }
    };

    char         uid[MIROIR_APIKEY_UID_LEN + 1];
    size_t       i;
    miroir_rc_t  rc;

    for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        if (miroir_uuid_v4(uid) != MIROIR_OK) {
            return MIROIR_ERROR;
        }

        rc = miroir_keystore_add(ks, uid, defaults[i].name,
                                 defaults[i].description, defaults[i].actions,
                                 master, mlen, now_ns + (int64_t) i);
        if (rc != MIROIR_OK) {
            return rc;
        }
    }

    return MIROIR_OK;
}


static int
miroir_json_is_str_array(cJSON *a)
{
    cJSON  *it;

    if (!cJSON_IsArray(a)) {
        return 0;
    }

    cJSON_ArrayForEach(it, a) {
        if (!cJSON_IsString(it)) {
            return 0;
        }
    }

    return 1;
}


miroir_rc_t
miroir_keystore_load(miroir_keystore_t *ks, const char *text, size_t len,
    const char *master, size_t mlen)
{
    char              uid[MIROIR_APIKEY_UID_LEN + 1];
    cJSON            *root, *keys, *it, *f, *actions, *indexes;
    miroir_rc_t       rc;
    miroir_apikey_t  *k;

    memset(ks, 0, sizeof(*ks));

    root = cJSON_ParseWithLength(text, len);
    keys = cJSON_GetObjectItemCaseSensitive(root, "keys");

    if (!cJSON_IsArray(keys)) {
        cJSON_Delete(root);
        return MIROIR_EINVAL;
    }

    rc = MIROIR_OK;

    cJSON_ArrayForEach(it, keys) {
        f = cJSON_GetObjectItemCaseSensitive(it, "uid");
        actions = cJSON_GetObjectItemCaseSensitive(it, "actions");
        indexes = cJSON_GetObjectItemCaseSensitive(it, "indexes");

        if (!cJSON_IsString(f)
            || !miroir_uuid_parse(f->valuestring, strlen(f->valuestring), uid)
            || !miroir_json_is_str_array(actions)
            || !miroir_json_is_str_array(indexes))
        {
            rc = MIROIR_EINVAL;
            break;
        }

        k = miroir_keystore_push(ks);
        if (k == NULL) {
            rc = MIROIR_ENOMEM;
            break;
        }

        memcpy(k->uid, uid, sizeof(uid));
        miroir_apikey_value(master, mlen, k->uid, k->value);

        f = cJSON_GetObjectItemCaseSensitive(it, "name");
        k->name = cJSON_IsString(f) ? strdup(f->valuestring) : NULL;
        f = cJSON_GetObjectItemCaseSensitive(it, "description");
        k->description = cJSON_IsString(f) ? strdup(f->valuestring) : NULL;

        f = cJSON_GetObjectItemCaseSensitive(it, "expiresAt");
        k->expires_at = (cJSON_IsNumber(f) && f->valuedouble > -9.2e18
                         && f->valuedouble < 9.2e18)
                        ? (int64_t) f->valuedouble : MIROIR_APIKEY_NO_EXPIRY;

        /* nanoseconds exceed a double's precision: kept as strings */
        f = cJSON_GetObjectItemCaseSensitive(it, "createdAt");
        k->created_at = cJSON_IsString(f) ? strtoll(f->valuestring, NULL, 10)
                                          : 0;
        f = cJSON_GetObjectItemCaseSensitive(it, "updatedAt");
        k->updated_at = cJSON_IsString(f) ? strtoll(f->valuestring, NULL, 10)
                                          : k->created_at;

        rc = miroir_apikey_set_lists(k, actions, indexes);
        if (rc != MIROIR_OK) {
            break;
        }
    }

    cJSON_Delete(root);

    if (rc != MIROIR_OK) {
        miroir_keystore_free(ks);
    }

    return rc;
}


static cJSON *
miroir_apikey_lists(cJSON *o, const miroir_apikey_t *k)
{
    size_t  i;
    cJSON  *a, *ix;

    a = cJSON_AddArrayToObject(o, "actions");
    ix = cJSON_AddArrayToObject(o, "indexes");

    if (a == NULL || ix == NULL) {
        return NULL;
    }

    for (i = 0; i < k->nactions; i++) {
        if (!cJSON_AddItemToArray(a, cJSON_CreateString(
                                         miroir_action_name(k->actions[i]))))
        {
            return NULL;
        }
    }

    for (i = 0; i < k->nindexes; i++) {
        if (!cJSON_AddItemToArray(ix, cJSON_CreateString(k->indexes[i]))) {
            return NULL;
        }
    }

    return o;
}


char *
miroir_keystore_dump(const miroir_keystore_t *ks)
{
    char              num[32];
    char             *out;
    size_t            i;
    cJSON            *root, *keys, *o;
    miroir_apikey_t  *k;

    root = cJSON_CreateObject();
    keys = cJSON_AddArrayToObject(root, "keys");

    if (keys == NULL) {
        cJSON_Delete(root);
        return NULL;
    }

    for (i = 0; i < ks->n; i++) {
        k = &ks->keys[i];

        o = cJSON_CreateObject();
        if (o == NULL || !cJSON_AddItemToArray(keys, o)) {
            cJSON_Delete(o);
            cJSON_Delete(root);
            return NULL;
        }

        cJSON_AddStringToObject(o, "uid", k->uid);

        if (k->name) {
            cJSON_AddStringToObject(o, "name", k->name);
        }

        if (k->description) {
            cJSON_AddStringToObject(o, "description", k->description);
        }

        if (miroir_apikey_lists(o, k) == NULL) {
            cJSON_Delete(root);
            return NULL;
        }

        if (k->expires_at != MIROIR_APIKEY_NO_EXPIRY) {
            cJSON_AddNumberToObject(o, "expiresAt", (double) k->expires_at);
        }

        snprintf(num, sizeof(num), "%" PRId64, k->created_at);
        cJSON_AddStringToObject(o, "createdAt", num);
        snprintf(num, sizeof(num), "%" PRId64, k->updated_at);
        cJSON_AddStringToObject(o, "updatedAt", num);
    }

    out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);

    return out;
}


void
miroir_keystore_rekey(miroir_keystore_t *ks, const char *master, size_t mlen)
{
    size_t  i;

    for (i = 0; i < ks->n; i++) {
        miroir_apikey_value(master, mlen, ks->keys[i].uid,
                            ks->keys[i].value);
    }
}


long
miroir_keystore_find(const miroir_keystore_t *ks, const char *s, size_t len)
{
    char    uid[MIROIR_APIKEY_UID_LEN + 1];
    size_t  i;

    if (miroir_uuid_parse(s, len, uid)) {
        for (i = 0; i < ks->n; i++) {
            if (strcmp(ks->keys[i].uid, uid) == 0) {
                return (long) i;
            }
        }

        return -1;
    }

    return miroir_keystore_find_value(ks, s, len);
}


long
miroir_keystore_find_value(const miroir_keystore_t *ks, const char *token,
    size_t len)
{
    long    found;
    size_t  i;

    found = -1;

    /* every key is compared, in constant time each */

    for (i = 0; i < ks->n; i++) {
        if (miroir_ct_equal(ks->keys[i].value, MIROIR_APIKEY_HEX_LEN,
                            token, len))
        {
            found = (long) i;
        }
    }

    return found;
}


cJSON *
miroir_apikey_json(const miroir_apikey_t *k)
{
    char    date[64];
    cJSON  *o;

    o = cJSON_CreateObject();
    if (o == NULL) {
        return NULL;
    }

    if (!cJSON_AddItemToObject(o, "name", k->name
                                          ? cJSON_CreateString(k->name)
                                          : cJSON_CreateNull())
        || !cJSON_AddItemToObject(o, "description", k->description
                                         ? cJSON_CreateString(k->description)
                                         : cJSON_CreateNull())
        || cJSON_AddStringToObject(o, "key", k->value) == NULL
        || cJSON_AddStringToObject(o, "uid", k->uid) == NULL
        || miroir_apikey_lists(o, k) == NULL)
    {
        cJSON_Delete(o);
        return NULL;
    }

    if (k->expires_at == MIROIR_APIKEY_NO_EXPIRY) {
        cJSON_AddNullToObject(o, "expiresAt");

    } else {
        miroir_rfc3339(k->expires_at, 0, date, sizeof(date));
        cJSON_AddStringToObject(o, "expiresAt", date);
    }

    miroir_rfc3339(k->created_at / 1000000000,
                   (long) (k->created_at % 1000000000), date, sizeof(date));
    cJSON_AddStringToObject(o, "createdAt", date);

    miroir_rfc3339(k->updated_at / 1000000000,
                   (long) (k->updated_at % 1000000000), date, sizeof(date));

    if (cJSON_AddStringToObject(o, "updatedAt", date) == NULL) {
        cJSON_Delete(o);
        return NULL;
    }

    return o;
}


/* ------------------------------------------------------------ validation */

/* deserr's words for what a JSON value is. */
static const char *
miroir_json_kind(cJSON *v)
{
    if (cJSON_IsNull(v)) {
        return "null";
    }

    if (cJSON_IsBool(v)) {
        return "a boolean";
    }

    if (cJSON_IsString(v)) {
        return "a string";
    }

    if (cJSON_IsArray(v)) {
        return "an array";
    }

    if (cJSON_IsObject(v)) {
        return "an object";
    }

    if (v->valuedouble < -9.2e18 || v->valuedouble > 9.2e18
        || v->valuedouble != (double) (int64_t) v->valuedouble)
    {
        return "a number";
    }

    return v->valuedouble < 0 ? "a negative integer" : "a positive integer";
}


static int
miroir_bad_type(miroir_error_t *err, const char *code, const char *at,
    const char *expected, cJSON *v)
{
    char  *text;

    text = cJSON_PrintUnformatted(v);

    miroir_error_set(err, 400, code, "invalid_request",
                     "Invalid value type at `%s`: expected %s, but found "
                     "%s: `%.300s`", at, expected, miroir_json_kind(v),
                     text ? text : "");

    cJSON_free(text);

    return -1;
}


static int
miroir_bad_body(cJSON *root, miroir_error_t *err)
{
    if (root == NULL) {
        miroir_error_set(err, 400, "malformed_payload", "invalid_request",
                         "The json payload provided is malformed. `expected "
                         "value at line 1 column 1`.");
        return -1;
    }

    return miroir_bad_type(err, "bad_request", "", "an object", root) ;
}


/* An optional string member (name, description): null is allowed. */
static int
miroir_opt_string(cJSON *v, const char *at, const char *code,
    miroir_error_t *err)
{
    if (v == NULL || cJSON_IsNull(v) || cJSON_IsString(v)) {
        return 0;
    }

    return miroir_bad_type(err, code, at, "a string", v);
}


long
miroir_keystore_create(miroir_keystore_t *ks, const char *body, size_t len,
    const char *master, size_t mlen, int64_t now_ns, miroir_error_t *err)
{
    static const char *expected = "`description`, `name`, `uid`, `actions`, "
                                  "`indexes`, `expiresAt`";
    char               uid[MIROIR_APIKEY_UID_LEN + 1], at[64], *p;
    int                a, i;
    int64_t            exp;
    size_t             n, j;
    cJSON             *root, *f, *it, *name, *desc, *uidv, *actions;
    cJSON             *indexes, *expires;
    miroir_rc_t        rc;
    miroir_apikey_t   *k;

    root = cJSON_ParseWithLength(body, len);

    if (!cJSON_IsObject(root)) {
        miroir_bad_body(root, err);
        cJSON_Delete(root);
        return -1;
    }

    name = desc = uidv = actions = indexes = expires = NULL;
    exp = MIROIR_APIKEY_NO_EXPIRY;
    uid[0] = '\0';

    /* deserr reports the first bad member in body order, then the
       missing ones in the struct's order */

    cJSON_ArrayForEach(f, root) {
        if (strcmp(f->string, "description") == 0) {
            desc = f;
            if (miroir_opt_string(f, ".description",
                                  "invalid_api_key_description", err))
            {
                goto failed;
            }

        } else if (strcmp(f->string, "name") == 0) {
            name = f;
            if (miroir_opt_string(f, ".name", "invalid_api_key_name", err)) {
                goto failed;
            }

        } else if (strcmp(f->string, "uid") == 0) {
            uidv = f;

            if (!cJSON_IsString(f)) {
                miroir_bad_type(err, "invalid_api_key_uid", ".uid",
                                "a string", f);
                goto failed;
            }

            if (!miroir_uuid_parse(f->valuestring, strlen(f->valuestring),
                                   uid))
            {
                for (p = f->valuestring; *p; p++) {
                    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')
                          || (*p >= 'A' && *p <= 'F') || *p == '-'))
                    {
                        break;
                    }
                }

                if (*p) {
                    miroir_error_set(err, 400, "invalid_api_key_uid",
                                     "invalid_request",
                                     "Invalid value at `.uid`: invalid "
                                     "character: expected an optional prefix "
                                     "of `urn:uuid:` followed by "
                                     "[0-9a-fA-F-], found `%c` at %d",
                                     *p, (int) (p - f->valuestring) + 1);
                } else {
                    miroir_error_set(err, 400, "invalid_api_key_uid",
                                     "invalid_request",
                                     "Invalid value at `.uid`: invalid "
                                     "length: expected length 32 for simple "
                                     "format, found %d",
                                     (int) strlen(f->valuestring));
                }

                goto failed;
            }

        } else if (strcmp(f->string, "actions") == 0) {
            actions = f;

            if (!cJSON_IsArray(f)) {
                miroir_bad_type(err, "invalid_api_key_actions", ".actions",
                                "an array", f);
                goto failed;
            }

            i = 0;

            cJSON_ArrayForEach(it, f) {
                snprintf(at, sizeof(at), ".actions[%d]", i);

                if (!cJSON_IsString(it)) {
                    miroir_bad_type(err, "invalid_api_key_actions", at,
                                    "a string", it);
                    goto failed;
                }

                a = miroir_action_lookup(it->valuestring,
                                         strlen(it->valuestring));
                if (a < 0) {
                    char  list[2048];
                    size_t  l;

                    l = 0;
                    list[0] = '\0';

                    for (a = 0; a < MIROIR_ACT_N; a++) {
                        l += snprintf(list + l, sizeof(list) - l, "%s`%s`",
                                      a ? ", " : "", miroir_action_names[a]);
                        if (l >= sizeof(list)) {
                            break;
                        }
                    }

                    miroir_error_set(err, 400, "invalid_api_key_actions",
                                     "invalid_request",
                                     "Unknown value `%.200s` at `%s`: "
                                     "expected one of %s",
                                     it->valuestring, at, list);
                    goto failed;
                }

                i++;
            }

        } else if (strcmp(f->string, "indexes") == 0) {
            indexes = f;

            if (!cJSON_IsArray(f)) {
                miroir_bad_type(err, "invalid_api_key_indexes", ".indexes",
                                "an array", f);
                goto failed;
            }

            i = 0;

            cJSON_ArrayForEach(it, f) {
                snprintf(at, sizeof(at), ".indexes[%d]", i);

                if (!cJSON_IsString(it)) {
                    miroir_bad_type(err, "invalid_api_key_indexes", at,
                                    "a string", it);
                    goto failed;
                }

                if (!miroir_index_pattern_valid(it->valuestring,
                                                strlen(it->valuestring)))
                {
                    miroir_error_set(err, 400, "invalid_api_key_indexes",
                                     "invalid_request",
                                     "Invalid value at `%s`: `%.400s` is not "
                                     "a valid index uid pattern. Index uid "
                                     "patterns can be an integer or a string "
                                     "containing only alphanumeric "
                                     "characters, hyphens (-), underscores "
                                     "(_), and optionally end with a star "
                                     "(*).", at, it->valuestring);
                    goto failed;
                }

                i++;
            }

        } else if (strcmp(f->string, "expiresAt") == 0) {
            expires = f;

            if (cJSON_IsNull(f)) {
                continue;
            }

            if (!cJSON_IsString(f)) {
                miroir_bad_type(err, "invalid_api_key_expires_at",
                                ".expiresAt", "a string", f);
                goto failed;
            }

            if (!miroir_parse_date(f->valuestring, strlen(f->valuestring),
                                   &exp)
                || exp <= now_ns / 1000000000)
            {
                miroir_error_set(err, 400, "invalid_api_key_expires_at",
                                 "invalid_request",
                                 "Invalid value at `.expiresAt`: `%.300s` is "
                                 "not a valid date. It should follow the RFC "
                                 "3339 format to represents a date or "
                                 "datetime in the future or specified as a "
                                 "null value. e.g. 'YYYY-MM-DD' or "
                                 "'YYYY-MM-DD HH:MM:SS'.\n", f->valuestring);
                goto failed;
            }

        } else {
            miroir_error_set(err, 400, "bad_request", "invalid_request",
                             "Unknown field `%.200s`: expected one of %s",
                             f->string, expected);
            goto failed;
        }
    }

    if (actions == NULL) {
        miroir_error_set(err, 400, "missing_api_key_actions",
                         "invalid_request", "Missing field `actions`");
        goto failed;
    }

    if (indexes == NULL) {
        miroir_error_set(err, 400, "missing_api_key_indexes",
                         "invalid_request", "Missing field `indexes`");
        goto failed;
    }

    if (expires == NULL) {
        miroir_error_set(err, 400, "missing_api_key_expires_at",
                         "invalid_request", "Missing field `expiresAt`");
        goto failed;
    }

    if (uidv == NULL) {
        if (miroir_uuid_v4(uid) != MIROIR_OK) {
            miroir_error_set(err, 500, "internal", "internal",
                             "Cannot generate a key uid.");
            goto failed;
        }
    }

    for (j = 0; j < ks->n; j++) {
        if (strcmp(ks->keys[j].uid, uid) == 0) {
            miroir_error_set(err, 409, "api_key_already_exists",
                             "invalid_request",
                             "`uid` field value `%s` is already an existing "
                             "API key.", uid);
            goto failed;
        }
    }

    k = miroir_keystore_push(ks);
    if (k == NULL) {
        goto nomem;
    }

    memcpy(k->uid, uid, sizeof(uid));
    miroir_apikey_value(master, mlen, k->uid, k->value);
    k->name = miroir_strdup_or_null(cJSON_IsString(name) ? name->valuestring
                                                         : NULL);
    k->description = miroir_strdup_or_null(cJSON_IsString(desc)
                                           ? desc->valuestring : NULL);
    k->expires_at = exp;
    k->created_at = now_ns;
    k->updated_at = now_ns;

    rc = miroir_apikey_set_lists(k, actions, indexes);

    if (rc != MIROIR_OK || (cJSON_IsString(name) && k->name == NULL)
        || (cJSON_IsString(desc) && k->description == NULL))
    {
        miroir_apikey_clear(k);
        ks->n--;
        goto nomem;
    }

    n = ks->n - 1;
    cJSON_Delete(root);

    return (long) n;

nomem:

    miroir_error_set(err, 500, "internal", "internal", "Out of memory.");

failed:

    cJSON_Delete(root);

    return -1;
}


int
miroir_keystore_update(miroir_keystore_t *ks, size_t i, const char *body,
    size_t len, int64_t now_ns, miroir_error_t *err)
{
    static const struct {
        const char  *field;
        const char  *code;
    } immutable[] = {
        { "uid", "immutable_api_key_uid" },
        { "actions", "immutable_api_key_actions" },
        { "indexes", "immutable_api_key_indexes" },
        { "expiresAt", "immutable_api_key_expires_at" },
        { "createdAt", "immutable_api_key_created_at" },
        { "updatedAt", "immutable_api_key_updated_at" },
        { "key", "immutable_api_key_key" }
    };

    char              *s;
    size_t             j;
    cJSON             *root, *f, *name, *desc;
    miroir_apikey_t   *k;

    root = cJSON_ParseWithLength(body, len);

    if (!cJSON_IsObject(root)) {
        miroir_bad_body(root, err);
        cJSON_Delete(root);
        return -1;
    }

    name = desc = NULL;

    cJSON_ArrayForEach(f, root) {
        if (strcmp(f->string, "name") == 0) {
            name = f;
            if (miroir_opt_string(f, ".name", "invalid_api_key_name", err)) {
                goto failed;
            }

            continue;
        }

        if (strcmp(f->string, "description") == 0) {
            desc = f;
            if (miroir_opt_string(f, ".description",
                                  "invalid_api_key_description", err))
            {
                goto failed;
            }

            continue;
        }

        for (j = 0; j < sizeof(immutable) / sizeof(immutable[0]); j++) {
            if (strcmp(f->string, immutable[j].field) == 0) {
                miroir_error_set(err, 400, immutable[j].code,
                                 "invalid_request",
                                 "Immutable field `%s`: expected one of "
                                 "`description`, `name`", f->string);
                goto failed;
            }
        }

        miroir_error_set(err, 400, "bad_request", "invalid_request",
                         "Unknown field `%.200s`: expected one of "
                         "`description`, `name`", f->string);
        goto failed;
    }

    k = &ks->keys[i];

    if (name) {
        s = cJSON_IsString(name) ? strdup(name->valuestring) : NULL;
        if (cJSON_IsString(name) && s == NULL) {
            goto nomem;
        }

        free(k->name);
        k->name = s;
    }

    if (desc) {
        s = cJSON_IsString(desc) ? strdup(desc->valuestring) : NULL;
        if (cJSON_IsString(desc) && s == NULL) {
            goto nomem;
        }

        free(k->description);
        k->description = s;
    }

    k->updated_at = now_ns;

    cJSON_Delete(root);

    return 0;

nomem:

    miroir_error_set(err, 500, "internal", "internal", "Out of memory.");

failed:

    cJSON_Delete(root);

    return -1;
}


void
miroir_keystore_delete(miroir_keystore_t *ks, size_t i)
{
    miroir_apikey_clear(&ks->keys[i]);

    memmove(&ks->keys[i], &ks->keys[i + 1],
            (ks->n - i - 1) * sizeof(miroir_apikey_t));
    ks->n--;
}


/* A query parameter as a non-negative integer (Meilisearch's usize). */
static int
miroir_param_uint(const char *s, size_t len, const char *name, size_t *out,
    const char *code, miroir_error_t *err)
{
    size_t  i, v;

    v = 0;

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (SIZE_MAX - 9) / 10) {
            break;
        }

        v = v * 10 + (size_t) (s[i] - '0');
    }

    if (len == 0 || i < len) {
        miroir_error_set(err, 400, code, "invalid_request",
                         "Invalid value in parameter `%s`: could not parse "
                         "`%.*s` as a positive integer", name,
                         (int) (len > 200 ? 200 : len), s);
        return -1;
    }

    *out = v;

    return 0;
}


char *
miroir_keystore_list(const miroir_keystore_t *ks, const char *offset,
    size_t olen, const char *limit, size_t llen, miroir_error_t *err)
{
    char    *out;
    size_t   off, lim, i, n;
    cJSON   *root, *results, *o;

    off = 0;
    lim = 20;

    if (offset && miroir_param_uint(offset, olen, "offset", &off,
                                    "invalid_api_key_offset", err))
    {
        return NULL;
    }

    if (limit && miroir_param_uint(limit, llen, "limit", &lim,
                                   "invalid_api_key_limit", err))
    {
        return NULL;
    }

    root = cJSON_CreateObject();
    results = cJSON_AddArrayToObject(root, "results");

    if (results == NULL) {
        goto nomem;
    }

    /* the newest first */

    for (i = off, n = 0; i < ks->n && n < lim; i++, n++) {
        o = miroir_apikey_json(&ks->keys[ks->n - 1 - i]);
        if (o == NULL || !cJSON_AddItemToArray(results, o)) {
            cJSON_Delete(o);
            goto nomem;
        }
    }

    if (cJSON_AddNumberToObject(root, "offset", (double) off) == NULL
        || cJSON_AddNumberToObject(root, "limit", (double) lim) == NULL
        || cJSON_AddNumberToObject(root, "total", (double) ks->n) == NULL)
    {
        goto nomem;
    }

    out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);

    if (out == NULL) {
        goto nomem;
    }

    return out;

nomem:

    cJSON_Delete(root);
    miroir_error_set(err, 500, "internal", "internal", "Out of memory.");

    return NULL;
}


/* ------------------------------------------------------------ authorize */

int
miroir_apikey_index_ok(const miroir_apikey_t *k, const char *index,
    size_t ilen)
{
    size_t  i;

    for (i = 0; i < k->nindexes; i++) {
        if (miroir_index_pattern_match(k->indexes[i], strlen(k->indexes[i]),
                                       index, ilen))
        {
            return 1;
        }
    }

    return 0;
}


int
miroir_apikey_allows(const miroir_apikey_t *k, int action, const char *index,
    size_t ilen, int64_t now, miroir_error_t *err)
{
    char    list[1024];
    size_t  i, l;

    if (index && !miroir_apikey_index_ok(k, index, ilen)) {
        /* Rust's Debug of the pattern list: ["a", "b*"] */
        l = 0;
        list[0] = '\0';

        for (i = 0; i < k->nindexes && l < sizeof(list); i++) {
            l += snprintf(list + l, sizeof(list) - l, "%s\"%s\"",
                          i ? ", " : "", k->indexes[i]);
        }

        miroir_error_set(err, 403, "invalid_api_key", "auth",
                         "The API key cannot acces the index `%.*s`, "
                         "authorized indexes are [%s].",
                         (int) (ilen > 400 ? 400 : ilen), index, list);
        return 0;
    }

    /* a wildcard action (POST documents/edit needs "documents.*") is
       granted when all it covers is */

    if (action < 0 || action >= MIROIR_ACT_N
        || (k->mask & miroir_action_covers(action))
           != miroir_action_covers(action)
        || (k->expires_at != MIROIR_APIKEY_NO_EXPIRY && now >= k->expires_at))
    {
        miroir_error_set(err, 403, "invalid_api_key", "auth",
                         "The provided API key is invalid.");
        return 0;
    }

    return 1;
}
