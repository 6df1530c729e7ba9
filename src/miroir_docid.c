/*
 * miroir_docid.c -- document id rules and primary key inference.
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "miroir_docid.h"
#include "miroir_json_scan.h"


int
miroir_docid_valid_str(const void *s, size_t len)
{
    const unsigned char  *p = s, *end = p + len;

    if (len == 0 || len > MIROIR_DOCID_MAX_LEN) {
        return 0;
    }

    for (; p < end; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
        {
            return 0;
        }
    }

    return 1;
}


/* An integer literal within i64 (negative) or u64 (positive) range. */
static int
miroir_docid_int_in_range(const unsigned char *p, size_t len)
{
    static const char  u64max[] = "18446744073709551615";
    static const char  i64min[] = "9223372036854775808";
    const char        *lim;
    size_t             llen;

    if (*p == '-') {
        p++;
        len--;
        lim = i64min;

    } else {
        lim = u64max;
    }

    llen = strlen(lim);

    if (len != llen) {
        return len < llen;
    }

    return memcmp(p, lim, len) <= 0;
}


miroir_rc_t
miroir_docid_canonical(const void *value, size_t len, miroir_bytes_t *out)
{
    const unsigned char  *v = value;
    miroir_json_scan_t    sc;
    miroir_json_str_t     s;
    size_t                start = out->len;
    int                   is_int;

    if (len == 0) {
        return MIROIR_EINVAL;
    }

    miroir_json_scan_init(&sc, value, len);

    if (*v == '"') {
        if (miroir_json_scan_string(&sc, &s) != MIROIR_OK || sc.p != sc.end) {
            return MIROIR_EINVAL;
        }

        if (!s.escaped) {
            if (!miroir_docid_valid_str(s.raw, s.len)) {
                return MIROIR_EINVAL;
            }

            return miroir_bytes_append(out, s.raw, s.len);
        }

        if (miroir_json_unescape(&s, out) != MIROIR_OK) {
            return MIROIR_ENOMEM;
        }

        if (!miroir_docid_valid_str(out->data + start, out->len - start)) {
            return MIROIR_EINVAL;
        }

        return MIROIR_OK;
    }

    if (*v == '-' || (*v >= '0' && *v <= '9')) {
        if (miroir_json_scan_number(&sc, &is_int) != MIROIR_OK
            || sc.p != sc.end || !is_int || !miroir_docid_int_in_range(v, len))
        {
            return MIROIR_EINVAL;
        }

        if (len == 2 && v[0] == '-' && v[1] == '0') {
            return MIROIR_EINVAL;               /* serde_json: -0.0 */
        }

        return miroir_bytes_append(out, v, len);
    }

    return MIROIR_EINVAL;
}


/* Append a validated number token as serde_json's Value prints it. */
static miroir_rc_t
miroir_docid_render_number(const unsigned char *v, size_t len,
    miroir_bytes_t *out)
{
    char    tmp[64], *buf = tmp;
    size_t  i;
    int     is_int = 1;
    double  d;

    for (i = 0; i < len; i++) {
        if (v[i] == '.' || v[i] == 'e' || v[i] == 'E') {
            is_int = 0;
        }
    }

    /* an integer in i64/u64 range, but not "-0" (serde: a float) */
    if (is_int && miroir_docid_int_in_range(v, len)
        && !(len == 2 && v[0] == '-' && v[1] == '0'))
    {
        return miroir_bytes_append(out, v, len);
    }

    if (len >= sizeof(tmp)) {
        buf = malloc(len + 1);
        if (buf == NULL) {
            return MIROIR_ENOMEM;
        }
    }

    memcpy(buf, v, len);
    buf[len] = '\0';
    d = strtod(buf, NULL);

    if (buf != tmp) {
        free(buf);
    }

    if (!isfinite(d)) {
        /* serde_json refuses it ("number out of range"); show the text */
        return miroir_bytes_append(out, v, len);
    }

    return miroir_bytes_put_f64(out, d);
}


