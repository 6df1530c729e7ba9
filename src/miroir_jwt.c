/*
 * miroir_jwt.c -- Meilisearch tenant tokens (see the header).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "miroir_apikey.h"
#include "miroir_jwt.h"


static const char  miroir_b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


static int
miroir_b64url_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }

    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    if (c == '-') {
        return 62;
    }

    if (c == '_') {
        return 63;
    }

    return -1;
}


long
miroir_b64url_decode(const char *in, size_t len, unsigned char *out,
    char *msg, size_t msize)
{
    int       v, last;
    size_t    i, o;
    uint32_t  acc;

    /* the base64 crate's checks: bytes, padding, length, last symbol */

    for (i = 0; i < len; i++) {
        if (in[i] == '=') {
            snprintf(msg, msize, "Invalid padding");
            return -1;
        }

        if (miroir_b64url_val((unsigned char) in[i]) < 0) {
            snprintf(msg, msize, "Invalid symbol %u, offset %zu.",
                     (unsigned char) in[i], i);
            return -1;
        }
    }

    if (len % 4 == 1) {
        snprintf(msg, msize, "Invalid input length.");
        return -1;
    }

    if (len % 4) {
        last = miroir_b64url_val((unsigned char) in[len - 1]);

        if ((len % 4 == 2 && (last & 0x0f)) || (len % 4 == 3 && (last & 0x03)))
        {
            snprintf(msg, msize, "Invalid last symbol %u, offset %zu.",
                     (unsigned char) in[len - 1], len - 1);
            return -1;
        }
    }

    acc = 0;
    o = 0;

    for (i = 0; i < len; i++) {
        v = miroir_b64url_val((unsigned char) in[i]);
        acc = (acc << 6) | (uint32_t) v;

        if (i % 4 == 3) {
            out[o++] = (unsigned char) (acc >> 16);
            out[o++] = (unsigned char) (acc >> 8);
            out[o++] = (unsigned char) acc;
            acc = 0;
        }
    }

    if (len % 4 == 2) {
        out[o++] = (unsigned char) (acc >> 4);

    } else if (len % 4 == 3) {
        out[o++] = (unsigned char) (acc >> 10);
        out[o++] = (unsigned char) (acc >> 2);
    }

    return (long) o;
}


size_t
miroir_b64url_encode(const unsigned char *in, size_t len, char *out)
{
    size_t    i, o;
    uint32_t  v;

    for (i = 0, o = 0; i + 2 < len; i += 3) {
        v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];
        out[o++] = miroir_b64url[(v >> 18) & 63];
        out[o++] = miroir_b64url[(v >> 12) & 63];
        out[o++] = miroir_b64url[(v >> 6) & 63];
        out[o++] = miroir_b64url[v & 63];
    }

    if (len - i == 1) {
        v = (uint32_t) in[i] << 16;
        out[o++] = miroir_b64url[(v >> 18) & 63];
        out[o++] = miroir_b64url[(v >> 12) & 63];

    } else if (len - i == 2) {
        v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8;
        out[o++] = miroir_b64url[(v >> 18) & 63];
        out[o++] = miroir_b64url[(v >> 12) & 63];
        out[o++] = miroir_b64url[(v >> 6) & 63];
    }

    out[o] = '\0';

    return o;
}


static int
miroir_jwt_error(miroir_error_t *err, const char *what)
{
    miroir_error_set(err, 403, "invalid_api_key", "auth",
                     "Could not decode tenant token, %s.", what);
    return MIROIR_JWT_BAD;
}


/* Decode one base64url part into a NUL-terminated malloc()ed buffer. */
static char *
miroir_jwt_part(const char *in, size_t len, size_t *olen, miroir_error_t *err)
{
    char   msg[128], what[160];
    long   n;
    char  *out;

    out = malloc(len / 4 * 3 + 4);
    if (out == NULL) {
        miroir_jwt_error(err, "out of memory");
        return NULL;
    }

    n = miroir_b64url_decode(in, len, (unsigned char *) out, msg, sizeof(msg));
    if (n < 0) {
        free(out);
        snprintf(what, sizeof(what), "Base64 error: %s", msg);
        miroir_jwt_error(err, what);
        return NULL;
    }

    out[n] = '\0';
    *olen = (size_t) n;

    return out;
}


static int
miroir_jwt_json_error(miroir_error_t *err, const char *what, size_t col)
{
    char  buf[512];

    snprintf(buf, sizeof(buf), "JSON error: %s at line 1 column %zu", what,
             col);

    return miroir_jwt_error(err, buf);
}


