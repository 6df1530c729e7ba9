/*
 * miroir_router.c -- weighted HRW placement with a capacity bound.
 *
 * See miroir_router.h for the hash, the bound and the node states.
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "miroir_router.h"


#define MIROIR_ROUTER_NONE     0xffff
#define MIROIR_ROUTER_MAX_BAL  4.0


/* One candidate node of one shard, while ranking. */
typedef struct {
    double     score;
    uint64_t   h;
    uint32_t   local;
} miroir_router_cand_t;


/* Build-time state; local indexes are positions in elig[]. */
typedef struct {
    uint32_t               nshards;
    uint32_t               rf;
    uint32_t               nelig;
    int                    equal;     /* all weights equal */
    const miroir_node_t   *nodes;
    uint32_t              *elig;      /* local -> node index */
    size_t                *idlen;     /* local -> strlen(id) */
    uint8_t               *rank;      /* nshards * nelig, HRW order */
    uint16_t              *own;       /* nshards * rf, local indexes */
    uint32_t              *held;      /* local -> copies at done levels */
    uint32_t              *cap;       /* local -> room at this level */
    uint32_t              *acc;       /* accepted shards, per node slices */
    size_t                *acc_off;
    uint32_t              *nacc;
    uint32_t              *ptr;       /* shard -> next rank position */
    uint32_t              *stack;
    uint16_t              *lvl;       /* shard -> owner at this level */
} miroir_router_build_t;


static miroir_rc_t miroir_router_topup(miroir_router_build_t *b,
    double balance, double wsum);


static uint64_t
miroir_router_hash(const char *id, size_t len, uint32_t s)
{
    return XXH3_64bits_withSeed(id, len, (XXH64_hash_t) s);
}


static double
miroir_router_score_h(uint64_t h, double w)
{
    double  u;

    u = ((double) (h >> 11) + 0.5) * (1.0 / 9007199254740992.0);

    return w / -log(u);
}


double
miroir_router_score(const char *id, double w, uint32_t s)
{
    return miroir_router_score_h(miroir_router_hash(id, strlen(id), s), w);
}


/* qsort comparator: best candidate first (ids compared by caller). */
static int
miroir_router_cand_cmp(const void *a, const void *b)
{
    const miroir_router_cand_t  *x = a, *y = b;

    if (x->score != y->score) {
        return x->score > y->score ? -1 : 1;
    }

    if ((x->h >> 11) != (y->h >> 11)) {
        return (x->h >> 11) > (y->h >> 11) ? -1 : 1;
    }

    if (x->h != y->h) {
        return x->h > y->h ? -1 : 1;
    }

    /* equal 64-bit hashes: ids decide, local order follows id order */
    return x->local < y->local ? -1 : (x->local > y->local);
}


/*
 * Does node (local) x prefer shard a to shard b?  Same node, same weight:
 * the score order is the order of u, i.e. of h >> 11.
 */
static int
miroir_router_prefers(const miroir_router_build_t *b, uint32_t x, uint32_t sa,
    uint32_t sb)
{
    const char  *id;
    uint64_t     ha, hb;

    id = b->nodes[b->elig[x]].id;
    ha = miroir_router_hash(id, b->idlen[x], sa);
    hb = miroir_router_hash(id, b->idlen[x], sb);

    if ((ha >> 11) != (hb >> 11)) {
        return (ha >> 11) > (hb >> 11);
    }

    if (ha != hb) {
        return ha > hb;
    }

    return sa < sb;
}


/* Rank the eligible nodes of every shard. */
static miroir_rc_t
miroir_router_rank(miroir_router_build_t *b)
{
    miroir_router_cand_t  *c;
    const miroir_node_t   *n;
    uint32_t               s, i;
    uint64_t               h;

    c = malloc(b->nelig * sizeof(miroir_router_cand_t));
    if (c == NULL) {
        return MIROIR_ENOMEM;
    }

    for (s = 0; s < b->nshards; s++) {

        for (i = 0; i < b->nelig; i++) {
            n = &b->nodes[b->elig[i]];
            h = miroir_router_hash(n->id, b->idlen[i], s);

            c[i].h = h;
            c[i].local = i;
            c[i].score = b->equal ? (double) (h >> 11)
                                  : miroir_router_score_h(h, n->weight);
        }

        qsort(c, b->nelig, sizeof(miroir_router_cand_t),
              miroir_router_cand_cmp);

        for (i = 0; i < b->nelig; i++) {
            b->rank[(size_t) s * b->nelig + i] = (uint8_t) c[i].local;
        }
    }

    free(c);

    return MIROIR_OK;
}


