/*
 * miroir_split.c -- split a document payload by shard owner.
 *
 * One pass over the bytes.  Each document is walked once at its top
 * level (nested values are skipped by the lexer), its id is validated
 * and hashed, and its bytes are appended to the body of each owner.
 * After the first per-document failure nothing more is emitted but the
 * rest is still syntax-checked, because Meilisearch rejects a malformed
 * payload synchronously before any per-document check.
 */

#include <stdlib.h>
#include <string.h>

#include "miroir_split.h"
#include "miroir_bytes.h"
#include "miroir_csv.h"
#include "miroir_docid.h"
#include "miroir_json_scan.h"


#define MIROIR_RESERVED_PREFIX      "_miroir_"
#define MIROIR_RESERVED_PREFIX_LEN  (sizeof(MIROIR_RESERVED_PREFIX) - 1)


typedef struct {
    const miroir_split_conf_t   *conf;
    const miroir_route_table_t  *rt;
    miroir_split_result_t       *res;
    miroir_bytes_t              *out;        /* one per node */
    miroir_bytes_t               scratch;
    miroir_bytes_t               canon;
    miroir_bytes_t               prefix;
    miroir_pk_infer_t            infer;
    const char                  *pk;         /* NULL until known */
    size_t                       pklen;
    int                          nested;     /* pk contains '.' */
    int                          infer_pending;
    int                          stop_emit;  /* an error was recorded */
    int                          reserved;   /* reserved error recorded */
    miroir_error_t               task_err;
    int                          task_failed;
    uint64_t                     task_doc;
    uint64_t                     doc;        /* current document index */
} miroir_split_ctx_t;


/* What the walk of one document found. */
typedef struct {
    const unsigned char  *id;               /* id value, or NULL */
    size_t                idlen;
    unsigned              nid;              /* matches of a nested pk */
    int                   has_fields;
    int                   reserved;
} miroir_split_doc_t;


static const char *
miroir_split_fmt_name(miroir_doc_format_t f)
{
    return f == MIROIR_DOC_JSON ? "json"
           : f == MIROIR_DOC_NDJSON ? "ndjson" : "csv";
}


/*
 * The malformed message of document payloads; serde's text is cut to
 * 50 + "..." + 85 bytes when longer, as meilisearch-types does.
 */
static miroir_rc_t
miroir_split_malformed(miroir_split_ctx_t *ctx, const char *msg)
{
    char    cut[160];
    size_t  len = strlen(msg);

    if (len > 50 + 85 + 3) {
        memcpy(cut, msg, 50);
        memcpy(cut + 50, "...", 3);
        memcpy(cut + 53, msg + len - 85, 85);
        cut[138] = '\0';
        msg = cut;
    }

    ctx->res->err_kind = MIROIR_SPLIT_ERR_REQUEST;
    miroir_error_set(&ctx->res->err, 400, "malformed_payload",
                     "invalid_request", "The `%s` payload provided is "
                     "malformed. `Couldn't serialize document value: %s`.",
                     miroir_split_fmt_name(ctx->conf->format), msg);

    return MIROIR_ERROR;
}


static miroir_rc_t
miroir_split_syntax(miroir_split_ctx_t *ctx, miroir_json_scan_t *sc)
{
    char  msg[256];

    miroir_json_scan_error(sc, msg, sizeof(msg));

    return miroir_split_malformed(ctx, msg);
}


static miroir_rc_t
miroir_split_not_objects(miroir_split_ctx_t *ctx)
{
    return miroir_split_malformed(ctx,
                        "data are neither an object nor a list of objects");
}


/* Record the first per-document failure (err already filled). */
static void
miroir_split_task_fail(miroir_split_ctx_t *ctx)
{
    ctx->task_failed = 1;
    ctx->task_doc = ctx->doc;
    ctx->stop_emit = 1;
}


static int
miroir_split_is_reserved(miroir_split_ctx_t *ctx, const miroir_json_str_t *k)
{
    miroir_json_str_t  s;

    if (!k->escaped) {
        return k->len >= MIROIR_RESERVED_PREFIX_LEN
               && memcmp(k->raw, MIROIR_RESERVED_PREFIX,
                         MIROIR_RESERVED_PREFIX_LEN) == 0;
    }

    miroir_bytes_reset(&ctx->scratch);

    if (miroir_json_unescape(k, &ctx->scratch) != MIROIR_OK) {
        return -1;
    }

    s.raw = ctx->scratch.data;
    s.len = ctx->scratch.len;

    return s.len >= MIROIR_RESERVED_PREFIX_LEN
           && memcmp(s.raw, MIROIR_RESERVED_PREFIX,
                     MIROIR_RESERVED_PREFIX_LEN) == 0;
}


/*
 * After a ',' between members, what serde says about the next token: in
 * raw mode the key check reports it ("key must be a string", "EOF while
 * parsing an object"); in value mode "trailing comma" / "EOF while parsing
 * a value".
 */
