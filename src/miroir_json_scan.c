/*
 * miroir_json_scan.c -- a small validating JSON lexer/skipper with
 * serde_json's grammar and error wording.
 */

#include <stdio.h>
#include <string.h>

#include "miroir_json_scan.h"


/* 1 for bytes that end the fast path inside a string: '"', '\\', < 0x20 */
static const unsigned char  miroir_json_str_stop[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    /* 0x60 .. 0xff: all 0 */
};


void
miroir_json_scan_init(miroir_json_scan_t *sc, const void *data, size_t len)
{
    sc->start = data;
    sc->p = sc->start;
    sc->end = sc->start + len;
    sc->err = MIROIR_JSON_OK;
    sc->err_index = 0;
    sc->value_mode = 0;
    sc->depth_base = 0;
}


miroir_rc_t
miroir_json_fail_at(miroir_json_scan_t *sc, miroir_json_err_t e,
    const unsigned char *q)
{
    size_t  len = (size_t) (sc->end - sc->start);
    size_t  i = (size_t) (q - sc->start) + 1;

    sc->err = e;
    sc->err_index = i < len ? i : len;

    return MIROIR_EINVAL;
}


miroir_rc_t
miroir_json_fail_eof(miroir_json_scan_t *sc, miroir_json_err_t e)
{
    sc->err = e;
    sc->err_index = (size_t) (sc->end - sc->start);

    return MIROIR_EINVAL;
}


miroir_rc_t
miroir_json_fail_index(miroir_json_scan_t *sc, miroir_json_err_t e, size_t i)
{
    size_t  len = (size_t) (sc->end - sc->start);

    sc->err = e;
    sc->err_index = i < len ? i : len;

    return MIROIR_EINVAL;
}


int
miroir_utf8_valid(const void *data, size_t len)
{
    const unsigned char  *p = data, *end = p + len;
    uint64_t              w;
    unsigned char         c;

    while (p < end) {
        while (end - p >= 8) {
            memcpy(&w, p, 8);

            if (w & 0x8080808080808080ULL) {
                break;
            }

            p += 8;
        }

        if (p == end) {
            break;
        }

        c = *p;

        if (c < 0x80) {
            p++;
            continue;
        }

        if (c >= 0xc2 && c <= 0xdf) {
            if (end - p < 2 || (p[1] & 0xc0) != 0x80) {
                return 0;
            }

            p += 2;
            continue;
        }

        if (c >= 0xe0 && c <= 0xef) {
            if (end - p < 3 || (p[1] & 0xc0) != 0x80
                || (p[2] & 0xc0) != 0x80
                || (c == 0xe0 && p[1] < 0xa0)         /* overlong */
                || (c == 0xed && p[1] > 0x9f))        /* surrogate */
            {
                return 0;
            }

            p += 3;
            continue;
        }

        if (c >= 0xf0 && c <= 0xf4) {
            if (end - p < 4 || (p[1] & 0xc0) != 0x80
                || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80
                || (c == 0xf0 && p[1] < 0x90)         /* overlong */
                || (c == 0xf4 && p[1] > 0x8f))        /* > U+10FFFF */
            {
                return 0;
            }

            p += 4;
            continue;
        }

        return 0;
    }

    return 1;
}


const char *
miroir_json_err_str(miroir_json_err_t e)
{
    switch (e) {
    case MIROIR_JSON_OK:                 return "no error";
    case MIROIR_JSON_EOF_LIST:           return "EOF while parsing a list";
    case MIROIR_JSON_EOF_OBJECT:         return "EOF while parsing an object";
    case MIROIR_JSON_EOF_STRING:         return "EOF while parsing a string";
    case MIROIR_JSON_EOF_VALUE:          return "EOF while parsing a value";
    case MIROIR_JSON_EXPECTED_COLON:     return "expected `:`";
    case MIROIR_JSON_EXPECTED_LIST_SEP:  return "expected `,` or `]`";
    case MIROIR_JSON_EXPECTED_OBJECT_SEP: return "expected `,` or `}`";
    case MIROIR_JSON_EXPECTED_IDENT:     return "expected ident";
    case MIROIR_JSON_EXPECTED_VALUE:     return "expected value";
    case MIROIR_JSON_INVALID_ESCAPE:     return "invalid escape";
    case MIROIR_JSON_INVALID_NUMBER:     return "invalid number";
    case MIROIR_JSON_CONTROL_CHAR:
        return "control character (\\u0000-\\u001F) found while parsing "
               "a string";
    case MIROIR_JSON_KEY_NOT_STRING:     return "key must be a string";
    case MIROIR_JSON_TRAILING_COMMA:     return "trailing comma";
    case MIROIR_JSON_TRAILING_CHARS:     return "trailing characters";
    case MIROIR_JSON_DEPTH:              return "recursion limit exceeded";
    case MIROIR_JSON_INVALID_UNICODE:    return "invalid unicode code point";
    case MIROIR_JSON_LONE_SURROGATE:
        return "lone leading surrogate in hex escape";
    case MIROIR_JSON_END_OF_HEX:         return "unexpected end of hex escape";
    }

    return "unknown error";
}