static int
miroir_router_owns_below(const miroir_router_build_t *b, uint32_t s,
    uint32_t level, uint32_t x)
{
    uint32_t  j;

    for (j = 0; j < level; j++) {
        if (b->own[(size_t) s * b->rf + j] == x) {
            return 1;
        }
    }

    return 0;
}


/*
 * Assign copy number `level` of every shard by deferred acceptance under
 * the capacity bound.  Shards left without room get NONE in lvl[].
 */
static void
miroir_router_level(miroir_router_build_t *b, uint32_t level)
{
    uint32_t   s, x, w, k, i, sp, pos;
    uint32_t  *slice;

    for (s = 0; s < b->nshards; s++) {
        b->ptr[s] = 0;
        b->lvl[s] = MIROIR_ROUTER_NONE;
        b->stack[s] = b->nshards - 1 - s;
    }

    for (x = 0; x < b->nelig; x++) {
        b->nacc[x] = 0;
    }

    sp = b->nshards;

    while (sp > 0) {
        s = b->stack[--sp];

        for ( ;; ) {
            pos = b->ptr[s]++;

            if (pos >= b->nelig) {
                break;                          /* no room anywhere */
            }

            x = b->rank[(size_t) s * b->nelig + pos];

            if (miroir_router_owns_below(b, s, level, x)
                || b->cap[x] == 0)
            {
                continue;
            }

            slice = b->acc + b->acc_off[x];

            if (b->nacc[x] < b->cap[x]) {
                slice[b->nacc[x]++] = s;
                b->lvl[s] = (uint16_t) x;
                break;
            }

            /* full: find the shard x likes least */

            k = 0;
            for (i = 1; i < b->nacc[x]; i++) {
                if (miroir_router_prefers(b, x, slice[k], slice[i])) {
                    k = i;
                }
            }

            w = slice[k];

            if (!miroir_router_prefers(b, x, s, w)) {
                continue;
            }

            slice[k] = s;
            b->lvl[s] = (uint16_t) x;
            b->lvl[w] = MIROIR_ROUTER_NONE;
            b->stack[sp++] = w;
            break;
        }
    }

    /* no room at all: best-ranked non-owner, capacity ignored */

    for (s = 0; s < b->nshards; s++) {
        if (b->lvl[s] != MIROIR_ROUTER_NONE) {
            continue;
        }

        for (pos = 0; pos < b->nelig; pos++) {
            x = b->rank[(size_t) s * b->nelig + pos];

            if (!miroir_router_owns_below(b, s, level, x)) {
                b->lvl[s] = (uint16_t) x;
                break;
            }
        }
    }

    for (s = 0; s < b->nshards; s++) {
        b->own[(size_t) s * b->rf + level] = b->lvl[s];
        b->held[b->lvl[s]]++;
    }
}


static void
miroir_router_build_free(miroir_router_build_t *b)
{
    free(b->elig);
    free(b->idlen);
    free(b->rank);
    free(b->own);
    free(b->held);
    free(b->cap);
    free(b->acc);
    free(b->acc_off);
    free(b->nacc);
    free(b->ptr);
    free(b->stack);
    free(b->lvl);
}


static int
miroir_router_eligible(miroir_node_state_e st, miroir_route_kind_e kind)
{
    switch (st) {
    case MIROIR_NODE_ACTIVE:
    case MIROIR_NODE_DOWN:
        return 1;
    case MIROIR_NODE_JOINING:
        return kind == MIROIR_ROUTE_TARGET;
    case MIROIR_NODE_DRAINING:
        return kind == MIROIR_ROUTE_CURRENT;
    default:
        return 0;
    }
}