static miroir_rc_t
miroir_split_after_comma(miroir_json_scan_t *sc)
{
    if (!sc->value_mode) {
        return MIROIR_OK;
    }

    if (sc->p == sc->end) {
        return miroir_json_fail_eof(sc, MIROIR_JSON_EOF_VALUE);
    }

    if (*sc->p == '}') {
        return miroir_json_fail_at(sc, MIROIR_JSON_TRAILING_COMMA, sc->p);
    }

    return MIROIR_OK;
}


/*
 * Walk an object at sc->p ('{') looking for the dotted path pk[0..plen)
 * (Meilisearch's nested primary key): a key equal to the rest of the path
 * matches; a key equal to its next segments descends into an object.
 */
static miroir_rc_t
miroir_split_walk_nested(miroir_split_ctx_t *ctx, miroir_json_scan_t *sc,
    const char *path, size_t plen, miroir_split_doc_t *d)
{
    miroir_json_str_t     k;
    const unsigned char  *v;
    miroir_bytes_t        key;
    miroir_rc_t           rc = MIROIR_OK;
    int                   descend, eq;

    miroir_bytes_init(&key);
    sc->p++;
    miroir_json_skip_ws(sc);

    if (sc->p < sc->end && *sc->p == '}') {
        sc->p++;
        return MIROIR_OK;
    }

    sc->depth_base++;                   /* undone before returning */

    for ( ;; ) {
        miroir_json_skip_ws(sc);

        if (sc->p == sc->end) {
            rc = miroir_json_fail_eof(sc, MIROIR_JSON_EOF_OBJECT);
            break;
        }

        if (*sc->p != '"') {
            rc = miroir_json_fail_at(sc, MIROIR_JSON_KEY_NOT_STRING, sc->p);
            break;
        }

        if (miroir_json_scan_string(sc, &k) != MIROIR_OK) {
            rc = MIROIR_EINVAL;
            break;
        }

        miroir_json_skip_ws(sc);

        if (sc->p == sc->end || *sc->p != ':') {
            rc = sc->p == sc->end
                 ? miroir_json_fail_eof(sc, MIROIR_JSON_EOF_OBJECT)
                 : miroir_json_fail_at(sc, MIROIR_JSON_EXPECTED_COLON, sc->p);
            break;
        }

        sc->p++;
        miroir_json_skip_ws(sc);

        miroir_bytes_reset(&key);

        if (miroir_json_unescape(&k, &key) != MIROIR_OK) {
            rc = MIROIR_ENOMEM;
            break;
        }

        eq = key.len == plen && memcmp(key.data, path, plen) == 0;
        descend = !eq && key.len < plen && path[key.len] == '.'
                  && memcmp(key.data, path, key.len) == 0
                  && sc->p < sc->end && *sc->p == '{';

        v = sc->p;

        if (descend) {
            rc = miroir_split_walk_nested(ctx, sc, path + key.len + 1,
                                          plen - key.len - 1, d);
        } else {
            rc = miroir_json_skip_value(sc);
        }

        if (rc != MIROIR_OK) {
            break;
        }

        if (eq) {
            d->id = v;
            d->idlen = (size_t) (sc->p - v);
            d->nid++;
        }

        miroir_json_skip_ws(sc);

        if (sc->p == sc->end) {
            rc = miroir_json_fail_eof(sc, MIROIR_JSON_EOF_OBJECT);
            break;
        }

        if (*sc->p == '}') {
            sc->p++;
            break;
        }

        if (*sc->p != ',') {
            rc = miroir_json_fail_at(sc, MIROIR_JSON_EXPECTED_OBJECT_SEP,
                                     sc->p);
            break;
        }

        sc->p++;
        miroir_json_skip_ws(sc);

        rc = miroir_split_after_comma(sc);
        if (rc != MIROIR_OK) {
            break;
        }
    }

    sc->depth_base--;
    miroir_bytes_free(&key);

    return rc;
}


/*
 * Walk the top level of the document object at sc->p ('{').
 * collect: gather primary key candidates instead of looking for the id.
 * @return MIROIR_OK, MIROIR_EINVAL (syntax, recorded in sc), MIROIR_ENOMEM.
 */
