/*
 * miroir_table.h -- the stateful shard table: the next shard -> owners
 * table computed incrementally from the current one.
 *
 * The router (miroir_router.h) builds a balanced table from a node list,
 * but no pure function of the node list is both balanced and minimal in
 * movement.  Once a cluster has a table, the table itself (persisted by
 * the glue) is the truth, and each topology change derives the next
 * table from it:
 *
 *   - copies held by nodes that may no longer own (draining, removed,
 *     or an index past the old table) are each given to the least loaded
 *     eligible node that does not own the shard yet (load = copies held /
 *     target copies), ties broken by the higher HRW score; so a drain or
 *     a removal moves only the shards the node held;
 *   - then, when a node is named as the "focus" of the change (a node
 *     just added or reweighted), it is brought to its target
 *     round(R * S * w / W): while under it, it takes one copy from the
 *     currently most loaded owner of a shard it does not hold, choosing
 *     among that owner's shards the one where the focus node's HRW score
 *     is highest; while over it, it gives its copy with the highest HRW
 *     score of the receiver to the least loaded eligible non-owner.  An
 *     add therefore moves copies only onto the new node, about
 *     R * S * w / W of them.
 *
 * A moved copy takes the slot of the copy it replaces, so the order (and
 * the owner fields _miroir_o*) of the owners that stay is unchanged.
 * Eligible owners: ACTIVE, JOINING and DOWN nodes (a down node keeps its
 * shards; replacing a dead node is a drain or a forced removal).
 * The result is deterministic for a given input.
 */

#ifndef MIROIR_TABLE_H
#define MIROIR_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "miroir_common.h"
#include "miroir_error.h"
#include "miroir_router.h"


/*
 * Compute the next table.
 *
 * old:      the current table: old->nshards, old->rf, old->owners; its
 *           node indexes refer to nodes[] (old->nnodes <= nnodes; nodes
 *           appended since are new).
 * nodes:    the node list after the change (weights, states), nnodes.
 * focus:    index in nodes[] of the node added or reweighted, or -1.
 * prefer:   NULL, or a table (same shape as old) whose owners are the
 *           preferred receivers of evacuated copies: when changes stack
 *           (old is a pending target), passing the table the data follows
 *           now sends a copy back to a node that still holds it, so adding
 *           a node and removing it again moves nothing.
 * owners:   output, old->nshards * old->rf entries (may alias
 *           old->owners).
 *
 * @return MIROIR_OK; MIROIR_EINVAL (err: 400 miroir_invalid_topology)
 *         when fewer than rf nodes may own, or for a bad argument;
 *         MIROIR_ENOMEM.  owners is untouched on error.
 */
miroir_rc_t miroir_table_next(const miroir_route_table_t *old,
    const miroir_node_t *nodes, size_t nnodes, int32_t focus,
    const uint16_t *prefer, uint16_t *owners, miroir_error_t *err);

/* 1 if a node in this state may own shard copies in a table. */
int miroir_table_eligible(miroir_node_state_e state);


#endif /* MIROIR_TABLE_H */