/* Place every copy; fills b->own.  Caps per level as in the header. */
static miroir_rc_t
miroir_router_place(miroir_router_build_t *b, double balance)
{
    double    wsum, want;
    size_t    total;
    uint32_t  level, x, s, c;

    wsum = 0;
    for (x = 0; x < b->nelig; x++) {
        wsum += b->nodes[b->elig[x]].weight;
    }

    if (miroir_router_rank(b) != MIROIR_OK) {
        return MIROIR_ENOMEM;
    }

    if (balance == 0) {
        for (s = 0; s < b->nshards; s++) {
            for (level = 0; level < b->rf; level++) {
                b->own[(size_t) s * b->rf + level] =
                    b->rank[(size_t) s * b->nelig + level];
            }
        }

        return MIROIR_OK;
    }

    for (level = 0; level < b->rf; level++) {
        total = 0;

        for (x = 0; x < b->nelig; x++) {
            want = balance * (level + 1) * (double) b->nshards
                   * b->nodes[b->elig[x]].weight / wsum;

            /* 1e-9: 64.0000000001 is 64 copies, not 65 */
            want = ceil(want - 1e-9);

            if (want > (double) b->nshards) {
                want = (double) b->nshards;
            }

            c = (uint32_t) want;
            b->cap[x] = c > b->held[x] ? c - b->held[x] : 0;
            b->acc_off[x] = total;
            total += b->cap[x];
        }

        free(b->acc);
        b->acc = malloc((total ? total : 1) * sizeof(uint32_t));
        if (b->acc == NULL) {
            return MIROIR_ENOMEM;
        }

        miroir_router_level(b, level);
    }

    /* equal weights: the caps alone balance; a top-up only adds moves */
    return b->equal ? MIROIR_OK : miroir_router_topup(b, balance, wsum);
}


/*
 * Top-up: a node left under floor(target / balance) copies (a heavy node
 * cannot hold two copies of one shard, so weighted HRW under-fills it
 * when rf > 1) takes, one at a time, the shard it scores highest among
 * those with an owner above its target; it replaces that owner in place.
 */
static miroir_rc_t
miroir_router_topup(miroir_router_build_t *b, double balance, double wsum)
{
    double     *target;
    uint64_t   *key, best;
    uint32_t    x, y, s, j, bs, bj;
    size_t      i;
    const char *id;
    int         found;

    target = malloc(b->nelig * sizeof(double));
    key = malloc(b->nshards * sizeof(uint64_t));
    if (target == NULL || key == NULL) {
        free(target);
        free(key);
        return MIROIR_ENOMEM;
    }

    for (x = 0; x < b->nelig; x++) {
        target[x] = (double) b->rf * b->nshards
                    * b->nodes[b->elig[x]].weight / wsum;

        if (target[x] > (double) b->nshards) {
            target[x] = (double) b->nshards;
        }
    }

    for (x = 0; x < b->nelig; x++) {
        if ((double) b->held[x] >= floor(target[x] / balance + 1e-9)) {
            continue;
        }

        id = b->nodes[b->elig[x]].id;
        for (s = 0; s < b->nshards; s++) {
            key[s] = miroir_router_hash(id, b->idlen[x], s) >> 11;
        }

        while ((double) b->held[x] < floor(target[x] / balance + 1e-9)) {
            found = 0;
            best = 0;
            bs = 0;
            bj = 0;

            for (s = 0; s < b->nshards; s++) {
                if ((found && key[s] <= best)
                    || miroir_router_owns_below(b, s, b->rf, x))
                {
                    continue;
                }

                for (j = b->rf; j-- > 0; ) {
                    y = b->own[(size_t) s * b->rf + j];
                    if ((double) b->held[y] > target[y] + 1e-9) {
                        found = 1;
                        best = key[s];
                        bs = s;
                        bj = j;
                        break;
                    }
                }
            }

            if (!found) {
                break;
            }

            i = (size_t) bs * b->rf + bj;
            b->held[b->own[i]]--;
            b->own[i] = (uint16_t) x;
            b->held[x]++;
        }
    }

    free(target);
    free(key);

    return MIROIR_OK;
}


