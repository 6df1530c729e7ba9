/*
 * fuzz_merge.c -- node answers into the merger and the federated merge.
 *
 * Input: one byte of options, then node answers separated by a NUL byte
 * (at most 4).  Every answer goes to miroir_merge_add() and to both
 * federation entry points; results are built whatever was accepted.
 * The first answer also goes alone to a merge of one node (which only
 * checks the ranking details) and of two: both must accept or refuse it
 * and give the same text.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "miroir_federate.h"
#include "miroir_merge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void
fuzz_one_node(const miroir_merge_params_t *mp, const char *p, size_t len)
{
    miroir_merge_t  *m1, *m2;
    miroir_error_t   e1, e2;
    miroir_rc_t      r1, r2;
    char            *o1, *o2;
    size_t           l1, l2;

    if (miroir_merge_create(mp, 1, &m1, &e1) != MIROIR_OK) {
        return;
    }
    if (miroir_merge_create(mp, 2, &m2, &e2) != MIROIR_OK) {
        miroir_merge_free(m1);
        return;
    }

    r1 = miroir_merge_add(m1, 0, p, len, &e1);
    r2 = miroir_merge_add(m2, 0, p, len, &e2);
    if (r1 != r2 || (r1 == MIROIR_ERROR && strcmp(e1.message, e2.message)))
    {
        abort();
    }

    r1 = miroir_merge_result(m1, 1, &o1, &l1, &e1);
    r2 = miroir_merge_result(m2, 1, &o2, &l2, &e2);
    if (r1 != r2 || (r1 == MIROIR_OK && (l1 != l2 || memcmp(o1, o2, l1))))
    {
        abort();
    }
    if (r1 == MIROIR_OK) {
        free(o1);
        free(o2);
    }

    miroir_merge_free(m1);
    miroir_merge_free(m2);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const  strip[] = { "year" };
    static const miroir_fed_query_t  q[] = {
        { "movies", 1.0, 1, 1, "id" }, { "shop", 0.5, 0, 0, NULL } };
    miroir_merge_params_t     mp;
    miroir_federate_params_t  fp;
    miroir_merge_t           *m;
    miroir_federate_t        *f;
    miroir_error_t            err;
    const char               *p, *end, *e;
    char                     *out;
    size_t                    len, node;
    uint8_t                   opt;

    if (size < 1) {
        return 0;
    }

    opt = data[0];
    p = (const char *) data + 1;
    end = (const char *) data + size;

    memset(&mp, 0, sizeof(mp));
    mp.page_mode = opt & 1;
    mp.offset = (opt >> 1) & 3;
    mp.limit = (opt >> 3) & 7;
    mp.page = (opt >> 1) & 3;
    mp.hits_per_page = (opt >> 3) & 7;
    mp.show_ranking_score = (opt >> 6) & 1;
    mp.show_ranking_score_details = opt >> 7;
    mp.strip_attrs = strip;
    mp.nstrip_attrs = 1;
    mp.max_total_hits = 5 + (opt & 7);
    mp.facets.max_values = opt & 3;
    mp.distinct_attr = (opt & 0x20) ? "director" : NULL;

    memset(&fp, 0, sizeof(fp));
    fp.page_mode = mp.page_mode;
    fp.offset = mp.offset;
    fp.limit = mp.limit;
    fp.page = mp.page;
    fp.hits_per_page = mp.hits_per_page;
    fp.queries = q;
    fp.nqueries = 2;
    fp.merge_facets = opt >> 7;

    if (miroir_merge_create(&mp, 4, &m, &err) != MIROIR_OK) {
        return 0;
    }
    if (miroir_federate_create(&fp, &f, &err) != MIROIR_OK) {
        miroir_merge_free(m);
        return 0;
    }

    for (node = 0; node < 4 && p <= end; node++) {
        e = memchr(p, '\0', (size_t) (end - p));
        if (e == NULL) {
            e = end;
        }
        len = (size_t) (e - p);

        if (node == 0) {
            fuzz_one_node(&mp, p, len);
        }

        (void) miroir_merge_add(m, node, p, len, &err);
        (void) miroir_federate_add_node(f, node, p, len, &err);
        (void) miroir_federate_add_query(f, node & 1, p, len, &err);

        p = e + 1;
    }

    if (miroir_merge_result(m, 1, &out, &len, &err) == MIROIR_OK) {
        free(out);
    }
    if (miroir_federate_result(f, 1, &out, &len, &err) == MIROIR_OK) {
        free(out);
    }

    miroir_merge_free(m);
    miroir_federate_free(f);

    return 0;
}
