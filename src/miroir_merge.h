/*
 * miroir_merge.h -- merge the search answers of several nodes into one.
 *
 * Each node answered `offset 0, limit offset+limit` (or `page 1,
 * hitsPerPage page*hitsPerPage`) with `showRankingScoreDetails: true` for
 * a disjoint part of the documents.  The merger returns the JSON text one
 * Meilisearch node holding every document would have answered:
 *
 *  - hits ordered by miroir_rank_cmp() (MIROIR_RANK_EXACT) on their
 *    `_rankingScoreDetails`; ties go to the lower node index, then to
 *    each node's own order (a k-way merge, so each node's order is kept
 *    even if it disagrees with the comparator);
 *  - with a distinct attribute, hits whose value a better hit already has
 *    are dropped (nodes only dedupe their own documents);
 *  - then the client's window, clipped to maxTotalHits (§6.2);
 *  - totals summed (`estimatedTotalHits` / `totalHits`; not capped, as
 *    1.50's default pipeline; cap_totals for the legacy one),
 *    `totalPages` recomputed; `offset`/`limit` or `page`/`hitsPerPage`
 *    echo the client; `query` echoed from the nodes;
 *  - facets merged by miroir_facets.h (approximate near truncation);
 *  - removed from hits: `_rankingScore` / `_rankingScoreDetails` unless
 *    the client asked, every `_miroir_*` member and the strip attributes
 *    (also inside `_formatted` and `_matchesPosition`).  Everything else
 *    of a hit is copied byte for byte.
 *
 * Key order of the answer: hits, query, processingTimeMs, pagination keys,
 * facetDistribution?, facetStats?, requestUid?.
 *
 * Node bodies are not copied: each must stay valid and unchanged until
 * miroir_merge_free().
 */

#ifndef MIROIR_MERGE_H
#define MIROIR_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "miroir_common.h"
#include "miroir_error.h"
#include "miroir_facets.h"
#include "miroir_jspan.h"
#include "miroir_rank.h"


/* What the client asked and the index settings that matter. */
typedef struct {
    int                   page_mode;      /* page/hitsPerPage given */
    uint64_t              offset;         /* offset mode (default 0) */
    uint64_t              limit;          /* offset mode (default 20) */
    uint64_t              page;           /* page mode (default 1) */
    uint64_t              hits_per_page;  /* page mode (default 20) */
    int                   show_ranking_score;
    int                   show_ranking_score_details;

    /* attributes Miroir added to attributesToRetrieve (e.g. for sort) */
    const char *const    *strip_attrs;
    size_t                nstrip_attrs;

    uint64_t              max_total_hits; /* pagination.maxTotalHits */
    int                   cap_totals;     /* legacy pipeline: cap totals */
    miroir_facet_conf_t   facets;         /* faceting; candidates unused */

    /*
     * The search's distinct attribute (top-level name) or NULL.  The nodes
     * must retrieve it (add it to strip_attrs if the client did not ask
     * for it).  A hit whose value (or one of its array values) was already
     * seen in a better hit is dropped, as one node would; strings compare
     * ASCII-case-insensitively, numbers by value, missing/null never
     * collide.  The total is then exact when every node returned all its
     * candidates, else the node totals minus the drops seen (approximate).
     */
    const char           *distinct_attr;

    const char           *request_uid;    /* echoed if not NULL */
} miroir_merge_params_t;


/* One hit of a parsed node answer. */
typedef struct {
    miroir_span_t  obj;          /* the hit object */
    miroir_span_t  details;      /* `_rankingScoreDetails`, len 0 if none */
    miroir_span_t  score;        /* `_rankingScore`, len 0 if none */
    miroir_span_t  federation;   /* `_federation`, len 0 if none */
    size_t         m0;           /* its members: kv[2 * m0 ..] of the */
    size_t         nm;           /* answer, nm key/value pairs */
    int            details_ok;   /* details checked, need no parse */
} miroir_hit_span_t;

