/*
 * miroir_csv.c -- CSV records and Meilisearch's CSV typing.
 */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "miroir_csv.h"


void
miroir_csv_init(miroir_csv_t *c, const void *data, size_t len,
    unsigned char delim)
{
    c->start = data;
    c->p = c->start;
    c->end = c->start + len;
    c->line = 1;
    c->delim = delim;

    if (len >= 3 && c->p[0] == 0xef && c->p[1] == 0xbb && c->p[2] == 0xbf) {
        c->p += 3;
    }
}


static miroir_rc_t
miroir_csv_end_field(miroir_csv_record_t *rec)
{
    size_t  *offs;

    if (rec->n + 2 > rec->cap) {
        offs = realloc(rec->offs, (rec->cap ? rec->cap * 2 : 16)
                                  * sizeof(size_t));
        if (offs == NULL) {
            return MIROIR_ENOMEM;
        }

        rec->offs = offs;
        rec->cap = rec->cap ? rec->cap * 2 : 16;
    }

    rec->offs[++rec->n] = rec->bytes.len;

    return MIROIR_OK;
}


miroir_rc_t
miroir_csv_read(miroir_csv_t *c, miroir_csv_record_t *rec, int *got)
{
    const unsigned char  *p = c->p, *end = c->end, *run;
    unsigned char         d = c->delim;
    enum { FIELD_START, IN_FIELD, IN_QUOTED, QUOTE_IN_QUOTED } st;

    *got = 0;

    /* skip empty lines */
    while (p < end && (*p == '\n' || *p == '\r')) {
        if (*p == '\n') {
            c->line++;
        }

        p++;
    }

    if (p == end) {
        c->p = p;
        return MIROIR_OK;
    }

    if (rec->offs == NULL && miroir_csv_end_field(rec) != MIROIR_OK) {
        return MIROIR_ENOMEM;
    }

    rec->n = 0;
    rec->offs[0] = 0;
    miroir_bytes_reset(&rec->bytes);
    rec->line = c->line;
    rec->byte = (uint64_t) (p - c->start);
    st = FIELD_START;

    while (p < end) {
        switch (st) {
        case FIELD_START:
            if (*p == '"') {
                st = IN_QUOTED;
                p++;
                break;
            }

            st = IN_FIELD;
            /* fall through */

        case IN_FIELD:
            run = p;

            while (p < end && *p != d && *p != '\n' && *p != '\r') {
                p++;
            }

            if (miroir_bytes_append(&rec->bytes, run, (size_t) (p - run))
                != MIROIR_OK)
            {
                return MIROIR_ENOMEM;
            }

            if (p == end) {
                break;
            }

            if (miroir_csv_end_field(rec) != MIROIR_OK) {
                return MIROIR_ENOMEM;
            }

            if (*p == d) {
                st = FIELD_START;
                p++;
                break;
            }

            goto record_done;

        case IN_QUOTED:
            run = p;

            while (p < end && *p != '"') {
                if (*p == '\n') {
                    c->line++;
                }

                p++;
            }

            if (miroir_bytes_append(&rec->bytes, run, (size_t) (p - run))
                != MIROIR_OK)
            {
                return MIROIR_ENOMEM;
            }

            if (p < end) {
                st = QUOTE_IN_QUOTED;
                p++;
            }

            break;

        case QUOTE_IN_QUOTED:
            if (*p == '"') {
                if (miroir_bytes_putc(&rec->bytes, '"') != MIROIR_OK) {
                    return MIROIR_ENOMEM;
                }

                st = IN_QUOTED;
                p++;
                break;
            }

            if (*p == d) {
                if (miroir_csv_end_field(rec) != MIROIR_OK) {
                    return MIROIR_ENOMEM;
                }

                st = FIELD_START;
                p++;
                break;
            }

            if (*p == '\n' || *p == '\r') {
                if (miroir_csv_end_field(rec) != MIROIR_OK) {
                    return MIROIR_ENOMEM;
                }

                goto record_done;
            }

            st = IN_FIELD;
            break;
        }
    }

    /* end of input inside a record */
    if (miroir_csv_end_field(rec) != MIROIR_OK) {
        return MIROIR_ENOMEM;
    }

    c->p = p;
    *got = 1;

    return MIROIR_OK;

record_done:

    /* p is at '\r' or '\n'; consume one terminator (\r\n counts once) */
    if (*p == '\r' && p + 1 < end && p[1] == '\n') {
        p++;
    }

    if (*p == '\n' || *p == '\r') {
        c->line++;
    }

    c->p = p + 1;
    *got = 1;

    return MIROIR_OK;
}