void
miroir_route_counts(const miroir_route_table_t *rt, uint32_t *copies,
    uint32_t *primaries)
{
    size_t    i, n;
    uint16_t  o;

    if (copies) {
        memset(copies, 0, rt->nnodes * sizeof(uint32_t));
    }

    if (primaries) {
        memset(primaries, 0, rt->nnodes * sizeof(uint32_t));
    }

    n = (size_t) rt->nshards * rt->rf;

    for (i = 0; i < n; i++) {
        o = rt->owners[i];

        if (copies) {
            copies[o]++;
        }

        if (primaries && i % rt->rf == 0) {
            primaries[o]++;
        }
    }
}


int
miroir_route_node_index(const miroir_route_table_t *rt, const char *id)
{
    uint32_t  i;

    for (i = 0; i < rt->nnodes; i++) {
        if (strcmp(rt->node_ids[i], id) == 0) {
            return (int) i;
        }
    }

    return -1;
}


void
miroir_router_free(miroir_router_t *r)
{
    uint32_t  i;

    if (r == NULL) {
        return;
    }

    if (r->node_ids) {
        for (i = 0; i < r->table.nnodes; i++) {
            free(r->node_ids[i]);
        }
    }

    free(r->node_ids);
    free(r->owners);
    free(r->weights);
    free(r->states);
    free(r->copies);
    free(r->primaries);
    free(r);
}


static miroir_rc_t
miroir_router_check(const miroir_router_conf_t *conf,
    const miroir_node_t *nodes, size_t nnodes, miroir_error_t *err)
{
    size_t  i, j, len;

#define MIROIR_BAD(...)                                                      \
    do {                                                                     \
        miroir_error_set(err, 400, "miroir_invalid_topology",                \
                         "invalid_request", __VA_ARGS__);                    \
        return MIROIR_EINVAL;                                                \
    } while (0)

    if (conf == NULL || nodes == NULL || nnodes == 0) {
        MIROIR_BAD("A cluster needs at least one node.");
    }

    if (nnodes > MIROIR_MAX_NODES) {
        MIROIR_BAD("A cluster has at most %d nodes.", MIROIR_MAX_NODES);
    }

    if (conf->nshards < MIROIR_MIN_SHARDS
        || conf->nshards > MIROIR_MAX_SHARDS)
    {
        MIROIR_BAD("The number of shards must be between %d and %d.",
                   MIROIR_MIN_SHARDS, MIROIR_MAX_SHARDS);
    }

    if (conf->rf < 1 || conf->rf > MIROIR_MAX_RF) {
        MIROIR_BAD("The replication factor must be between 1 and %d.",
                   MIROIR_MAX_RF);
    }

    if (conf->balance != 0
        && !(conf->balance >= 1.0 && conf->balance <= MIROIR_ROUTER_MAX_BAL))
    {
        MIROIR_BAD("The balance factor must be 0 or between 1 and 4.");
    }

    for (i = 0; i < nnodes; i++) {
        if (nodes[i].id == NULL) {
            MIROIR_BAD("Node %zu has no id.", i);
        }

        len = strlen(nodes[i].id);
        if (len == 0 || len > MIROIR_NODE_ID_LEN) {
            MIROIR_BAD("Node ids must have 1 to %d bytes.",
                       MIROIR_NODE_ID_LEN);
        }

        if (!(nodes[i].weight > 0) || !isfinite(nodes[i].weight)) {
            MIROIR_BAD("Node `%s` needs a positive weight.", nodes[i].id);
        }

        if ((unsigned) nodes[i].state > MIROIR_NODE_REMOVED) {
            MIROIR_BAD("Node `%s` has an unknown state.", nodes[i].id);
        }

        for (j = 0; j < i; j++) {
            if (strcmp(nodes[i].id, nodes[j].id) == 0) {
                MIROIR_BAD("Node `%s` is declared twice.", nodes[i].id);
            }
        }
    }

#undef MIROIR_BAD

    return MIROIR_OK;
}