size_t
miroir_json_scan_error(const miroir_json_scan_t *sc, char *buf, size_t size)
{
    const unsigned char  *p, *q, *nl;
    size_t                line = 1;
    int                   n;

    q = sc->start + sc->err_index;
    nl = NULL;

    for (p = sc->start; p < q; p++) {
        p = memchr(p, '\n', (size_t) (q - p));
        if (p == NULL) {
            break;
        }

        line++;
        nl = p;
    }

    n = snprintf(buf, size, "%s at line %zu column %zu",
                 miroir_json_err_str(sc->err), line,
                 (size_t) (q - (nl ? nl + 1 : sc->start)));

    return n < 0 ? 0 : (size_t) n;
}


static int
miroir_json_hex(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


/*
 * Read the 4 hex digits of a \\u escape at *pp (serde's SliceRead:
 * fewer than 4 bytes left is EOF, a bad digit is reported after the 4).
 */
static miroir_rc_t
miroir_json_hex_escape(miroir_json_scan_t *sc, const unsigned char **pp,
    unsigned long *cp)
{
    const unsigned char  *p = *pp;
    int                   i, h;
    unsigned long         n = 0;

    if (sc->end - p < 4) {
        return miroir_json_fail_eof(sc, MIROIR_JSON_EOF_STRING);
    }

    for (i = 0; i < 4; i++) {
        h = miroir_json_hex(p[i]);

        if (h < 0) {
            return miroir_json_fail_index(sc, MIROIR_JSON_INVALID_ESCAPE,
                                          (size_t) (p + 4 - sc->start));
        }

        n = n << 4 | (unsigned long) h;
    }

    *pp = p + 4;
    *cp = n;

    return MIROIR_OK;
}


/* value mode: a \\u escape must not leave a surrogate unpaired */
static miroir_rc_t
miroir_json_surrogates(miroir_json_scan_t *sc, const unsigned char **pp,
    unsigned long n)
{
    const unsigned char  *p = *pp;
    unsigned long         n2;

    if (n >= 0xdc00 && n <= 0xdfff) {
        return miroir_json_fail_index(sc, MIROIR_JSON_LONE_SURROGATE,
                                      (size_t) (p - sc->start));
    }

    if (n < 0xd800 || n > 0xdbff) {
        return MIROIR_OK;
    }

    if (p == sc->end) {
        return miroir_json_fail_eof(sc, MIROIR_JSON_EOF_STRING);
    }

    if (*p != '\\') {
        return miroir_json_fail_index(sc, MIROIR_JSON_END_OF_HEX,
                                      (size_t) (p + 1 - sc->start));
    }

    p++;

    if (p == sc->end) {
        return miroir_json_fail_eof(sc, MIROIR_JSON_EOF_STRING);
    }

    if (*p != 'u') {
        return miroir_json_fail_index(sc, MIROIR_JSON_END_OF_HEX,
                                      (size_t) (p + 1 - sc->start));
    }

    p++;

    if (miroir_json_hex_escape(sc, &p, &n2) != MIROIR_OK) {
        return MIROIR_EINVAL;
    }

    if (n2 < 0xdc00 || n2 > 0xdfff) {
        return miroir_json_fail_index(sc, MIROIR_JSON_LONE_SURROGATE,
                                      (size_t) (p - sc->start));
    }

    *pp = p;

    return MIROIR_OK;
}


miroir_rc_t
miroir_json_scan_string(miroir_json_scan_t *sc, miroir_json_str_t *s)
{
    const unsigned char  *p = sc->p + 1, *end = sc->end, *begin = p;
    int                   escaped = 0;
    unsigned long         cp;

    for ( ;; ) {
        while (p < end && !miroir_json_str_stop[*p]) {
            p++;
        }

        if (p == end) {
            return miroir_json_fail_eof(sc, MIROIR_JSON_EOF_STRING);
        }

        if (*p == '"') {
            break;
        }

        if (*p != '\\') {
            /* serde reports it before consuming it */
            return miroir_json_fail_index(sc, MIROIR_JSON_CONTROL_CHAR,
                                          (size_t) (p - sc->start));
        }

        escaped = 1;
        p++;

        if (p == end) {
            return miroir_json_fail_eof(sc, MIROIR_JSON_EOF_STRING);
        }

        switch (*p) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n':
        case 'r': case 't':
            p++;
            break;

        case 'u':
            p++;

            if (miroir_json_hex_escape(sc, &p, &cp) != MIROIR_OK) {
                return MIROIR_EINVAL;
            }

            if (sc->value_mode
                && miroir_json_surrogates(sc, &p, cp) != MIROIR_OK)
            {
                return MIROIR_EINVAL;
            }

            break;

        default:
            return miroir_json_fail_at(sc, MIROIR_JSON_INVALID_ESCAPE, p);
        }
    }

    if (sc->value_mode
        && !miroir_utf8_valid(begin, (size_t) (p - begin)))
    {
        return miroir_json_fail_index(sc, MIROIR_JSON_INVALID_UNICODE,
                                      (size_t) (p + 1 - sc->start));
    }

    if (s) {
        s->raw = begin;
        s->len = (size_t) (p - begin);
        s->escaped = escaped;
    }

    sc->p = p + 1;

    return MIROIR_OK;
}


