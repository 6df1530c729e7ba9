/*
 * miroir_conf_value.c -- the values of a miroir_cluster block that Miroir
 * parses itself (see miroir_conf_value.h).
 */

#include <string.h>

#include "miroir_conf_value.h"


miroir_rc_t
miroir_conf_uint(const char *s, size_t len, uint64_t *out)
{
    size_t    i;
    uint64_t  v, d;

    if (len == 0) {
        return MIROIR_EINVAL;
    }

    v = 0;

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return MIROIR_EINVAL;
        }

        d = (uint64_t) (s[i] - '0');

        if (v > (INT64_MAX - d) / 10) {
            return MIROIR_EINVAL;
        }

        v = v * 10 + d;
    }

    *out = v;

    return MIROIR_OK;
}


int
miroir_conf_node_id_valid(const char *s, size_t len)
{
    size_t  i;
    char    c;

    if (len == 0 || len >= MIROIR_NODE_ID_LEN) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-'))
        {
            return 0;
        }
    }

    return 1;
}


static int
miroir_conf_is(const char *s, size_t len, const char *word)
{
    return len == strlen(word) && memcmp(s, word, len) == 0;
}


int
miroir_conf_quorum(const char *s, size_t len)
{
    if (miroir_conf_is(s, len, "all")) {
        return 0;
    }

    if (miroir_conf_is(s, len, "majority")) {
        return 1;
    }

    if (miroir_conf_is(s, len, "one")) {
        return 2;
    }

    return -1;
}


int
miroir_conf_flag(const char *s, size_t len)
{
    if (miroir_conf_is(s, len, "on")) {
        return 1;
    }

    if (miroir_conf_is(s, len, "off")) {
        return 0;
    }

    return -1;
}


void
miroir_conf_node_init(miroir_conf_node_t *node)
{
    node->weight = 1;
    node->key = NULL;
    node->key_len = 0;
}


miroir_conf_node_rc_t
miroir_conf_node_param(const char *s, size_t len, miroir_conf_node_t *node)
{
    uint64_t     w;
    size_t       klen;
    const char  *k;

    if (len >= 7 && memcmp(s, "weight=", 7) == 0) {
        if (miroir_conf_uint(s + 7, len - 7, &w) != MIROIR_OK
            || w < 1 || w > MIROIR_CONF_MAX_WEIGHT)
        {
            return MIROIR_CONF_NODE_BAD_WEIGHT;
        }

        node->weight = (unsigned) w;

        return MIROIR_CONF_NODE_OK;
    }

    if (len >= 4 && memcmp(s, "key=", 4) == 0) {
        k = s + 4;
        klen = len - 4;

        if (klen >= 2 && (k[0] == '"' || k[0] == '\'')
            && k[klen - 1] == k[0])
        {
            k++;
            klen -= 2;
        }

        if (klen == 0) {
            return MIROIR_CONF_NODE_EMPTY_KEY;
        }

        node->key = k;
        node->key_len = klen;

        return MIROIR_CONF_NODE_OK;
    }

    return MIROIR_CONF_NODE_UNKNOWN;
}