static int
miroir_jwt_rules_valid(const cJSON *rules)
{
    const cJSON  *it;

    if (cJSON_IsArray(rules)) {
        cJSON_ArrayForEach(it, rules) {
            if (!cJSON_IsString(it)
                || !miroir_index_pattern_valid(it->valuestring,
                                               strlen(it->valuestring)))
            {
                return 0;
            }
        }

        return 1;
    }

    if (cJSON_IsObject(rules)) {
        cJSON_ArrayForEach(it, rules) {
            if (!miroir_index_pattern_valid(it->string, strlen(it->string))
                || !(cJSON_IsNull(it) || cJSON_IsObject(it)))
            {
                return 0;
            }
        }

        return 1;
    }

    return 0;
}


int
miroir_jwt_decode(miroir_jwt_t *jwt, const char *token, size_t len,
    miroir_error_t *err)
{
    static const char *algs[] = {
        "HS256", "HS384", "HS512", "ES256", "ES384", "RS256", "RS384",
        "RS512", "PS256", "PS384", "PS512", "EdDSA"
    };

    char         buf[256];
    char        *text;
    size_t       hlen, plen, tlen, i;
    cJSON       *h, *c, *f;
    const char  *dot1, *dot2;

    memset(jwt, 0, sizeof(*jwt));

    /* jsonwebtoken: rsplitn(2, '.') twice; fewer than two dots is not a
       token at all (and the header then holds every extra dot) */

    dot2 = NULL;

    for (i = len; i > 0; i--) {
        if (token[i - 1] == '.') {
            dot2 = token + i - 1;
            break;
        }
    }

    if (dot2 == NULL) {
        return MIROIR_JWT_NOT_TOKEN;
    }

    dot1 = NULL;

    for (i = (size_t) (dot2 - token); i > 0; i--) {
        if (token[i - 1] == '.') {
            dot1 = token + i - 1;
            break;
        }
    }

    if (dot1 == NULL) {
        return MIROIR_JWT_NOT_TOKEN;
    }

    jwt->token = token;
    jwt->msg_len = (size_t) (dot2 - token);
    jwt->sig = dot2 + 1;
    jwt->sig_len = len - jwt->msg_len - 1;

    /* the header */

    text = miroir_jwt_part(token, (size_t) (dot1 - token), &tlen, err);
    if (text == NULL) {
        return MIROIR_JWT_BAD;
    }

    h = cJSON_ParseWithLength(text, tlen);

    if (!cJSON_IsObject(h)) {
        cJSON_Delete(h);
        free(text);
        return miroir_jwt_json_error(err, "expected value", 1);
    }

    f = cJSON_GetObjectItemCaseSensitive(h, "alg");

    if (f == NULL) {
        cJSON_Delete(h);
        free(text);
        return miroir_jwt_json_error(err, "missing field `alg`", tlen);
    }

    for (i = 0; cJSON_IsString(f) && i < sizeof(algs) / sizeof(algs[0]); i++)
    {
        if (strcmp(f->valuestring, algs[i]) == 0) {
            break;
        }
    }

    if (!cJSON_IsString(f) || i == sizeof(algs) / sizeof(algs[0])) {
        snprintf(buf, sizeof(buf), "unknown variant `%.64s`, expected one "
                 "of `HS256`, `HS384`, `HS512`, `ES256`, `ES384`, `RS256`, "
                 "`RS384`, `RS512`, `PS256`, `PS384`, `PS512`, `EdDSA`",
                 cJSON_IsString(f) ? f->valuestring : "");
        cJSON_Delete(h);
        free(text);
        return miroir_jwt_json_error(err, buf, tlen);
    }

    jwt->alg = i == 0 ? 256 : (i == 1 ? 384 : (i == 2 ? 512 : 0));

    cJSON_Delete(h);
    free(text);

    /* the claims */

    hlen = (size_t) (dot1 - token);
    plen = jwt->msg_len - hlen - 1;

    text = miroir_jwt_part(dot1 + 1, plen, &tlen, err);
    if (text == NULL) {
        return MIROIR_JWT_BAD;
    }

    c = cJSON_ParseWithLength(text, tlen);
    free(text);

    if (!cJSON_IsObject(c)) {
        cJSON_Delete(c);
        return miroir_jwt_json_error(err, c ? "invalid type: expected struct "
                                              "Claims" : "expected value",
                                     1);
    }

    f = cJSON_GetObjectItemCaseSensitive(c, "searchRules");

    if (f == NULL) {
        cJSON_Delete(c);
        return miroir_jwt_json_error(err, "missing field `searchRules`",
                                     tlen);
    }

    if (!miroir_jwt_rules_valid(f)) {
        cJSON_Delete(c);
        return miroir_jwt_json_error(err, "data did not match any variant "
                                          "of untagged enum SearchRules",
                                     tlen);
    }

    jwt->rules = cJSON_DetachItemViaPointer(c, f);

    f = cJSON_GetObjectItemCaseSensitive(c, "exp");

    if (f && !cJSON_IsNull(f)) {
        if (!cJSON_IsNumber(f) || f->valuedouble < -9.2e18
            || f->valuedouble > 9.2e18
            || f->valuedouble != (double) (int64_t) f->valuedouble)
        {
            cJSON_Delete(c);
            miroir_jwt_free(jwt);
            return miroir_jwt_json_error(err, "invalid type: expected i64",
                                         tlen);
        }

        jwt->has_exp = 1;
        jwt->exp = (int64_t) f->valuedouble;
    }

    f = cJSON_GetObjectItemCaseSensitive(c, "apiKeyUid");

    if (f == NULL) {
        cJSON_Delete(c);
        miroir_jwt_free(jwt);
        return miroir_jwt_json_error(err, "missing field `apiKeyUid`", tlen);
    }

    if (!cJSON_IsString(f)
        || !miroir_uuid_parse(f->valuestring, strlen(f->valuestring),
                              jwt->api_key_uid))
    {
        cJSON_Delete(c);
        miroir_jwt_free(jwt);
        return miroir_jwt_json_error(err, "UUID parsing failed", tlen);
    }

    /* jsonwebtoken's validation: an audience nobody expects */

    if (cJSON_GetObjectItemCaseSensitive(c, "aud")) {
        cJSON_Delete(c);
        miroir_jwt_free(jwt);
        return miroir_jwt_error(err, "InvalidAudience");
    }

    cJSON_Delete(c);

    return MIROIR_JWT_OK;
}


