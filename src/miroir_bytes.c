/*
 * miroir_bytes.c -- a growable byte buffer.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "miroir_bytes.h"


void
miroir_bytes_init(miroir_bytes_t *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}


miroir_rc_t
miroir_bytes_reserve(miroir_bytes_t *b, size_t n)
{
    size_t          cap;
    unsigned char  *p;

    if (b->cap - b->len >= n) {
        return MIROIR_OK;
    }

    if (n > SIZE_MAX / 2 - b->len) {
        return MIROIR_ENOMEM;
    }

    cap = b->cap ? b->cap : 256;

    while (cap - b->len < n) {
        cap *= 2;
    }

    p = realloc(b->data, cap);
    if (p == NULL) {
        return MIROIR_ENOMEM;
    }

    b->data = p;
    b->cap = cap;

    return MIROIR_OK;
}


miroir_rc_t
miroir_bytes_append(miroir_bytes_t *b, const void *p, size_t n)
{
    if (n == 0) {
        return MIROIR_OK;
    }

    if (miroir_bytes_reserve(b, n) != MIROIR_OK) {
        return MIROIR_ENOMEM;
    }

    memcpy(b->data + b->len, p, n);
    b->len += n;

    return MIROIR_OK;
}


miroir_rc_t
miroir_bytes_putc(miroir_bytes_t *b, unsigned char c)
{
    if (b->len == b->cap && miroir_bytes_reserve(b, 1) != MIROIR_OK) {
        return MIROIR_ENOMEM;
    }

    b->data[b->len++] = c;

    return MIROIR_OK;
}


miroir_rc_t
miroir_bytes_puts(miroir_bytes_t *b, const char *s)
{
    return miroir_bytes_append(b, s, strlen(s));
}


miroir_rc_t
miroir_bytes_put_u64(miroir_bytes_t *b, uint64_t v)
{
    char    tmp[24];
    size_t  i = sizeof(tmp);

    do {
        tmp[--i] = (char) ('0' + v % 10);
        v /= 10;
    } while (v);

    return miroir_bytes_append(b, tmp + i, sizeof(tmp) - i);
}


miroir_rc_t
miroir_bytes_put_i64(miroir_bytes_t *b, int64_t v)
{
    if (v < 0) {
        if (miroir_bytes_putc(b, '-') != MIROIR_OK) {
            return MIROIR_ENOMEM;
        }

        return miroir_bytes_put_u64(b, (uint64_t) 0 - (uint64_t) v);
    }

    return miroir_bytes_put_u64(b, (uint64_t) v);
}


miroir_rc_t
miroir_bytes_put_json_str(miroir_bytes_t *b, const void *s, size_t n)
{
    static const char     hex[] = "0123456789abcdef";
    const unsigned char  *p = s, *end = p + n, *run;
    unsigned char         c;
    char                  esc[6];
    size_t                elen;

    while (p < end) {
        run = p;

        while (p < end && *p >= 0x20 && *p != '"' && *p != '\\') {
            p++;
        }

        if (miroir_bytes_append(b, run, (size_t) (p - run)) != MIROIR_OK) {
            return MIROIR_ENOMEM;
        }

        if (p == end) {
            break;
        }

        c = *p++;
        esc[0] = '\\';
        elen = 2;

        switch (c) {
        case '"':  esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = hex[c >> 4]; esc[5] = hex[c & 0xf];
            elen = 6;
        }

        if (miroir_bytes_append(b, esc, elen) != MIROIR_OK) {
            return MIROIR_ENOMEM;
        }
    }

    return MIROIR_OK;
}


miroir_rc_t
miroir_bytes_put_f64(miroir_bytes_t *out, double v)
{
    char    tmp[40], digs[24], res[64];
    int     prec, n, exp10, kk, k, i, r;
    char   *e;

    if (v == 0) {
        return miroir_bytes_puts(out, signbit(v) ? "-0.0" : "0.0");
    }

    for (prec = 0; prec < 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec, v);

        if (strtod(tmp, NULL) == v) {
            break;
        }
    }

    /* tmp = [-]d[.ddd]e[+-]XX */
    i = 0;
    n = 0;

    if (tmp[i] == '-') {
        i++;
    }

    for (; tmp[i] != 'e'; i++) {
        if (tmp[i] != '.') {
            digs[n++] = tmp[i];
        }
    }

    exp10 = (int) strtol(tmp + i + 1, &e, 10);

    while (n > 1 && digs[n - 1] == '0') {
        n--;
    }

    kk = exp10 + 1;               /* position of the decimal point */
    k = kk - n;                   /* exponent of the last digit */
    r = 0;

    if (v < 0) {
        res[r++] = '-';
    }

    if (k >= 0 && kk <= 16) {
        memcpy(res + r, digs, (size_t) n); r += n;
        for (i = 0; i < k; i++) { res[r++] = '0'; }
        res[r++] = '.'; res[r++] = '0';

    } else if (kk > 0 && kk <= 16) {
        memcpy(res + r, digs, (size_t) kk); r += kk;
        res[r++] = '.';
        memcpy(res + r, digs + kk, (size_t) (n - kk)); r += n - kk;

    } else if (kk > -5 && kk <= 0) {
        res[r++] = '0'; res[r++] = '.';
        for (i = 0; i < -kk; i++) { res[r++] = '0'; }
        memcpy(res + r, digs, (size_t) n); r += n;

    } else {
        res[r++] = digs[0];

        if (n > 1) {
            res[r++] = '.';
            memcpy(res + r, digs + 1, (size_t) (n - 1)); r += n - 1;
        }

        r += snprintf(res + r, sizeof(res) - (size_t) r, "e%d", kk - 1);
    }

    return miroir_bytes_append(out, res, (size_t) r);
}


void
miroir_bytes_free(miroir_bytes_t *b)
{
    free(b->data);
    miroir_bytes_init(b);
}


unsigned char *
miroir_bytes_detach(miroir_bytes_t *b, size_t *len)
{
    unsigned char  *p = b->data;

    *len = b->len;
    miroir_bytes_init(b);

    return p;
}
