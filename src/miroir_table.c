/*
 * miroir_table.c -- the next shard table from the current one (see
 * miroir_table.h for the rules).
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "miroir_table.h"


typedef struct {
    const miroir_node_t  *nodes;
    size_t                nnodes;
    uint32_t              nshards;
    uint32_t              rf;
    uint16_t             *own;       /* nshards * rf, being edited */
    const uint16_t       *prefer;    /* or NULL */
    uint32_t             *copies;    /* per node */
    double               *target;    /* per node, 0 when not eligible */
} miroir_table_work_t;


int
miroir_table_eligible(miroir_node_state_e state)
{
    return state == MIROIR_NODE_ACTIVE || state == MIROIR_NODE_JOINING
           || state == MIROIR_NODE_DOWN;
}


static int
miroir_table_owns(const miroir_table_work_t *w, uint32_t s, uint32_t x)
{
    uint32_t         j;
    const uint16_t  *o;

    o = w->own + (size_t) s * w->rf;

    for (j = 0; j < w->rf; j++) {
        if (o[j] == x) {
            return 1;
        }
    }

    return 0;
}


static double
miroir_table_load(const miroir_table_work_t *w, uint32_t x)
{
    return (double) w->copies[x] / w->target[x];
}


static double
miroir_table_score(const miroir_table_work_t *w, uint32_t x, uint32_t s)
{
    return miroir_router_score(w->nodes[x].id, w->nodes[x].weight, s);
}


/*
 * The least loaded eligible node that does not own shard s (and is not
 * `except`), ties to the higher HRW score; -1 if none.
 */
static int32_t
miroir_table_receiver(const miroir_table_work_t *w, uint32_t s,
    int32_t except)
{
    double    load, best_load, score, best_score;
    int32_t   best;
    uint32_t  x;

    /* a node that still holds the data takes it back: nothing to copy */

    if (w->prefer) {
        for (x = 0; x < w->rf; x++) {
            best = w->prefer[(size_t) s * w->rf + x];

            if ((size_t) best < w->nnodes && w->target[best] > 0.0
                && best != except && !miroir_table_owns(w, s, best))
            {
                return best;
            }
        }
    }

    best = -1;
    best_load = 0.0;
    best_score = 0.0;

    for (x = 0; x < w->nnodes; x++) {
        if (w->target[x] == 0.0 || (int32_t) x == except
            || miroir_table_owns(w, s, x))
        {
            continue;
        }

        load = miroir_table_load(w, x);

        if (best == -1 || load < best_load) {
            best = (int32_t) x;
            best_load = load;
            best_score = -1.0;
            continue;
        }

        if (load == best_load) {
            if (best_score < 0.0) {
                best_score = miroir_table_score(w, (uint32_t) best, s);
            }

            score = miroir_table_score(w, x, s);

            if (score > best_score) {
                best = (int32_t) x;
                best_score = score;
            }
        }
    }

    return best;
}


static void
miroir_table_move(miroir_table_work_t *w, uint32_t s, uint32_t slot,
    uint32_t to)
{
    uint16_t  *o;

    o = w->own + (size_t) s * w->rf;

    if (o[slot] < w->nnodes) {
        w->copies[o[slot]]--;
    }

    o[slot] = (uint16_t) to;
    w->copies[to]++;
}


/* Give every copy held by a node that may not own to a receiver. */
static miroir_rc_t
miroir_table_evacuate(miroir_table_work_t *w, miroir_error_t *err)
{
    int32_t    to;
    uint16_t   x;
    uint32_t   s, j;

    for (s = 0; s < w->nshards; s++) {
        for (j = 0; j < w->rf; j++) {
            x = w->own[(size_t) s * w->rf + j];

            if (x < w->nnodes && w->target[x] > 0.0) {
                continue;
            }

            to = miroir_table_receiver(w, s, -1);
            if (to < 0) {
                return miroir_error_set(err, 400, "miroir_invalid_topology",
                                        "invalid_request",
                                        "Shard %u has no node left to hold "
                                        "its copies.", (unsigned) s);
            }

            miroir_table_move(w, s, j, (uint32_t) to);
        }
    }

    return MIROIR_OK;
}


/* The focus node f takes one copy from the most loaded other owner. */
static int
miroir_table_take(miroir_table_work_t *w, uint32_t f, const double *sf,
    uint8_t *tried)
{
    double    load, best_load, best_score;
    int32_t   o, best_shard, best_slot;
    uint32_t  x, s, j;

    memset(tried, 0, w->nnodes);

    for ( ;; ) {
        o = -1;
        best_load = 0.0;

        for (x = 0; x < w->nnodes; x++) {
            if (x == f || w->target[x] == 0.0 || tried[x]
                || w->copies[x] == 0)
            {
                continue;
            }

            load = miroir_table_load(w, x);

            if (o == -1 || load > best_load) {
                o = (int32_t) x;
                best_load = load;
            }
        }

        if (o == -1) {
            return 0;
        }

        best_shard = -1;
        best_slot = -1;
        best_score = 0.0;

        for (s = 0; s < w->nshards; s++) {
            if (miroir_table_owns(w, s, f)) {
                continue;
            }

            for (j = 0; j < w->rf; j++) {
                if (w->own[(size_t) s * w->rf + j] == (uint16_t) o
                    && (best_shard == -1 || sf[s] > best_score))
                {
                    best_shard = (int32_t) s;
                    best_slot = (int32_t) j;
                    best_score = sf[s];
                }
            }
        }

        if (best_shard >= 0) {
            miroir_table_move(w, (uint32_t) best_shard, (uint32_t) best_slot,
                              f);
            return 1;
        }

        tried[o] = 1;
    }
}