static miroir_rc_t
miroir_split_walk(miroir_split_ctx_t *ctx, miroir_json_scan_t *sc,
    miroir_split_doc_t *d, int collect)
{
    miroir_json_str_t     k;
    const unsigned char  *v;
    miroir_bytes_t       *kb = &ctx->scratch;
    int                   eq, r;
    size_t                seg;

    memset(d, 0, sizeof(*d));

    sc->depth_base = 1;                 /* value mode: inside the document */
    sc->p++;
    miroir_json_skip_ws(sc);

    if (sc->p < sc->end && *sc->p == '}') {
        sc->p++;
        return MIROIR_OK;
    }

    d->has_fields = 1;

    for ( ;; ) {
        miroir_json_skip_ws(sc);

        if (sc->p == sc->end) {
            return miroir_json_fail_eof(sc, MIROIR_JSON_EOF_OBJECT);
        }

        if (*sc->p != '"') {
            return miroir_json_fail_at(sc, MIROIR_JSON_KEY_NOT_STRING, sc->p);
        }

        if (miroir_json_scan_string(sc, &k) != MIROIR_OK) {
            return MIROIR_EINVAL;
        }

        miroir_json_skip_ws(sc);

        if (sc->p == sc->end) {
            return miroir_json_fail_eof(sc, MIROIR_JSON_EOF_OBJECT);
        }

        if (*sc->p != ':') {
            return miroir_json_fail_at(sc, MIROIR_JSON_EXPECTED_COLON, sc->p);
        }

        sc->p++;
        miroir_json_skip_ws(sc);
        v = sc->p;

        r = miroir_split_is_reserved(ctx, &k);
        if (r < 0) {
            return MIROIR_ENOMEM;
        }

        d->reserved |= r;
        eq = 0;

        if (collect) {
            miroir_bytes_reset(kb);

            if (miroir_json_unescape(&k, kb) != MIROIR_OK) {
                return MIROIR_ENOMEM;
            }

            if (miroir_pk_is_candidate(kb->data, kb->len)
                && miroir_pk_infer_add(&ctx->infer, kb->data, kb->len)
                   != MIROIR_OK)
            {
                return MIROIR_ENOMEM;
            }

        } else if (ctx->pk != NULL) {
            eq = miroir_json_str_eq(&k, ctx->pk, ctx->pklen, kb);
            if (eq < 0) {
                return MIROIR_ENOMEM;
            }

            if (!eq && ctx->nested && sc->p < sc->end && *sc->p == '{') {
                miroir_bytes_reset(kb);

                if (miroir_json_unescape(&k, kb) != MIROIR_OK) {
                    return MIROIR_ENOMEM;
                }

                seg = kb->len;

                if (seg < ctx->pklen && ctx->pk[seg] == '.'
                    && memcmp(kb->data, ctx->pk, seg) == 0)
                {
                    r = miroir_split_walk_nested(ctx, sc, ctx->pk + seg + 1,
                                                 ctx->pklen - seg - 1, d);
                    if (r != MIROIR_OK) {
                        return r;
                    }

                    goto next;
                }
            }
        }

        if (miroir_json_skip_value(sc) != MIROIR_OK) {
            return MIROIR_EINVAL;
        }

        if (eq) {
            d->id = v;
            d->idlen = (size_t) (sc->p - v);

            if (ctx->nested) {
                d->nid++;
            }
        }

    next:

        miroir_json_skip_ws(sc);

        if (sc->p == sc->end) {
            return miroir_json_fail_eof(sc, MIROIR_JSON_EOF_OBJECT);
        }

        if (*sc->p == '}') {
            sc->p++;
            return MIROIR_OK;
        }

        if (*sc->p != ',') {
            return miroir_json_fail_at(sc, MIROIR_JSON_EXPECTED_OBJECT_SEP,
                                       sc->p);
        }

        sc->p++;
        miroir_json_skip_ws(sc);

        if (miroir_split_after_comma(sc) != MIROIR_OK) {
            return MIROIR_EINVAL;
        }
    }
}


/* Decide the primary key from the collected candidates of document 0. */
static miroir_rc_t
miroir_split_infer(miroir_split_ctx_t *ctx)
{
    char         *pk = NULL;
    miroir_rc_t   rc;

    ctx->infer_pending = 0;

    rc = miroir_pk_infer_finish(&ctx->infer, &pk, &ctx->task_err);

    if (rc == MIROIR_ENOMEM) {
        return MIROIR_ENOMEM;
    }

    if (rc != MIROIR_OK) {
        miroir_split_task_fail(ctx);
        return MIROIR_OK;
    }

    ctx->res->primary_key = pk;
    ctx->res->pk_inferred = 1;
    ctx->pk = pk;
    ctx->pklen = strlen(pk);
    ctx->nested = 0;

    return MIROIR_OK;
}


/*
 * Whether extra[i] is a destination not already served: a valid node,
 * not an owner, not an earlier extra slot.
 */
static int
miroir_split_extra_new(const uint16_t *owners, const miroir_route_table_t *rt,
    const uint16_t *extra, uint32_t i)
{
    uint32_t  j;

    if (extra[i] >= rt->nnodes) {
        return 0;
    }

    for (j = 0; j < rt->rf; j++) {
        if (owners[j] == extra[i]) {
            return 0;
        }
    }

    for (j = 0; j < i; j++) {
        if (extra[j] == extra[i]) {
            return 0;
        }
    }

    return 1;
}


/* Append the tagged document (ctx->prefix + doc) to node's body. */
static miroir_rc_t
miroir_split_append(miroir_split_ctx_t *ctx, uint32_t node,
    const unsigned char *doc, size_t len, const miroir_split_doc_t *d)
{
    miroir_bytes_t  *b;

    b = &ctx->out[node];

    if (miroir_bytes_reserve(b, ctx->prefix.len + len + 1) != MIROIR_OK) {
        return MIROIR_ENOMEM;
    }

    memcpy(b->data + b->len, ctx->prefix.data, ctx->prefix.len);
    b->len += ctx->prefix.len;

    if (d->has_fields) {
        memcpy(b->data + b->len, doc + 1, len - 1);
        b->len += len - 1;

    } else {
        b->data[b->len++] = '}';
    }

    b->data[b->len++] = '\n';
    ctx->res->parts[node].ndocs++;

    return MIROIR_OK;
}


