/*
 * miroir_facets.h -- merge `facetDistribution` and `facetStats` of nodes.
 *
 * Counts of one facet value are summed across nodes, then the values are
 * re-sorted and truncated as one node would (meilisearch-api.md §6.4):
 *
 *  - alpha: numeric values first, then strings in normalized order.
 *    Numeric values are ordered by their text when the candidate count is
 *    at most 3000 ("10" < "9"), numerically above (a 1.50 quirk).
 *  - count: numeric values first by descending count, then strings by
 *    descending count; equal counts in alpha order (Meilisearch leaves
 *    that order unspecified).
 *  - then truncated to maxValuesPerFacet; facets appear by name.
 *
 * Values are grouped by a simplified normalized form (ASCII lower case,
 * surrounding spaces trimmed; non-ASCII bytes compared as they are), and
 * shown with the spelling of the first node (in node order) that has
 * them; a single node shows the spelling of its lowest internal id.
 *
 * APPROXIMATE near the truncation limit: every node already cut its own
 * list to maxValuesPerFacet, so a value that is just below the cut on
 * every node is missing from the sum, and a value's total lacks the
 * counts of nodes that cut it.  Exact when each node returned fewer values
 * than its limit (the common case), or when the caller asks the nodes for
 * more values than the client's limit (a larger maxValuesPerFacet on the
 * nodes) and passes the client's limit in miroir_facet_conf_t.
 *
 * `facetStats`: min of mins and max of maxes; the winning number is copied
 * byte for byte.
 *
 * Spans handed to the add functions point into the node bodies, which
 * must stay valid until miroir_facets_free().
 */

#ifndef MIROIR_FACETS_H
#define MIROIR_FACETS_H

#include <stddef.h>
#include <stdint.h>

#include "miroir_common.h"
#include "miroir_error.h"
#include "miroir_jspan.h"


typedef enum {
    MIROIR_FACET_ALPHA = 0,
    MIROIR_FACET_COUNT
} miroir_facet_sort_e;

/* One entry of `faceting.sortFacetValuesBy`; name "*" is the default. */
typedef struct {
    const char           *name;
    miroir_facet_sort_e   sort;
} miroir_facet_rule_t;

typedef struct {
    uint32_t                    max_values;   /* maxValuesPerFacet */
    const miroir_facet_rule_t  *rules;
    size_t                      nrules;
    uint64_t                    candidates;   /* for the alpha quirk */
} miroir_facet_conf_t;

typedef struct miroir_facets_s  miroir_facets_t;


/* @return a new empty merger, or NULL when out of memory. */
miroir_facets_t *miroir_facets_create(void);

/*
 * Add one node's `facetDistribution` object.
 * @pre  dist was validated by miroir_jspan.
 * @return MIROIR_OK, MIROIR_ENOMEM, or MIROIR_ERROR with err set when the
 *         shape is not {facet: {value: non-negative integer}}.
 */
miroir_rc_t miroir_facets_add_distribution(miroir_facets_t *f,
    miroir_span_t dist, miroir_error_t *err);

/*
 * Add one node's `facetStats` object {facet: {"min": n, "max": n}}.
 * @return as miroir_facets_add_distribution().
 */
miroir_rc_t miroir_facets_add_stats(miroir_facets_t *f, miroir_span_t stats,
    miroir_error_t *err);

/* 1 when some node sent a facetDistribution (facetStats). */
int miroir_facets_has_distribution(const miroir_facets_t *f);
int miroir_facets_has_stats(const miroir_facets_t *f);

/*
 * Append the merged `facetDistribution` object (the value only) to out.
 * @return MIROIR_OK or MIROIR_ENOMEM.
 */
miroir_rc_t miroir_facets_write_distribution(miroir_facets_t *f,
    const miroir_facet_conf_t *conf, miroir_buf_t *out);

/* Append the merged `facetStats` object. @return MIROIR_OK, MIROIR_ENOMEM. */
miroir_rc_t miroir_facets_write_stats(miroir_facets_t *f, miroir_buf_t *out);

/* The sort order conf gives facet name (n bytes, unescaped). */
miroir_facet_sort_e miroir_facet_order(const miroir_facet_conf_t *conf,
    const char *name, size_t n);

/* NULL-safe. */
void miroir_facets_free(miroir_facets_t *f);


#endif /* MIROIR_FACETS_H */