/* The focus node f gives one copy to the least loaded eligible node. */
static int
miroir_table_give(miroir_table_work_t *w, uint32_t f, uint8_t *tried)
{
    double    load, best_load, score, best_score;
    int32_t   r, best_shard, best_slot;
    uint32_t  x, s, j;

    memset(tried, 0, w->nnodes);

    for ( ;; ) {
        r = -1;
        best_load = 0.0;

        for (x = 0; x < w->nnodes; x++) {
            if (x == f || w->target[x] == 0.0 || tried[x]) {
                continue;
            }

            load = miroir_table_load(w, x);

            if (r == -1 || load < best_load) {
                r = (int32_t) x;
                best_load = load;
            }
        }

        if (r == -1) {
            return 0;
        }

        best_shard = -1;
        best_slot = -1;
        best_score = 0.0;

        for (s = 0; s < w->nshards; s++) {
            if (miroir_table_owns(w, s, (uint32_t) r)) {
                continue;
            }

            for (j = 0; j < w->rf; j++) {
                if (w->own[(size_t) s * w->rf + j] != (uint16_t) f) {
                    continue;
                }

                score = miroir_table_score(w, (uint32_t) r, s);

                if (best_shard == -1 || score > best_score) {
                    best_shard = (int32_t) s;
                    best_slot = (int32_t) j;
                    best_score = score;
                }
            }
        }

        if (best_shard >= 0) {
            miroir_table_move(w, (uint32_t) best_shard, (uint32_t) best_slot,
                              (uint32_t) r);
            return 1;
        }

        tried[r] = 1;
    }
}


miroir_rc_t
miroir_table_next(const miroir_route_table_t *old, const miroir_node_t *nodes,
    size_t nnodes, int32_t focus, const uint16_t *prefer, uint16_t *owners,
    miroir_error_t *err)
{
    double               wsum, want, *sf;
    size_t               i, n;
    uint8_t             *tried;
    uint32_t             eligible, f;
    miroir_rc_t          rc;
    miroir_table_work_t  w;

    if (old == NULL || nodes == NULL || owners == NULL || nnodes == 0
        || nnodes > MIROIR_MAX_NODES || old->nnodes > nnodes
        || old->rf == 0 || old->rf > MIROIR_MAX_RF || old->nshards == 0
        || (focus >= 0 && (size_t) focus >= nnodes))
    {
        return miroir_error_set(err, 400, "miroir_invalid_topology",
                                "invalid_request",
                                "Invalid shard table change.");
    }

    wsum = 0.0;
    eligible = 0;

    for (i = 0; i < nnodes; i++) {
        if (!miroir_table_eligible(nodes[i].state)) {
            continue;
        }

        if (!(nodes[i].weight > 0.0) || !isfinite(nodes[i].weight)) {
            return miroir_error_set(err, 400, "miroir_invalid_topology",
                                    "invalid_request",
                                    "Node `%s` has an invalid weight.",
                                    nodes[i].id);
        }

        wsum += nodes[i].weight;
        eligible++;
    }

    if (eligible < old->rf) {
        return miroir_error_set(err, 400, "miroir_invalid_topology",
                                "invalid_request",
                                "Replication %u needs at least %u nodes that "
                                "can hold shards, %u left.",
                                (unsigned) old->rf, (unsigned) old->rf,
                                (unsigned) eligible);
    }

    n = (size_t) old->nshards * old->rf;

    w.nodes = nodes;
    w.nnodes = nnodes;
    w.nshards = old->nshards;
    w.prefer = prefer;
    w.rf = old->rf;
    w.own = malloc(n * sizeof(uint16_t));
    w.copies = calloc(nnodes, sizeof(uint32_t));
    w.target = calloc(nnodes, sizeof(double));
    sf = malloc(old->nshards * sizeof(double));
    tried = malloc(nnodes);

    if (w.own == NULL || w.copies == NULL || w.target == NULL || sf == NULL
        || tried == NULL)
    {
        rc = MIROIR_ENOMEM;
        goto done;
    }

    memcpy(w.own, old->owners, n * sizeof(uint16_t));

    for (i = 0; i < nnodes; i++) {
        if (miroir_table_eligible(nodes[i].state)) {
            w.target[i] = (double) n * nodes[i].weight / wsum;
        }
    }

    for (i = 0; i < n; i++) {
        if (w.own[i] < nnodes) {
            w.copies[w.own[i]]++;
        }
    }

    rc = miroir_table_evacuate(&w, err);
    if (rc != MIROIR_OK) {
        goto done;
    }

    if (focus >= 0 && w.target[focus] > 0.0) {
        f = (uint32_t) focus;
        want = floor(w.target[f] + 0.5);

        if (want > old->nshards) {
            want = old->nshards;
        }

        if (w.copies[f] < want) {
            for (i = 0; i < old->nshards; i++) {
                sf[i] = miroir_table_score(&w, f, (uint32_t) i);
            }

            while (w.copies[f] < want && miroir_table_take(&w, f, sf, tried))
            {
                /* void */
            }

        } else {
            while (w.copies[f] > want && miroir_table_give(&w, f, tried)) {
                /* void */
            }
        }
    }

    memcpy(owners, w.own, n * sizeof(uint16_t));
    rc = MIROIR_OK;

done:

    free(w.own);
    free(w.copies);
    free(w.target);
    free(sf);
    free(tried);

    return rc;
}
