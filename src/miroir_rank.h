/*
 * miroir_rank.h -- compare two hits by their ranking details.
 *
 * A hit's `_rankingScoreDetails` (or, from a node answering in proxy mode,
 * its `_federation.weightedScoreValues`) is parsed once into a compact
 * key: the rule entries in `order`, each a score, a sort value or a geo
 * distance.  Two keys then compare entry by entry, as Meilisearch 1.50
 * does (crates/milli/src/score_details.rs compare_sort_values and
 * crates/meilisearch/src/search/federated/perform.rs compare):
 *
 *  - scores (relevancy rules, vector similarity): the larger first.  In
 *    MIROIR_RANK_EXACT mode each rule's local score (rank / maxRank) is
 *    compared on its own and exactly: since every hit of one query has the
 *    same maxRank for a rule once the earlier rules tie, this is the
 *    exact-arithmetic equivalent of Meilisearch folding consecutive rules
 *    into one score (Rank::merge), i.e. the bucket-sort order of a single
 *    node.  In MIROIR_RANK_FEDERATED mode the values are already folded and
 *    weighted and compare equal within f64 epsilon, as Meilisearch does.
 *  - sort values in the same direction: null (missing) last, numbers
 *    before strings, numbers as doubles, strings byte-wise on the
 *    normalized value; `asc` puts the smaller first, `desc` the larger.
 *  - geo sort in the same direction: missing distance last, `asc` smaller
 *    distance first (Meilisearch's federated compare forgets to reverse
 *    for asc; a single node does reverse, and that is what Miroir matches).
 *  - geo sorts of opposite directions are skipped; any other mismatch
 *    (score against sort, sort directions differ) is incomparable: the
 *    key with more remaining entries goes first, then the larger global
 *    score (`_rankingScore`, or `weightedRankingScore`).
 *  - a key that ends first goes last; both ending means a tie, which the
 *    caller breaks (node order, then each node's own order).
 *  - a `skipped` entry (search cutoff) counts as a score of 0.
 *  - redacted sort rules (`<hidden-rule-N>`: "<hidden>") all tie: ask
 *    nodes in proxy mode, or display the field, to order on them.
 */

#ifndef MIROIR_RANK_H
#define MIROIR_RANK_H

#include <stddef.h>
#include <stdint.h>

#include "miroir_common.h"
#include "miroir_error.h"
#include "miroir_jspan.h"


/*
 * Hidden: called on every byte of every node answer, from other files of
 * the same module, which is built position-independent: a default
 * visibility symbol would be called through the PLT and never inlined.
 */
#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif


#define MIROIR_RANK_MAX_RULES  64


typedef enum {
    MIROIR_RV_SCORE = 0,        /* relevancy local score / weighted score */
    MIROIR_RV_VECTOR,           /* vector similarity */
    MIROIR_RV_SKIPPED,          /* search cutoff: rank 0 of 1 */
    MIROIR_RV_SORT,             /* field:asc / field:desc */
    MIROIR_RV_GEO               /* _geoPoint(..):asc / desc */
} miroir_rank_kind_e;

typedef enum {
    MIROIR_SV_NULL = 0,         /* missing field / missing distance */
    MIROIR_SV_NUM,
    MIROIR_SV_STR,
    MIROIR_SV_OTHER             /* bool, array, object: ties with all */
} miroir_sort_vtype_e;

typedef struct {
    uint8_t      kind;          /* miroir_rank_kind_e */
    uint8_t      asc;           /* SORT, GEO: 1 ascending, 0 descending */
    uint8_t      vtype;         /* SORT, GEO: miroir_sort_vtype_e */
    uint32_t     len;           /* SORT string: byte length */
    double       num;           /* score, similarity, number, distance */
    const char  *str;           /* SORT string: unescaped bytes */
} miroir_rank_val_t;

typedef struct {
    miroir_rank_val_t  *v;      /* n entries in rule order; owns strings */
    uint32_t            n;
    uint32_t            borrowed;   /* v is in an arena: not freed */
    double              global; /* set by the caller, for incomparables */
} miroir_rank_key_t;

/* Memory for many keys released at once (miroir_rank_scan_details()). */
typedef struct {
    char               *block;  /* the newest; each starts with the last */
    size_t              used;
    size_t              cap;
} miroir_rank_arena_t;

typedef enum {
    MIROIR_RANK_EXACT = 0,      /* per-rule details of one query */
    MIROIR_RANK_FEDERATED       /* folded weighted values, f64 epsilon */
} miroir_rank_mode_e;


/*
 * Parse the `_rankingScoreDetails` object details into key.
 * @pre  details was validated by miroir_jspan (e.g. a member of a hit);
 *       key != NULL.
 * @return MIROIR_OK (key->v malloc()ed, NULL when empty; key->global 0),
 *         MIROIR_ENOMEM, or MIROIR_ERROR with err set (not an object,
 *         more than MIROIR_RANK_MAX_RULES entries, an entry without a
 *         numeric `order`).
 * @note   free with miroir_rank_key_free().
 */
miroir_rc_t miroir_rank_parse_details(miroir_span_t details,
    miroir_rank_key_t *key, miroir_error_t *err);

/*
 * The same, reading the text at p (a `_rankingScoreDetails` value at
 * nesting depth `depth`, bounded by end) and validating it as
 * miroir_jspan_value() would, in one pass.
 * @return the byte after the object, or NULL (invalid JSON, details
 *         miroir_rank_parse_details() refuses, or out of memory: call it
 *         for the error).  key is set only on success; with an arena its
 *         values are there (key->borrowed), else malloc()ed.
 */
const char *miroir_rank_scan_details(const char *p, const char *end,
    unsigned depth, miroir_rank_key_t *key, miroir_rank_arena_t *arena);

/*
 * Skip the details object at p, as miroir_jspan_value() would, checking
 * without reading any value that miroir_rank_parse_details() accepts it:
 * *ok = 1 when it surely does (every entry an object with a numeric
 * "order", at most MIROIR_RANK_MAX_RULES entries), else 0: parse it to
 * know.  For a merge that compares nothing (one node).
 * @return the byte after the object, or NULL (malformed or refused: then
 *         *ok is 0 and miroir_jspan_value() tells whether it is JSON).
 */
const char *miroir_rank_check_details(const char *p, const char *end,
    unsigned depth, int *ok);

/* Release every block of arena (the keys in it go with them). */
void miroir_rank_arena_free(miroir_rank_arena_t *arena);

/*
 * Parse a proxy-mode `weightedScoreValues` array into key: each of
 * {"weightedScore":x} {"vectorSort":x} {"sort":{"asc":b,"value":v}}
 * {"geoSort":{"asc":b,"distance":d|null}}.
 * @return as miroir_rank_parse_details().
 */
miroir_rc_t miroir_rank_parse_weighted(miroir_span_t values,
    miroir_rank_key_t *key, miroir_error_t *err);

/* Release key->v; key may be reused.  NULL-safe. */
void miroir_rank_key_free(miroir_rank_key_t *key);

/*
 * Compare two keys.
 * @return < 0 when a ranks before b, > 0 when after, 0 for a tie.
 */
int miroir_rank_cmp(const miroir_rank_key_t *a, const miroir_rank_key_t *b,
    miroir_rank_mode_e mode);


#if defined(__GNUC__)
#pragma GCC visibility pop
#endif


#endif /* MIROIR_RANK_H */
