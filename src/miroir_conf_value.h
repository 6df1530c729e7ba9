/*
 * miroir_conf_value.h -- the values of a miroir_cluster block that
 * Miroir parses itself (sizes and times are nginx's ngx_parse_size() and
 * ngx_parse_time(), node addresses ngx_parse_url()):
 *
 *   shards N; replication R; keepalive N; rebalance_concurrency N;
 *   rebalance_rate N;                         unsigned integers
 *   write_quorum all|majority|one;
 *   allow_partial on|off; stable_ties on|off; hedge_after off|TIME;
 *   node ID ADDRESS [weight=W] [key=K];       id and parameters
 *
 * Tokens are (pointer, length) pairs: nginx's ngx_str_t, not C strings.
 */

#ifndef MIROIR_CONF_VALUE_H
#define MIROIR_CONF_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "miroir_common.h"


#define MIROIR_CONF_MAX_WEIGHT  10000


/* An unsigned decimal integer: digits only, at least one, at most
 * INT64_MAX (the rules of nginx's ngx_atoi()). */
miroir_rc_t miroir_conf_uint(const char *s, size_t len, uint64_t *out);

/* A node id of the configuration: 1 to MIROIR_NODE_ID_LEN - 1 bytes among
 * A-Z a-z 0-9 _ - (ids end up in filters and JSON). */
int miroir_conf_node_id_valid(const char *s, size_t len);

/* write_quorum: 0 all, 1 majority, 2 one (NGX_MIROIR_QUORUM_*), -1 for
 * anything else. */
int miroir_conf_quorum(const char *s, size_t len);

/* on: 1, off: 0, anything else: -1. */
int miroir_conf_flag(const char *s, size_t len);


/* What the parameters of a node line set. */
typedef struct {
    unsigned      weight;       /* 1..MIROIR_CONF_MAX_WEIGHT; 1 by default */
    const char   *key;          /* into the token; NULL when no key= */
    size_t        key_len;
} miroir_conf_node_t;

typedef enum {
    MIROIR_CONF_NODE_OK = 0,
    MIROIR_CONF_NODE_BAD_WEIGHT,        /* weight= not 1..10000 */
    MIROIR_CONF_NODE_EMPTY_KEY,         /* key= or key="" */
    MIROIR_CONF_NODE_UNKNOWN            /* neither weight= nor key= */
} miroir_conf_node_rc_t;

/* Initialise node to the defaults (weight 1, no key). */
void miroir_conf_node_init(miroir_conf_node_t *node);

/*
 * One parameter after "node ID ADDRESS": weight=W or key=K (a later one
 * overrides an earlier one).  nginx keeps quotes that do not open a
 * token, so key="K" and key='K' lose one pair of matching quotes.
 */
miroir_conf_node_rc_t miroir_conf_node_param(const char *s, size_t len,
    miroir_conf_node_t *node);


#endif /* MIROIR_CONF_VALUE_H */