/*
 * A document was walked: check its id and append it to its owners.
 * doc[0..len) is the object text starting with '{'.
 */
static miroir_rc_t
miroir_split_emit(miroir_split_ctx_t *ctx, const unsigned char *doc,
    size_t len, const miroir_split_doc_t *d)
{
    const miroir_route_table_t  *rt = ctx->rt;
    const uint16_t              *owners, *extra;
    miroir_bytes_t              *b;
    miroir_rc_t                  rc;
    uint32_t                     shard, i, j;

    if (d->reserved && !ctx->reserved) {
        ctx->reserved = 1;
        ctx->stop_emit = 1;
        ctx->res->err_doc = ctx->doc;
        miroir_error_set(&ctx->res->err, 400, "miroir_reserved_field",
                         "invalid_request", "Document at position %llu has "
                         "a field starting with `_miroir_`: such fields are "
                         "reserved by Miroir.",
                         (unsigned long long) ctx->doc);
    }

    if (ctx->stop_emit) {
        return MIROIR_OK;
    }

    if (d->id == NULL) {
        miroir_docid_error_missing(&ctx->task_err, ctx->pk, doc, len);
        miroir_split_task_fail(ctx);
        return MIROIR_OK;
    }

    miroir_bytes_reset(&ctx->canon);

    rc = (d->nid > 1) ? MIROIR_EINVAL
                      : miroir_docid_canonical(d->id, d->idlen, &ctx->canon);

    if (rc == MIROIR_ENOMEM) {
        return rc;
    }

    if (rc != MIROIR_OK) {
        miroir_docid_error_invalid(&ctx->task_err, d->id, d->idlen);
        miroir_split_task_fail(ctx);
        return MIROIR_OK;
    }

    shard = miroir_shard_of(ctx->canon.data ? (void *) ctx->canon.data : "",
                            ctx->canon.len, rt->nshards);
    owners = rt->owners + (size_t) shard * rt->rf;

    b = &ctx->prefix;
    miroir_bytes_reset(b);

    if (miroir_bytes_puts(b, "{\"_miroir_shard\":") != MIROIR_OK
        || miroir_bytes_put_u64(b, shard) != MIROIR_OK)
    {
        return MIROIR_ENOMEM;
    }

    for (i = 0; i < rt->rf; i++) {
        if (miroir_bytes_puts(b, ",\"_miroir_o") != MIROIR_OK
            || miroir_bytes_put_u64(b, i) != MIROIR_OK
            || miroir_bytes_puts(b, "\":\"") != MIROIR_OK
            || miroir_bytes_put_json_str(b, rt->node_ids[owners[i]],
                                       strlen(rt->node_ids[owners[i]]))
               != MIROIR_OK
            || miroir_bytes_putc(b, '"') != MIROIR_OK)
        {
            return MIROIR_ENOMEM;
        }
    }

    if (d->has_fields && miroir_bytes_putc(b, ',') != MIROIR_OK) {
        return MIROIR_ENOMEM;
    }

    for (i = 0; i < rt->rf; i++) {
        for (j = 0; j < i; j++) {
            if (owners[j] == owners[i]) {
                break;
            }
        }

        if (j < i) {
            continue;                       /* same node listed twice */
        }

        if (miroir_split_append(ctx, owners[i], doc, len, d) != MIROIR_OK) {
            return MIROIR_ENOMEM;
        }
    }

    if (ctx->conf->extra == NULL) {
        return MIROIR_OK;
    }

    extra = ctx->conf->extra + (size_t) shard * ctx->conf->nextra;

    for (i = 0; i < ctx->conf->nextra; i++) {
        if (!miroir_split_extra_new(owners, rt, extra, i)) {
            continue;
        }

        if (miroir_split_append(ctx, extra[i], doc, len, d) != MIROIR_OK) {
            return MIROIR_ENOMEM;
        }
    }

    return MIROIR_OK;
}


/* One JSON object document at sc->p ('{'). */
static miroir_rc_t
miroir_split_json_doc(miroir_split_ctx_t *ctx, miroir_json_scan_t *sc)
{
    const unsigned char  *start = sc->p;
    miroir_split_doc_t    d;
    miroir_rc_t           rc;

    if (ctx->infer_pending && !ctx->stop_emit) {
        rc = miroir_split_walk(ctx, sc, &d, 1);
        if (rc != MIROIR_OK) {
            return rc;
        }

        sc->p = start;

        rc = miroir_split_infer(ctx);
        if (rc != MIROIR_OK) {
            return rc;
        }
    }

    rc = miroir_split_walk(ctx, sc, &d, 0);
    if (rc != MIROIR_OK) {
        return rc;
    }

    /* a raw value is checked for UTF-8 as a whole once read (serde's
     * end_raw_buffering); value mode checked each string already */
    if (!sc->value_mode
        && !miroir_utf8_valid(start, (size_t) (sc->p - start)))
    {
        return miroir_json_fail_index(sc, MIROIR_JSON_INVALID_UNICODE,
                                      (size_t) (sc->p - sc->start));
    }

    rc = miroir_split_emit(ctx, start, (size_t) (sc->p - start), &d);
    ctx->doc++;
    ctx->res->ndocs++;

    return rc;
}


