/*
 * miroir_docid.h -- Meilisearch document ids: validation, canonical form,
 * primary key inference and the matching error messages.
 *
 * Rules (meilisearch-api.md 4.2, 4.3; golden docs-invalid-id-*, pk-infer-*):
 *   - an id is a JSON integer (i64 or u64) or a string of 1..511 bytes of
 *     ASCII [A-Za-z0-9_-]; floats, bools, null, arrays, objects are invalid;
 *   - canonical form: a string id as its unescaped bytes, an integer id as
 *     its decimal digits (so 1 and "1" are the same document); "-0" is a
 *     float for serde_json, hence invalid;
 *   - inference: the top-level keys of the first document whose lower-cased
 *     name ends with "id"; exactly one is the primary key, none or several
 *     fail (no special case for "id": {"id", "product_id"} fails).
 */

#ifndef MIROIR_DOCID_H
#define MIROIR_DOCID_H

#include <stddef.h>

#include "miroir_common.h"
#include "miroir_bytes.h"
#include "miroir_error.h"


#define MIROIR_DOCID_MAX_LEN  511


/* 1 if s[0..len) is a valid string id, else 0. */
int miroir_docid_valid_str(const void *s, size_t len);

/*
 * Canonical form of one JSON value used as a document id.
 * @pre    value[0..len) is one validated JSON value without surrounding
 *         whitespace (as found by miroir_json_scan).
 * @return MIROIR_OK with the canonical bytes appended to out,
 *         MIROIR_EINVAL if the value is not a valid id (out may hold
 *         partial bytes), MIROIR_ENOMEM.
 */
miroir_rc_t miroir_docid_canonical(const void *value, size_t len,
    miroir_bytes_t *out);

/*
 * Append a JSON value as serde_json's Value Display renders it in error
 * messages: compact, strings unescaped and re-escaped the serde way,
 * integers as written, other numbers (floats, "-0", integers beyond
 * i64/u64) as serde prints an f64 ("1.50" -> "1.5", "1e3" -> "1000.0").
 * Object keys keep their order (Meilisearch's serde_json preserves it).
 * @pre    value is validated JSON.  @return MIROIR_OK or MIROIR_ENOMEM.
 */
miroir_rc_t miroir_docid_render(const void *value, size_t len,
    miroir_bytes_t *out);

/* 1 if the key (unescaped) is a primary key candidate: ends with "id"
 * case-insensitively. */
int miroir_pk_is_candidate(const void *key, size_t len);


/* Candidates gathered from the first document. */
typedef struct {
    char    **names;        /* malloc()ed, NUL-terminated, deduplicated */
    size_t    n;
    size_t    cap;
} miroir_pk_infer_t;

/* @return MIROIR_OK or MIROIR_ENOMEM.  Duplicates are ignored. */
miroir_rc_t miroir_pk_infer_add(miroir_pk_infer_t *inf, const void *key,
    size_t len);

/*
 * Decide.  On success *pk is a malloc()ed copy of the only candidate.
 * @return MIROIR_OK, MIROIR_ENOMEM, or MIROIR_ERROR with err set to
 *         index_primary_key_no_candidate_found or
 *         index_primary_key_multiple_candidates_found (Meilisearch's
 *         messages; candidates sorted bytewise, the first two cited).
 */
miroir_rc_t miroir_pk_infer_finish(miroir_pk_infer_t *inf, char **pk,
    miroir_error_t *err);

void miroir_pk_infer_free(miroir_pk_infer_t *inf);

/* Set err to missing_document_id for primary key pk and document doc
 * (validated JSON, rendered compact).  @return MIROIR_ERROR. */
miroir_rc_t miroir_docid_error_missing(miroir_error_t *err, const char *pk,
    const void *doc, size_t len);

/* Set err to invalid_document_id for id value (validated JSON).
 * @return MIROIR_ERROR. */
miroir_rc_t miroir_docid_error_invalid(miroir_error_t *err,
    const void *value, size_t len);


#endif /* MIROIR_DOCID_H */
