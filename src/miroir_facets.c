/*
 * miroir_facets.c -- facet distribution and stats merge.
 */

#include <stdlib.h>
#include <string.h>

#include "miroir_facets.h"


#define MIROIR_FACET_TEXT_ORDER_MAX  3000


typedef struct {
    miroir_span_t  key;         /* the value as a quoted JSON string */
    miroir_span_t  norm;        /* its unescaped bytes */
    char          *owned;       /* norm.p when it had to be unescaped */
    uint64_t       count;
    double         num;
    uint8_t        isnum;
} miroir_fval_t;

typedef struct {
    miroir_span_t   name;
    miroir_fval_t  *v;
    size_t          n;
    size_t          cap;
} miroir_facet_t;

typedef struct {
    miroir_span_t  name;
    miroir_span_t  min;
    miroir_span_t  max;
    double         dmin;
    double         dmax;
} miroir_fstat_t;

struct miroir_facets_s {
    char           **owned;        /* unescaped values, freed at the end */
    size_t           nowned;
    size_t           capowned;
    miroir_facet_t  *facets;
    size_t           nfacets;
    size_t           capfacets;
    miroir_fstat_t  *stats;
    size_t           nstats;
    size_t           capstats;
    int              has_dist;
    int              has_stats;
};

typedef int (*miroir_fcmp_pt)(const miroir_fval_t *a, const miroir_fval_t *b,
    int text_numbers);


miroir_facets_t *
miroir_facets_create(void)
{
    return calloc(1, sizeof(miroir_facets_t));
}


static int
miroir_grow(void **p, size_t *cap, size_t n, size_t size)
{
    size_t   c;
    void    *np;

    if (n < *cap) {
        return 1;
    }

    c = *cap ? *cap * 2 : 8;
    np = realloc(*p, c * size);
    if (np == NULL) {
        return 0;
    }

    *p = np;
    *cap = c;

    return 1;
}


static int
miroir_span_eq(miroir_span_t a, miroir_span_t b)
{
    return a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
}


static int
miroir_span_cmp(miroir_span_t a, miroir_span_t b)
{
    size_t  n = a.len < b.len ? a.len : b.len;
    int     c = memcmp(a.p, b.p, n);

    return c ? c : (a.len > b.len) - (a.len < b.len);
}


static miroir_rc_t
miroir_facets_bad(miroir_error_t *err, const char *what)
{
    return miroir_error_set(err, 500, "internal", "internal",
                            "a node answered an invalid %s", what);
}


/* Is the quoted string a number as Meilisearch prints facet numbers? */
static int
miroir_facet_numeric(miroir_span_t key, double *num)
{
    miroir_span_t  in;
    const char    *e;

    if (key.len < 3) {
        return 0;
    }

    in.p = key.p + 1;
    in.len = key.len - 2;

    if (!miroir_jspan_is_num(in)) {
        return 0;
    }

    e = miroir_jspan_value(in.p, in.p + in.len, 0);
    if (e != in.p + in.len) {
        return 0;
    }

    *num = miroir_jspan_num(in);

    return 1;
}


