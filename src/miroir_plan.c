/*
 * miroir_plan.c -- diff two route tables into ordered shard moves.
 */

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "miroir_plan.h"


/*
 * A move being ordered: phase 0 = new copies whose shard keeps no old
 * owner (they copy from an old owner another move deletes), 1 = moves
 * with a destination, 2 = delete-only; round = rank among the moves to
 * the same node.
 */
typedef struct {
    miroir_plan_move_t   m;
    uint32_t             phase;
    uint32_t             round;
} miroir_plan_item_t;


static int
miroir_plan_item_cmp(const void *a, const void *b)
{
    const miroir_plan_item_t  *x = a, *y = b;

    if (x->phase != y->phase) {
        return x->phase < y->phase ? -1 : 1;
    }

    if (x->round != y->round) {
        return x->round < y->round ? -1 : 1;
    }

    if (x->m.shard != y->m.shard) {
        return x->m.shard < y->m.shard ? -1 : 1;
    }

    return (x->m.to > y->m.to) - (x->m.to < y->m.to);
}


/* Position of id among the first n owners of shard s in rt, or -1. */
static int
miroir_plan_find(const miroir_route_table_t *rt, uint32_t s, uint32_t n,
    const char *id)
{
    const uint16_t  *o;
    uint32_t         k;

    o = rt->owners + (size_t) s * rt->rf;

    for (k = 0; k < n; k++) {
        if (strcmp(rt->node_ids[o[k]], id) == 0) {
            return (int) k;
        }
    }

    return -1;
}


miroir_rc_t
miroir_plan_create(const miroir_route_table_t *old,
    const miroir_route_table_t *new, miroir_plan_t **out,
    miroir_error_t *err)
{
    miroir_plan_t       *p;
    miroir_plan_item_t  *items;
    miroir_plan_shard_t *sh;
    uint32_t            *per_node;
    const uint16_t      *oo, *no;
    uint32_t             s, k, na, nr, i;
    uint16_t             added[MIROIR_MAX_RF], removed[MIROIR_MAX_RF];
    int                  src, kept, same_order;
    size_t               nitems, cap;

    if (old->nshards != new->nshards) {
        miroir_error_set(err, 400, "miroir_invalid_topology",
                         "invalid_request",
                         "Cannot rebalance from %u to %u shards: changing "
                         "the number of shards needs a re-shard.",
                         old->nshards, new->nshards);
        return MIROIR_EINVAL;
    }

    p = calloc(1, sizeof(miroir_plan_t));
    cap = (size_t) old->nshards * MIROIR_MAX_RF;
    items = malloc((cap ? cap : 1) * sizeof(miroir_plan_item_t));
    per_node = calloc(new->nnodes ? new->nnodes : 1, sizeof(uint32_t));

    if (p != NULL) {
        p->shards = malloc((old->nshards ? old->nshards : 1)
                           * sizeof(miroir_plan_shard_t));
    }

    if (p == NULL || items == NULL || per_node == NULL || p->shards == NULL)
    {
        free(items);
        free(per_node);
        miroir_plan_free(p);
        return MIROIR_ENOMEM;
    }

    p->old = old;
    p->new = new;
    nitems = 0;

    for (s = 0; s < old->nshards; s++) {
        oo = old->owners + (size_t) s * old->rf;
        no = new->owners + (size_t) s * new->rf;

        na = 0;
        for (k = 0; k < new->rf; k++) {
            if (miroir_plan_find(old, s, old->rf,
                                 new->node_ids[no[k]]) < 0)
            {
                added[na++] = no[k];
            }
        }

        nr = 0;
        for (k = 0; k < old->rf; k++) {
            if (miroir_plan_find(new, s, new->rf,
                                 old->node_ids[oo[k]]) < 0)
            {
                removed[nr++] = oo[k];
            }
        }

        same_order = old->rf == new->rf && na == 0 && nr == 0;
        for (k = 0; same_order && k < new->rf; k++) {
            same_order = strcmp(old->node_ids[oo[k]],
                                new->node_ids[no[k]]) == 0;
        }

        if (same_order) {
            continue;
        }

        sh = &p->shards[p->nshards++];
        memset(sh, 0, sizeof(*sh));
        sh->shard = s;
        memcpy(sh->old_owners, oo, old->rf * sizeof(uint16_t));
        memcpy(sh->new_owners, no, new->rf * sizeof(uint16_t));

        if (na == 0 && nr == 0) {
            sh->relabel = 1;
            p->shards_relabeled++;
            continue;
        }

        sh->moving = 1;
        p->shards_moving++;

        /*
         * Copy from an old owner that keeps the shard, if there is one;
         * else from the owner the move replaces (only that move deletes
         * it); a new copy with neither copies from removed[0] before
         * any move deletes (phase 0).
         */

        kept = -1;
        for (k = 0; k < old->rf; k++) {
            if (miroir_plan_find(new, s, new->rf,
                                 old->node_ids[oo[k]]) >= 0)
            {
                kept = oo[k];
                break;
            }
        }

        for (i = 0; i < na || i < nr; i++) {
            src = kept >= 0 ? kept : (i < nr ? removed[i] : removed[0]);

            items[nitems].m.shard = s;
            items[nitems].m.from = i < nr ? removed[i] : -1;
            items[nitems].m.to = i < na ? added[i] : -1;
            items[nitems].m.source = i < na ? src : -1;
            items[nitems].phase = i >= na ? 2 : (kept < 0 && i >= nr ? 0 : 1);
            items[nitems].round = i < na ? per_node[added[i]]++ : 0;

            if (i < na) {
                p->copies_moved++;
            }

            nitems++;
        }
    }

    qsort(items, nitems, sizeof(miroir_plan_item_t), miroir_plan_item_cmp);

    p->moves = malloc((nitems ? nitems : 1) * sizeof(miroir_plan_move_t));
    if (p->moves == NULL) {
        free(items);
        free(per_node);
        miroir_plan_free(p);
        return MIROIR_ENOMEM;
    }

    for (i = 0; i < nitems; i++) {
        p->moves[i] = items[i].m;
    }

    p->nmoves = nitems;

    free(items);
    free(per_node);
    *out = p;

    return MIROIR_OK;
}