void
miroir_csv_record_free(miroir_csv_record_t *rec)
{
    miroir_bytes_free(&rec->bytes);
    free(rec->offs);
    rec->offs = NULL;
    rec->n = 0;
    rec->cap = 0;
}


miroir_csv_type_t
miroir_csv_header_type(const void *h, size_t len, size_t *name_len)
{
    const char  *s = h;
    size_t       i = len, tl;

    *name_len = len;

    while (i > 0 && s[i - 1] != ':') {
        i--;
    }

    if (i == 0) {
        return MIROIR_CSV_STRING;
    }

    tl = len - i;

    if (tl == 6 && memcmp(s + i, "string", 6) == 0) {
        *name_len = i - 1;
        return MIROIR_CSV_STRING;
    }

    if (tl == 6 && memcmp(s + i, "number", 6) == 0) {
        *name_len = i - 1;
        return MIROIR_CSV_NUMBER;
    }

    if (tl == 7 && memcmp(s + i, "boolean", 7) == 0) {
        *name_len = i - 1;
        return MIROIR_CSV_BOOLEAN;
    }

    return MIROIR_CSV_STRING;
}


static int
miroir_csv_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
           || c == '\v';
}


/* Rust's str::parse::<i64>: [+-]?[0-9]+ in range. */
static int
miroir_csv_parse_i64(const char *s, size_t len, int64_t *v)
{
    char       tmp[32], *e;
    size_t     i = 0;
    long long  r;

    if (len == 0 || len >= sizeof(tmp)) {
        return 0;
    }

    if (s[0] == '+' || s[0] == '-') {
        i = 1;
    }

    if (i == len) {
        return 0;
    }

    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }

    memcpy(tmp, s, len);
    tmp[len] = '\0';
    errno = 0;
    r = strtoll(tmp, &e, 10);

    if (errno == ERANGE || *e != '\0') {
        return 0;
    }

    *v = (int64_t) r;

    return 1;
}


static int
miroir_csv_ieq(const char *s, size_t len, const char *w)
{
    size_t  i;

    if (strlen(w) != len) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if ((s[i] | 0x20) != w[i]) {
            return 0;
        }
    }

    return 1;
}


/*
 * Rust's str::parse::<f64> grammar: [+-]? (inf | infinity | nan |
 * digits [. digits?] | . digits) ([eE] [+-]? digits)?
 * @return 1 with *v set, 0 if invalid.  *nonfinite for inf/nan words.
 */
static int
miroir_csv_parse_f64(const char *s, size_t len, double *v)
{
    char    *tmp, *e;
    size_t   i = 0, digits = 0;
    int      neg = 0;

    if (len > 0 && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        i = 1;
    }

    if (miroir_csv_ieq(s + i, len - i, "inf")
        || miroir_csv_ieq(s + i, len - i, "infinity"))
    {
        *v = neg ? -HUGE_VAL : HUGE_VAL;
        return 1;
    }

    if (miroir_csv_ieq(s + i, len - i, "nan")) {
        *v = NAN;
        return 1;
    }

    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        digits++;
    }

    if (i < len && s[i] == '.') {
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            digits++;
        }
    }

    if (digits == 0) {
        return 0;
    }

    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;

        if (i < len && (s[i] == '+' || s[i] == '-')) {
            i++;
        }

        if (i == len || s[i] < '0' || s[i] > '9') {
            return 0;
        }

        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
    }

    if (i != len) {
        return 0;
    }

    tmp = malloc(len + 1);
    if (tmp == NULL) {
        return -1;
    }

    memcpy(tmp, s, len);
    tmp[len] = '\0';
    *v = strtod(tmp, &e);
    free(tmp);

    return 1;
}