/* Map a walk/emit failure to the result. */
static miroir_rc_t
miroir_split_doc_fail(miroir_split_ctx_t *ctx, miroir_json_scan_t *sc,
    miroir_rc_t rc)
{
    if (rc == MIROIR_EINVAL) {
        miroir_split_syntax(ctx, sc);
        return MIROIR_OK;
    }

    return rc;
}


/* Skip a raw value that is not a document, checking UTF-8 as serde does. */
static miroir_rc_t
miroir_split_raw_value(miroir_json_scan_t *sc)
{
    const unsigned char  *start = sc->p;

    if (miroir_json_skip_value(sc) != MIROIR_OK) {
        return MIROIR_EINVAL;
    }

    if (!miroir_utf8_valid(start, (size_t) (sc->p - start))) {
        return miroir_json_fail_index(sc, MIROIR_JSON_INVALID_UNICODE,
                                      (size_t) (sc->p - sc->start));
    }

    return MIROIR_OK;
}


static miroir_rc_t
miroir_split_json(miroir_split_ctx_t *ctx, const void *body, size_t len)
{
    miroir_json_scan_t  sc;
    miroir_rc_t         rc;

    miroir_json_scan_init(&sc, body, len);
    miroir_json_skip_ws(&sc);

    if (sc.p == sc.end) {
        miroir_json_fail_eof(&sc, MIROIR_JSON_EOF_VALUE);
        miroir_split_syntax(ctx, &sc);
        return MIROIR_OK;
    }

    if (*sc.p == '{') {
        /* a single object: serde_json::from_slice::<Map>, so value mode,
         * and trailing data is refused */
        sc.value_mode = 1;
        rc = miroir_split_json_doc(ctx, &sc);
        if (rc != MIROIR_OK) {
            return miroir_split_doc_fail(ctx, &sc, rc);
        }

        miroir_json_skip_ws(&sc);

        if (sc.p < sc.end) {
            miroir_json_fail_at(&sc, MIROIR_JSON_TRAILING_CHARS, sc.p);
            miroir_split_syntax(ctx, &sc);
        }

        return MIROIR_OK;
    }

    if (*sc.p != '[') {
        if (miroir_json_skip_value(&sc) != MIROIR_OK) {
            miroir_split_syntax(ctx, &sc);
        } else {
            miroir_split_not_objects(ctx);
        }

        return MIROIR_OK;
    }

    /* an array: serde's SeqAccess; bytes after the closing ']' are not
     * read by Meilisearch (no Deserializer::end), so neither by us */

    sc.p++;
    miroir_json_skip_ws(&sc);

    if (sc.p == sc.end) {
        miroir_json_fail_eof(&sc, MIROIR_JSON_EOF_LIST);
        miroir_split_syntax(ctx, &sc);
        return MIROIR_OK;
    }

    if (*sc.p == ']') {
        return MIROIR_OK;
    }

    for ( ;; ) {
        miroir_json_skip_ws(&sc);

        if (sc.p == sc.end) {
            miroir_json_fail_eof(&sc, MIROIR_JSON_EOF_VALUE);
            miroir_split_syntax(ctx, &sc);
            return MIROIR_OK;
        }

        if (*sc.p != '{') {
            /* Meilisearch takes the element as a raw value, fails to read
             * it as a map and stops; serde then checks the end of the
             * sequence, which reports what follows the element */
            if (miroir_split_raw_value(&sc) != MIROIR_OK) {
                miroir_split_syntax(ctx, &sc);
                return MIROIR_OK;
            }

            miroir_json_skip_ws(&sc);

            if (sc.p == sc.end) {
                miroir_json_fail_eof(&sc, MIROIR_JSON_EOF_LIST);

            } else if (*sc.p == ']') {
                miroir_split_not_objects(ctx);
                return MIROIR_OK;

            } else if (*sc.p == ',') {
                sc.p++;
                miroir_json_skip_ws(&sc);

                if (sc.p < sc.end && *sc.p == ']') {
                    miroir_json_fail_at(&sc, MIROIR_JSON_TRAILING_COMMA,
                                        sc.p);
                } else {
                    miroir_json_fail_at(&sc, MIROIR_JSON_TRAILING_CHARS,
                                        sc.p < sc.end ? sc.p : sc.end - 1);
                }

            } else {
                miroir_json_fail_at(&sc, MIROIR_JSON_TRAILING_CHARS, sc.p);
            }

            miroir_split_syntax(ctx, &sc);
            return MIROIR_OK;
        }

        rc = miroir_split_json_doc(ctx, &sc);
        if (rc != MIROIR_OK) {
            return miroir_split_doc_fail(ctx, &sc, rc);
        }

        miroir_json_skip_ws(&sc);

        if (sc.p == sc.end) {
            miroir_json_fail_eof(&sc, MIROIR_JSON_EOF_LIST);
            miroir_split_syntax(ctx, &sc);
            return MIROIR_OK;
        }

        if (*sc.p == ']') {
            return MIROIR_OK;
        }

        if (*sc.p != ',') {
            miroir_json_fail_at(&sc, MIROIR_JSON_EXPECTED_LIST_SEP, sc.p);
            miroir_split_syntax(ctx, &sc);
            return MIROIR_OK;
        }

        sc.p++;
        miroir_json_skip_ws(&sc);

        if (sc.p < sc.end && *sc.p == ']') {
            miroir_json_fail_at(&sc, MIROIR_JSON_TRAILING_COMMA, sc.p);
            miroir_split_syntax(ctx, &sc);
            return MIROIR_OK;
        }
    }
}


