/*
 * miroir_common.h -- types shared by every part of the nginx-free core.
 *
 * The core (src/miroir_*.c without the ngx_ prefix) includes no nginx
 * header: it is plain C11, unit-tested with Check and fuzzed directly.
 * Memory it returns is malloc()ed and released by the matching *_free()
 * function; the nginx glue ties those calls to a pool cleanup.
 */

#ifndef MIROIR_COMMON_H
#define MIROIR_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <xxhash.h>


/* One result code for the whole core. */
typedef enum {
    MIROIR_OK = 0,
    MIROIR_ERROR,        /* generic failure, details in a miroir_error_t */
    MIROIR_ENOMEM,       /* allocation failed; outputs untouched */
    MIROIR_EINVAL,       /* bad argument or bad input */
    MIROIR_AGAIN         /* streaming parser needs more input */
} miroir_rc_t;


#define MIROIR_MAX_NODES     256
#define MIROIR_MAX_RF        3
#define MIROIR_MIN_SHARDS    1
#define MIROIR_MAX_SHARDS    65536
#define MIROIR_NODE_ID_LEN   64     /* max bytes of a node id */


/*
 * The routing table of one topology version: owners of shard s are
 * owners[s * rf + 0 .. s * rf + rf - 1], node indexes in HRW order
 * (the first is the shard's primary).  node_ids[i] is node i's id.
 * Built by the router (miroir_router.h), read by the splitter, the read
 * planner and the rebalancer.
 */
typedef struct {
    uint32_t             nshards;
    uint32_t             rf;
    uint32_t             nnodes;
    const uint16_t      *owners;
    const char *const   *node_ids;
} miroir_route_table_t;


/*
 * The shard of a document: xxh3_64 of its primary key in canonical form
 * (a string id as its unescaped UTF-8 bytes, an integer id as its decimal
 * digits), modulo the number of shards.
 */
static inline uint32_t
miroir_shard_of(const void *key, size_t len, uint32_t nshards)
{
    return (uint32_t) (XXH3_64bits(key, len) % nshards);
}


#endif /* MIROIR_COMMON_H */
