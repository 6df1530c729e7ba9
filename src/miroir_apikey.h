/*
 * miroir_apikey.h -- Meilisearch API keys: actions, index patterns, key
 * values, the key store and the authorization decision.
 *
 * Every node of a cluster has its own master key, so Miroir keeps the
 * cluster's keys itself and derives their values from the cluster master
 * key exactly as Meilisearch does: lower-hex HMAC-SHA256(master key, uid).
 * Clients therefore see the keys one Meilisearch with that master key
 * would have.  No nginx header here; the store is plain malloc()ed memory.
 */

#ifndef MIROIR_APIKEY_H
#define MIROIR_APIKEY_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "miroir_common.h"
#include "miroir_error.h"


#define MIROIR_APIKEY_UID_LEN   36      /* hyphenated lower-case UUID */
#define MIROIR_APIKEY_HEX_LEN   64      /* hex HMAC-SHA256 */


/* Every action Meilisearch 1.50 knows, in the order its errors list them. */
typedef enum {
    MIROIR_ACT_ALL = 0,
    MIROIR_ACT_SEARCH,
    MIROIR_ACT_DOCUMENTS_ALL,
    MIROIR_ACT_DOCUMENTS_ADD,
    MIROIR_ACT_DOCUMENTS_GET,
    MIROIR_ACT_DOCUMENTS_DELETE,
    MIROIR_ACT_INDEXES_ALL,
    MIROIR_ACT_INDEXES_CREATE,
    MIROIR_ACT_INDEXES_GET,
    MIROIR_ACT_INDEXES_UPDATE,
    MIROIR_ACT_INDEXES_DELETE,
    MIROIR_ACT_INDEXES_SWAP,
    MIROIR_ACT_TASKS_ALL,
    MIROIR_ACT_TASKS_CANCEL,
    MIROIR_ACT_TASKS_DELETE,
    MIROIR_ACT_TASKS_GET,
    MIROIR_ACT_SETTINGS_ALL,
    MIROIR_ACT_SETTINGS_GET,
    MIROIR_ACT_SETTINGS_UPDATE,
    MIROIR_ACT_STATS_ALL,
    MIROIR_ACT_STATS_GET,
    MIROIR_ACT_METRICS_ALL,
    MIROIR_ACT_METRICS_GET,
    MIROIR_ACT_DUMPS_ALL,
    MIROIR_ACT_DUMPS_CREATE,
    MIROIR_ACT_SNAPSHOTS_ALL,
    MIROIR_ACT_SNAPSHOTS_CREATE,
    MIROIR_ACT_VERSION,
    MIROIR_ACT_KEYS_CREATE,
    MIROIR_ACT_KEYS_GET,
    MIROIR_ACT_KEYS_UPDATE,
    MIROIR_ACT_KEYS_DELETE,
    MIROIR_ACT_EXPERIMENTAL_GET,
    MIROIR_ACT_EXPERIMENTAL_UPDATE,
    MIROIR_ACT_EXPORT,
    MIROIR_ACT_NETWORK_GET,
    MIROIR_ACT_NETWORK_UPDATE,
    MIROIR_ACT_CHAT_COMPLETIONS,
    MIROIR_ACT_CHATS_ALL,
    MIROIR_ACT_CHATS_GET,
    MIROIR_ACT_CHATS_DELETE,
    MIROIR_ACT_CHATS_SETTINGS_ALL,
    MIROIR_ACT_CHATS_SETTINGS_GET,
    MIROIR_ACT_CHATS_SETTINGS_UPDATE,
    MIROIR_ACT_ALL_GET,
    MIROIR_ACT_WEBHOOKS_GET,
    MIROIR_ACT_WEBHOOKS_UPDATE,
    MIROIR_ACT_WEBHOOKS_DELETE,
    MIROIR_ACT_WEBHOOKS_CREATE,
    MIROIR_ACT_WEBHOOKS_ALL,
    MIROIR_ACT_INDEXES_COMPACT,
    MIROIR_ACT_FIELDS_POST,
    MIROIR_ACT_TASKS_COMPACT,
    MIROIR_ACT_DSR_GET,
    MIROIR_ACT_DSR_CREATE,
    MIROIR_ACT_DSR_UPDATE,
    MIROIR_ACT_DSR_DELETE,
    MIROIR_ACT_DSR_ALL,
    MIROIR_ACT_N
} miroir_action_e;


/* The action named s (len bytes), or -1. */
int miroir_action_lookup(const char *s, size_t len);
const char *miroir_action_name(int action);

/* The basic actions (bits 1 << id) action grants: itself, or what a
 * wildcard such as "*", "documents.*" or "*.get" expands to. */
uint64_t miroir_action_covers(int action);


/* Is s a valid index uid pattern ("*", or [A-Za-z0-9_-]+ with an
 * optional trailing '*')? */
int miroir_index_pattern_valid(const char *s, size_t len);

/* Does pattern (exact, or "prefix*") match the index uid? */
int miroir_index_pattern_match(const char *pat, size_t plen,
    const char *index, size_t ilen);