static miroir_rc_t
miroir_split_ndjson(miroir_split_ctx_t *ctx, const void *body, size_t len)
{
    miroir_json_scan_t  sc;
    miroir_rc_t         rc;
    unsigned char       c;

    miroir_json_scan_init(&sc, body, len);

    for ( ;; ) {
        miroir_json_skip_ws(&sc);

        if (sc.p == sc.end) {
            return MIROIR_OK;
        }

        if (*sc.p == '{') {
            /* an object ends itself: serde checks nothing after it */
            rc = miroir_split_json_doc(ctx, &sc);
            if (rc != MIROIR_OK) {
                return miroir_split_doc_fail(ctx, &sc, rc);
            }

            continue;
        }

        c = *sc.p;

        if (miroir_split_raw_value(&sc) != MIROIR_OK) {
            miroir_split_syntax(ctx, &sc);
            return MIROIR_OK;
        }

        /* StreamDeserializer: a number or literal must be followed by
         * whitespace or a structural byte, else "trailing characters" */
        if (c != '[' && c != '"' && sc.p < sc.end) {
            c = *sc.p;

            if (!(c == ' ' || c == '\n' || c == '\t' || c == '\r'
                  || c == '"' || c == '[' || c == ']' || c == '{'
                  || c == '}' || c == ',' || c == ':'))
            {
                miroir_json_fail_at(&sc, MIROIR_JSON_TRAILING_CHARS, sc.p);
                miroir_split_syntax(ctx, &sc);
                return MIROIR_OK;
            }
        }

        miroir_split_not_objects(ctx);
        return MIROIR_OK;
    }
}


/*
 * The csv crate reads records as UTF-8 strings: an invalid field is a
 * "CSV parse error" (400 malformed_payload).  @return 1 if rec is valid.
 */
static int
miroir_split_csv_utf8(miroir_split_ctx_t *ctx, const miroir_csv_record_t *rec,
    uint64_t recno)
{
    size_t  i;

    for (i = 0; i < rec->n; i++) {
        if (!miroir_utf8_valid(rec->bytes.data + rec->offs[i],
                               rec->offs[i + 1] - rec->offs[i]))
        {
            ctx->res->err_kind = MIROIR_SPLIT_ERR_REQUEST;
            miroir_error_set(&ctx->res->err, 400, "malformed_payload",
                             "invalid_request", "The `csv` payload provided "
                             "is malformed: `CSV parse error: record %llu "
                             "(line %llu, byte: %llu): invalid utf-8: "
                             "invalid UTF-8 in field %zu`.",
                             (unsigned long long) recno,
                             (unsigned long long) rec->line,
                             (unsigned long long) rec->byte, i);
            return 0;
        }
    }

    return 1;
}