/* Rust's {:?} of a str, for messages. */
static void
miroir_csv_debug_str(miroir_bytes_t *b, const char *s, size_t len)
{
    char    tmp[12];
    size_t  i;

    (void) miroir_bytes_putc(b, '"');

    for (i = 0; i < len; i++) {
        unsigned char  c = (unsigned char) s[i];

        switch (c) {
        case '"':  (void) miroir_bytes_puts(b, "\\\""); break;
        case '\\': (void) miroir_bytes_puts(b, "\\\\"); break;
        case '\n': (void) miroir_bytes_puts(b, "\\n"); break;
        case '\r': (void) miroir_bytes_puts(b, "\\r"); break;
        case '\t': (void) miroir_bytes_puts(b, "\\t"); break;
        case '\0': (void) miroir_bytes_puts(b, "\\0"); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                snprintf(tmp, sizeof(tmp), "\\u{%x}", c);
                (void) miroir_bytes_puts(b, tmp);

            } else {
                (void) miroir_bytes_putc(b, c);
            }
        }
    }

    (void) miroir_bytes_putc(b, '"');
    (void) miroir_bytes_putc(b, '\0');
}


static miroir_rc_t
miroir_csv_error(miroir_error_t *err, const char *what, const char *s,
    size_t len, uint64_t line, const char *why)
{
    miroir_bytes_t  b;

    miroir_bytes_init(&b);
    miroir_csv_debug_str(&b, s, len);

    miroir_error_set(err, 400, "malformed_payload", "invalid_request",
                     "The `csv` payload provided is malformed: `Error parsing "
                     "%s %s at line %llu: %s`.", what,
                     b.data ? (char *) b.data : "\"\"",
                     (unsigned long long) line, why);
    miroir_bytes_free(&b);

    return MIROIR_ERROR;
}


miroir_rc_t
miroir_csv_put_value(miroir_bytes_t *out, miroir_csv_type_t t, const void *s,
    size_t len, uint64_t line, miroir_error_t *err)
{
    const char  *v = s, *tv = s;
    size_t       tlen = len;
    int64_t      i64;
    double       f64;
    int          r;

    if (t == MIROIR_CSV_STRING) {
        if (len == 0) {
            return miroir_bytes_puts(out, "null");
        }

        if (miroir_bytes_putc(out, '"') != MIROIR_OK
            || miroir_bytes_put_json_str(out, s, len) != MIROIR_OK)
        {
            return MIROIR_ENOMEM;
        }

        return miroir_bytes_putc(out, '"');
    }

    while (tlen > 0 && miroir_csv_space((unsigned char) *tv)) {
        tv++;
        tlen--;
    }

    while (tlen > 0 && miroir_csv_space((unsigned char) tv[tlen - 1])) {
        tlen--;
    }

    if (tlen == 0) {
        return miroir_bytes_puts(out, "null");
    }

    if (t == MIROIR_CSV_BOOLEAN) {
        if (tlen == 4 && memcmp(tv, "true", 4) == 0) {
            return miroir_bytes_puts(out, "true");
        }

        if (tlen == 5 && memcmp(tv, "false", 5) == 0) {
            return miroir_bytes_puts(out, "false");
        }

        return miroir_csv_error(err, "boolean", v, len, line,
                                "provided string was not `true` or `false`");
    }

    if (miroir_csv_parse_i64(tv, tlen, &i64)) {
        return miroir_bytes_put_i64(out, i64);
    }

    r = miroir_csv_parse_f64(tv, tlen, &f64);

    if (r < 0) {
        return MIROIR_ENOMEM;
    }

    if (r == 0) {
        return miroir_csv_error(err, "number", v, len, line,
                                "invalid float literal");
    }

    if (!isfinite(f64)) {
        return miroir_bytes_puts(out, "null");
    }

    return miroir_bytes_put_f64(out, f64);
}