miroir_rc_t
miroir_facets_add_distribution(miroir_facets_t *f, miroir_span_t dist,
    miroir_error_t *err)
{
    miroir_jiter_t   it, vt;
    miroir_span_t    name, val, k, c;
    miroir_facet_t  *fc;
    miroir_fval_t   *fv;
    size_t           i;
    double           d;
    int              rc;

    if (!miroir_jobj_begin(&it, dist, 0)) {
        return miroir_facets_bad(err, "facetDistribution");
    }

    f->has_dist = 1;

    while ((rc = miroir_jobj_next(&it, &name, &val)) == 1) {
        /* Miroir's routing tags (facets ["*"]) are never shown */
        if (miroir_jspan_key_prefix(name, "_miroir_")) {
            continue;
        }

        if (!miroir_jobj_begin(&vt, val, 0)) {
            return miroir_facets_bad(err, "facetDistribution");
        }

        for (i = 0; i < f->nfacets; i++) {
            if (miroir_span_eq(f->facets[i].name, name)) {
                break;
            }
        }

        if (i == f->nfacets) {
            if (!miroir_grow((void **) &f->facets, &f->capfacets, f->nfacets,
                             sizeof(miroir_facet_t)))
            {
                return MIROIR_ENOMEM;
            }
            fc = &f->facets[f->nfacets++];
            memset(fc, 0, sizeof(*fc));
            fc->name = name;
        }

        fc = &f->facets[i];

        while ((rc = miroir_jobj_next(&vt, &k, &c)) == 1) {
            if (!miroir_jspan_is_num(c) || c.p[0] == '-') {
                return miroir_facets_bad(err, "facet count");
            }

            if (!miroir_grow((void **) &fc->v, &fc->cap, fc->n,
                             sizeof(miroir_fval_t)))
            {
                return MIROIR_ENOMEM;
            }

            fv = &fc->v[fc->n];
            fv->key = k;
            fv->owned = NULL;
            fv->norm.p = k.p + 1;
            fv->norm.len = k.len - 2;

            if (memchr(fv->norm.p, '\\', fv->norm.len) != NULL) {
                fv->owned = malloc(k.len);
                if (fv->owned == NULL) {
                    return MIROIR_ENOMEM;
                }
                if (!miroir_grow((void **) &f->owned, &f->capowned,
                                 f->nowned, sizeof(char *)))
                {
                    free(fv->owned);
                    return MIROIR_ENOMEM;
                }
                f->owned[f->nowned++] = fv->owned;
                fv->norm.p = fv->owned;
                fv->norm.len = miroir_jspan_unescape(k, fv->owned, k.len);
            }

            fc->n++;
            d = miroir_jspan_num(c);
            fv->count = d >= 1.8e19 ? UINT64_MAX : (uint64_t) d;
            fv->isnum = (uint8_t) miroir_facet_numeric(k, &fv->num);
        }

        if (rc < 0) {
            return miroir_facets_bad(err, "facetDistribution");
        }
    }

    return rc < 0 ? miroir_facets_bad(err, "facetDistribution") : MIROIR_OK;
}


miroir_rc_t
miroir_facets_add_stats(miroir_facets_t *f, miroir_span_t stats,
    miroir_error_t *err)
{
    miroir_jiter_t   it, st;
    miroir_span_t    name, val, k, n, mn, mx;
    miroir_fstat_t  *fs;
    size_t           i;
    double           d;
    int              rc;

    if (!miroir_jobj_begin(&it, stats, 0)) {
        return miroir_facets_bad(err, "facetStats");
    }

    f->has_stats = 1;

    while ((rc = miroir_jobj_next(&it, &name, &val)) == 1) {
        if (miroir_jspan_key_prefix(name, "_miroir_")) {
            continue;
        }

        mn.p = mx.p = NULL;
        mn.len = mx.len = 0;

        if (!miroir_jobj_begin(&st, val, 0)) {
            return miroir_facets_bad(err, "facetStats");
        }

        while ((rc = miroir_jobj_next(&st, &k, &n)) == 1) {
            if (!miroir_jspan_is_num(n)) {
                continue;
            }
            if (miroir_jspan_key_eq(k, "min")) {
                mn = n;
            } else if (miroir_jspan_key_eq(k, "max")) {
                mx = n;
            }
        }

        if (rc < 0 || mn.p == NULL || mx.p == NULL) {
            return miroir_facets_bad(err, "facetStats");
        }

        for (i = 0; i < f->nstats; i++) {
            if (miroir_span_eq(f->stats[i].name, name)) {
                break;
            }
        }

        if (i == f->nstats) {
            if (!miroir_grow((void **) &f->stats, &f->capstats, f->nstats,
                             sizeof(miroir_fstat_t)))
            {
                return MIROIR_ENOMEM;
            }
            fs = &f->stats[f->nstats++];
            fs->name = name;
            fs->min = mn;
            fs->max = mx;
            fs->dmin = miroir_jspan_num(mn);
            fs->dmax = miroir_jspan_num(mx);
            continue;
        }

        fs = &f->stats[i];

        d = miroir_jspan_num(mn);
        if (d < fs->dmin) {
            fs->dmin = d;
            fs->min = mn;
        }

        d = miroir_jspan_num(mx);
        if (d > fs->dmax) {
            fs->dmax = d;
            fs->max = mx;
        }
    }

    return rc < 0 ? miroir_facets_bad(err, "facetStats") : MIROIR_OK;
}


int
miroir_facets_has_distribution(const miroir_facets_t *f)
{
    return f != NULL && f->has_dist;
}


int
miroir_facets_has_stats(const miroir_facets_t *f)
{
    return f != NULL && f->has_stats;
}


