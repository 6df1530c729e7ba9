/*
 * miroir_csv.h -- CSV reading with the semantics of Meilisearch's CSV
 * document format (Rust csv crate defaults + meilisearch-types'
 * read_csv typing).
 *
 * Records: fields split on a one-byte delimiter; "..." quoting with ""
 * for a literal quote (a quote inside an unquoted field is literal; bytes
 * after a closing quote are appended, as csv_core does); records end at
 * \n, \r or \r\n; empty lines are skipped; a UTF-8 BOM before the header
 * is dropped.  Every record must have as many fields as the header.
 *
 * Typing: a header "name:type" with type string|number|boolean (split on
 * the last ':') types its column; any other suffix keeps the whole header
 * as a string column.  Empty cells are null; number/boolean cells are
 * trimmed; number = i64, else f64 (non-finite becomes null), boolean =
 * true|false.
 */

#ifndef MIROIR_CSV_H
#define MIROIR_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "miroir_common.h"
#include "miroir_bytes.h"
#include "miroir_error.h"


typedef enum {
    MIROIR_CSV_STRING = 0,
    MIROIR_CSV_NUMBER,
    MIROIR_CSV_BOOLEAN
} miroir_csv_type_t;


/* One record: field i is bytes[offs[i] .. offs[i + 1]), unquoted. */
typedef struct {
    miroir_bytes_t bytes;
    size_t        *offs;        /* n + 1 entries */
    size_t         n;
    size_t         cap;
    uint64_t       line;        /* 1-based line where the record starts */
    uint64_t       byte;        /* byte offset where the record starts */
} miroir_csv_record_t;


typedef struct {
    const unsigned char  *start;
    const unsigned char  *p;
    const unsigned char  *end;
    uint64_t              line;     /* current line, 1-based */
    unsigned char         delim;
} miroir_csv_t;


/* Start reading data[0..len) (a leading UTF-8 BOM is skipped). */
void miroir_csv_init(miroir_csv_t *c, const void *data, size_t len,
    unsigned char delim);

/*
 * Read the next record into rec (reused across calls).
 * @return MIROIR_OK with *got = 1 (a record) or 0 (end of input), or
 *         MIROIR_ENOMEM.
 */
miroir_rc_t miroir_csv_read(miroir_csv_t *c, miroir_csv_record_t *rec,
    int *got);

void miroir_csv_record_free(miroir_csv_record_t *rec);

/* Split a header cell into its name length and column type. */
miroir_csv_type_t miroir_csv_header_type(const void *h, size_t len,
    size_t *name_len);

/*
 * Append cell s[0..len) of a column of type t as a JSON value.  line is
 * the 1-based data record number used in Meilisearch's message.
 * @return MIROIR_OK, MIROIR_ENOMEM, or MIROIR_ERROR with err set to
 *         400 malformed_payload ("Error parsing number ...").
 */
miroir_rc_t miroir_csv_put_value(miroir_bytes_t *out, miroir_csv_type_t t,
    const void *s, size_t len, uint64_t line, miroir_error_t *err);


#endif /* MIROIR_CSV_H */
