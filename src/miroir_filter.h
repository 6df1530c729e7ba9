/*
 * miroir_filter.h -- filter composition and read plans for the read path.
 *
 * A search sent to a node carries the user's filter AND-ed with a
 * restriction that selects the shard copies this node must answer.  The
 * composition never changes what the user's filter means and never lets
 * it escape the restriction:
 *
 *   user filter absent / null      ->  "<restriction>"
 *   user filter a string  U        ->  "(U) AND (<restriction>)"
 *   user filter an array  [a, ...] ->  [a, ..., "<restriction>"]
 *
 * (the array form is kept: Meilisearch parses every element on its own,
 * and its outer array is an AND, the way it combines tenant-token rules).
 * A string U is parenthesised only after miroir_filter_check() proved it
 * balanced, with terminated quotes and no ambiguous escape; otherwise the
 * search fails with invalid_search_filter (400) before any node is asked.
 *
 * Restrictions are filter expressions over the reserved fields
 * _miroir_shard and _miroir_o0.._miroir_o2 (the owners of the document's
 * shard in HRW order).  Node ids are written as double-quoted values,
 * with '"' and '\' escaped by a backslash.  Keep node ids to letters,
 * digits, '-', '_' and '.' anyway: Meilisearch only documents '\"'.
 *
 * All strings returned are malloc()ed and NUL-terminated: release with
 * free() (miroir_filter_free() is a synonym for the glue's cleanups).
 */

#ifndef MIROIR_FILTER_H
#define MIROIR_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "miroir_common.h"
#include "miroir_error.h"


/*
 * Check that a user filter string can be parenthesised safely: its
 * parentheses and brackets balance outside quotes, every quote is closed,
 * quotes open only at the start of a token and close at its end, and no
 * quoted value contains "\\" (which Meilisearch and Miroir could read
 * differently).  It does not check the filter's grammar: the nodes do.
 *
 * @pre   s != NULL unless len == 0.
 * @return MIROIR_OK, or MIROIR_EINVAL with err set to invalid_search_filter
 *         (400) naming the column of the problem.
 */
miroir_rc_t miroir_filter_check(const char *s, size_t len,
    miroir_error_t *err);

/*
 * Compose the filter to send to one node.
 *
 * @param user      the "filter" member of the search request as JSON text
 *                  (a string, an array, or null), or NULL/len 0 if absent.
 * @param restr     the restriction (a filter expression), or NULL.
 * @param out       receives the JSON text of the filter to send, or NULL
 *                  when there is no filter at all.
 * @return MIROIR_OK; MIROIR_EINVAL with err = invalid_search_filter (400)
 *         when the user filter has the wrong JSON shape or fails
 *         miroir_filter_check(); MIROIR_ENOMEM.  *out untouched on error.
 */
miroir_rc_t miroir_filter_compose(const char *user, size_t len,
    const char *restr, char **out, miroir_error_t *err);


/*
 * Write id as a quoted filter value ("n2", with '"' and '\' escaped) into
 * buf (NUL-terminated, truncated to size).
 * @return the length needed, like snprintf.
 */
size_t miroir_filter_quote(const char *id, char *buf, size_t size);

/* The normal read restriction: _miroir_o0 = "<id>".  @return NULL: ENOMEM */
char *miroir_filter_leader(const char *id);

/*
 * The failover restriction for reader node `reader`: selects exactly the
 * shards of rt whose first owner, in HRW order, that is not down is the
 * reader.  It is an OR of one term per owner position k:
 *
 *   _miroir_o0 = "Y" OR (_miroir_o0 = "X" AND _miroir_o1 = "Y")
 *     OR (_miroir_o0 IN ["X", "Z"] AND _miroir_o1 IN [...] AND
 *         _miroir_o2 = "Y")
 *
 * where each earlier position lists only the down nodes that actually
 * appear there in front of Y, "=" when there is one of them; terms that
 * match no shard of rt are left out.  With no down node in front of Y it
 * is miroir_filter_leader(Y).
 *
 * @param down   rt->nnodes flags (non-zero = unavailable), or NULL.
 * @return MIROIR_OK with *out (NULL when the reader answers no shard);
 *         MIROIR_EINVAL if reader is out of range or down; MIROIR_ENOMEM.
 */
miroir_rc_t miroir_filter_reader(const miroir_route_table_t *rt,
    const uint8_t *down, uint16_t reader, char **out);

/*
 * A shard list, "_miroir_shard IN [3, 17]", or with negate
 * "_miroir_shard EXISTS AND NOT _miroir_shard IN [3, 17]" (every other
 * shard, for the shards in migration).
 * @pre shards != NULL, n > 0.  @return NULL: ENOMEM.
 */
char *miroir_filter_shards(const uint32_t *shards, size_t n, int negate);

/* "(<a>) AND (<b>)"; a or b NULL gives a copy of the other.  NULL: ENOMEM */
char *miroir_filter_and(const char *a, const char *b);

void miroir_filter_free(char *s);


/*
 * The read plan: which shards each node answers, given the down nodes.
 * Node i answers shards[off[i] .. off[i+1]-1] (ascending): those whose
 * first owner that is not down is i.  Shards with no live owner are
 * listed in missing[0 .. nmissing-1].
 */
typedef struct {
    uint32_t    nnodes;
    uint32_t   *off;        /* nnodes + 1 */
    uint32_t   *shards;
    uint32_t   *missing;
    uint32_t    nmissing;
} miroir_read_plan_t;

/*
 * @param down  rt->nnodes flags, or NULL for none.
 * @return MIROIR_OK and *out (free with miroir_read_plan_free());
 *         MIROIR_ENOMEM.
 */
miroir_rc_t miroir_read_plan_create(const miroir_route_table_t *rt,
    const uint8_t *down, miroir_read_plan_t **out);

void miroir_read_plan_free(miroir_read_plan_t *p);

/*
 * Covers: the nodes that are not down and own a copy of every shard (all
 * of them when rf == number of owning nodes).  One of them can answer a
 * search alone, with the user's filter and no restriction, which is
 * cheaper than asking every node (design: "use such covers").
 *
 * @param down   rt->nnodes flags, or NULL.
 * @param nodes  receives up to rt->nnodes node indexes (ascending), or
 *               NULL to only count them.
 * @return the number of covers (0 when there is none).
 */
uint32_t miroir_read_plan_covers(const miroir_route_table_t *rt,
    const uint8_t *down, uint16_t *nodes);


#endif /* MIROIR_FILTER_H */