miroir_rc_t
miroir_json_scan_number(miroir_json_scan_t *sc, int *is_int)
{
    const unsigned char  *p = sc->p, *end = sc->end;
    int                   integer = 1;
    miroir_json_err_t     eof;

    /* a number cut by the end of input: serde's ignore_integer() says
     * "invalid number", parse_any_number() says "EOF while parsing a
     * value" */
    eof = sc->value_mode ? MIROIR_JSON_EOF_VALUE : MIROIR_JSON_INVALID_NUMBER;

    if (*p == '-') {
        p++;

        if (p == end) {
            return miroir_json_fail_eof(sc, eof);
        }

        if (*p < '0' || *p > '9') {
            return miroir_json_fail_at(sc, MIROIR_JSON_INVALID_NUMBER, p);
        }
    }

    if (*p == '0') {
        p++;

        if (p < end && *p >= '0' && *p <= '9') {
            return miroir_json_fail_at(sc, MIROIR_JSON_INVALID_NUMBER, p);
        }

    } else {
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (p < end && *p == '.') {
        integer = 0;
        p++;

        if (p == end) {
            return miroir_json_fail_eof(sc, eof);
        }

        if (*p < '0' || *p > '9') {
            return miroir_json_fail_at(sc, MIROIR_JSON_INVALID_NUMBER, p);
        }

        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (p < end && (*p == 'e' || *p == 'E')) {
        integer = 0;
        p++;

        if (p < end && (*p == '+' || *p == '-')) {
            p++;
        }

        if (p == end) {
            return miroir_json_fail_eof(sc, eof);
        }

        if (*p < '0' || *p > '9') {
            return miroir_json_fail_at(sc, MIROIR_JSON_INVALID_NUMBER, p);
        }

        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (is_int) {
        *is_int = integer;
    }

    sc->p = p;

    return MIROIR_OK;
}


static miroir_rc_t
miroir_json_scan_ident(miroir_json_scan_t *sc, const char *word)
{
    const unsigned char  *p = sc->p;

    for (; *word; word++, p++) {
        if (p == sc->end) {
            return miroir_json_fail_eof(sc, MIROIR_JSON_EOF_VALUE);
        }

        if (*p != (unsigned char) *word) {
            return miroir_json_fail_at(sc, MIROIR_JSON_EXPECTED_IDENT, p);
        }
    }

    sc->p = p;

    return MIROIR_OK;
}


miroir_rc_t
miroir_json_skip_value(miroir_json_scan_t *sc)
{
    unsigned char  stack[MIROIR_JSON_MAX_DEPTH];
    unsigned char  top;
    size_t         depth = 0;

value:

    miroir_json_skip_ws(sc);

    if (sc->p == sc->end) {
        return miroir_json_fail_eof(sc, MIROIR_JSON_EOF_VALUE);
    }

    if ((*sc->p == '{' || *sc->p == '[') && sc->value_mode
        && sc->depth_base + depth + 1 >= MIROIR_JSON_SERDE_DEPTH)
    {
        return miroir_json_fail_at(sc, MIROIR_JSON_DEPTH, sc->p);
    }

    switch (*sc->p) {
    case '{':
        sc->p++;
        miroir_json_skip_ws(sc);

        if (sc->p == sc->end) {
            return miroir_json_fail_eof(sc, MIROIR_JSON_EOF_OBJECT);
        }

        if (*sc->p == '}') {
            sc->p++;
            goto after;
        }

        if (depth == MIROIR_JSON_MAX_DEPTH) {
            return miroir_json_fail_at(sc, MIROIR_JSON_DEPTH, sc->p);
        }

        stack[depth++] = '{';
        goto key;

    case '[':
        sc->p++;
        miroir_json_skip_ws(sc);

        if (sc->p == sc->end) {
            return miroir_json_fail_eof(sc, MIROIR_JSON_EOF_LIST);
        }

        if (*sc->p == ']') {
            sc->p++;
            goto after;
        }

        if (depth == MIROIR_JSON_MAX_DEPTH) {
            return miroir_json_fail_at(sc, MIROIR_JSON_DEPTH, sc->p);
        }

        stack[depth++] = '[';
        goto value;

    case '"':
        if (miroir_json_scan_string(sc, NULL) != MIROIR_OK) {
            return MIROIR_EINVAL;
        }

        goto after;

    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        if (miroir_json_scan_number(sc, NULL) != MIROIR_OK) {
            return MIROIR_EINVAL;
        }

        goto after;

    case 't':
        if (miroir_json_scan_ident(sc, "true") != MIROIR_OK) {
            return MIROIR_EINVAL;
        }

        goto after;

    case 'f':
        if (miroir_json_scan_ident(sc, "false") != MIROIR_OK) {
            return MIROIR_EINVAL;
        }

        goto after;

    case 'n':
        if (miroir_json_scan_ident(sc, "null") != MIROIR_OK) {
            return MIROIR_EINVAL;
        }

        goto after;

    default:
        return miroir_json_fail_at(sc, MIROIR_JSON_EXPECTED_VALUE, sc->p);
    }

key:

    /* whitespace already skipped */

    if (sc->p == sc->end) {
        return miroir_json_fail_eof(sc, MIROIR_JSON_EOF_OBJECT);
    }

    if (*sc->p != '"') {
        return miroir_json_fail_at(sc, MIROIR_JSON_KEY_NOT_STRING, sc->p);
    }

    if (miroir_json_scan_string(sc, NULL) != MIROIR_OK) {
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
    goto value;

after:

    if (depth == 0) {
        return MIROIR_OK;
    }

    miroir_json_skip_ws(sc);
    top = stack[depth - 1];

    if (sc->p == sc->end) {
        return miroir_json_fail_eof(sc, top == '{' ? MIROIR_JSON_EOF_OBJECT
                                                   : MIROIR_JSON_EOF_LIST);
    }

    if (*sc->p == ',') {
        sc->p++;
        miroir_json_skip_ws(sc);

        /* raw mode lets the next token fail on its own: "expected value"
         * for ']', "key must be a string" for '}' */
        if (sc->value_mode) {
            if (sc->p == sc->end) {
                return miroir_json_fail_eof(sc, MIROIR_JSON_EOF_VALUE);
            }

            if (*sc->p == (top == '{' ? '}' : ']')) {
                return miroir_json_fail_at(sc, MIROIR_JSON_TRAILING_COMMA,
                                           sc->p);
            }
        }

        if (top == '{') {
            goto key;
        }

        goto value;
    }

    if (*sc->p == (top == '{' ? '}' : ']')) {
        sc->p++;
        depth--;
        goto after;
    }

    return miroir_json_fail_at(sc, top == '{' ? MIROIR_JSON_EXPECTED_OBJECT_SEP
                                              : MIROIR_JSON_EXPECTED_LIST_SEP,
                               sc->p);
}


static miroir_rc_t
miroir_json_put_utf8(miroir_bytes_t *out, unsigned long cp)
{
    unsigned char  u[4];
    size_t         n;

    if (cp < 0x80) {
        u[0] = (unsigned char) cp; n = 1;

    } else if (cp < 0x800) {
        u[0] = (unsigned char) (0xc0 | (cp >> 6));
        u[1] = (unsigned char) (0x80 | (cp & 0x3f));
        n = 2;

    } else if (cp < 0x10000) {
        u[0] = (unsigned char) (0xe0 | (cp >> 12));
        u[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
        u[2] = (unsigned char) (0x80 | (cp & 0x3f));
        n = 3;

    } else {
        u[0] = (unsigned char) (0xf0 | (cp >> 18));
        u[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3f));
        u[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
        u[3] = (unsigned char) (0x80 | (cp & 0x3f));
        n = 4;
    }

    return miroir_bytes_append(out, u, n);
}


static unsigned long
miroir_json_hex4(const unsigned char *p)
{
    return (unsigned long) (miroir_json_hex(p[0]) << 12
                            | miroir_json_hex(p[1]) << 8
                            | miroir_json_hex(p[2]) << 4
                            | miroir_json_hex(p[3]));
}


miroir_rc_t
miroir_json_unescape(const miroir_json_str_t *s, miroir_bytes_t *out)
{
    const unsigned char  *p = s->raw, *end = s->raw + s->len, *run;
    unsigned long         cp, lo;
    unsigned char         c;

    if (miroir_bytes_reserve(out, s->len) != MIROIR_OK) {
        return MIROIR_ENOMEM;
    }

    while (p < end) {
        run = p;
        p = memchr(p, '\\', (size_t) (end - p));

        if (p == NULL) {
            return miroir_bytes_append(out, run, (size_t) (end - run));
        }

        if (miroir_bytes_append(out, run, (size_t) (p - run)) != MIROIR_OK) {
            return MIROIR_ENOMEM;
        }

        p++;                                /* validated: escape follows */

        switch (*p++) {
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'u':
            cp = miroir_json_hex4(p);
            p += 4;

            if (cp >= 0xd800 && cp < 0xdc00) {
                if (end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                    lo = miroir_json_hex4(p + 2);

                    if (lo >= 0xdc00 && lo < 0xe000) {
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                        p += 6;

                    } else {
                        cp = 0xfffd;
                    }

                } else {
                    cp = 0xfffd;
                }

            } else if (cp >= 0xdc00 && cp < 0xe000) {
                cp = 0xfffd;
            }

            if (miroir_json_put_utf8(out, cp) != MIROIR_OK) {
                return MIROIR_ENOMEM;
            }

            continue;

        default:                            /* '"', '\\', '/' */
            c = p[-1];
        }

        if (miroir_bytes_putc(out, c) != MIROIR_OK) {
            return MIROIR_ENOMEM;
        }
    }

    return MIROIR_OK;
}


int
miroir_json_str_eq(const miroir_json_str_t *s, const void *key, size_t klen,
    miroir_bytes_t *scratch)
{
    if (!s->escaped) {
        return s->len == klen && memcmp(s->raw, key, klen) == 0;
    }

    /* an escape shrinks the text: at most 6 raw bytes make 1..3 bytes */
    if (s->len < klen) {
        return 0;
    }

    miroir_bytes_reset(scratch);

    if (miroir_json_unescape(s, scratch) != MIROIR_OK) {
        return -1;
    }

    return scratch->len == klen && memcmp(scratch->data, key, klen) == 0;
}


miroir_rc_t
miroir_json_compact(const void *value, size_t len, miroir_bytes_t *out)
{
    const unsigned char  *p = value, *end = p + len, *run;

    while (p < end) {
        run = p;

        while (p < end && *p != '"' && *p != ' ' && *p != '\n'
               && *p != '\r' && *p != '\t')
        {
            p++;
        }

        if (p < end && *p == '"') {
            /* copy the string through its closing quote */
            p++;

            while (p < end && *p != '"') {
                p += (*p == '\\') ? 2 : 1;
            }

            p = p < end ? p + 1 : end;

            if (miroir_bytes_append(out, run, (size_t) (p - run)) != MIROIR_OK)
            {
                return MIROIR_ENOMEM;
            }

            continue;
        }

        if (miroir_bytes_append(out, run, (size_t) (p - run)) != MIROIR_OK) {
            return MIROIR_ENOMEM;
        }

        while (p < end && (*p == ' ' || *p == '\n' || *p == '\r'
                           || *p == '\t'))
        {
            p++;
        }
    }

    return MIROIR_OK;
}