int
miroir_jwt_verify(const miroir_jwt_t *jwt, const char *secret, size_t slen,
    int64_t now, miroir_error_t *err)
{
    char            expect[EVP_MAX_MD_SIZE * 2];
    size_t          elen;
    unsigned int    mdlen;
    unsigned char   md[EVP_MAX_MD_SIZE];
    const EVP_MD   *evp;

    switch (jwt->alg) {
    case 256:
        evp = EVP_sha256();
        break;
    case 384:
        evp = EVP_sha384();
        break;
    case 512:
        evp = EVP_sha512();
        break;
    default:
        return miroir_jwt_error(err, "InvalidAlgorithm");
    }

    mdlen = 0;

    if (HMAC(evp, secret, (int) slen, (const unsigned char *) jwt->token,
             jwt->msg_len, md, &mdlen) == NULL)
    {
        return miroir_jwt_error(err, "InvalidSignature");
    }

    /* jsonwebtoken compares the base64 texts */

    elen = miroir_b64url_encode(md, mdlen, expect);

    if (!miroir_ct_equal(expect, elen, jwt->sig, jwt->sig_len)) {
        return miroir_jwt_error(err, "InvalidSignature");
    }

    if (jwt->has_exp && now > jwt->exp) {
        miroir_error_set(err, 403, "invalid_api_key", "auth",
                         "Tenant token expired. Was valid up to `%lld` and "
                         "we're now `%lld`.", (long long) jwt->exp,
                         (long long) now);
        return MIROIR_JWT_BAD;
    }

    return MIROIR_JWT_OK;
}


void
miroir_jwt_free(miroir_jwt_t *jwt)
{
    cJSON_Delete(jwt->rules);
    jwt->rules = NULL;
}


int
miroir_jwt_rules_allow(const cJSON *rules, const char *index, size_t ilen)
{
    const cJSON  *it;
    const char   *pat;

    if (!cJSON_IsArray(rules) && !cJSON_IsObject(rules)) {
        return 0;
    }

    cJSON_ArrayForEach(it, rules) {
        pat = cJSON_IsArray(rules) ? it->valuestring : it->string;

        if (pat && miroir_index_pattern_match(pat, strlen(pat), index, ilen)) {
            return 1;
        }
    }

    return 0;
}