void
miroir_plan_free(miroir_plan_t *p)
{
    if (p == NULL) {
        return;
    }

    free(p->moves);
    free(p->shards);
    free(p);
}


char *
miroir_plan_json(const miroir_plan_t *p)
{
    cJSON   *root, *moves, *m;
    char    *txt, *res;
    size_t   i;
    int      ok;

    root = cJSON_CreateObject();
    moves = cJSON_AddArrayToObject(root, "moves");
    ok = root != NULL && moves != NULL;

    for (i = 0; ok && i < p->nmoves; i++) {
        m = cJSON_CreateObject();
        ok = m != NULL && cJSON_AddItemToArray(moves, m);

        if (!ok) {
            cJSON_Delete(m);
            break;
        }

        ok = cJSON_AddNumberToObject(m, "shard", p->moves[i].shard) != NULL;

        if (p->moves[i].from >= 0) {
            ok = ok && cJSON_AddStringToObject(m, "from",
                           p->old->node_ids[p->moves[i].from]) != NULL;
        } else {
            ok = ok && cJSON_AddNullToObject(m, "from") != NULL;
        }

        if (p->moves[i].to >= 0) {
            ok = ok && cJSON_AddStringToObject(m, "to",
                           p->new->node_ids[p->moves[i].to]) != NULL;
        } else {
            ok = ok && cJSON_AddNullToObject(m, "to") != NULL;
        }
    }

    ok = ok
         && cJSON_AddNumberToObject(root, "shardsMoving", p->shards_moving)
         && cJSON_AddNumberToObject(root, "copiesMoved", p->copies_moved)
         && cJSON_AddNumberToObject(root, "shardsRelabeled",
                                    p->shards_relabeled);

    txt = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);

    if (txt == NULL) {
        return NULL;
    }

    res = strdup(txt);
    cJSON_free(txt);

    return res;
}