static miroir_rc_t
miroir_split_csv(miroir_split_ctx_t *ctx, const void *body, size_t len)
{
    miroir_csv_t          c;
    miroir_csv_record_t   hdr, rec;
    miroir_csv_type_t    *types = NULL;
    size_t               *nlen = NULL;
    size_t                i, ncols = 0, pkcol = (size_t) -1, vstart, vend;
    miroir_bytes_t        doc;
    miroir_split_doc_t    d;
    miroir_rc_t           rc = MIROIR_OK;
    int                   got, reserved = 0;
    const char           *h;
    uint64_t              line = 0;

    memset(&hdr, 0, sizeof(hdr));
    memset(&rec, 0, sizeof(rec));
    miroir_bytes_init(&doc);

    miroir_csv_init(&c, body, len,
                    ctx->conf->csv_delimiter ? ctx->conf->csv_delimiter
                                             : (unsigned char) ',');

    rc = miroir_csv_read(&c, &hdr, &got);
    if (rc != MIROIR_OK || !got) {
        goto done;
    }

    if (!miroir_split_csv_utf8(ctx, &hdr, 0)) {
        goto done;
    }

    ncols = hdr.n;
    types = calloc(ncols, sizeof(*types));
    nlen = calloc(ncols, sizeof(*nlen));

    if (types == NULL || nlen == NULL) {
        rc = MIROIR_ENOMEM;
        goto done;
    }

    for (i = 0; i < ncols; i++) {
        h = (const char *) hdr.bytes.data + hdr.offs[i];
        types[i] = miroir_csv_header_type(h, hdr.offs[i + 1] - hdr.offs[i],
                                          &nlen[i]);

        if (nlen[i] >= MIROIR_RESERVED_PREFIX_LEN
            && memcmp(h, MIROIR_RESERVED_PREFIX,
                      MIROIR_RESERVED_PREFIX_LEN) == 0)
        {
            reserved = 1;
        }
    }

    for ( ;; ) {
        rc = miroir_csv_read(&c, &rec, &got);
        if (rc != MIROIR_OK || !got) {
            goto done;
        }

        line++;

        if (!miroir_split_csv_utf8(ctx, &rec, line)) {
            goto done;
        }

        if (rec.n != ncols) {
            ctx->res->err_kind = MIROIR_SPLIT_ERR_REQUEST;
            miroir_error_set(&ctx->res->err, 400, "malformed_payload",
                             "invalid_request", "The `csv` payload provided "
                             "is malformed: `CSV error: record %llu (line: "
                             "%llu, byte: %llu): found record with %zu "
                             "fields, but the previous record has %zu "
                             "fields`.", (unsigned long long) line,
                             (unsigned long long) rec.line,
                             (unsigned long long) rec.byte, rec.n, ncols);
            goto done;
        }

        if (ctx->infer_pending && !ctx->stop_emit) {
            for (i = 0; i < ncols; i++) {
                h = (const char *) hdr.bytes.data + hdr.offs[i];

                if (miroir_pk_is_candidate(h, nlen[i])
                    && miroir_pk_infer_add(&ctx->infer, h, nlen[i])
                       != MIROIR_OK)
                {
                    rc = MIROIR_ENOMEM;
                    goto done;
                }
            }

            rc = miroir_split_infer(ctx);
            if (rc != MIROIR_OK) {
                goto done;
            }
        }

        if (pkcol == (size_t) -1 && ctx->pk != NULL) {
            for (i = 0; i < ncols; i++) {
                if (nlen[i] == ctx->pklen
                    && memcmp(hdr.bytes.data + hdr.offs[i], ctx->pk,
                              nlen[i]) == 0)
                {
                    pkcol = i;      /* the last one wins, as in a map */
                }
            }
        }

        miroir_bytes_reset(&doc);
        memset(&d, 0, sizeof(d));
        vstart = vend = 0;

        if (miroir_bytes_putc(&doc, '{') != MIROIR_OK) {
            rc = MIROIR_ENOMEM;
            goto done;
        }

        for (i = 0; i < ncols; i++) {
            if ((i && miroir_bytes_putc(&doc, ',') != MIROIR_OK)
                || miroir_bytes_putc(&doc, '"') != MIROIR_OK
                || miroir_bytes_put_json_str(&doc, hdr.bytes.data + hdr.offs[i],
                                           nlen[i]) != MIROIR_OK
                || miroir_bytes_puts(&doc, "\":") != MIROIR_OK)
            {
                rc = MIROIR_ENOMEM;
                goto done;
            }

            if (i == pkcol) {
                vstart = doc.len;
            }

            rc = miroir_csv_put_value(&doc, types[i],
                                      rec.bytes.data + rec.offs[i],
                                      rec.offs[i + 1] - rec.offs[i], line,
                                      &ctx->res->err);
            if (rc == MIROIR_ERROR) {
                ctx->res->err_kind = MIROIR_SPLIT_ERR_REQUEST;
                rc = MIROIR_OK;
                goto done;
            }

            if (rc != MIROIR_OK) {
                goto done;
            }

            if (i == pkcol) {
                vend = doc.len;
            }
        }

        if (miroir_bytes_putc(&doc, '}') != MIROIR_OK) {
            rc = MIROIR_ENOMEM;
            goto done;
        }

        d.has_fields = ncols > 0;
        d.reserved = reserved;

        if (pkcol != (size_t) -1) {
            d.id = doc.data + vstart;
            d.idlen = vend - vstart;
        }

        rc = miroir_split_emit(ctx, doc.data, doc.len, &d);
        ctx->doc++;
        ctx->res->ndocs++;

        if (rc != MIROIR_OK) {
            goto done;
        }
    }

done:

    free(types);
    free(nlen);
    miroir_bytes_free(&doc);
    miroir_csv_record_free(&hdr);
    miroir_csv_record_free(&rec);

    return rc;
}


static void
miroir_split_reset_parts(miroir_split_result_t *res)
{
    uint32_t  i;

    for (i = 0; res->parts && i < res->nparts; i++) {
        free(res->parts[i].body);
        res->parts[i].body = NULL;
        res->parts[i].len = 0;
        res->parts[i].ndocs = 0;
    }
}


