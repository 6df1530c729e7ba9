/*
 * fuzz_config.c -- libFuzzer target for the miroir_cluster values Miroir
 * parses itself (src/miroir_conf_value.c).
 *
 * The input is a configuration line, cut into tokens at blanks and ';' as
 * nginx would (quotes are left in the tokens, as nginx does for a quote
 * inside a token).  Every token goes through every value parser; the
 * tokens after "node ID ADDRESS" also as node parameters, in order.
 * Checks: no crash, no read outside the token; the integer parser agrees
 * with a reference (digits only, at most INT64_MAX); the id, quorum and
 * flag answers agree with their definitions; an accepted weight is
 * 1..10000, an accepted key is a non-empty part of its token that lost
 * at most one pair of matching quotes; a refused parameter changes
 * nothing.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "miroir_conf_value.h"


#define MAX_TOKENS  64


static int
is_blank(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';';
}


/* The reference for miroir_conf_uint(): digits only, by strtoull(). */
static int
ref_uint(const char *s, size_t len, uint64_t *out)
{
    char                copy[24];
    size_t              i;
    unsigned long long  v;

    if (len == 0) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }

    /* leading zeros, then at most 19 digits (INT64_MAX has 19) */

    while (len > 1 && s[0] == '0') {
        s++;
        len--;
    }

    if (len > 19) {
        return 0;
    }

    memcpy(copy, s, len);
    copy[len] = '\0';

    errno = 0;
    v = strtoull(copy, NULL, 10);

    if (errno == ERANGE || v > INT64_MAX) {
        return 0;
    }

    *out = v;

    return 1;
}


static int
ref_id(const char *s, size_t len)
{
    size_t  i;

    if (len == 0 || len >= MIROIR_NODE_ID_LEN) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                   "0123456789_-", s[i]) == NULL || s[i] == '\0')
        {
            return 0;
        }
    }

    return 1;
}


static int
is(const char *s, size_t len, const char *w)
{
    return len == strlen(w) && memcmp(s, w, len) == 0;
}


static void
check_param(const char *s, size_t len, miroir_conf_node_t *node)
{
    uint64_t               w;
    miroir_conf_node_t     before;
    miroir_conf_node_rc_t  rc;

    before = *node;

    rc = miroir_conf_node_param(s, len, node);

    if (rc != MIROIR_CONF_NODE_OK) {
        if (memcmp(&before, node, sizeof(before)) != 0) {
            abort();
        }
    }

    switch (rc) {

    case MIROIR_CONF_NODE_OK:
        if (len >= 7 && memcmp(s, "weight=", 7) == 0) {
            if (!ref_uint(s + 7, len - 7, &w) || w != node->weight
                || node->key != before.key)
            {
                abort();
            }

        } else if (len >= 4 && memcmp(s, "key=", 4) == 0) {
            if (node->key == NULL || node->key_len == 0
                || node->weight != before.weight)
            {
                abort();
            }

            if (node->key == s + 4) {
                if (node->key_len != len - 4) {
                    abort();
                }

            } else if (node->key != s + 5 || node->key_len != len - 6
                       || (s[4] != '"' && s[4] != '\'')
                       || s[len - 1] != s[4])
            {
                abort();
            }

        } else {
            abort();
        }

        if (node->weight < 1 || node->weight > MIROIR_CONF_MAX_WEIGHT) {
            abort();
        }

        break;

    case MIROIR_CONF_NODE_BAD_WEIGHT:
        if (len < 7 || memcmp(s, "weight=", 7) != 0
            || (ref_uint(s + 7, len - 7, &w)
                && w >= 1 && w <= MIROIR_CONF_MAX_WEIGHT))
        {
            abort();
        }

        break;

    case MIROIR_CONF_NODE_EMPTY_KEY:
        if (!(is(s, len, "key=") || is(s, len, "key=\"\"")
              || is(s, len, "key=''")))
        {
            abort();
        }

        break;

    case MIROIR_CONF_NODE_UNKNOWN:
        if ((len >= 7 && memcmp(s, "weight=", 7) == 0)
            || (len >= 4 && memcmp(s, "key=", 4) == 0))
        {
            abort();
        }

        break;

    default:
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                  q, f;
    char                *buf;
    size_t               i, n, start, len[MAX_TOKENS];
    uint64_t             v, r;
    const char          *tok[MAX_TOKENS];
    miroir_conf_node_t   node;

    /* a copy of exactly size bytes: ASan sees any read past a token's end
       that runs past the input */

    buf = malloc(size ? size : 1);
    if (buf == NULL) {
        return 0;
    }

    memcpy(buf, data, size);

    n = 0;
    i = 0;

    while (i < size && n < MAX_TOKENS) {
        while (i < size && is_blank((uint8_t) buf[i])) {
            i++;
        }

        if (i == size) {
            break;
        }

        start = i;

        while (i < size && !is_blank((uint8_t) buf[i])) {
            i++;
        }

        tok[n] = buf + start;
        len[n] = i - start;
        n++;
    }

    miroir_conf_node_init(&node);

    for (i = 0; i < n; i++) {
        v = 7;

        if (miroir_conf_uint(tok[i], len[i], &v) == MIROIR_OK) {
            if (!ref_uint(tok[i], len[i], &r) || r != v) {
                abort();
            }

        } else if (v != 7 || ref_uint(tok[i], len[i], &r)) {
            abort();
        }

        if (miroir_conf_node_id_valid(tok[i], len[i])
            != ref_id(tok[i], len[i]))
        {
            abort();
        }

        q = miroir_conf_quorum(tok[i], len[i]);

        if (q != (is(tok[i], len[i], "all") ? 0
                  : is(tok[i], len[i], "majority") ? 1
                  : is(tok[i], len[i], "one") ? 2 : -1))
        {
            abort();
        }

        f = miroir_conf_flag(tok[i], len[i]);

        if (f != (is(tok[i], len[i], "on") ? 1
                  : is(tok[i], len[i], "off") ? 0 : -1))
        {
            abort();
        }

        /* "node ID ADDRESS" then parameters, in order */

        if (i >= 3 || (n > 0 && !is(tok[0], len[0], "node"))) {
            check_param(tok[i], len[i], &node);
        }
    }

    free(buf);

    return 0;
}
