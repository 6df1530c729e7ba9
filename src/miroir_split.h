/*
 * miroir_split.h -- the payload splitter of the write path.
 *
 * Takes a whole document payload (JSON array or object, NDJSON, CSV),
 * validates it exactly as Meilisearch would (same error codes and
 * messages), finds each document's primary key value without building a
 * tree, and produces for every node of the route table one NDJSON body
 * holding every document whose shard the node owns.  Each output document
 * starts with the reserved fields
 *
 *     {"_miroir_shard":<s>,"_miroir_o0":"<primary>","_miroir_o1":"<next>",
 *
 * (one _miroir_o<i> per owner, HRW order, identical bytes for every owner)
 * followed by the original document bytes after its opening '{'; CSV rows
 * are converted to JSON objects first.  Document bytes are copied once per
 * owner and never re-encoded.
 *
 * Outcomes (result->err_kind):
 *   MIROIR_SPLIT_ERR_NONE     send parts[i].body to node i (skip empty);
 *   MIROIR_SPLIT_ERR_REQUEST  answer result->err now (400 missing_payload,
 *                             400 malformed_payload, 400
 *                             miroir_reserved_field); send nothing;
 *   MIROIR_SPLIT_ERR_TASK     Meilisearch would accept the request (202)
 *                             and fail the task: create a failed task with
 *                             result->err (missing_document_id,
 *                             invalid_document_id,
 *                             index_primary_key_no_candidate_found,
 *                             index_primary_key_multiple_candidates_found),
 *                             receivedDocuments = result->ndocs,
 *                             indexedDocuments = 0; send nothing.
 * Precedence is Meilisearch's: the whole payload is syntax-checked first,
 * so a malformed payload wins over any per-document failure.  On any
 * error no part is produced.
 *
 * Documents whose top level has a field starting with "_miroir_" are
 * refused (400 miroir_reserved_field): accepting them would let a client
 * forge routing tags, and stripping them would silently change data.
 */

#ifndef MIROIR_SPLIT_H
#define MIROIR_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "miroir_common.h"
#include "miroir_error.h"


typedef enum {
    MIROIR_DOC_JSON = 0,        /* application/json */
    MIROIR_DOC_NDJSON,          /* application/x-ndjson */
    MIROIR_DOC_CSV              /* text/csv */
} miroir_doc_format_t;


typedef struct {
    miroir_doc_format_t          format;
    unsigned char                csv_delimiter;  /* 0 means ',' */
    const char                  *primary_key;    /* NULL: infer */
    const miroir_route_table_t  *route;

    /*
     * Optional extra destinations per shard (a shard being migrated must
     * also reach its old owners): extra[s * nextra + k], k < nextra, is
     * one more node that gets shard s's documents, tagged like the others
     * with route's owners of s; MIROIR_SPLIT_NO_NODE (or any index >=
     * route->nnodes, or an owner) is skipped.  NULL (the common case):
     * the owners only, at no cost per document.
     */
    const uint16_t              *extra;
    uint32_t                     nextra;
} miroir_split_conf_t;

#define MIROIR_SPLIT_NO_NODE     0xffff


typedef enum {
    MIROIR_SPLIT_ERR_NONE = 0,
    MIROIR_SPLIT_ERR_REQUEST,
    MIROIR_SPLIT_ERR_TASK
} miroir_split_err_kind_t;


typedef struct {
    unsigned char  *body;       /* malloc()ed NDJSON, NULL if ndocs == 0 */
    size_t          len;
    uint64_t        ndocs;      /* documents in body */
} miroir_split_part_t;


typedef struct {
    uint64_t                  ndocs;        /* documents received */
    char                     *primary_key;  /* malloc()ed; the key used:
                                               given or inferred; NULL
                                               when none was needed */
    int                       pk_inferred;
    uint32_t                  nparts;       /* route->nnodes */
    miroir_split_part_t      *parts;        /* part i goes to node i */
    miroir_split_err_kind_t   err_kind;
    uint64_t                  err_doc;      /* 0-based failing document */
    miroir_error_t            err;
} miroir_split_result_t;


/*
 * Split a document payload.
 * @pre    conf->route is a valid table (nshards >= 1, 1 <= rf <=
 *         MIROIR_MAX_RF, owners < nnodes); body != NULL unless len == 0.
 * @return MIROIR_OK: res->err_kind says whether parts are usable;
 *         MIROIR_ENOMEM or MIROIR_EINVAL (bad conf): nothing usable.
 *         Always call miroir_split_result_free(res) afterwards.
 */
miroir_rc_t miroir_split(const miroir_split_conf_t *conf, const void *body,
    size_t len, miroir_split_result_t *res);

void miroir_split_result_free(miroir_split_result_t *res);


/*
 * Group the ids of a delete-batch body (a JSON array) by owner node.
 * Each item is routed by its canonical form (a string item: its unescaped
 * bytes; any other item: its compact JSON text, so 1 and "1" meet).  Part
 * i is a JSON array ("[...]", items copied verbatim) for node i; ndocs
 * counts its ids.  Items are not validated as ids (Meilisearch does not).
 * Errors are REQUEST errors: 400 missing_payload, 400 malformed_payload
 * ("The json payload provided is malformed. `...`."), 400 bad_request for
 * a body that is not an array.
 * @return as miroir_split().
 */
miroir_rc_t miroir_split_ids(const miroir_route_table_t *route,
    const void *body, size_t len, miroir_split_result_t *res);

/*
 * miroir_split_ids() routed by conf->route and conf->extra (the other
 * fields are ignored): each id also goes to its shard's extra nodes.
 */
miroir_rc_t miroir_split_ids_conf(const miroir_split_conf_t *conf,
    const void *body, size_t len, miroir_split_result_t *res);

/*
 * The shard of a canonical id (see miroir_docid_canonical(); for
 * DELETE/GET /documents/{id} the canonical id is the decoded path
 * segment) and a pointer to its rf owners in HRW order.
 */
uint32_t miroir_split_route_id(const miroir_route_table_t *route,
    const void *canon, size_t len, const uint16_t **owners);


#endif /* MIROIR_SPLIT_H */
