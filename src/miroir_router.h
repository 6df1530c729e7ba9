/*
 * miroir_router.h -- shard placement: which nodes own which shard.
 *
 * A document's shard is miroir_shard_of() of its canonical primary key.
 * The owners of a shard are chosen by weighted rendezvous hashing (HRW)
 * refined by a capacity bound (see below), and precomputed once per
 * topology version into a shard -> owners table: routing a request is a
 * table lookup, never an HRW loop.
 *
 * Hash (must never change, every copy of the data depends on it):
 *
 *     h(node, s) = XXH3_64bits_withSeed(node id bytes, strlen(id), seed = s)
 *     u(node, s) = ((h >> 11) + 0.5) / 2^53                 in (0, 1)
 *     score      = weight / -ln(u)                          (= -w / ln u)
 *
 * Nodes are ranked per shard by score, highest first; when all nodes have
 * the same weight the ranking compares h >> 11 directly (same order, no
 * floating point).  Ties (probability 2^-53) fall back to the full h, then
 * to strcmp() of the ids.
 *
 * Balance refinement.  Plain HRW picks every shard independently, so with
 * S = 1024 shards over 16 nodes (64 each) the fullest node holds about
 * 1.23x the mean for RF 1 (measured over 200 node sets).  The router
 * therefore caps each node: level by level (primary, then 2nd copy, ...)
 * node x may hold at most ceil(balance * (level+1) * S * w_x / W) copies
 * at levels <= level, W the sum of the weights of the nodes that may own.
 * Shards are placed by shard-proposing deferred acceptance: each shard
 * asks its nodes in HRW order, a full node keeps the shards it scores
 * highest and rejects the others, who try their next node.  The result
 * is the unique shard-optimal stable assignment: it depends only on the
 * node list, not on any processing order, and every shard still gets its
 * best-ranked nodes whenever those have room.  A shard that finds no room
 * anywhere (extreme weights) takes its best-ranked non-owner regardless.
 * With unequal weights a last top-up pass lets a node left under
 * floor(target / balance) copies (a heavy node cannot hold two copies of
 * one shard, so it is under-filled when rf > 1) take, one at a time, the
 * shard it scores highest among those with an owner above its target.
 * balance = 0 disables the bound: plain HRW.
 *
 * Movement.  Plain HRW (balance 0) is strictly minimal: adding a node
 * moves copies only onto it, removing one moves only the copies it held.
 * No table that is a function of the node list alone can be strictly
 * minimal for every node set and also balanced better than independent
 * per-shard choices (strict minimality forces a per-shard ranking of the
 * nodes); the bound trades a few extra moves between old nodes (when a
 * node's cap changes) for balance.  The planner moves whatever differs,
 * so both modes are safe; balance 0 is the "minimal movement" mode.
 *
 * Node states: a "removed" node owns nothing.  In the target table (the
 * topology being migrated to) "draining" nodes own nothing and "joining"
 * ones do; in the current table (what the data looks like now) draining
 * nodes still own and joining ones do not.  "down" nodes own in both
 * (failover is the read planner's job).
 */

#ifndef MIROIR_ROUTER_H
#define MIROIR_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "miroir_common.h"
#include "miroir_error.h"


typedef enum {
    MIROIR_NODE_ACTIVE = 0,
    MIROIR_NODE_JOINING,
    MIROIR_NODE_DRAINING,
    MIROIR_NODE_DOWN,
    MIROIR_NODE_REMOVED
} miroir_node_state_e;

typedef enum {
    MIROIR_ROUTE_CURRENT = 0,
    MIROIR_ROUTE_TARGET
} miroir_route_kind_e;


typedef struct {
    const char            *id;       /* 1..MIROIR_NODE_ID_LEN bytes */
    double                 weight;   /* > 0 and finite */
    miroir_node_state_e    state;
} miroir_node_t;


/*
 * The default capacity factor.  Measured over 30 random 16-node sets,
 * S = 1024 (docs/core-router.md): 1.05 keeps every node within 1.06x of
 * its share for RF 1..3, while adding a node moves on average 1.08-1.14x
 * the minimal R*S/(N+1) copies (some of them between old nodes).  1.0
 * balances perfectly but moves 1.28-1.32x; 0 (plain HRW) moves exactly
 * the minimum but leaves the fullest node at 1.13-1.24x.
 */
#define MIROIR_ROUTER_BALANCE  1.05

typedef struct {
    uint32_t               nshards;  /* MIROIR_MIN_SHARDS..MAX_SHARDS */
    uint32_t               rf;       /* 1..MIROIR_MAX_RF */
    miroir_route_kind_e    kind;
    double                 balance;  /* >= 1.0, or 0 for plain HRW */
} miroir_router_conf_t;


typedef struct {
    miroir_route_table_t   table;     /* points into the fields below */
    uint16_t              *owners;    /* nshards * rf, HRW order */
    char                 **node_ids;  /* private copies, nnodes */
    double                *weights;
    miroir_node_state_e   *states;
    uint32_t              *copies;    /* copies held, per node */
    uint32_t              *primaries; /* shards led, per node */
} miroir_router_t;


/*
 * Build the shard -> owners table for nodes[0..nnodes-1] (node i keeps
 * index i in the table, whatever its state).
 *
 * @pre   nodes != NULL, 1 <= nnodes <= MIROIR_MAX_NODES, ids distinct.
 * @return MIROIR_OK and *out (free with miroir_router_free());
 *         MIROIR_EINVAL (err filled, status 400 code "miroir_invalid_topology")
 *         for a bad argument or when rf exceeds the number of nodes that
 *         may own shards in this kind of table;
 *         MIROIR_ENOMEM.  *out is untouched on error.
 */
miroir_rc_t miroir_router_create(const miroir_router_conf_t *conf,
    const miroir_node_t *nodes, size_t nnodes, miroir_router_t **out,
    miroir_error_t *err);

/* @note r may be NULL. */
void miroir_router_free(miroir_router_t *r);


/* The table, valid until miroir_router_free(r). */
static inline const miroir_route_table_t *
miroir_router_table(const miroir_router_t *r)
{
    return &r->table;
}

/*
 * Owners of shard s: rt->rf node indexes, HRW order (primary first).
 * @pre s < rt->nshards.
 */
static inline const uint16_t *
miroir_route_owners(const miroir_route_table_t *rt, uint32_t s)
{
    return rt->owners + (size_t) s * rt->rf;
}

/* Shard of a canonical primary key (see miroir_shard_of()). */
static inline uint32_t
miroir_route_shard(const miroir_route_table_t *rt, const void *key,
    size_t len)
{
    return miroir_shard_of(key, len, rt->nshards);
}

/*
 * Count, for each node, the shard copies it holds (copies) and the shards
 * it leads (primaries); either output may be NULL.
 * @pre arrays hold rt->nnodes entries.
 */
void miroir_route_counts(const miroir_route_table_t *rt, uint32_t *copies,
    uint32_t *primaries);

/*
 * The HRW score of node id (weight w) for shard s, as defined above.
 * Exposed for tests and for the admin API's "why" answer.
 */
double miroir_router_score(const char *id, double w, uint32_t s);

/* Index of the node called id in rt, or -1. */
int miroir_route_node_index(const miroir_route_table_t *rt, const char *id);


#endif /* MIROIR_ROUTER_H */