/* out (65 bytes) = lower-hex HMAC-SHA256(master, uid), NUL-terminated. */
void miroir_apikey_value(const char *master, size_t mlen, const char *uid,
    char *out);

/* Constant-time equality of two byte strings (time depends on blen only). */
int miroir_ct_equal(const char *a, size_t alen, const char *b, size_t blen);

/* A random version 4 UUID, lower-case hyphenated, NUL-terminated (37). */
miroir_rc_t miroir_uuid_v4(char *out);

/* Parse a UUID in any case, optionally hyphenless or "urn:uuid:"-prefixed;
 * out (37) receives the canonical form.  Returns 1 when valid. */
int miroir_uuid_parse(const char *s, size_t len, char *out);


#define MIROIR_APIKEY_NO_EXPIRY  INT64_MIN

typedef struct {
    char        uid[MIROIR_APIKEY_UID_LEN + 1];
    char        value[MIROIR_APIKEY_HEX_LEN + 1];
    char       *name;           /* NULL: null */
    char       *description;    /* NULL: null */
    uint8_t    *actions;        /* ids as given, in order */
    size_t      nactions;
    uint64_t    mask;           /* basic actions granted */
    char      **indexes;        /* patterns as given */
    size_t      nindexes;
    int64_t     expires_at;     /* Unix seconds, or MIROIR_APIKEY_NO_EXPIRY */
    int64_t     created_at;     /* Unix nanoseconds */
    int64_t     updated_at;
} miroir_apikey_t;


/* The keys of a cluster, in creation order (lists show the newest first). */
typedef struct {
    miroir_apikey_t    *keys;
    size_t              n;
    size_t              cap;
} miroir_keystore_t;


void miroir_keystore_free(miroir_keystore_t *ks);

/* The four keys a fresh Meilisearch with a master key creates. */
miroir_rc_t miroir_keystore_defaults(miroir_keystore_t *ks,
    const char *master, size_t mlen, int64_t now_ns);

/* Load the persisted form (miroir_keystore_dump()); values are derived
 * from master.  @pre ks holds nothing (its content would not be freed).
 * On error ks is left empty. */
miroir_rc_t miroir_keystore_load(miroir_keystore_t *ks, const char *text,
    size_t len, const char *master, size_t mlen);

/* The persisted form (malloc()ed JSON text), or NULL: ENOMEM. */
char *miroir_keystore_dump(const miroir_keystore_t *ks);

/* Recompute every key value for another master key. */
void miroir_keystore_rekey(miroir_keystore_t *ks, const char *master,
    size_t mlen);

/* The key whose uid or value is s, or -1. */
long miroir_keystore_find(const miroir_keystore_t *ks, const char *s,
    size_t len);

/* The key whose value is token (constant time per key), or -1. */
long miroir_keystore_find_value(const miroir_keystore_t *ks,
    const char *token, size_t len);

/*
 * POST /keys: validate body (JSON text) as Meilisearch does and append the
 * key.  Returns the new key's index, or -1 with err set (400, 409).
 */
long miroir_keystore_create(miroir_keystore_t *ks, const char *body,
    size_t len, const char *master, size_t mlen, int64_t now_ns,
    miroir_error_t *err);

/* PATCH /keys/:k: only name and description change.  0 or -1 with err. */
int miroir_keystore_update(miroir_keystore_t *ks, size_t i, const char *body,
    size_t len, int64_t now_ns, miroir_error_t *err);

void miroir_keystore_delete(miroir_keystore_t *ks, size_t i);

/* The public JSON object of key i (with its "key" value). */
cJSON *miroir_apikey_json(const miroir_apikey_t *k);

/*
 * GET /keys: the list page as JSON text (malloc()ed); offset and limit as
 * their query strings (NULL: absent).  NULL with err set on a bad value.
 */
char *miroir_keystore_list(const miroir_keystore_t *ks, const char *offset,
    size_t olen, const char *limit, size_t llen, miroir_error_t *err);


/*
 * Is key k allowed to run action on index (NULL: a route without an
 * index)?  Checks, like Meilisearch: the index against the key's patterns
 * (error naming them), then the action and the expiry ("The provided API
 * key is invalid.").  Returns 1, or 0 with err set (403 invalid_api_key).
 */
int miroir_apikey_allows(const miroir_apikey_t *k, int action,
    const char *index, size_t ilen, int64_t now, miroir_error_t *err);

/* Does some pattern of k cover index? */
int miroir_apikey_index_ok(const miroir_apikey_t *k, const char *index,
    size_t ilen);


/* Time helpers. */
size_t miroir_rfc3339(int64_t sec, long nsec, char *buf, size_t size);

/* Parse an RFC 3339 date-time, "YYYY-MM-DD" or "YYYY-MM-DD HH:MM:SS"
 * (UTC) into Unix seconds.  Returns 1 when valid. */
int miroir_parse_date(const char *s, size_t len, int64_t *sec);


#endif /* MIROIR_APIKEY_H */
