/*
 * miroir_json_scan.h -- a small validating JSON lexer/skipper.
 *
 * It never builds a tree: it walks bytes in place, validates them with the
 * grammar and error wording of serde_json (what Meilisearch uses), and
 * tells the caller where values start and end.  Whitespace is what
 * serde_json accepts: space, \t, \n, \r (no BOM).
 *
 * Errors record a serde_json error code and the byte index serde_json
 * would report; miroir_json_scan_error() renders the message exactly as
 * serde_json's Display does: "<what> at line <l> column <c>".
 *
 * The scanner works on one contiguous buffer; the caller owns it and it
 * must outlive the scanner.  Nothing here allocates except the helpers
 * that take a miroir_bytes_t.
 */

#ifndef MIROIR_JSON_SCAN_H
#define MIROIR_JSON_SCAN_H

#include <stddef.h>

#include "miroir_common.h"
#include "miroir_bytes.h"


/* serde_json ErrorCode values the scanner can raise. */
typedef enum {
    MIROIR_JSON_OK = 0,
    MIROIR_JSON_EOF_LIST,             /* EOF while parsing a list */
    MIROIR_JSON_EOF_OBJECT,           /* EOF while parsing an object */
    MIROIR_JSON_EOF_STRING,           /* EOF while parsing a string */
    MIROIR_JSON_EOF_VALUE,            /* EOF while parsing a value */
    MIROIR_JSON_EXPECTED_COLON,       /* expected `:` */
    MIROIR_JSON_EXPECTED_LIST_SEP,    /* expected `,` or `]` */
    MIROIR_JSON_EXPECTED_OBJECT_SEP,  /* expected `,` or `}` */
    MIROIR_JSON_EXPECTED_IDENT,       /* expected ident */
    MIROIR_JSON_EXPECTED_VALUE,       /* expected value */
    MIROIR_JSON_INVALID_ESCAPE,       /* invalid escape */
    MIROIR_JSON_INVALID_NUMBER,       /* invalid number */
    MIROIR_JSON_CONTROL_CHAR,         /* control character ... string */
    MIROIR_JSON_KEY_NOT_STRING,       /* key must be a string */
    MIROIR_JSON_TRAILING_COMMA,       /* trailing comma */
    MIROIR_JSON_TRAILING_CHARS,       /* trailing characters */
    MIROIR_JSON_DEPTH,                /* recursion limit exceeded */
    MIROIR_JSON_INVALID_UNICODE,      /* invalid unicode code point */
    MIROIR_JSON_LONE_SURROGATE,       /* lone leading surrogate in hex
                                         escape */
    MIROIR_JSON_END_OF_HEX            /* unexpected end of hex escape */
} miroir_json_err_t;


/* Deepest nesting accepted by miroir_json_skip_value() in raw mode. */
#define MIROIR_JSON_MAX_DEPTH    1024

/* serde_json's recursion limit, used in value mode. */
#define MIROIR_JSON_SERDE_DEPTH  128


/*
 * serde_json reports some errors differently depending on how a value is
 * read, and Meilisearch uses both ways:
 *
 *   raw mode (value_mode = 0, the default): serde's ignore_value(), used
 *   for a RawValue (each element of a document array, each NDJSON value).
 *   "[1,]" is "expected value", "{"a":1,}" is "key must be a string",
 *   numbers cut by EOF are "invalid number", nesting is unlimited (we stop
 *   at MIROIR_JSON_MAX_DEPTH), strings are not checked for UTF-8 or
 *   surrogates (the caller checks the whole raw value, see
 *   miroir_utf8_valid()).
 *
 *   value mode (value_mode = 1): serde's Deserializer building a Value or a
 *   Map (a single-object payload, JSON route bodies).  Trailing commas are
 *   "trailing comma", numbers cut by EOF are "EOF while parsing a value",
 *   nesting is limited to 127 containers, every string must be UTF-8 with
 *   paired surrogates.
 */


typedef struct {
    const unsigned char  *start;     /* first byte of the whole input */
    const unsigned char  *p;         /* next unread byte */
    const unsigned char  *end;       /* one past the last byte */
    miroir_json_err_t     err;
    size_t                err_index; /* serde_json's index for line/col */
    int                   value_mode; /* see above; 0 after init */
    unsigned              depth_base; /* value mode: containers already
                                         open around sc->p */
} miroir_json_scan_t;