/* Normalized order: ASCII lower case, surrounding spaces ignored. */
static int
miroir_fval_norm_cmp(miroir_span_t a, miroir_span_t b)
{
    const unsigned char  *x, *xe, *y, *ye;
    unsigned char         cx, cy;

    x = (const unsigned char *) a.p;
    xe = x + a.len;
    y = (const unsigned char *) b.p;
    ye = y + b.len;

    while (x < xe && *x == ' ') { x++; }
    while (xe > x && xe[-1] == ' ') { xe--; }
    while (y < ye && *y == ' ') { y++; }
    while (ye > y && ye[-1] == ' ') { ye--; }

    for ( ;; ) {
        if (x == xe || y == ye) {
            return (x != xe) - (y != ye);
        }

        cx = *x++;
        cy = *y++;

        if (cx >= 'A' && cx <= 'Z') {
            cx |= 0x20;
        }
        if (cy >= 'A' && cy <= 'Z') {
            cy |= 0x20;
        }

        if (cx != cy) {
            return cx < cy ? -1 : 1;
        }
    }
}


/* Grouping order: kind, then normalized value. */
static int
miroir_fval_group_cmp(const miroir_fval_t *a, const miroir_fval_t *b,
    int text_numbers)
{
    (void) text_numbers;

    if (a->isnum != b->isnum) {
        return a->isnum ? -1 : 1;
    }

    return miroir_fval_norm_cmp(a->norm, b->norm);
}


static int
miroir_fval_alpha_cmp(const miroir_fval_t *a, const miroir_fval_t *b,
    int text_numbers)
{
    int  c;

    if (a->isnum != b->isnum) {
        return a->isnum ? -1 : 1;
    }

    if (a->isnum && !text_numbers && a->num != b->num) {
        return a->num < b->num ? -1 : 1;
    }

    if (a->isnum) {
        return miroir_span_cmp(a->key, b->key);
    }

    c = miroir_fval_norm_cmp(a->norm, b->norm);

    return c ? c : miroir_span_cmp(a->norm, b->norm);
}


static int
miroir_fval_count_cmp(const miroir_fval_t *a, const miroir_fval_t *b,
    int text_numbers)
{
    if (a->isnum != b->isnum) {
        return a->isnum ? -1 : 1;
    }

    if (a->count != b->count) {
        return a->count > b->count ? -1 : 1;
    }

    return miroir_fval_alpha_cmp(a, b, text_numbers);
}


/* Stable merge sort; tmp holds n entries. */
static void
miroir_fval_sort(miroir_fval_t *v, miroir_fval_t *tmp, size_t n,
    miroir_fcmp_pt cmp, int text_numbers)
{
    size_t  width, lo, mid, hi, i, j, k;

    for (width = 1; width < n; width *= 2) {
        for (lo = 0; lo < n; lo += 2 * width) {
            mid = lo + width < n ? lo + width : n;
            hi = lo + 2 * width < n ? lo + 2 * width : n;
            i = lo;
            j = mid;
            k = lo;

            while (i < mid && j < hi) {
                if (cmp(&v[j], &v[i], text_numbers) < 0) {
                    tmp[k++] = v[j++];
                } else {
                    tmp[k++] = v[i++];
                }
            }
            while (i < mid) {
                tmp[k++] = v[i++];
            }
            while (j < hi) {
                tmp[k++] = v[j++];
            }
        }

        memcpy(v, tmp, n * sizeof(*v));
    }
}


miroir_facet_sort_e
miroir_facet_order(const miroir_facet_conf_t *conf, const char *name,
    size_t n)
{
    miroir_facet_sort_e  dflt = MIROIR_FACET_ALPHA;
    size_t               i;

    if (conf == NULL) {
        return dflt;
    }

    for (i = 0; i < conf->nrules; i++) {
        if (conf->rules[i].name == NULL) {
            continue;
        }
        if (strlen(conf->rules[i].name) == n
            && memcmp(conf->rules[i].name, name, n) == 0)
        {
            return conf->rules[i].sort;
        }
        if (strcmp(conf->rules[i].name, "*") == 0) {
            dflt = conf->rules[i].sort;
        }
    }

    return dflt;
}


static int
miroir_facet_name_cmp(const void *a, const void *b)
{
    return miroir_span_cmp(((const miroir_facet_t *) a)->name,
                           ((const miroir_facet_t *) b)->name);
}