const cJSON *
miroir_jwt_rules_filter(const cJSON *rules, const char *index, size_t ilen)
{
    int           exact, best_exact;
    size_t        plen, best_len;
    const cJSON  *it, *best;

    if (!cJSON_IsObject(rules)) {
        return NULL;            /* a list of patterns imposes no filter */
    }

    best = NULL;
    best_exact = 0;
    best_len = 0;

    cJSON_ArrayForEach(it, rules) {
        plen = strlen(it->string);

        if (!miroir_index_pattern_match(it->string, plen, index, ilen)) {
            continue;
        }

        exact = plen == 0 || it->string[plen - 1] != '*';

        if (best == NULL || exact > best_exact
            || (exact == best_exact && plen > best_len))
        {
            best = it;
            best_exact = exact;
            best_len = plen;
        }
    }

    if (best == NULL || !cJSON_IsObject(best)) {
        return NULL;
    }

    it = cJSON_GetObjectItemCaseSensitive(best, "filter");

    return (it == NULL || cJSON_IsNull(it)) ? NULL : it;
}


char *
miroir_jwt_rules_list(const cJSON *rules)
{
    char         *out;
    size_t        len, n;
    const cJSON  *it;
    const char   *pat;

    len = 3;

    cJSON_ArrayForEach(it, rules) {
        pat = cJSON_IsArray(rules) ? it->valuestring : it->string;
        len += (pat ? strlen(pat) : 0) + 4;
    }

    out = malloc(len);
    if (out == NULL) {
        return NULL;
    }

    n = 0;
    out[n++] = '[';

    cJSON_ArrayForEach(it, rules) {
        pat = cJSON_IsArray(rules) ? it->valuestring : it->string;

        n += (size_t) snprintf(out + n, len - n, "%s\"%s\"", n > 1 ? ", " : "",
                               pat ? pat : "");
    }

    out[n++] = ']';
    out[n] = '\0';

    return out;
}


/* ------------------------------------------------------------ filters */

typedef struct {
    char    *p;
    size_t   len;
    size_t   cap;
    int      nomem;
} miroir_jwt_buf_t;


static void
miroir_jwt_put(miroir_jwt_buf_t *b, const char *s)
{
    char    *p;
    size_t   n, cap;

    n = strlen(s);

    if (b->nomem) {
        return;
    }

    if (b->len + n + 1 > b->cap) {
        cap = (b->len + n + 1) * 2;

        p = realloc(b->p, cap);
        if (p == NULL) {
            b->nomem = 1;
            return;
        }

        b->p = p;
        b->cap = cap;
    }

    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
}


static int
miroir_jwt_blank(const char *s)
{
    for (; *s; s++) {
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') {
            return 0;
        }
    }

    return 1;
}


char *
miroir_jwt_filter_expr(const char *json, size_t len, int *empty)
{
    int                first, ofirst;
    cJSON             *j, *it, *leaf;
    miroir_jwt_buf_t   b;

    *empty = 0;

    j = cJSON_ParseWithLength(json, len);
    if (j == NULL) {
        return NULL;
    }

    memset(&b, 0, sizeof(b));

    if (cJSON_IsNull(j)
        || (cJSON_IsString(j) && miroir_jwt_blank(j->valuestring)))
    {
        cJSON_Delete(j);
        *empty = 1;
        return NULL;
    }

    if (cJSON_IsString(j)) {
        miroir_jwt_put(&b, "(");
        miroir_jwt_put(&b, j->valuestring);
        miroir_jwt_put(&b, ")");
        goto done;
    }

    if (!cJSON_IsArray(j)) {
        cJSON_Delete(j);
        return NULL;
    }

    first = 1;

    cJSON_ArrayForEach(it, j) {
        if (cJSON_IsString(it)) {
            if (miroir_jwt_blank(it->valuestring)) {
                continue;
            }

            miroir_jwt_put(&b, first ? "(" : " AND (");
            miroir_jwt_put(&b, it->valuestring);
            miroir_jwt_put(&b, ")");
            first = 0;
            continue;
        }

        if (!cJSON_IsArray(it)) {
            goto invalid;
        }

        ofirst = 1;

        cJSON_ArrayForEach(leaf, it) {
            if (!cJSON_IsString(leaf)) {
                goto invalid;
            }

            if (miroir_jwt_blank(leaf->valuestring)) {
                continue;
            }

            if (ofirst) {
                miroir_jwt_put(&b, first ? "((" : " AND ((");
                first = 0;

            } else {
                miroir_jwt_put(&b, " OR (");
            }

            miroir_jwt_put(&b, leaf->valuestring);
            miroir_jwt_put(&b, ")");
            ofirst = 0;
        }

        if (!ofirst) {
            miroir_jwt_put(&b, ")");
        }
    }

    if (first) {
        cJSON_Delete(j);
        free(b.p);
        *empty = 1;
        return NULL;
    }

done:

    cJSON_Delete(j);

    if (b.nomem) {
        free(b.p);
        return NULL;
    }

    return b.p;

invalid:

    cJSON_Delete(j);
    free(b.p);

    return NULL;
}