/* A string token: raw bytes between the quotes, still escaped. */
typedef struct {
    const unsigned char  *raw;
    size_t                len;
    int                   escaped;   /* raw contains a backslash */
} miroir_json_str_t;


/* Start scanning data[0..len). */
void miroir_json_scan_init(miroir_json_scan_t *sc, const void *data,
    size_t len);

/* Skip serde_json whitespace. */
static inline void
miroir_json_skip_ws(miroir_json_scan_t *sc)
{
    while (sc->p < sc->end
           && (*sc->p == ' ' || *sc->p == '\n' || *sc->p == '\r'
               || *sc->p == '\t'))
    {
        sc->p++;
    }
}

/*
 * Validate and skip one JSON value starting at sc->p (leading whitespace
 * allowed).  Nested containers are walked iteratively.
 * @return MIROIR_OK with sc->p just after the value, or MIROIR_EINVAL with
 *         sc->err / sc->err_index set.
 */
miroir_rc_t miroir_json_skip_value(miroir_json_scan_t *sc);

/*
 * @pre    *sc->p == '"'.
 * Validate and skip a string; fill *s (if not NULL) with its raw contents.
 * @return MIROIR_OK or MIROIR_EINVAL (error recorded).
 */
miroir_rc_t miroir_json_scan_string(miroir_json_scan_t *sc,
    miroir_json_str_t *s);

/*
 * @pre    *sc->p is '-' or a digit.
 * Validate and skip a number; *is_int (if not NULL) tells whether it has
 * neither fraction nor exponent.
 * @return MIROIR_OK or MIROIR_EINVAL (error recorded).
 */
miroir_rc_t miroir_json_scan_number(miroir_json_scan_t *sc, int *is_int);

/* Record error e at the byte q (serde_json "peek" position: q + 1). */
miroir_rc_t miroir_json_fail_at(miroir_json_scan_t *sc, miroir_json_err_t e,
    const unsigned char *q);

/* Record error e at end of input. */
miroir_rc_t miroir_json_fail_eof(miroir_json_scan_t *sc, miroir_json_err_t e);

/* Record error e at serde_json index i (bytes before the position). */
miroir_rc_t miroir_json_fail_index(miroir_json_scan_t *sc,
    miroir_json_err_t e, size_t i);

/*
 * 1 if p[0..len) is valid UTF-8 as Rust's str::from_utf8 requires (no
 * overlong forms, no surrogates, nothing above U+10FFFF), else 0.
 * ASCII runs are checked 8 bytes at a time.
 */
int miroir_utf8_valid(const void *p, size_t len);

/* serde_json's wording of e, e.g. "expected value". */
const char *miroir_json_err_str(miroir_json_err_t e);

/*
 * Render the recorded error as serde_json does:
 * "<what> at line <l> column <c>" (line 1-based, column = bytes consumed on
 * that line).  @return snprintf-like length.
 */
size_t miroir_json_scan_error(const miroir_json_scan_t *sc, char *buf,
    size_t size);

/*
 * Append the unescaped bytes of a validated string token to out.
 * \uXXXX escapes (with surrogate pairs) become UTF-8; a lone surrogate
 * becomes U+FFFD.
 * @return MIROIR_OK or MIROIR_ENOMEM.
 */
miroir_rc_t miroir_json_unescape(const miroir_json_str_t *s,
    miroir_bytes_t *out);

/*
 * Does the string token equal key[0..klen) once unescaped?  scratch is
 * used only when the token has escapes.
 * @return 1 yes, 0 no, -1 out of memory.
 */
int miroir_json_str_eq(const miroir_json_str_t *s, const void *key,
    size_t klen, miroir_bytes_t *scratch);

/*
 * Append a validated JSON value with all whitespace outside strings
 * removed (serde_json's compact layout, numbers kept as written).
 * @return MIROIR_OK or MIROIR_ENOMEM.
 */
miroir_rc_t miroir_json_compact(const void *value, size_t len,
    miroir_bytes_t *out);


#endif /* MIROIR_JSON_SCAN_H */
