/*
 * miroir_ties.h -- stable ties: Miroir's hidden `<primaryKey>:asc` ranking
 * rule (cluster option `stable_ties on`).
 *
 * A single Meilisearch breaks ties by its internal document id, which has
 * no meaning across shards.  With stable_ties, the nodes get the user's
 * ranking rules plus one last sort rule on the primary key, so hits that
 * tie on every user rule are ordered by id on every node, and the merge
 * (miroir_rank.h: numbers before strings, strings by their normalized
 * bytes) orders them by id across nodes: the same page whichever replica
 * answers.  A sort ranking rule needs no sortableAttributes and does not
 * count in `_rankingScore`.
 *
 * The hidden rule, for user rules U and primary key pk:
 *
 *   - `pk:asc`   when U has no `pk:asc`;
 *   - `pk:desc`  when U has `pk:asc` but no `pk:desc` (the user's own
 *                `pk:asc` already orders everything; the extra rule only
 *                marks the list as Miroir's, and costs nothing);
 *   - none       when U has both (nothing to add).
 *
 * So a node's list never holds a duplicate (Meilisearch drops them) and
 * the rule is recognized from the list and pk alone: the last rule is
 * Miroir's when it is `pk:asc` and no other rule is, or when it is
 * `pk:desc`, no other rule is, and `pk:asc` is present.  The one list
 * that reads back differently is a user list holding both pk rules and
 * ending with one of them (it loses that last, meaningless, rule).
 *
 * In a hit's `_rankingScoreDetails` the rule is the last member, keyed
 * `pk:asc` (`{"order": n, "value": id}`), or `<hidden-rule-n>` when the
 * primary key is not a displayed attribute.
 */

#ifndef MIROIR_TIES_H
#define MIROIR_TIES_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "miroir_common.h"


/* the longest rule Miroir writes: "<pk>:desc" */
#define MIROIR_TIES_RULE_MAX  544


/* Meilisearch 1.50's default ranking rules (what a reset gives). */
cJSON *miroir_ties_defaults(void);

/*
 * The hidden rule for the user's rules and pk, into rule (size bytes).
 * @return 1 with rule set; 0 when nothing is to be added (both pk rules
 *         present); -1 when rules is not an array, or pk is empty, too
 *         long or a name Meilisearch reserves (`_geo...`): then nothing
 *         is to be added either.
 */
int miroir_ties_rule(const cJSON *rules, const char *pk, char *rule,
    size_t size);

/*
 * Append the hidden rule to the user's rules (an array, changed in
 * place); rule (may be NULL) receives it.
 * @return 1 appended, 0 nothing to add, -1 bad input or out of memory.
 */
int miroir_ties_append(cJSON *rules, const char *pk, char *rule,
    size_t size);

/*
 * The hidden rule of a node's list, if it has one: 1 and rule (may be
 * NULL) set; 0 if the list has none (or is not an array).  With remove,
 * the rule is removed from the list.
 */
int miroir_ties_find(cJSON *rules, const char *pk, int remove, char *rule,
    size_t size);

/*
 * Remove the last element of rules if it is the string rule (a task's
 * details, where Miroir recorded which rule it added).
 * @return 1 removed, 0 not.
 */
int miroir_ties_drop(cJSON *rules, const char *rule);

/*
 * Remove the hidden rule's member from every `_rankingScoreDetails`
 * object of a search answer (the JSON text Miroir wrote): the last member
 * of such an object when its key is rule or starts with `<hidden-rule-`.
 * Works in place.
 * @pre  text[len] is a NUL (kept at the new end).
 * @return the new length.
 */
size_t miroir_ties_strip_details(char *text, size_t len, const char *rule);


#endif /* MIROIR_TIES_H */