miroir_rc_t
miroir_docid_render(const void *value, size_t len, miroir_bytes_t *out)
{
    miroir_json_scan_t    sc;
    miroir_json_str_t     s;
    miroir_bytes_t        tmp;
    const unsigned char  *t;
    miroir_rc_t           rc = MIROIR_OK;

    miroir_bytes_init(&tmp);
    miroir_json_scan_init(&sc, value, len);

    while (rc == MIROIR_OK && sc.p < sc.end) {
        switch (*sc.p) {
        case ' ': case '\t': case '\n': case '\r':
            sc.p++;
            break;

        case '"':
            if (miroir_json_scan_string(&sc, &s) != MIROIR_OK) {
                /* not validated: show the rest as it is */
                rc = miroir_bytes_append(out, sc.p,
                                         (size_t) (sc.end - sc.p));
                sc.p = sc.end;
                break;
            }

            miroir_bytes_reset(&tmp);
            rc = miroir_json_unescape(&s, &tmp);

            if (rc == MIROIR_OK) {
                rc = miroir_bytes_putc(out, '"');
            }

            if (rc == MIROIR_OK) {
                rc = miroir_bytes_put_json_str(out, tmp.data, tmp.len);
            }

            if (rc == MIROIR_OK) {
                rc = miroir_bytes_putc(out, '"');
            }

            break;

        case '-': case '0': case '1': case '2': case '3': case '4':
        case '5': case '6': case '7': case '8': case '9':
            t = sc.p;

            if (miroir_json_scan_number(&sc, NULL) != MIROIR_OK) {
                rc = miroir_bytes_append(out, t, (size_t) (sc.end - t));
                sc.p = sc.end;
                break;
            }

            rc = miroir_docid_render_number(t, (size_t) (sc.p - t), out);
            break;

        default:                        /* structure and literals */
            rc = miroir_bytes_putc(out, *sc.p++);
        }
    }

    miroir_bytes_free(&tmp);

    return rc;
}


int
miroir_pk_is_candidate(const void *key, size_t len)
{
    const unsigned char  *k = key;

    return len >= 2 && (k[len - 2] | 0x20) == 'i' && (k[len - 1] | 0x20) == 'd';
}


miroir_rc_t
miroir_pk_infer_add(miroir_pk_infer_t *inf, const void *key, size_t len)
{
    char   **names, *name;
    size_t   i;

    for (i = 0; i < inf->n; i++) {
        if (strlen(inf->names[i]) == len
            && memcmp(inf->names[i], key, len) == 0)
        {
            return MIROIR_OK;
        }
    }

    if (inf->n == inf->cap) {
        names = realloc(inf->names,
                        (inf->cap ? inf->cap * 2 : 4) * sizeof(char *));
        if (names == NULL) {
            return MIROIR_ENOMEM;
        }

        inf->names = names;
        inf->cap = inf->cap ? inf->cap * 2 : 4;
    }

    name = malloc(len + 1);
    if (name == NULL) {
        return MIROIR_ENOMEM;
    }

    memcpy(name, key, len);
    name[len] = '\0';
    inf->names[inf->n++] = name;

    return MIROIR_OK;
}


static int
miroir_pk_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}


miroir_rc_t
miroir_pk_infer_finish(miroir_pk_infer_t *inf, char **pk, miroir_error_t *err)
{
    if (inf->n == 0) {
        return miroir_error_set(err, 400,
            "index_primary_key_no_candidate_found", "invalid_request",
            "The primary key inference failed as the engine did not find "
            "any field ending with `id` in its name. Please specify the "
            "primary key manually using the `primaryKey` query parameter.");
    }

    if (inf->n > 1) {
        qsort(inf->names, inf->n, sizeof(char *), miroir_pk_cmp);

        return miroir_error_set(err, 400,
            "index_primary_key_multiple_candidates_found", "invalid_request",
            "The primary key inference failed as the engine found %zu "
            "fields ending with `id` in their names: '%s' and '%s'. Please "
            "specify the primary key manually using the `primaryKey` query "
            "parameter.", inf->n, inf->names[0], inf->names[1]);
    }

    *pk = strdup(inf->names[0]);

    return *pk ? MIROIR_OK : MIROIR_ENOMEM;
}


void
miroir_pk_infer_free(miroir_pk_infer_t *inf)
{
    size_t  i;

    for (i = 0; i < inf->n; i++) {
        free(inf->names[i]);
    }

    free(inf->names);
    inf->names = NULL;
    inf->n = 0;
    inf->cap = 0;
}


miroir_rc_t
miroir_docid_error_missing(miroir_error_t *err, const char *pk,
    const void *doc, size_t len)
{
    miroir_bytes_t  b;

    miroir_bytes_init(&b);

    /* on ENOMEM the message simply shows what could be rendered */
    (void) miroir_docid_render(doc, len, &b);
    (void) miroir_bytes_putc(&b, '\0');

    miroir_error_set(err, 400, "missing_document_id", "invalid_request",
                     "Document doesn't have a `%s` attribute: `%s`.", pk,
                     b.data ? (char *) b.data : "");
    miroir_bytes_free(&b);

    return MIROIR_ERROR;
}


miroir_rc_t
miroir_docid_error_invalid(miroir_error_t *err, const void *value,
    size_t len)
{
    miroir_bytes_t  b;

    miroir_bytes_init(&b);

    (void) miroir_docid_render(value, len, &b);
    (void) miroir_bytes_putc(&b, '\0');

    miroir_error_set(err, 400, "invalid_document_id", "invalid_request",
        "Document identifier `%s` is invalid. A document identifier can be "
        "of type integer or string, only composed of alphanumeric "
        "characters (a-z A-Z 0-9), hyphens (-) and underscores (_), and can "
        "not be more than 511 bytes.", b.data ? (char *) b.data : "");
    miroir_bytes_free(&b);

    return MIROIR_ERROR;
}
