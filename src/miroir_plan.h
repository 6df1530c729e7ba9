/*
 * miroir_plan.h -- the rebalance plan: the diff of two route tables.
 *
 * Given the table the data follows now (old) and the table of the target
 * topology (new), the plan lists per shard whose owners differ the old
 * and new owner lists, and the shard copies to move.  Nodes are matched
 * by id, so the two tables may list different nodes in different orders;
 * they must have the same number of shards (changing S is a re-shard,
 * not a rebalance).  The rf may differ.
 *
 * A move {shard, from, to} means, in this order:
 *   1. copy the shard's documents to `to` (from `source`, or any live old
 *      owner) and wait until `to` holds them all;
 *   2. only then delete them from `from`.
 * from = -1: a new copy, nothing to delete (rf grew); to = -1: a copy to
 * delete only (rf shrank).  Moves are listed in execution order: first
 * the new copies (from = -1) of shards that keep none of their old
 * owners (their source is an old owner that a later move deletes), then
 * all other moves that add a copy, spread across destinations (the k-th
 * move to each node comes in round k, rounds in order, shards ascending
 * inside a round), then the delete-only moves.  Done one after the
 * other, or several at once as long as each obeys 1-2 and a phase-0
 * copy ends before the other moves of its shard start, every shard keeps
 * at least min(old rf, new rf) copies at every moment, and its old
 * copies serve until the switch.
 *
 * Dry run JSON (miroir_plan_json()):
 *
 *   {"moves":[{"shard":12,"from":"n1","to":"n4"},
 *             {"shard":40,"from":null,"to":"n2"}, ...],
 *    "shardsMoving":k,        shards whose owner set changes
 *    "copiesMoved":m,         moves with a destination (copies to make)
 *    "shardsRelabeled":r}     shards whose owner set is kept but whose
 *                             order (hence _miroir_o*) changes
 */

#ifndef MIROIR_PLAN_H
#define MIROIR_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "miroir_common.h"
#include "miroir_error.h"


typedef struct {
    uint32_t    shard;
    int32_t     from;      /* node index in the old table, or -1 */
    int32_t     to;        /* node index in the new table, or -1 */
    int32_t     source;    /* old-table index to copy from: an old owner
                              that keeps the shard if any, else `from`
                              (see ordering); -1 when to == -1 */
} miroir_plan_move_t;


typedef struct {
    uint32_t    shard;
    uint16_t    old_owners[MIROIR_MAX_RF];   /* old table indexes, HRW */
    uint16_t    new_owners[MIROIR_MAX_RF];   /* new table indexes, HRW */
    unsigned    moving:1;                    /* owner set changes */
    unsigned    relabel:1;                   /* only the order changes */
} miroir_plan_shard_t;


typedef struct {
    const miroir_route_table_t  *old;        /* borrowed, see create */
    const miroir_route_table_t  *new;

    miroir_plan_move_t          *moves;      /* execution order */
    size_t                       nmoves;

    miroir_plan_shard_t         *shards;     /* changed shards, ascending */
    size_t                       nshards;

    uint32_t                     shards_moving;
    uint32_t                     copies_moved;
    uint32_t                     shards_relabeled;
} miroir_plan_t;


/*
 * Diff old and new.
 *
 * @pre    old and new outlive the plan (it keeps pointers to them).
 * @return MIROIR_OK and *out (free with miroir_plan_free());
 *         MIROIR_EINVAL (err: 400 miroir_invalid_topology) when the shard
 *         counts differ; MIROIR_ENOMEM.  *out untouched on error.
 */
miroir_rc_t miroir_plan_create(const miroir_route_table_t *old,
    const miroir_route_table_t *new, miroir_plan_t **out,
    miroir_error_t *err);

/* @note p may be NULL. */
void miroir_plan_free(miroir_plan_t *p);

/*
 * Render the dry run JSON shown above (unformatted, NUL-terminated;
 * release with free()).  @return NULL on ENOMEM.
 */
char *miroir_plan_json(const miroir_plan_t *p);


#endif /* MIROIR_PLAN_H */