miroir_rc_t
miroir_split(const miroir_split_conf_t *conf, const void *body, size_t len,
    miroir_split_result_t *res)
{
    miroir_split_ctx_t           ctx;
    const miroir_route_table_t  *rt;
    miroir_rc_t                  rc;
    uint32_t                     i;

    memset(res, 0, sizeof(*res));

    if (conf == NULL || conf->route == NULL) {
        return MIROIR_EINVAL;
    }

    rt = conf->route;

    if (rt->nshards < MIROIR_MIN_SHARDS || rt->rf < 1
        || rt->rf > MIROIR_MAX_RF || rt->nnodes < 1
        || rt->nnodes > MIROIR_MAX_NODES || rt->owners == NULL
        || rt->node_ids == NULL || (body == NULL && len != 0))
    {
        return MIROIR_EINVAL;
    }

    if (conf->format == MIROIR_DOC_CSV && conf->csv_delimiter >= 0x80) {
        return MIROIR_EINVAL;
    }

    if (conf->extra != NULL
        && (conf->nextra < 1 || conf->nextra > MIROIR_MAX_NODES))
    {
        return MIROIR_EINVAL;
    }

    res->nparts = rt->nnodes;
    res->parts = calloc(rt->nnodes, sizeof(miroir_split_part_t));
    if (res->parts == NULL) {
        return MIROIR_ENOMEM;
    }

    if (len == 0) {
        res->err_kind = MIROIR_SPLIT_ERR_REQUEST;
        miroir_error_set(&res->err, 400, "missing_payload", "invalid_request",
                         "A %s payload is missing.",
                         miroir_split_fmt_name(conf->format));
        return MIROIR_OK;
    }

    memset(&ctx, 0, sizeof(ctx));
    ctx.conf = conf;
    ctx.rt = rt;
    ctx.res = res;

    ctx.out = calloc(rt->nnodes, sizeof(miroir_bytes_t));
    if (ctx.out == NULL) {
        return MIROIR_ENOMEM;
    }

    /* each node gets about rf / nnodes of the payload plus the tags:
     * reserving that up front saves most realloc copies */
    for (i = 0; i < rt->nnodes; i++) {
        if (miroir_bytes_reserve(&ctx.out[i], len / rt->nnodes * rt->rf
                                              + len / rt->nnodes / 4 + 256)
            != MIROIR_OK)
        {
            for (i = 0; i < rt->nnodes; i++) {
                miroir_bytes_free(&ctx.out[i]);
            }

            free(ctx.out);
            return MIROIR_ENOMEM;
        }
    }

    if (conf->primary_key != NULL) {
        res->primary_key = strdup(conf->primary_key);
        if (res->primary_key == NULL) {
            for (i = 0; i < rt->nnodes; i++) {
                miroir_bytes_free(&ctx.out[i]);
            }

            free(ctx.out);
            return MIROIR_ENOMEM;
        }

        ctx.pk = res->primary_key;
        ctx.pklen = strlen(ctx.pk);
        ctx.nested = memchr(ctx.pk, '.', ctx.pklen) != NULL;

    } else {
        ctx.infer_pending = 1;
    }

    switch (conf->format) {
    case MIROIR_DOC_JSON:
        rc = miroir_split_json(&ctx, body, len);
        break;
    case MIROIR_DOC_NDJSON:
        rc = miroir_split_ndjson(&ctx, body, len);
        break;
    default:
        rc = miroir_split_csv(&ctx, body, len);
        break;
    }

    if (rc == MIROIR_OK && res->err_kind == MIROIR_SPLIT_ERR_NONE) {
        if (ctx.reserved) {
            res->err_kind = MIROIR_SPLIT_ERR_REQUEST;

        } else if (ctx.task_failed) {
            res->err_kind = MIROIR_SPLIT_ERR_TASK;
            res->err = ctx.task_err;
            res->err_doc = ctx.task_doc;
        }
    }

    for (i = 0; i < rt->nnodes; i++) {
        if (rc == MIROIR_OK && res->err_kind == MIROIR_SPLIT_ERR_NONE
            && res->parts[i].ndocs > 0)
        {
            res->parts[i].body = miroir_bytes_detach(&ctx.out[i],
                                                     &res->parts[i].len);
        } else {
            miroir_bytes_free(&ctx.out[i]);
        }
    }

    if (rc != MIROIR_OK || res->err_kind != MIROIR_SPLIT_ERR_NONE) {
        miroir_split_reset_parts(res);
    }

    free(ctx.out);
    miroir_bytes_free(&ctx.scratch);
    miroir_bytes_free(&ctx.canon);
    miroir_bytes_free(&ctx.prefix);
    miroir_pk_infer_free(&ctx.infer);

    return rc;
}


void
miroir_split_result_free(miroir_split_result_t *res)
{
    if (res == NULL) {
        return;
    }

    miroir_split_reset_parts(res);
    free(res->parts);
    free(res->primary_key);
    res->parts = NULL;
    res->primary_key = NULL;
    res->nparts = 0;
}


uint32_t
miroir_split_route_id(const miroir_route_table_t *route, const void *canon,
    size_t len, const uint16_t **owners)
{
    uint32_t  s;

    s = miroir_shard_of(len ? canon : "", len, route->nshards);

    if (owners) {
        *owners = route->owners + (size_t) s * route->rf;
    }

    return s;
}