miroir_rc_t
miroir_router_create(const miroir_router_conf_t *conf,
    const miroir_node_t *nodes, size_t nnodes, miroir_router_t **out,
    miroir_error_t *err)
{
    size_t                  i, n, ne;
    uint32_t                s, j;
    miroir_rc_t             rc;
    miroir_router_t        *r;
    miroir_router_build_t   b;

    rc = miroir_router_check(conf, nodes, nnodes, err);
    if (rc != MIROIR_OK) {
        return rc;
    }

    memset(&b, 0, sizeof(b));
    b.nshards = conf->nshards;
    b.rf = conf->rf;
    b.nodes = nodes;
    b.equal = 1;

    b.elig = malloc(nnodes * sizeof(uint32_t));
    b.idlen = malloc(nnodes * sizeof(size_t));
    if (b.elig == NULL || b.idlen == NULL) {
        miroir_router_build_free(&b);
        return MIROIR_ENOMEM;
    }

    /* eligible nodes in id order, so equal hashes fall back to ids */

    ne = 0;
    for (i = 0; i < nnodes; i++) {
        if (!miroir_router_eligible(nodes[i].state, conf->kind)) {
            continue;
        }

        for (n = ne; n > 0
             && strcmp(nodes[b.elig[n - 1]].id, nodes[i].id) > 0; n--)
        {
            b.elig[n] = b.elig[n - 1];
        }

        b.elig[n] = (uint32_t) i;
        ne++;
    }

    b.nelig = (uint32_t) ne;

    if (ne < conf->rf) {
        miroir_router_build_free(&b);
        miroir_error_set(err, 400, "miroir_invalid_topology",
                         "invalid_request",
                         "The replication factor %u needs at least %u nodes "
                         "able to own shards; there are %zu.",
                         conf->rf, conf->rf, ne);
        return MIROIR_EINVAL;
    }

    for (i = 0; i < ne; i++) {
        b.idlen[i] = strlen(nodes[b.elig[i]].id);

        if (nodes[b.elig[i]].weight != nodes[b.elig[0]].weight) {
            b.equal = 0;
        }
    }

    n = conf->nshards;
    b.rank = malloc(n * ne);
    b.own = malloc(n * conf->rf * sizeof(uint16_t));
    b.held = calloc(ne, sizeof(uint32_t));
    b.cap = calloc(ne, sizeof(uint32_t));
    b.acc_off = calloc(ne, sizeof(size_t));
    b.nacc = calloc(ne, sizeof(uint32_t));
    b.ptr = malloc(n * sizeof(uint32_t));
    b.stack = malloc(n * sizeof(uint32_t));
    b.lvl = malloc(n * sizeof(uint16_t));

    r = calloc(1, sizeof(miroir_router_t));

    if (r == NULL || b.rank == NULL || b.own == NULL || b.held == NULL
        || b.cap == NULL || b.acc_off == NULL || b.nacc == NULL
        || b.ptr == NULL || b.stack == NULL || b.lvl == NULL)
    {
        goto nomem;
    }

    if (miroir_router_place(&b, conf->balance) != MIROIR_OK) {
        goto nomem;
    }

    r->table.nnodes = (uint32_t) nnodes;
    r->owners = malloc(n * conf->rf * sizeof(uint16_t));
    r->node_ids = calloc(nnodes, sizeof(char *));
    r->weights = malloc(nnodes * sizeof(double));
    r->states = malloc(nnodes * sizeof(miroir_node_state_e));
    r->copies = malloc(nnodes * sizeof(uint32_t));
    r->primaries = malloc(nnodes * sizeof(uint32_t));

    if (r->owners == NULL || r->node_ids == NULL || r->weights == NULL
        || r->states == NULL || r->copies == NULL || r->primaries == NULL)
    {
        goto nomem;
    }

    for (i = 0; i < nnodes; i++) {
        r->node_ids[i] = strdup(nodes[i].id);
        if (r->node_ids[i] == NULL) {
            goto nomem;
        }

        r->weights[i] = nodes[i].weight;
        r->states[i] = nodes[i].state;
    }

    for (s = 0; s < conf->nshards; s++) {
        for (j = 0; j < conf->rf; j++) {
            r->owners[(size_t) s * conf->rf + j] =
                (uint16_t) b.elig[b.own[(size_t) s * conf->rf + j]];
        }
    }

    r->table.nshards = conf->nshards;
    r->table.rf = conf->rf;
    r->table.owners = r->owners;
    r->table.node_ids = (const char *const *) r->node_ids;

    miroir_route_counts(&r->table, r->copies, r->primaries);

    miroir_router_build_free(&b);
    *out = r;

    return MIROIR_OK;

nomem:

    miroir_router_build_free(&b);
    miroir_router_free(r);

    return MIROIR_ENOMEM;
}