static int
miroir_fstat_name_cmp(const void *a, const void *b)
{
    return miroir_span_cmp(((const miroir_fstat_t *) a)->name,
                           ((const miroir_fstat_t *) b)->name);
}


miroir_rc_t
miroir_facets_write_distribution(miroir_facets_t *f,
    const miroir_facet_conf_t *conf, miroir_buf_t *out)
{
    miroir_facet_t       *fc;
    miroir_fval_t        *tmp;
    miroir_facet_sort_e   order;
    char                  name[256];
    size_t                i, j, n, max, nlen;
    int                   text;

    if (f->nfacets > 1) {
        qsort(f->facets, f->nfacets, sizeof(miroir_facet_t),
              miroir_facet_name_cmp);
    }

    text = conf == NULL || conf->candidates <= MIROIR_FACET_TEXT_ORDER_MAX;
    max = conf != NULL ? conf->max_values : 100;

    miroir_buf_addc(out, '{');

    for (i = 0; i < f->nfacets; i++) {
        fc = &f->facets[i];

        tmp = malloc((fc->n ? fc->n : 1) * sizeof(*tmp));
        if (tmp == NULL) {
            return MIROIR_ENOMEM;
        }

        /* group equal values, keeping the first spelling in node order */
        miroir_fval_sort(fc->v, tmp, fc->n, miroir_fval_group_cmp, text);

        n = 0;
        for (j = 0; j < fc->n; j++) {
            if (n > 0
                && miroir_fval_group_cmp(&fc->v[n - 1], &fc->v[j], text) == 0)
            {
                fc->v[n - 1].count += fc->v[j].count;
                continue;
            }
            fc->v[n++] = fc->v[j];
        }
        fc->n = n;

        nlen = miroir_jspan_unescape(fc->name, name, sizeof(name));
        if (nlen > sizeof(name)) {
            nlen = 0;
        }
        order = miroir_facet_order(conf, name, nlen);

        miroir_fval_sort(fc->v, tmp, fc->n,
                         order == MIROIR_FACET_COUNT ? miroir_fval_count_cmp
                                                     : miroir_fval_alpha_cmp,
                         text);
        free(tmp);

        if (fc->n > max) {
            fc->n = max;
        }

        if (i > 0) {
            miroir_buf_addc(out, ',');
        }
        miroir_buf_add(out, fc->name.p, fc->name.len);
        miroir_buf_adds(out, ":{");

        for (j = 0; j < fc->n; j++) {
            if (j > 0) {
                miroir_buf_addc(out, ',');
            }
            miroir_buf_add(out, fc->v[j].key.p, fc->v[j].key.len);
            miroir_buf_addc(out, ':');
            miroir_buf_addu(out, fc->v[j].count);
        }

        miroir_buf_addc(out, '}');
    }

    miroir_buf_addc(out, '}');

    return out->oom ? MIROIR_ENOMEM : MIROIR_OK;
}


miroir_rc_t
miroir_facets_write_stats(miroir_facets_t *f, miroir_buf_t *out)
{
    miroir_fstat_t  *fs;
    size_t           i;

    if (f->nstats > 1) {
        qsort(f->stats, f->nstats, sizeof(miroir_fstat_t),
              miroir_fstat_name_cmp);
    }

    miroir_buf_addc(out, '{');

    for (i = 0; i < f->nstats; i++) {
        fs = &f->stats[i];

        if (i > 0) {
            miroir_buf_addc(out, ',');
        }
        miroir_buf_add(out, fs->name.p, fs->name.len);
        miroir_buf_adds(out, ":{\"min\":");
        miroir_buf_add(out, fs->min.p, fs->min.len);
        miroir_buf_adds(out, ",\"max\":");
        miroir_buf_add(out, fs->max.p, fs->max.len);
        miroir_buf_addc(out, '}');
    }

    miroir_buf_addc(out, '}');

    return out->oom ? MIROIR_ENOMEM : MIROIR_OK;
}


void
miroir_facets_free(miroir_facets_t *f)
{
    size_t  i;

    if (f == NULL) {
        return;
    }

    for (i = 0; i < f->nfacets; i++) {
        free(f->facets[i].v);
    }

    for (i = 0; i < f->nowned; i++) {
        free(f->owned[i]);
    }

    free(f->owned);
    free(f->facets);
    free(f->stats);
    free(f);
}