/* A parsed node answer (search or federated search). */
typedef struct {
    miroir_hit_span_t  *hits;
    size_t              nhits;
    miroir_span_t       query;           /* len 0 if absent */
    miroir_span_t       facet_dist;      /* len 0 if absent */
    miroir_span_t       facet_stats;
    miroir_span_t       facets_by_index;
    uint64_t            total;           /* estimatedTotalHits|totalHits */

    /* key, value spans of the hits' members, noted by the one scan */
    miroir_span_t      *kv;
    size_t              nkv;             /* pairs */
    size_t              kvcap;

    /* the merger's parse: each hit's ranking key, read in the same pass */
    miroir_rank_key_t  *keys;            /* NULL unless asked */
    miroir_rank_arena_t arena;           /* their values */
    size_t              hitcap;
    int                 want_keys;       /* 1 keys, 2 details checked */
} miroir_node_resp_t;


/* What to drop from a hit when writing it. */
typedef struct {
    int                  keep_score;
    int                  keep_details;
    int                  strip_proxy;    /* _federation.weightedScoreValues */
    const char *const   *attrs;
    size_t               nattrs;
} miroir_strip_t;


typedef struct miroir_merge_s  miroir_merge_t;


/*
 * Parse one node's answer.
 * @pre  body stays valid while r is used.
 * @return MIROIR_OK (free r with miroir_node_resp_free()), MIROIR_ENOMEM,
 *         or MIROIR_ERROR with a 500 `internal` error in err when the
 *         text is not a JSON object with a `hits` array of objects
 *         (truncated, garbage, a Meilisearch error object...).
 */
miroir_rc_t miroir_node_resp_parse(const char *body, size_t len,
    miroir_node_resp_t *r, miroir_error_t *err);

void miroir_node_resp_free(miroir_node_resp_t *r);

/*
 * Append hit to out without the members strip removes; extra (a JSON
 * member text such as "\"_federation\":{...}", or NULL) is inserted before
 * `_rankingScore`/`_rankingScoreDetails`, or last.
 * @return MIROIR_OK, MIROIR_ENOMEM.
 */
miroir_rc_t miroir_merge_write_hit(miroir_buf_t *out, miroir_span_t hit,
    const miroir_strip_t *strip, const char *extra, size_t extra_len);

/*
 * The same for hit h of the parsed answer r, from the members noted when
 * r was parsed (no second scan), without extra.
 */
miroir_rc_t miroir_merge_write_parsed_hit(miroir_buf_t *out,
    const miroir_node_resp_t *r, const miroir_hit_span_t *h,
    const miroir_strip_t *strip);

/*
 * What to ask each node (design.md, Read path 3): offset 0 and the
 * returned limit (offset mode), or page 1 and the returned hitsPerPage
 * (page mode): offset+limit or page*hitsPerPage, saturated, and no more
 * than maxTotalHits (a node never serves past it).  0 means the client's
 * window is empty: a node is still asked (limit 0) for totals and facets.
 */
uint64_t miroir_merge_node_limit(const miroir_merge_params_t *p);

/*
 * Create a merge of nnodes answers (1..MIROIR_MAX_NODES).
 * @pre  p->strip_attrs and p->facets.rules stay valid until free.
 * @return MIROIR_OK with *out set, MIROIR_ENOMEM, or MIROIR_EINVAL.
 */
miroir_rc_t miroir_merge_create(const miroir_merge_params_t *p,
    size_t nnodes, miroir_merge_t **out, miroir_error_t *err);

/*
 * Add the answer of node (0-based, the fixed node order), in any order.
 * @pre  body valid until miroir_merge_free(); each node at most once.
 * @return MIROIR_OK; MIROIR_ERROR with err set on a bad answer (the merge
 *         stays usable: the node counts as not answered); MIROIR_EINVAL
 *         for a bad node index or a second answer; MIROIR_ENOMEM.
 */
miroir_rc_t miroir_merge_add(miroir_merge_t *m, size_t node,
    const char *body, size_t len, miroir_error_t *err);

/*
 * Produce the merged answer from the nodes added so far.
 * @return MIROIR_OK with *out (malloc()ed, NUL-terminated, free() it) and
 *         *out_len; MIROIR_ENOMEM with *out untouched.
 */
miroir_rc_t miroir_merge_result(miroir_merge_t *m, uint64_t processing_ms,
    char **out, size_t *out_len, miroir_error_t *err);

/* NULL-safe. */
void miroir_merge_free(miroir_merge_t *m);


#endif /* MIROIR_MERGE_H */
