/*
 * miroir_error.c -- Meilisearch error objects.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "miroir_error.h"


miroir_rc_t
miroir_error_set(miroir_error_t *err, int status, const char *code,
    const char *type, const char *fmt, ...)
{
    va_list  ap;

    if (err == NULL) {
        return MIROIR_ERROR;
    }

    err->status = status;
    err->code = code;
    err->type = type;

    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);

    return MIROIR_ERROR;
}


/* Append s to buf as JSON string contents, escaping as RFC 8259 requires. */
static size_t
miroir_error_escape(const char *s, char *buf, size_t size, size_t pos)
{
    static const char  hex[] = "0123456789abcdef";
    unsigned char      c;
    char               esc[7];
    size_t             n, i;

    for (; *s; s++) {
        c = (unsigned char) *s;

        if (c == '"' || c == '\\') {
            esc[0] = '\\'; esc[1] = (char) c; n = 2;

        } else if (c == '\n') {
            esc[0] = '\\'; esc[1] = 'n'; n = 2;

        } else if (c == '\r') {
            esc[0] = '\\'; esc[1] = 'r'; n = 2;

        } else if (c == '\t') {
            esc[0] = '\\'; esc[1] = 't'; n = 2;

        } else if (c < 0x20) {
            esc[0] = '\\'; esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = hex[c >> 4]; esc[5] = hex[c & 0xf]; n = 6;

        } else {
            esc[0] = (char) c; n = 1;
        }

        for (i = 0; i < n; i++, pos++) {
            if (pos + 1 < size) {
                buf[pos] = esc[i];
            }
        }
    }

    return pos;
}


static size_t
miroir_error_append(const char *s, char *buf, size_t size, size_t pos)
{
    for (; *s; s++, pos++) {
        if (pos + 1 < size) {
            buf[pos] = *s;
        }
    }

    return pos;
}


size_t
miroir_error_json(const miroir_error_t *err, char *buf, size_t size)
{
    size_t  pos = 0;

    pos = miroir_error_append("{\"message\":\"", buf, size, pos);
    pos = miroir_error_escape(err->message, buf, size, pos);
    pos = miroir_error_append("\",\"code\":\"", buf, size, pos);
    pos = miroir_error_escape(err->code, buf, size, pos);
    pos = miroir_error_append("\",\"type\":\"", buf, size, pos);
    pos = miroir_error_escape(err->type, buf, size, pos);
    pos = miroir_error_append("\",\"link\":\"https://docs.meilisearch.com/errors#",
                              buf, size, pos);
    pos = miroir_error_escape(err->code, buf, size, pos);
    pos = miroir_error_append("\"}", buf, size, pos);

    if (size > 0) {
        buf[pos < size ? pos : size - 1] = '\0';
    }

    return pos;
}
