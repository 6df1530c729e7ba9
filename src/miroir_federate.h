/*
 * miroir_federate.h -- the federated multi-search merge (meilisearch-api.md
 * §9.3, §9.4).
 *
 * Hits of several queries (and several nodes) are ranked together by
 * their weighted score values with miroir_rank_cmp(MIROIR_RANK_FEDERATED):
 * folded relevancy scores times the query weight, sort values, geo
 * distances; incomparable pairs by remaining values then
 * `weightedRankingScore`.  Ties: lower `queriesPosition` first, then the
 * lower source (node index; query sources come before node sources),
 * then the source's own order.  Then the federation window (offset/limit
 * or page/hitsPerPage) applies; totals are summed.
 *
 * Two kinds of sources, which may be mixed:
 *
 *  - a node's answer to the federated request sent in proxy mode
 *    (`Meili-Proxy-Search: true`, §9.6): every hit carries
 *    `_federation.weightedScoreValues` and `weightedRankingScore`, computed
 *    by the node exactly as a single Meilisearch would.  This is the EXACT
 *    path.  `weightedScoreValues` / `extra_document` are removed from the
 *    output.  Facets come from the node's `facetsByIndex`.
 *  - a plain single-index search answer for one query (for instance the
 *    output of miroir_merge with `_rankingScore` and
 *    `_rankingScoreDetails` kept).  Its weighted values are
 *    [`_rankingScore` x weight] followed by the sort / geo entries of the
 *    details: exact when the relevancy rules form one run before any sort
 *    rule, APPROXIMATE when a sort rule splits them (Meilisearch folds each
 *    run separately, and the details lack the max ranks needed to fold a
 *    run).  `_federation` {indexUid, queriesPosition, weightedRankingScore}
 *    is added to each hit.  Documents are deduplicated per index by the
 *    primary key value if the query names it (first, best, one kept).
 *    Facets of the answer count for its index: ask facets on one query per
 *    index.
 *
 * Facets: `facetsByIndex` {uid: {distribution, stats}} merged per index
 * with that index's faceting settings, or with mergeFacets one
 * `facetDistribution` / `facetStats` across indexes (values summed by
 * value, re-sorted with the first index's order, truncated to
 * mergeFacets.maxValuesPerFacet).
 *
 * Bodies are not copied: they must stay valid until miroir_federate_free().
 */

#ifndef MIROIR_FEDERATE_H
#define MIROIR_FEDERATE_H

#include <stddef.h>
#include <stdint.h>

#include "miroir_common.h"
#include "miroir_error.h"
#include "miroir_facets.h"
#include "miroir_merge.h"


typedef struct {
    const char  *index_uid;
    double       weight;                 /* federationOptions.weight */
    int          show_ranking_score;     /* what the client asked */
    int          show_ranking_score_details;
    const char  *primary_key;            /* query sources: dedupe, or NULL */
} miroir_fed_query_t;

typedef struct {
    const char           *index_uid;
    miroir_facet_conf_t   facets;        /* that index's faceting */
} miroir_fed_index_t;

typedef struct {
    int                        page_mode;
    uint64_t                   offset;          /* default 0 */
    uint64_t                   limit;           /* default 20 */
    uint64_t                   page;            /* default 1 */
    uint64_t                   hits_per_page;   /* default 20 */

    const miroir_fed_query_t  *queries;         /* by queriesPosition */
    size_t                     nqueries;
    const miroir_fed_index_t  *indexes;         /* faceting per index */
    size_t                     nindexes;

    int                        merge_facets;    /* mergeFacets given */
    uint32_t                   merge_max_values;/* 0: no truncation */

    const char *const         *strip_attrs;
    size_t                     nstrip_attrs;
    const char                *request_uid;     /* echoed if not NULL */
} miroir_federate_params_t;

typedef struct miroir_federate_s  miroir_federate_t;


/*
 * @pre  everything p points to stays valid until free; nqueries >= 1.
 * @return MIROIR_OK with *out, MIROIR_ENOMEM, MIROIR_EINVAL.
 */
miroir_rc_t miroir_federate_create(const miroir_federate_params_t *p,
    miroir_federate_t **out, miroir_error_t *err);

/*
 * Add node's proxy-mode answer to the federated request.
 * @return MIROIR_OK; MIROIR_ERROR with err set (garbage, a hit without
 *         `_federation.weightedScoreValues`/`weightedRankingScore`/
 *         `queriesPosition`, an unknown query position); MIROIR_ENOMEM.
 */
miroir_rc_t miroir_federate_add_node(miroir_federate_t *f, size_t node,
    const char *body, size_t len, miroir_error_t *err);

/*
 * Add the (already node-merged) single-index answer of query qpos.
 * @return MIROIR_OK; MIROIR_ERROR with err set; MIROIR_EINVAL for a bad
 *         qpos; MIROIR_ENOMEM.
 */
miroir_rc_t miroir_federate_add_query(miroir_federate_t *f, size_t qpos,
    const char *body, size_t len, miroir_error_t *err);

/*
 * The federated answer.
 * @return MIROIR_OK with *out (malloc()ed, NUL-terminated) and *out_len;
 *         MIROIR_ENOMEM.
 */
miroir_rc_t miroir_federate_result(miroir_federate_t *f,
    uint64_t processing_ms, char **out, size_t *out_len,
    miroir_error_t *err);

/* NULL-safe. */
void miroir_federate_free(miroir_federate_t *f);


#endif /* MIROIR_FEDERATE_H */
