/*
 * miroir_jwt.h -- Meilisearch tenant tokens: HS256/HS384/HS512 JWTs signed
 * with an API key's value, carrying apiKeyUid, searchRules and exp.
 *
 * Decoding follows Meilisearch (jsonwebtoken 9): the claims are read
 * first without checking the signature (to learn apiKeyUid and so the
 * secret), then the algorithm and the signature are checked, then exp.
 * Errors carry Meilisearch's messages ("Could not decode tenant token,
 * InvalidSignature.", "Tenant token expired. ...").  No nginx header.
 */

#ifndef MIROIR_JWT_H
#define MIROIR_JWT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "miroir_common.h"
#include "miroir_error.h"


typedef struct {
    char            api_key_uid[37];
    int             alg;        /* 256, 384, 512; 0: not an HMAC algorithm */
    int             has_exp;
    int64_t         exp;
    cJSON          *rules;      /* searchRules: array or object, owned */

    const char     *token;
    size_t          msg_len;    /* "header.payload" */
    const char     *sig;
    size_t          sig_len;
} miroir_jwt_t;


#define MIROIR_JWT_OK         0
#define MIROIR_JWT_NOT_TOKEN  1     /* not three parts: try it as a key */
#define MIROIR_JWT_BAD       -1     /* err set */

/*
 * Read token (len bytes) without checking its signature.  jwt->token points
 * into token, which must outlive jwt.  On MIROIR_JWT_OK call
 * miroir_jwt_free().  err: 403 invalid_api_key "Could not decode tenant
 * token, ...".
 */
int miroir_jwt_decode(miroir_jwt_t *jwt, const char *token, size_t len,
    miroir_error_t *err);

/* Check the algorithm, the signature with secret, then exp against now
 * (Unix seconds).  Returns MIROIR_JWT_OK or MIROIR_JWT_BAD with err. */
int miroir_jwt_verify(const miroir_jwt_t *jwt, const char *secret,
    size_t slen, int64_t now, miroir_error_t *err);

void miroir_jwt_free(miroir_jwt_t *jwt);


/* Do the search rules name (a pattern matching) index? */
int miroir_jwt_rules_allow(const cJSON *rules, const char *index,
    size_t ilen);

/*
 * The filter the rules impose on index: the rule of the most specific
 * matching pattern (exact first, then the longest), as Meilisearch picks
 * it.  Returns its "filter" value (borrowed from rules), or NULL when none.
 */
const cJSON *miroir_jwt_rules_filter(const cJSON *rules, const char *index,
    size_t ilen);

/* The rules' patterns as Rust's Debug of a list: ["a", "b*"] (malloc()ed) */
char *miroir_jwt_rules_list(const cJSON *rules);

/*
 * A filter in JSON form (a string, or an array whose items are strings,
 * AND-ed, or arrays of strings, OR-ed) as one filter expression, each part
 * parenthesised so it can be AND-ed with anything: "(a) AND ((b) OR (c))".
 * Returns a malloc()ed string, NULL with *empty = 1 when the filter is
 * empty ("", [], null), or NULL with *empty = 0 when the shape is wrong or
 * memory ran out.
 */
char *miroir_jwt_filter_expr(const char *json, size_t len, int *empty);


/* base64url without padding, as JWTs use it.  Returns the decoded length
 * or -1 with the Base64 error text (jsonwebtoken's words) in msg. */
long miroir_b64url_decode(const char *in, size_t len, unsigned char *out,
    char *msg, size_t msize);

size_t miroir_b64url_encode(const unsigned char *in, size_t len, char *out);


#endif /* MIROIR_JWT_H */
