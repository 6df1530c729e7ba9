/*
 * ngx_miroir_rebalance_mig.c -- the migration engine, run in the helper
 * process (ngx_miroir_helper.c calls ngx_miroir_helper_step() every tick).
 *
 * A job is the plan between the zone's current and target tables.  Up to
 * rebalance_concurrency shards move at once.  A shard is copied in passes;
 * a pass is
 *
 *   BARRIER       s0 = the shard's `started` write counter; wait until
 *                 `done` reaches it (the writes begun before the pass are
 *                 in the nodes' task queues; ngx_miroir_write_begin())
 *
 * then, for every index:
 *
 *   CREATE        POST /indexes on the new owners (failure = it exists)
 *   SETTINGS      GET the index settings from the source, PATCH them on
 *                 the new owners (Miroir's filterable fields come along)
 *   SYNC          wait for the source's latest task of the index
 *   FETCH/WRITE   bounded batches: POST documents/fetch with the filter
 *                 `_miroir_shard = s` on the source; PUT the documents,
 *                 owner fields rewritten to the new owner list, to the new
 *                 owners, and only the primary key + owner fields to the
 *                 owners that keep the shard (PUT = partial update)
 *   IDS/PRUNE     the shard's primary keys on the source and the new
 *                 owners; delete on a new owner what the source lacks
 *   VERIFY        count the shard on the source and every new owner
 *
 * A pass during which `started` moved is dirty: a client write may have
 * been overtaken by an older fetched copy, or a delete by the helper's
 * PUT.  The helper then deletes the owner-field stubs on the owners that
 * keep the shard (GHOSTS) and runs another pass; a dirty shard never
 * switches.  After a clean pass: SWITCH (the zone's current table takes
 * the new owners: reads and writes follow, version + 1, checkpoint saved)
 * and, a cluster deadline later (reads planned before the switch may
 * still read the old copies), DELETE (documents/delete with the filter on
 * the owners that no longer hold it).  Every write is a node task,
 * awaited by polling GET /tasks/{uid}.  Shard states in the zone (planned,
 * copying, switched) and the state file are the checkpoints: a new helper
 * (reload, crash) restarts copies from the beginning (they are idempotent)
 * and resumes pending deletes, a whole deadline after it sees them.
 * Nothing here blocks: every request is a non-blocking
 * ngx_miroir_hc_start() with a timeout.
 *
 * The new copies of a plan are recorded (migcopies-<cluster>.json) before
 * the first write; a recorded copy that no plan wants any more (an admin
 * change during the copy) is an orphan: ORPHAN deletes it, and a pass
 * without new owners tags the shard's documents again.  A node that
 * cannot filter by Miroir's fields there (its index made by client
 * writes, or a CREATE cut short) first gets a live owner's settings
 * (FIELDS_GET/FIELDS_PUT), then ORPHAN runs again.
 *
 * With no rebalance pending, the same passes heal the copies the write
 * path marked stale: the stale copy is emptied on the first pass
 * (HEAL_CLEAR: a deletion it missed must not come back), copied again
 * from a fresh owner, pruned, counted, and its mark cleared.
 */

#include "ngx_miroir.h"
#include "ngx_miroir_rebalance.h"
#include "ngx_miroir_helper.h"
#include "ngx_miroir_log.h"


#define NGX_MIROIR_MIG_BATCH     1000
#define NGX_MIROIR_MIG_TIMEOUT   30000
#define NGX_MIROIR_MIG_POLL      100
#define NGX_MIROIR_MIG_RETRY     1000
#define NGX_MIROIR_MIG_ATTEMPTS  5
#define NGX_MIROIR_MIG_SLOTS     64
#define NGX_MIROIR_MIG_BACKOFF   5       /* s before a failed job retries */
#define NGX_MIROIR_MIG_CLUSTERS  64
#define NGX_MIROIR_MIG_REDOS     8       /* copy passes redone, then later */
#define NGX_MIROIR_MIG_LOOK      20      /* ms between two barrier looks */
#define NGX_MIROIR_MIG_COPIES    16384   /* copies in progress recorded */
#define NGX_MIROIR_MIG_RETAG     0xffff  /* node of a retag record */


/* the write path's stale marks (ngx_miroir_tasks.c) */
extern void ngx_miroir_stale_clear(ngx_miroir_cluster_conf_t *cl,
    ngx_uint_t shard, ngx_uint_t node, ngx_log_t *log)
    __attribute__((weak));


enum {
    NGX_MIROIR_MIG_FREE = 0,
    NGX_MIROIR_MIG_BARRIER,      /* a pass starts: writes in flight land */
    NGX_MIROIR_MIG_CREATE,
    NGX_MIROIR_MIG_SETTINGS_GET,
    NGX_MIROIR_MIG_SETTINGS_PUT,
    NGX_MIROIR_MIG_HEAL_CLEAR,
    NGX_MIROIR_MIG_SYNC,         /* the source processed its tasks */
    NGX_MIROIR_MIG_FETCH,
    NGX_MIROIR_MIG_IDS,          /* the shard's ids, source and copies */
    NGX_MIROIR_MIG_PRUNE,        /* delete what the source lacks */
    NGX_MIROIR_MIG_VERIFY,
    NGX_MIROIR_MIG_GHOSTS,       /* a dirty pass: owner-field stubs */
    NGX_MIROIR_MIG_DELETE,
    NGX_MIROIR_MIG_ORPHAN,       /* a copy no plan wants any more */
    NGX_MIROIR_MIG_FIELDS_GET,   /* ORPHAN: a node that cannot filter */
    NGX_MIROIR_MIG_FIELDS_PUT
};

enum {
    NGX_MIROIR_REQ_TASK = 0,     /* a write answered by a task: await it */
    NGX_MIROIR_REQ_SETTINGS,     /* keep the body */
    NGX_MIROIR_REQ_FETCH,        /* a batch: write it out */
    NGX_MIROIR_REQ_COUNT,        /* a total */
    NGX_MIROIR_REQ_INDEXES,      /* the index list of a job */
    NGX_MIROIR_REQ_LATEST,       /* the latest task of an index: await it */
    NGX_MIROIR_REQ_IDS           /* a page of ids */
};


typedef struct {
    ngx_str_t                       uid;
    ngx_str_t                       pk;
} ngx_miroir_mig_index_t;

typedef struct ngx_miroir_job_s  ngx_miroir_job_t;

typedef struct {
    ngx_miroir_job_t               *job;
    ngx_uint_t                      step;
    uint32_t                        shard;
    uint16_t                        old[MIROIR_MAX_RF];
    uint16_t                        new[MIROIR_MAX_RF];
    uint16_t                        source;
    ngx_uint_t                      index;
    ngx_uint_t                      offset;
    ngx_uint_t                      batch;
    ngx_uint_t                      pending;
    ngx_uint_t                      failed;
    ngx_uint_t                      attempts;
    ngx_uint_t                      in_run;      /* sending a step */
    ngx_uint_t                      heal;        /* re-sync a stale copy */
    ngx_uint_t                      retag;       /* owner fields only */
    ngx_uint_t                      orphan_all;  /* ORPHAN: every other
                                                    node */
    uint16_t                        heal_node;

    /* ORPHAN: nodes whose delete failed with invalid_document_filter
       (an index created by client writes or by a CREATE step that was
       cut short: Miroir's fields not filterable there); they get the
       settings of a live owner (fields_from), then ORPHAN runs again */
    uint8_t                         unfilterable[MIROIR_MAX_NODES];
    ngx_uint_t                      fields_fixed;
    uint16_t                        fields_from;

    uint64_t                        copied;
    uint64_t                        pruned;
    int64_t                         totals[1 + MIROIR_MAX_RF];
    char                           *settings;
    ngx_event_t                     wait;

    /* a copy pass: writes counted when it began (s0), passes redone */
    ngx_atomic_uint_t               s0;
    ngx_uint_t                      s0_set;
    ngx_uint_t                      waits;
    ngx_uint_t                      redo;

    /* IDS/PRUNE: JSON texts of the primary keys, [0] = the source,
       [1 + j] = new owner j */
    ngx_pool_t                     *ids_pool;
    ngx_array_t                    *ids[1 + MIROIR_MAX_RF];
} ngx_miroir_mig_t;

typedef struct {
    ngx_miroir_mig_t               *mig;
    ngx_miroir_job_t               *job;
    uint16_t                        node;
    ngx_uint_t                      kind;
    ngx_uint_t                      slot;
    ngx_uint_t                      ignore_failure;
    ngx_uint_t                      offset;      /* REQ_IDS: the page */
    int64_t                         task;
    ngx_event_t                     poll;
} ngx_miroir_req_t;

struct ngx_miroir_job_s {
    ngx_miroir_cluster_conf_t      *cl;
    ngx_pool_t                     *pool;
    uint64_t                        seq;
    uint32_t                        nshards;
    uint32_t                        rf;
    uint32_t                        nnodes;
    uint16_t                       *current;
    uint16_t                       *target;
    uint16_t                       *prev;
    uint8_t                        *state;
    uint8_t                        *skip;
    uint8_t                        *retag;      /* abandoned moves (zone) */
    ngx_str_t                       ids[MIROIR_MAX_NODES];
    ngx_str_t                       addrs[MIROIR_MAX_NODES];
    ngx_str_t                       keys[MIROIR_MAX_NODES];
    uint32_t                        nstate[MIROIR_MAX_NODES];
    ngx_array_t                     indexes;    /* ngx_miroir_mig_index_t */
    ngx_uint_t                      listed;
    ngx_uint_t                      listing;
    ngx_uint_t                      list_node;
    ngx_uint_t                      next;
    ngx_uint_t                      aborting;
    ngx_uint_t                      waiting;     /* switched, not due */
    ngx_uint_t                      orphan_next; /* copies looked at */
    ngx_uint_t                      heal_only;   /* no rebalance pending */
    ngx_uint_t                      nslots;
    ngx_miroir_mig_t                mig[NGX_MIROIR_MIG_SLOTS];
};


/*
 * A copy this helper started on a node that does not own the shard yet
 * (recorded before the first write, dropped at the switch).  One that no
 * plan wants any more (an admin change during the copy) is an orphan:
 * its documents are deleted.  Kept in migcopies-<cluster>.json, so a
 * restart still finds them.
 */
typedef struct {
    uint32_t                        shard;
    u_char                          node[MIROIR_NODE_ID_LEN + 1];
} ngx_miroir_mig_copy_t;

typedef struct {
    ngx_miroir_job_t               *job;
    time_t                          retry_at;

    ngx_miroir_mig_copy_t          *copies;      /* NGX_MIROIR_MIG_COPIES */
    ngx_uint_t                      ncopies;
    ngx_uint_t                      copies_loaded;
    ngx_uint_t                      copies_dirty; /* drops not saved yet */

    /* when this helper switched each shard (0: not seen yet); the old
       copies are deleted a cluster deadline later */
    ngx_msec_t                     *switched_at;
    uint32_t                        nswitched;
} ngx_miroir_helper_cl_t;

static ngx_miroir_helper_cl_t  ngx_miroir_helper_cl[NGX_MIROIR_MIG_CLUSTERS];

static ngx_str_t  ngx_miroir_mig_records = ngx_string("records");


static void ngx_miroir_mig_run(ngx_miroir_mig_t *mig);
static void ngx_miroir_mig_done(ngx_miroir_mig_t *mig);
static void ngx_miroir_mig_answer(ngx_miroir_hc_t *hc);
static uint16_t ngx_miroir_mig_first_dest(ngx_miroir_mig_t *mig);
static ngx_uint_t ngx_miroir_job_usable(ngx_miroir_job_t *job, uint16_t x);
static ngx_msec_t ngx_miroir_mig_switched_at(ngx_miroir_job_t *job,
    uint32_t s, ngx_uint_t set);


static ngx_slab_pool_t *
ngx_miroir_mig_shpool(void)
{
    ngx_miroir_main_conf_t  *mmcf;

    mmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_miroir_module);
    return mmcf->shpool;
}


static void
ngx_miroir_mig_error(ngx_miroir_job_t *job, const char *fmt, ...)
{
    u_char                      *p;
    va_list                      args;
    ngx_slab_pool_t             *shpool;
    ngx_miroir_rebalance_shm_t  *rb;
    u_char                       msg[256];

    va_start(args, fmt);
    p = ngx_vslprintf(msg, msg + sizeof(msg) - 1, fmt, args);
    va_end(args);
    *p = '\0';

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "miroir helper: cluster \"%V\": %s", &job->cl->name, msg);

    shpool = ngx_miroir_mig_shpool();

    ngx_shmtx_lock(&shpool->mutex);
    rb = job->cl->shm->rebalance;
    if (rb) {
        rb->errors++;
        ngx_memcpy(rb->last_error, msg, p - msg + 1);
    }
    ngx_shmtx_unlock(&shpool->mutex);
}


static ngx_uint_t
ngx_miroir_mig_in(const uint16_t *list, ngx_uint_t n, uint16_t x)
{
    ngx_uint_t  i;

    for (i = 0; i < n; i++) {
        if (list[i] == x) {
            return 1;
        }
    }

    return 0;
}


/* Whether owner j of the shard gets whole documents (else owner fields). */
static ngx_uint_t
ngx_miroir_mig_dest(ngx_miroir_mig_t *mig, ngx_uint_t j)
{
    if (mig->heal) {
        return mig->new[j] == mig->heal_node;
    }

    return !ngx_miroir_mig_in(mig->old, mig->job->rf, mig->new[j]);
}


/* Whether owner j gets anything at all. */
static ngx_uint_t
ngx_miroir_mig_writes(ngx_miroir_mig_t *mig, ngx_uint_t j)
{
    return !mig->heal || mig->new[j] == mig->heal_node;
}


/* ------------------------------------------------------------ requests */

static ngx_int_t
ngx_miroir_mig_send(ngx_miroir_job_t *job, ngx_miroir_mig_t *mig,
    uint16_t node, ngx_uint_t kind, const char *method, ngx_str_t *uri,
    ngx_str_t *body, ngx_uint_t slot, ngx_uint_t ignore_failure)
{
    ngx_miroir_req_t  *req;

    req = ngx_calloc(sizeof(ngx_miroir_req_t), ngx_cycle->log);
    if (req == NULL) {
        return NGX_ERROR;
    }

    req->mig = mig;
    req->job = job;
    req->node = node;
    req->kind = kind;
    req->slot = slot;
    req->ignore_failure = ignore_failure;
    req->task = -1;

    if (mig) {
        mig->pending++;
    }

    if (ngx_miroir_hc_start(&job->addrs[node], method, uri, &job->keys[node],
                            body, NGX_MIROIR_MIG_TIMEOUT,
                            ngx_miroir_mig_answer, req, ngx_cycle->log)
        != NGX_OK)
    {
        if (mig) {
            mig->pending--;
            mig->failed = 1;
        }

        ngx_free(req);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_miroir_mig_send_ids(ngx_miroir_job_t *job, ngx_miroir_mig_t *mig,
    uint16_t node, ngx_str_t *uri, ngx_str_t *body, ngx_uint_t slot,
    ngx_uint_t offset)
{
    ngx_miroir_req_t  *req;

    req = ngx_calloc(sizeof(ngx_miroir_req_t), ngx_cycle->log);
    if (req == NULL) {
        return NGX_ERROR;
    }

    req->mig = mig;
    req->job = job;
    req->node = node;
    req->kind = NGX_MIROIR_REQ_IDS;
    req->slot = slot;
    req->offset = offset;
    req->task = -1;

    mig->pending++;

    if (ngx_miroir_hc_start(&job->addrs[node], "POST", uri, &job->keys[node],
                            body, NGX_MIROIR_MIG_TIMEOUT,
                            ngx_miroir_mig_answer, req, ngx_cycle->log)
        != NGX_OK)
    {
        mig->pending--;
        mig->failed = 1;
        ngx_free(req);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* A request of a shard is over (ok or not). */
static void
ngx_miroir_req_end(ngx_miroir_req_t *req, ngx_uint_t ok)
{
    ngx_miroir_mig_t  *mig;

    mig = req->mig;

    if (req->poll.timer_set) {
        ngx_del_timer(&req->poll);
    }

    if (req->kind == NGX_MIROIR_REQ_INDEXES) {
        req->job->listing = 0;
    }

    ngx_free(req);

    if (mig == NULL) {
        return;
    }

    if (!ok) {
        mig->failed = 1;
    }

    if (--mig->pending == 0 && !mig->in_run) {
        ngx_miroir_mig_done(mig);
    }
}


static void
ngx_miroir_req_poll(ngx_event_t *ev)
{
    u_char             buf[64], *p;
    ngx_str_t          uri;
    ngx_miroir_req_t  *req;

    req = ev->data;

    p = ngx_sprintf(buf, "/tasks/%L", req->task);
    uri.data = buf;
    uri.len = p - buf;

    if (ngx_miroir_hc_start(&req->job->addrs[req->node], "GET", &uri,
                            &req->job->keys[req->node], NULL,
                            NGX_MIROIR_MIG_TIMEOUT, ngx_miroir_mig_answer,
                            req, ngx_cycle->log)
        != NGX_OK)
    {
        ngx_miroir_req_end(req, 0);
    }
}


static void ngx_miroir_mig_fetched(ngx_miroir_req_t *req, cJSON *json);
static ngx_int_t ngx_miroir_mig_ids(ngx_miroir_req_t *req, cJSON *json);


/*
 * ORPHAN: a delete by filter that failed because the node cannot filter
 * by Miroir's fields (err: the error object, of the task or the answer).
 */
static void
ngx_miroir_mig_filter_failed(ngx_miroir_req_t *req, cJSON *err)
{
    cJSON  *code;

    if (req->mig == NULL || req->mig->step != NGX_MIROIR_MIG_ORPHAN
        || req->node >= MIROIR_MAX_NODES)
    {
        return;
    }

    code = cJSON_GetObjectItemCaseSensitive(err, "code");

    if (cJSON_IsString(code)
        && ngx_strcmp(code->valuestring, "invalid_document_filter") == 0)
    {
        req->mig->unfilterable[req->node] = 1;
    }
}


static void
ngx_miroir_mig_answer(ngx_miroir_hc_t *hc)
{
    cJSON             *json, *v, *o;
    ngx_uint_t         ok;
    ngx_miroir_job_t  *job;
    ngx_miroir_req_t  *req;
    ngx_miroir_mig_index_t  *ix;

    req = hc->data;
    job = req->job;

    if (!hc->ok) {
        ngx_miroir_mig_error(job, "node `%V` (%V): %s", &job->ids[req->node],
                             &job->addrs[req->node], hc->error);
        ngx_miroir_req_end(req, 0);
        return;
    }

    json = cJSON_ParseWithLength((char *) hc->body.data, hc->body.len);

    if (hc->status >= 200 && hc->status < 500
        && req->node < job->cl->nodes.nelts)
    {
        /* the node answers: passive health may count it up again */
        ngx_miroir_node_report(job->cl, req->node, 1);
    }

    /* polling a task */

    if (req->task >= 0) {
        v = cJSON_GetObjectItemCaseSensitive(json, "status");

        if (hc->status == 200 && cJSON_IsString(v)
            && (ngx_strcmp(v->valuestring, "enqueued") == 0
                || ngx_strcmp(v->valuestring, "processing") == 0))
        {
            cJSON_Delete(json);
            req->poll.handler = ngx_miroir_req_poll;
            req->poll.data = req;
            req->poll.log = ngx_cycle->log;
            ngx_add_timer(&req->poll, NGX_MIROIR_MIG_POLL);
            return;
        }

        ok = hc->status == 200 && cJSON_IsString(v)
             && ngx_strcmp(v->valuestring, "succeeded") == 0;

        if (!ok) {
            ngx_miroir_mig_filter_failed(req,
                cJSON_GetObjectItemCaseSensitive(json, "error"));
        }

        if (!ok && !req->ignore_failure) {
            ngx_miroir_mig_error(job, "node `%V`: task %L: %*s",
                                 &job->ids[req->node], req->task,
                                 (size_t) ngx_min(hc->body.len, 160),
                                 hc->body.data);
        }

        cJSON_Delete(json);
        ngx_miroir_req_end(req, ok || req->ignore_failure);
        return;
    }

    if (hc->status < 200 || hc->status > 299 || json == NULL) {
        ngx_miroir_mig_filter_failed(req, json);

        if (!req->ignore_failure) {
            ngx_miroir_mig_error(job, "node `%V` answered %i: %*s",
                                 &job->ids[req->node], hc->status,
                                 (size_t) ngx_min(hc->body.len, 160),
                                 hc->body.data);
        }

        cJSON_Delete(json);
        ngx_miroir_req_end(req, req->ignore_failure);
        return;
    }

    switch (req->kind) {

    case NGX_MIROIR_REQ_TASK:
        v = cJSON_GetObjectItemCaseSensitive(json, "taskUid");

        if (!cJSON_IsNumber(v)) {
            ngx_miroir_mig_error(job, "node `%V`: no task in %*s",
                                 &job->ids[req->node],
                                 (size_t) ngx_min(hc->body.len, 160),
                                 hc->body.data);
            cJSON_Delete(json);
            ngx_miroir_req_end(req, req->ignore_failure);
            return;
        }

        req->task = (int64_t) v->valuedouble;
        cJSON_Delete(json);

        req->poll.handler = ngx_miroir_req_poll;
        req->poll.data = req;
        req->poll.log = ngx_cycle->log;
        ngx_add_timer(&req->poll, NGX_MIROIR_MIG_POLL);
        return;

    case NGX_MIROIR_REQ_SETTINGS:
        free(req->mig->settings);
        req->mig->settings = cJSON_PrintUnformatted(json);
        cJSON_Delete(json);
        ngx_miroir_req_end(req, req->mig->settings != NULL);
        return;

    case NGX_MIROIR_REQ_COUNT:
        v = cJSON_GetObjectItemCaseSensitive(json, "total");
        req->mig->totals[req->slot] = cJSON_IsNumber(v)
                                      ? (int64_t) v->valuedouble : -1;
        cJSON_Delete(json);
        ngx_miroir_req_end(req, 1);
        return;

    case NGX_MIROIR_REQ_FETCH:
        ngx_miroir_mig_fetched(req, json);
        cJSON_Delete(json);
        ngx_miroir_req_end(req, 1);
        return;

    case NGX_MIROIR_REQ_IDS:
        ok = ngx_miroir_mig_ids(req, json) == NGX_OK;
        cJSON_Delete(json);
        ngx_miroir_req_end(req, ok);
        return;

    case NGX_MIROIR_REQ_LATEST:
        /* the index's latest task: once it is over, so are the others
           (a node processes the tasks of an index in order) */
        v = cJSON_GetObjectItemCaseSensitive(json, "results");
        o = cJSON_GetArrayItem(v, 0);
        v = cJSON_GetObjectItemCaseSensitive(o, "uid");
        o = cJSON_GetObjectItemCaseSensitive(o, "status");

        if (!cJSON_IsNumber(v) || !cJSON_IsString(o)
            || (ngx_strcmp(o->valuestring, "enqueued") != 0
                && ngx_strcmp(o->valuestring, "processing") != 0))
        {
            cJSON_Delete(json);
            ngx_miroir_req_end(req, 1);
            return;
        }

        req->task = (int64_t) v->valuedouble;
        req->ignore_failure = 1;         /* a failed task is over too */
        cJSON_Delete(json);

        req->poll.handler = ngx_miroir_req_poll;
        req->poll.data = req;
        req->poll.log = ngx_cycle->log;
        ngx_add_timer(&req->poll, NGX_MIROIR_MIG_POLL);
        return;

    case NGX_MIROIR_REQ_INDEXES:
        job->listing = 0;
        v = cJSON_GetObjectItemCaseSensitive(json, "results");

        cJSON_ArrayForEach(o, v) {
            cJSON  *uid, *pk;

            uid = cJSON_GetObjectItemCaseSensitive(o, "uid");
            pk = cJSON_GetObjectItemCaseSensitive(o, "primaryKey");

            if (!cJSON_IsString(uid)) {
                continue;
            }

            ix = ngx_array_push(&job->indexes);
            if (ix == NULL) {
                break;
            }

            /* NUL-terminated: cJSON looks the primary key up by name */

            ix->uid.len = ngx_strlen(uid->valuestring);
            ix->uid.data = ngx_pnalloc(job->pool, ix->uid.len + 1);
            ix->pk.len = cJSON_IsString(pk) ? ngx_strlen(pk->valuestring)
                                            : 0;
            ix->pk.data = ngx_pnalloc(job->pool, ix->pk.len + 1);

            if (ix->uid.data == NULL || ix->pk.data == NULL) {
                job->indexes.nelts--;
                break;
            }

            ngx_memcpy(ix->uid.data, uid->valuestring, ix->uid.len + 1);

            if (ix->pk.len) {
                ngx_memcpy(ix->pk.data, pk->valuestring, ix->pk.len + 1);

            } else {
                ix->pk.data[0] = '\0';
            }
        }

        job->listed = 1;
        cJSON_Delete(json);

        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "miroir helper: cluster \"%V\": %ui indexes to "
                      "migrate", &job->cl->name, job->indexes.nelts);

        ngx_free(req);
        return;
    }

    cJSON_Delete(json);
    ngx_miroir_req_end(req, 0);
}


/* A page of ids: keep their JSON texts; a full page asks for the next. */
static ngx_int_t
ngx_miroir_mig_ids(ngx_miroir_req_t *req, cJSON *json)
{
    char                    *text;
    cJSON                   *results, *doc, *id;
    u_char                   ubuf[512], bbuf[512], *p;
    ngx_str_t                uri, body, *e;
    ngx_uint_t               n;
    ngx_miroir_mig_t        *mig;
    ngx_miroir_mig_index_t  *ix;

    mig = req->mig;
    ix = (ngx_miroir_mig_index_t *) req->job->indexes.elts + mig->index;

    if (mig->ids_pool == NULL || mig->ids[req->slot] == NULL) {
        return NGX_ERROR;
    }

    results = cJSON_GetObjectItemCaseSensitive(json, "results");
    n = 0;

    cJSON_ArrayForEach(doc, results) {
        n++;
        id = cJSON_GetObjectItemCaseSensitive(doc, (char *) ix->pk.data);
        text = id ? cJSON_PrintUnformatted(id) : NULL;

        if (text == NULL) {
            return NGX_ERROR;
        }

        e = ngx_array_push(mig->ids[req->slot]);
        if (e == NULL) {
            free(text);
            return NGX_ERROR;
        }

        e->len = ngx_strlen(text);
        e->data = ngx_pnalloc(mig->ids_pool, e->len);
        if (e->data == NULL) {
            free(text);
            return NGX_ERROR;
        }

        ngx_memcpy(e->data, text, e->len);
        free(text);
    }

    if (n < NGX_MIROIR_MIG_BATCH) {
        return NGX_OK;
    }

    /* the next page (this request is still pending: the step goes on) */

    p = ngx_snprintf(ubuf, sizeof(ubuf), "/indexes/%V/documents/fetch",
                     &ix->uid);
    uri.data = ubuf;
    uri.len = p - ubuf;
    p = ngx_snprintf(bbuf, sizeof(bbuf),
                     "{\"filter\":\"_miroir_shard = %uD\",\"fields\":[\"%V\"],"
                     "\"limit\":%d,\"offset\":%ui}", mig->shard, &ix->pk,
                     NGX_MIROIR_MIG_BATCH, req->offset + NGX_MIROIR_MIG_BATCH);
    body.data = bbuf;
    body.len = p - bbuf;

    return ngx_miroir_mig_send_ids(req->job, mig, req->node, &uri, &body,
                                   req->slot, req->offset
                                              + NGX_MIROIR_MIG_BATCH);
}


static int ngx_libc_cdecl
ngx_miroir_mig_idcmp(const void *a, const void *b)
{
    const ngx_str_t  *x = a, *y = b;
    int               rc;

    rc = ngx_memcmp(x->data, y->data, ngx_min(x->len, y->len));

    if (rc != 0) {
        return rc;
    }

    return x->len < y->len ? -1 : x->len > y->len;
}


static void
ngx_miroir_mig_ids_free(ngx_miroir_mig_t *mig)
{
    if (mig->ids_pool) {
        ngx_destroy_pool(mig->ids_pool);
        mig->ids_pool = NULL;
    }

    ngx_memzero(mig->ids, sizeof(mig->ids));
}


/* Whether a write touched the shard since the copy pass began. */
static ngx_uint_t
ngx_miroir_mig_dirty(ngx_miroir_mig_t *mig)
{
    ngx_miroir_write_count_t  *wc;

    wc = mig->job->cl->shm->writes;

    if (wc == NULL) {
        return 0;
    }

    wc += mig->shard % NGX_MIROIR_WRITE_BUCKETS;

    return wc->started != mig->s0;
}


/* A batch arrived: write it to the new owners, owner fields rewritten. */
static void
ngx_miroir_mig_fetched(ngx_miroir_req_t *req, cJSON *json)
{
    char                    *full, *tags, name[16];
    cJSON                   *results, *doc, *small, *arr, *id;
    u_char                   ubuf[512], kbuf[32], *p;
    ngx_str_t                uri, body, key;
    ngx_uint_t               j, n;
    ngx_slab_pool_t         *shpool;
    ngx_miroir_job_t        *job;
    ngx_miroir_mig_t        *mig;
    ngx_miroir_mig_index_t  *ix;
    ngx_miroir_rebalance_shm_t  *rb;

    mig = req->mig;
    job = req->job;
    ix = (ngx_miroir_mig_index_t *) job->indexes.elts + mig->index;

    results = cJSON_GetObjectItemCaseSensitive(json, "results");
    n = (ngx_uint_t) cJSON_GetArraySize(results);
    mig->batch = n;

    if (n == 0) {
        return;
    }

    arr = cJSON_CreateArray();
    if (arr == NULL) {
        mig->failed = 1;
        return;
    }

    cJSON_ArrayForEach(doc, results) {
        small = cJSON_CreateObject();
        id = ix->pk.len ? cJSON_GetObjectItemCaseSensitive(doc,
                                                 (char *) ix->pk.data)
                        : NULL;

        if (small == NULL || id == NULL) {
            ngx_miroir_mig_error(job, "index `%V`: a document without its "
                                 "primary key `%V`", &ix->uid, &ix->pk);
            cJSON_Delete(small);
            cJSON_Delete(arr);
            mig->failed = 1;
            return;
        }

        cJSON_AddItemToObject(small, (char *) ix->pk.data,
                              cJSON_Duplicate(id, 1));

        for (j = 0; j < job->rf; j++) {
            ngx_sprintf((u_char *) name, "_miroir_o%ui%Z", j);
            cJSON_DeleteItemFromObjectCaseSensitive(doc, name);
            cJSON_AddItemToObject(doc, name, cJSON_CreateString(
                                      (char *) job->ids[mig->new[j]].data));
            cJSON_AddItemToObject(small, name, cJSON_CreateString(
                                      (char *) job->ids[mig->new[j]].data));
        }

        cJSON_AddItemToArray(arr, small);
    }

    full = cJSON_PrintUnformatted(results);
    tags = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);

    if (full == NULL || tags == NULL) {
        free(full);
        free(tags);
        mig->failed = 1;
        return;
    }

    p = ngx_snprintf(ubuf, sizeof(ubuf), "/indexes/%V/documents"
                     "?primaryKey=%V", &ix->uid, &ix->pk);
    uri.data = ubuf;
    uri.len = p - ubuf;

    for (j = 0; j < job->rf; j++) {
        if (!ngx_miroir_mig_writes(mig, j)) {
            continue;
        }

        if (!ngx_miroir_mig_dest(mig, j)) {
            body.data = (u_char *) tags;
            body.len = ngx_strlen(tags);

        } else {
            body.data = (u_char *) full;
            body.len = ngx_strlen(full);
        }

        (void) ngx_miroir_mig_send(job, mig, mig->new[j],
                                   NGX_MIROIR_REQ_TASK, "PUT", &uri, &body,
                                   0, 0);
    }

    free(full);
    free(tags);

    mig->copied += n;

    key.data = kbuf;
    key.len = ngx_sprintf(kbuf, "%uD", mig->shard) - kbuf;

    ngx_miroir_log_event(ngx_cycle->log, NGX_LOG_INFO, "migration_step",
                         &job->cl->name, &key,
                         "shard=%uD step=fetched index=%V documents=%ui "
                         "pass=%ui heal=%ui", mig->shard, &ix->uid, n,
                         mig->redo, mig->heal);

    shpool = ngx_miroir_mig_shpool();
    ngx_shmtx_lock(&shpool->mutex);
    rb = job->cl->shm->rebalance;
    if (rb) {
        rb->docs_copied += n;
    }
    ngx_shmtx_unlock(&shpool->mutex);
}


/* ------------------------------------------------------------ steps */

static ngx_miroir_mig_index_t *
ngx_miroir_mig_ix(ngx_miroir_mig_t *mig)
{
    return (ngx_miroir_mig_index_t *) mig->job->indexes.elts + mig->index;
}


static void
ngx_miroir_mig_wait_handler(ngx_event_t *ev)
{
    ngx_miroir_mig_run(ev->data);
}


static void
ngx_miroir_mig_later(ngx_miroir_mig_t *mig, ngx_msec_t ms)
{
    mig->wait.handler = ngx_miroir_mig_wait_handler;
    mig->wait.data = mig;
    mig->wait.log = ngx_cycle->log;
    ngx_add_timer(&mig->wait, ms);
}


static void
ngx_miroir_mig_release(ngx_miroir_mig_t *mig)
{
    if (mig->wait.timer_set) {
        ngx_del_timer(&mig->wait);
    }

    free(mig->settings);
    mig->settings = NULL;
    ngx_miroir_mig_ids_free(mig);
    mig->step = NGX_MIROIR_MIG_FREE;
}


/*
 * The zone's state of shard s (zone seq unchanged since the job read it).
 * STABLE only if the shard's current owners are its target: a shard that
 * an admin change planned again while it was SWITCHED (its old copies not
 * deleted yet) keeps that state until its DELETE, and then has a move
 * ahead (writes already tag it with the new target): PLANNED, which this
 * job starts on its next round.
 */
static void
ngx_miroir_mig_state(ngx_miroir_job_t *job, uint32_t s, ngx_uint_t state)
{
    size_t                       k, bytes;
    ngx_slab_pool_t             *shpool;
    ngx_miroir_rebalance_shm_t  *rb;

    shpool = ngx_miroir_mig_shpool();
    k = (size_t) s * job->rf;
    bytes = job->rf * sizeof(uint16_t);

    ngx_shmtx_lock(&shpool->mutex);

    rb = job->cl->shm->rebalance;

    if (rb && rb->seq == job->seq && rb->shard_state) {
        if (state == NGX_MIROIR_SHARD_STABLE && rb->target && rb->current
            && ngx_memcmp(&rb->target[k], &rb->current[k], bytes) != 0)
        {
            state = NGX_MIROIR_SHARD_PLANNED;
            job->waiting = 1;
        }

        rb->shard_state[s] = (uint8_t) state;
        rb->seq++;
        job->seq = rb->seq;

        if (state == NGX_MIROIR_SHARD_STABLE) {
            rb->shards_done++;
        }

    } else {
        job->aborting = 1;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    job->state[s] = (uint8_t) state;

    (void) ngx_miroir_rebalance_save(job->cl, ngx_cycle->log);
}


/* ------------------------------------------------------------ copies */

static ngx_int_t
ngx_miroir_copies_path(ngx_miroir_cluster_conf_t *cl, u_char *buf,
    size_t size, const char *suffix)
{
    u_char                  *p;
    ngx_miroir_main_conf_t  *mmcf;

    mmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_miroir_module);

    if (mmcf->state_path.len == 0
        || mmcf->state_path.len + cl->name.len + 64 > size)
    {
        return NGX_DECLINED;
    }

    p = ngx_snprintf(buf, size - 1, "%V/migcopies-%V.json%s",
                     &mmcf->state_path, &cl->name, suffix);
    *p = '\0';

    return NGX_OK;
}


/* The records of this cluster, read once per helper process. */
static ngx_miroir_helper_cl_t *
ngx_miroir_copies_get(ngx_miroir_cluster_conf_t *cl)
{
    char                    *text;
    cJSON                   *root, *arr, *o, *sh, *nd;
    ssize_t                  n;
    ngx_fd_t                 fd;
    ngx_file_info_t          fi;
    ngx_miroir_mig_copy_t   *c;
    ngx_miroir_helper_cl_t  *hcl;
    u_char                   path[NGX_MAX_PATH];

    hcl = &ngx_miroir_helper_cl[cl->index];

    if (hcl->copies_loaded) {
        return hcl->copies ? hcl : NULL;
    }

    hcl->copies_loaded = 1;
    hcl->copies = ngx_calloc(NGX_MIROIR_MIG_COPIES
                             * sizeof(ngx_miroir_mig_copy_t), ngx_cycle->log);
    if (hcl->copies == NULL) {
        return NULL;
    }

    if (ngx_miroir_copies_path(cl, path, sizeof(path), "") != NGX_OK) {
        return hcl;
    }

    fd = ngx_open_file(path, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        return hcl;
    }

    text = NULL;

    if (ngx_fd_info(fd, &fi) != NGX_FILE_ERROR
        && ngx_file_size(&fi) < 16 * 1024 * 1024)
    {
        text = ngx_alloc((size_t) ngx_file_size(&fi) + 1, ngx_cycle->log);
    }

    n = text ? read(fd, text, (size_t) ngx_file_size(&fi)) : -1;
    (void) ngx_close_file(fd);

    root = n >= 0 ? cJSON_ParseWithLength(text, (size_t) n) : NULL;
    ngx_free(text);

    arr = cJSON_GetObjectItemCaseSensitive(root, "copies");

    cJSON_ArrayForEach(o, arr) {
        sh = cJSON_GetObjectItemCaseSensitive(o, "shard");
        nd = cJSON_GetObjectItemCaseSensitive(o, "node");

        if (!cJSON_IsNumber(sh) || !cJSON_IsString(nd)
            || ngx_strlen(nd->valuestring) > MIROIR_NODE_ID_LEN
            || hcl->ncopies == NGX_MIROIR_MIG_COPIES)
        {
            continue;
        }

        c = &hcl->copies[hcl->ncopies++];
        c->shard = (uint32_t) sh->valuedouble;
        ngx_cpystrn(c->node, (u_char *) nd->valuestring,
                    MIROIR_NODE_ID_LEN + 1);
    }

    cJSON_Delete(root);

    return hcl;
}


/* Write the records atomically (temporary file, fsync, rename). */
static ngx_int_t
ngx_miroir_copies_save(ngx_miroir_cluster_conf_t *cl,
    ngx_miroir_helper_cl_t *hcl)
{
    int          fd;
    char        *text;
    cJSON       *root, *arr, *o;
    size_t       len;
    ngx_int_t    rc;
    ngx_uint_t   i;
    u_char       path[NGX_MAX_PATH], tmp[NGX_MAX_PATH];

    if (ngx_miroir_copies_path(cl, path, sizeof(path), "") != NGX_OK
        || ngx_miroir_copies_path(cl, tmp, sizeof(tmp), ".tmp") != NGX_OK)
    {
        return NGX_OK;              /* no state directory: memory only */
    }

    root = cJSON_CreateObject();
    arr = cJSON_AddArrayToObject(root, "copies");

    if (arr == NULL) {
        cJSON_Delete(root);
        return NGX_ERROR;
    }

    for (i = 0; i < hcl->ncopies; i++) {
        o = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, o);

        if (cJSON_AddNumberToObject(o, "shard", hcl->copies[i].shard) == NULL
            || cJSON_AddStringToObject(o, "node",
                                       (char *) hcl->copies[i].node) == NULL)
        {
            cJSON_Delete(root);
            return NGX_ERROR;
        }
    }

    text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);

    if (text == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;
    len = ngx_strlen(text);
    hcl->copies_dirty = 0;

    fd = open((char *) tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    if (fd != -1) {
        if (write(fd, text, len) == (ssize_t) len && fsync(fd) == 0) {
            rc = NGX_OK;
        }

        close(fd);

        if (rc == NGX_OK && rename((char *) tmp, (char *) path) != 0) {
            rc = NGX_ERROR;
        }
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                      "miroir helper: cannot write \"%s\"", path);
    }

    free(text);

    return rc;
}


static ngx_int_t
ngx_miroir_copies_add(ngx_miroir_job_t *job, uint32_t s, uint16_t x)
{
    ngx_uint_t               i;
    ngx_miroir_mig_copy_t   *c;
    ngx_miroir_helper_cl_t  *hcl;

    hcl = ngx_miroir_copies_get(job->cl);

    if (hcl == NULL || job->ids[x].len > MIROIR_NODE_ID_LEN) {
        return NGX_ERROR;
    }

    for (i = 0; i < hcl->ncopies; i++) {
        c = &hcl->copies[i];

        if (c->shard == s
            && ngx_strcmp(c->node, job->ids[x].data) == 0)
        {
            return NGX_DONE;
        }
    }

    if (hcl->ncopies == NGX_MIROIR_MIG_COPIES) {
        return NGX_ERROR;
    }

    c = &hcl->copies[hcl->ncopies++];
    c->shard = s;
    ngx_cpystrn(c->node, job->ids[x].data, MIROIR_NODE_ID_LEN + 1);

    return NGX_OK;
}


/*
 * A job's plan: writes of its shards already reach the new owners (the
 * write hook), so every new copy is recorded before the helper starts.
 */
static ngx_int_t
ngx_miroir_copies_plan(ngx_miroir_job_t *job)
{
    uint32_t                 s, j, rf;
    ngx_int_t                rc;
    ngx_uint_t               added;
    uint16_t                *cur, *tgt;
    ngx_miroir_helper_cl_t  *hcl;

    hcl = ngx_miroir_copies_get(job->cl);
    if (hcl == NULL) {
        return NGX_ERROR;
    }

    rf = job->rf;
    added = 0;

    for (s = 0; s < job->nshards; s++) {
        cur = job->current + s * rf;
        tgt = job->target + s * rf;

        if (job->state[s] == NGX_MIROIR_SHARD_SWITCHED) {
            continue;
        }

        for (j = 0; j < rf; j++) {
            if (ngx_miroir_mig_in(cur, rf, tgt[j])) {
                continue;
            }

            rc = ngx_miroir_copies_add(job, s, tgt[j]);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            added += rc == NGX_OK;
        }
    }

    return added ? ngx_miroir_copies_save(job->cl, hcl) : NGX_OK;
}


/*
 * The copy of shard s on x is owned (switched) or deleted: forget it.
 * x NGX_MIROIR_MIG_RETAG: the shard's retag record (see
 * ngx_miroir_job_orphans()).
 */
static void
ngx_miroir_copies_drop(ngx_miroir_job_t *job, uint32_t s, uint16_t x)
{
    u_char                  *id;
    ngx_uint_t               i;
    ngx_miroir_helper_cl_t  *hcl;

    hcl = ngx_miroir_copies_get(job->cl);

    if (hcl == NULL) {
        return;
    }

    id = x == NGX_MIROIR_MIG_RETAG ? (u_char *) "" : job->ids[x].data;

    for (i = 0; i < hcl->ncopies; i++) {
        if (hcl->copies[i].shard == s
            && ngx_strcmp(hcl->copies[i].node, id) == 0)
        {
            /* saved on the next tick: a drop that a crash loses only
               costs a useless delete or retag */
            hcl->copies[i] = hcl->copies[--hcl->ncopies];
            hcl->copies_dirty = 1;
            return;
        }
    }
}


/* Forget the records of shard s on nodes that will not own it. */
static void
ngx_miroir_copies_drop_others(ngx_miroir_job_t *job, uint32_t s)
{
    ngx_uint_t               i, j;
    ngx_miroir_helper_cl_t  *hcl;

    hcl = ngx_miroir_copies_get(job->cl);

    for (i = 0; hcl && i < hcl->ncopies; /* void */ ) {
        if (hcl->copies[i].shard != s) {
            i++;
            continue;
        }

        for (j = 0; j < job->rf; j++) {
            if (ngx_strcmp(hcl->copies[i].node,
                           job->ids[job->target[s * job->rf + j]].data)
                == 0)
            {
                break;
            }
        }

        if (j < job->rf) {
            i++;
            continue;
        }

        hcl->copies[i] = hcl->copies[--hcl->ncopies];
        hcl->copies_dirty = 1;
    }
}


/* Shard s must be tagged again once it stops moving (record node ""). */
static void
ngx_miroir_copies_retag(ngx_miroir_job_t *job, uint32_t s)
{
    ngx_uint_t               i;
    ngx_miroir_mig_copy_t   *c;
    ngx_miroir_helper_cl_t  *hcl;

    hcl = ngx_miroir_copies_get(job->cl);

    if (hcl == NULL) {
        return;
    }

    for (i = 0; i < hcl->ncopies; i++) {
        if (hcl->copies[i].shard == s && hcl->copies[i].node[0] == '\0') {
            return;
        }
    }

    if (hcl->ncopies == NGX_MIROIR_MIG_COPIES) {
        ngx_miroir_log_event(ngx_cycle->log, NGX_LOG_WARN, "migration_error",
                             &job->cl->name, &ngx_miroir_mig_records,
                             "shard=%uD reason=\"cannot record its retag\"",
                             s);
        return;
    }

    c = &hcl->copies[hcl->ncopies++];
    c->shard = s;
    c->node[0] = '\0';

    (void) ngx_miroir_copies_save(job->cl, hcl);
}


/* The zone's current table takes the shard's new owners. */
static ngx_int_t
ngx_miroir_mig_switch(ngx_miroir_mig_t *mig)
{
    uint32_t                     s, rf, j;
    ngx_int_t                    rc;
    ngx_slab_pool_t             *shpool;
    ngx_miroir_job_t            *job;
    ngx_miroir_rebalance_shm_t  *rb;

    job = mig->job;
    s = mig->shard;
    rf = job->rf;
    rc = NGX_ERROR;

    shpool = ngx_miroir_mig_shpool();

    ngx_shmtx_lock(&shpool->mutex);

    rb = job->cl->shm->rebalance;

    if (rb && rb->seq == job->seq && rb->target && rb->prev) {
        for (j = 0; j < rf; j++) {
            rb->prev[s * rf + j] = mig->old[j];
            rb->current[s * rf + j] = mig->new[j];
        }

        rb->shard_state[s] = NGX_MIROIR_SHARD_SWITCHED;
        rb->seq++;
        job->seq = rb->seq;
        job->cl->shm->version++;
        rc = NGX_OK;

    } else {
        job->aborting = 1;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (rc == NGX_OK) {
        for (j = 0; j < rf; j++) {
            job->prev[s * rf + j] = mig->old[j];
            job->current[s * rf + j] = mig->new[j];
        }

        job->state[s] = NGX_MIROIR_SHARD_SWITCHED;

        (void) ngx_miroir_rebalance_save(job->cl, ngx_cycle->log);

        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "miroir helper: cluster \"%V\": shard %uD switched "
                      "(%uL documents copied)", &job->cl->name, s,
                      mig->copied);

        ngx_miroir_log_event(ngx_cycle->log, NGX_LOG_NOTICE,
                             "migration_switch", &job->cl->name, NULL,
                             "shard=%uD from=%V to=%V documents=%uL "
                             "redo=%ui", s, &job->ids[mig->source],
                             &job->ids[ngx_miroir_mig_first_dest(mig)],
                             mig->copied, mig->redo);
    }

    return rc;
}


/* Set an orphan's shard up for a retag pass if it stays where it is. */
static ngx_int_t
ngx_miroir_mig_retag(ngx_miroir_mig_t *mig)
{
    uint32_t           s, j, rf;
    ngx_miroir_job_t  *job;

    job = mig->job;
    s = mig->shard;
    rf = job->rf;

    if (job->state[s] != NGX_MIROIR_SHARD_STABLE
        || ngx_memcmp(&job->current[s * rf], &job->target[s * rf],
                      rf * sizeof(uint16_t)) != 0)
    {
        return NGX_DECLINED;        /* a move (re)tags it anyway */
    }

    for (j = 0; j < rf; j++) {
        if (ngx_miroir_job_usable(job, job->current[s * rf + j])) {
            mig->source = job->current[s * rf + j];
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


/*
 * ORPHAN: a delete failed for want of filterable fields on some node, and
 * a live owner of the shard can give its settings (fields_from).
 */
static ngx_uint_t
ngx_miroir_mig_unfilterable(ngx_miroir_mig_t *mig)
{
    uint16_t           x;
    ngx_uint_t         j, any;
    ngx_miroir_job_t  *job;

    job = mig->job;
    any = 0;

    for (j = 0; j < job->nnodes && j < MIROIR_MAX_NODES; j++) {
        any |= mig->unfilterable[j];
    }

    if (!any) {
        return 0;
    }

    for (j = 0; j < job->rf; j++) {
        x = job->current[mig->shard * job->rf + j];

        if (ngx_miroir_job_usable(job, x) && !mig->unfilterable[x]) {
            mig->fields_from = x;
            return 1;
        }
    }

    return 0;
}


/* An old owner that loses the shard (for the log lines). */
static uint16_t
ngx_miroir_mig_first_lost(ngx_miroir_mig_t *mig)
{
    ngx_uint_t  j;

    for (j = 0; j < mig->job->rf; j++) {
        if (!ngx_miroir_mig_in(mig->new, mig->job->rf, mig->old[j])) {
            return mig->old[j];
        }
    }

    return mig->old[0];
}


/* A new owner that gets whole documents (for the log lines). */
static uint16_t
ngx_miroir_mig_first_dest(ngx_miroir_mig_t *mig)
{
    ngx_uint_t  j;

    for (j = 0; j < mig->job->rf; j++) {
        if (ngx_miroir_mig_writes(mig, j) && ngx_miroir_mig_dest(mig, j)) {
            return mig->new[j];
        }
    }

    return mig->new[0];
}


/*
 * A shard left for a later job: a migration_error line (rate-limited per
 * shard); a failure (count) also goes to progress.errors and lastError,
 * writes that kept changing the shard only to the log.
 */
static void
ngx_miroir_mig_shard_error(ngx_miroir_mig_t *mig, ngx_uint_t count,
    const char *fmt, ...)
{
    u_char      *p;
    va_list      args;
    ngx_str_t    key;
    u_char       msg[200], kbuf[32];

    va_start(args, fmt);
    p = ngx_vslprintf(msg, msg + sizeof(msg) - 1, fmt, args);
    va_end(args);
    *p = '\0';

    if (count) {
        ngx_miroir_mig_error(mig->job, "shard %uD: %s", mig->shard, msg);
    }

    key.data = kbuf;
    key.len = ngx_sprintf(kbuf, "%uD", mig->shard) - kbuf;

    ngx_miroir_log_event(ngx_cycle->log, NGX_LOG_WARN, "migration_error",
                         &mig->job->cl->name, &key,
                         "shard=%uD from=%V to=%V redo=%ui heal=%ui "
                         "reason=\"%s\"", mig->shard,
                         &mig->job->ids[mig->source],
                         &mig->job->ids[ngx_miroir_mig_first_dest(mig)],
                         mig->redo, mig->heal, msg);
}


/*
 * The switch time of shard s in this helper: set = 1 records now; else
 * returns it, recording now when unknown (a new helper, after a reload
 * or a crash, waits a whole deadline again).
 */
static ngx_msec_t
ngx_miroir_mig_switched_at(ngx_miroir_job_t *job, uint32_t s, ngx_uint_t set)
{
    ngx_msec_t              now;
    ngx_miroir_helper_cl_t *hcl;

    hcl = &ngx_miroir_helper_cl[job->cl->index];
    now = ngx_current_msec ? ngx_current_msec : 1;

    if (hcl->switched_at == NULL || hcl->nswitched != job->nshards) {
        ngx_free(hcl->switched_at);
        hcl->switched_at = ngx_calloc(job->nshards * sizeof(ngx_msec_t),
                                      ngx_cycle->log);
        hcl->nswitched = hcl->switched_at ? job->nshards : 0;

        if (hcl->switched_at == NULL) {
            return set ? now : 0;     /* no memory: delete at once */
        }
    }

    if (set || hcl->switched_at[s] == 0) {
        hcl->switched_at[s] = now;
    }

    return hcl->switched_at[s];
}


/*
 * PRUNE: on each new copy, delete the ids the source does not have (a
 * client delete overtaken by this helper's add).  Returns the requests
 * sent.
 */
static ngx_uint_t
ngx_miroir_mig_prune(ngx_miroir_mig_t *mig)
{
    u_char                  ubuf[512], *p;
    size_t                  len;
    ngx_str_t               uri, body, *src, *dst;
    ngx_uint_t              j, a, b, n, sent;
    ngx_miroir_job_t       *job;
    ngx_miroir_mig_index_t *ix;

    job = mig->job;
    ix = ngx_miroir_mig_ix(mig);
    sent = 0;

    if (mig->ids[0] == NULL) {
        return 0;
    }

    src = mig->ids[0]->elts;
    ngx_qsort(src, mig->ids[0]->nelts, sizeof(ngx_str_t),
              ngx_miroir_mig_idcmp);

    p = ngx_snprintf(ubuf, sizeof(ubuf),
                     "/indexes/%V/documents/delete-batch", &ix->uid);
    uri.data = ubuf;
    uri.len = p - ubuf;

    for (j = 1; j <= job->rf; j++) {
        if (mig->ids[j] == NULL || mig->ids[j]->nelts == 0) {
            continue;
        }

        dst = mig->ids[j]->elts;
        ngx_qsort(dst, mig->ids[j]->nelts, sizeof(ngx_str_t),
                  ngx_miroir_mig_idcmp);

        /* the extra ids, moved to the front of dst */

        n = 0;
        len = 2;

        for (a = 0, b = 0; b < mig->ids[j]->nelts; b++) {
            while (a < mig->ids[0]->nelts
                   && ngx_miroir_mig_idcmp(&src[a], &dst[b]) < 0)
            {
                a++;
            }

            if (a < mig->ids[0]->nelts
                && ngx_miroir_mig_idcmp(&src[a], &dst[b]) == 0)
            {
                continue;
            }

            len += dst[b].len + 1;
            dst[n++] = dst[b];
        }

        if (n == 0) {
            continue;
        }

        body.data = ngx_pnalloc(mig->ids_pool, len);
        if (body.data == NULL) {
            mig->failed = 1;
            break;
        }

        p = body.data;
        *p++ = '[';

        for (b = 0; b < n; b++) {
            if (b) {
                *p++ = ',';
            }

            p = ngx_cpymem(p, dst[b].data, dst[b].len);
        }

        *p++ = ']';
        body.len = p - body.data;

        mig->pruned += n;
        sent++;

        (void) ngx_miroir_mig_send(job, mig, mig->new[j - 1],
                                   NGX_MIROIR_REQ_TASK, "POST", &uri, &body,
                                   0, 0);
    }

    return sent;
}


static void
ngx_miroir_mig_run(ngx_miroir_mig_t *mig)
{
    u_char                  ubuf[512], bbuf[512], *p;
    ngx_str_t               uri, body;
    ngx_uint_t              j, i, sent;
    ngx_miroir_job_t       *job;
    ngx_miroir_mig_index_t *ix;
    ngx_miroir_write_count_t *wc;

    job = mig->job;

    if (job->aborting) {
        ngx_miroir_mig_release(mig);
        return;
    }

    if (mig->step != NGX_MIROIR_MIG_DELETE
        && mig->step != NGX_MIROIR_MIG_GHOSTS
        && mig->step != NGX_MIROIR_MIG_ORPHAN
        && mig->index >= job->indexes.nelts)
    {
        /*
         * The end of a copy pass.  A write that touched the shard since
         * it began may have been overtaken by an older fetched copy (or
         * a delete by a copy): copy again; the next pass also deletes
         * what the source no longer has.  Never switch a dirty shard.
         */

        if (ngx_miroir_mig_dirty(mig)) {
            if (++mig->redo > NGX_MIROIR_MIG_REDOS) {
                ngx_miroir_mig_shard_error(mig, 0, "writes kept changing it "
                                           "during %ui copy passes, "
                                           "retried later", mig->redo);
                job->skip[mig->shard] = 2;      /* again in this job */
                job->waiting = 1;
                ngx_miroir_mig_release(mig);
                return;
            }

            mig->index = 0;
            mig->s0_set = 0;
            mig->attempts = 0;
            mig->step = mig->heal ? NGX_MIROIR_MIG_BARRIER
                                  : NGX_MIROIR_MIG_GHOSTS;
            ngx_miroir_mig_run(mig);
            return;
        }

        ngx_miroir_log_event(ngx_cycle->log, NGX_LOG_NOTICE,
                             "migration_copied", &job->cl->name, NULL,
                             "shard=%uD from=%V to=%V documents=%uL "
                             "pruned=%uL redo=%ui heal=%ui", mig->shard,
                             &job->ids[mig->source],
                             &job->ids[ngx_miroir_mig_first_dest(mig)],
                             mig->copied, mig->pruned, mig->redo,
                             mig->heal);

        if (mig->retag) {
            if (mig->orphan_all) {
                /* every other node was emptied of the shard */
                ngx_miroir_copies_drop_others(job, mig->shard);
            }

            ngx_miroir_copies_drop(job, mig->shard, NGX_MIROIR_MIG_RETAG);

            if (mig->heal_node != NGX_MIROIR_MIG_RETAG) {
                ngx_miroir_copies_drop(job, mig->shard, mig->heal_node);
            }

            ngx_miroir_log_event(ngx_cycle->log, NGX_LOG_NOTICE,
                                 "migration_done", &job->cl->name, NULL,
                                 "shard=%uD from=%V orphan=1 retagged=%uL",
                                 mig->shard,
                                 mig->heal_node == NGX_MIROIR_MIG_RETAG
                                 ? &job->ids[mig->source]
                                 : &job->ids[mig->heal_node],
                                 mig->copied);
            ngx_miroir_mig_release(mig);
            return;
        }

        if (mig->heal) {
            /* the copy is whole again: it may serve reads */
            if (ngx_miroir_stale_clear) {
                ngx_miroir_stale_clear(job->cl, mig->shard, mig->heal_node,
                                       ngx_cycle->log);
            }

            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "miroir helper: cluster \"%V\": shard %uD "
                          "re-synced on node \"%V\" (%uL documents)",
                          &job->cl->name, mig->shard,
                          &job->ids[mig->heal_node], mig->copied);
            ngx_miroir_mig_release(mig);
            return;
        }

        /* every index copied: switch, then delete the old copies */

        if (ngx_miroir_mig_switch(mig) != NGX_OK) {
            ngx_miroir_mig_release(mig);
            return;
        }

        /* the old copies go a deadline later: a read planned before the
           switch may still read them (ngx_miroir_job_start_one()) */
        ngx_miroir_mig_switched_at(job, mig->shard, 1);
        job->waiting = 1;

        for (j = 0; j < job->rf; j++) {
            ngx_miroir_copies_drop(job, mig->shard, mig->new[j]);
        }

        /* the pass tagged every copy with the new owners */
        ngx_miroir_copies_drop(job, mig->shard, NGX_MIROIR_MIG_RETAG);

        ngx_miroir_mig_release(mig);
        return;
    }

    mig->in_run = 1;

    if (mig->step == NGX_MIROIR_MIG_DELETE
        || mig->step == NGX_MIROIR_MIG_GHOSTS
        || mig->step == NGX_MIROIR_MIG_ORPHAN)
    {
        sent = 0;

        for (i = 0; i < job->indexes.nelts; i++) {
            ix = (ngx_miroir_mig_index_t *) job->indexes.elts + i;

            p = ngx_snprintf(ubuf, sizeof(ubuf),
                             "/indexes/%V/documents/delete", &ix->uid);
            uri.data = ubuf;
            uri.len = p - ubuf;

            if (mig->step == NGX_MIROIR_MIG_GHOSTS) {
                /*
                 * The owner-field update (PUT {pk, _miroir_o*}) of a
                 * document a client deleted meanwhile created a stub on
                 * an owner that keeps the shard: no _miroir_shard.
                 */
                p = ngx_snprintf(bbuf, sizeof(bbuf), "{\"filter\":"
                                 "\"_miroir_shard NOT EXISTS\"}");

            } else {
                p = ngx_snprintf(bbuf, sizeof(bbuf),
                                 "{\"filter\":\"_miroir_shard = %uD\"}",
                                 mig->shard);
            }

            body.data = bbuf;
            body.len = p - bbuf;

            if (mig->step == NGX_MIROIR_MIG_ORPHAN && !mig->orphan_all) {
                /* the index may not be there: nothing to delete then */
                sent++;
                (void) ngx_miroir_mig_send(job, mig, mig->heal_node,
                                           NGX_MIROIR_REQ_TASK, "POST", &uri,
                                           &body, 0, 1);
                continue;
            }

            if (mig->step == NGX_MIROIR_MIG_ORPHAN) {
                /* every node that is not an owner: a partial copy of an
                   abandoned move may be anywhere */
                for (j = 0; j < job->nnodes; j++) {
                    if (ngx_miroir_mig_in(mig->old, job->rf, (uint16_t) j)
                        || !ngx_miroir_job_usable(job, (uint16_t) j))
                    {
                        continue;
                    }

                    sent++;
                    (void) ngx_miroir_mig_send(job, mig, (uint16_t) j,
                                               NGX_MIROIR_REQ_TASK, "POST",
                                               &uri, &body, 0, 1);
                }

                continue;
            }

            for (j = 0; j < job->rf; j++) {
                if (job->nstate[mig->old[j]] == NGX_MIROIR_NODE_REMOVED
                    || (mig->step == NGX_MIROIR_MIG_DELETE)
                       == ngx_miroir_mig_in(mig->new, job->rf, mig->old[j]))
                {
                    /* DELETE: the old owners that lost it; GHOSTS: the
                       ones that keep it */
                    continue;
                }

                sent++;
                (void) ngx_miroir_mig_send(job, mig, mig->old[j],
                                           NGX_MIROIR_REQ_TASK, "POST", &uri,
                                           &body, 0, 0);
            }
        }

        mig->in_run = 0;

        if (mig->pending == 0) {
            ngx_miroir_mig_done(mig);
        }

        return;
    }

    ix = ngx_miroir_mig_ix(mig);
    sent = 0;

    switch (mig->step) {

    case NGX_MIROIR_MIG_BARRIER:
        /*
         * A pass begins: the writes that may touch the shard and started
         * before now must be in the nodes' queues (every node answered)
         * before the source is read.  Later ones make the pass dirty.
         */
        wc = job->cl->shm->writes;

        if (wc) {
            wc += mig->shard % NGX_MIROIR_WRITE_BUCKETS;

            if (!mig->s0_set) {
                mig->s0 = wc->started;
                mig->s0_set = 1;
                mig->waits = 0;
            }

            /*
             * A write lasts at most its probe, main and after fan-outs,
             * each bounded by the cluster deadline: one still counted
             * after that was lost with its worker (a crash).
             */

            if ((ngx_atomic_int_t) (wc->done - mig->s0) < 0) {
                if (++mig->waits * NGX_MIROIR_MIG_LOOK
                    < 3 * job->cl->deadline + NGX_MIROIR_MIG_TIMEOUT / 6)
                {
                    mig->in_run = 0;
                    ngx_miroir_mig_later(mig, NGX_MIROIR_MIG_LOOK);
                    return;
                }

                /* count them as done, once */
                ngx_miroir_mig_shard_error(mig, 0, "%uA write(s) never "
                                           "ended (a worker lost?), going "
                                           "on", mig->s0 - wc->done);
                (void) ngx_atomic_fetch_add(&wc->done, mig->s0 - wc->done);
            }
        }

        break;

    case NGX_MIROIR_MIG_SYNC:
        p = ngx_snprintf(ubuf, sizeof(ubuf), "/tasks?indexUids=%V&limit=1",
                         &ix->uid);
        uri.data = ubuf;
        uri.len = p - ubuf;
        sent++;
        (void) ngx_miroir_mig_send(job, mig, mig->source,
                                   NGX_MIROIR_REQ_LATEST, "GET", &uri, NULL,
                                   0, 0);
        break;

    case NGX_MIROIR_MIG_IDS:
        ngx_miroir_mig_ids_free(mig);

        if (ix->pk.len == 0) {
            break;                      /* no primary key, no documents */
        }

        mig->ids_pool = ngx_create_pool(16384, ngx_cycle->log);
        if (mig->ids_pool == NULL) {
            mig->failed = 1;
            break;
        }

        p = ngx_snprintf(ubuf, sizeof(ubuf), "/indexes/%V/documents/fetch",
                         &ix->uid);
        uri.data = ubuf;
        uri.len = p - ubuf;
        p = ngx_snprintf(bbuf, sizeof(bbuf),
                         "{\"filter\":\"_miroir_shard = %uD\",\"fields\":"
                         "[\"%V\"],\"limit\":%d,\"offset\":0}", mig->shard,
                         &ix->pk, NGX_MIROIR_MIG_BATCH);
        body.data = bbuf;
        body.len = p - bbuf;

        for (j = 0; j <= job->rf; j++) {
            if (j > 0 && !(ngx_miroir_mig_writes(mig, j - 1)
                           && ngx_miroir_mig_dest(mig, j - 1)))
            {
                continue;
            }

            mig->ids[j] = ngx_array_create(mig->ids_pool, 64,
                                           sizeof(ngx_str_t));
            if (mig->ids[j] == NULL) {
                mig->failed = 1;
                break;
            }

            sent++;
            (void) ngx_miroir_mig_send_ids(job, mig,
                                           j == 0 ? mig->source
                                                  : mig->new[j - 1],
                                           &uri, &body, j, 0);
        }

        break;

    case NGX_MIROIR_MIG_PRUNE:
        sent = ngx_miroir_mig_prune(mig);
        break;

    case NGX_MIROIR_MIG_CREATE:
        uri.data = (u_char *) "/indexes";
        uri.len = sizeof("/indexes") - 1;

        p = ngx_snprintf(bbuf, sizeof(bbuf), "{\"uid\":\"%V\"", &ix->uid);
        if (ix->pk.len) {
            p = ngx_snprintf(p, bbuf + sizeof(bbuf) - p,
                             ",\"primaryKey\":\"%V\"", &ix->pk);
        }
        *p++ = '}';
        body.data = bbuf;
        body.len = p - bbuf;

        for (j = 0; j < job->rf; j++) {
            if (ngx_miroir_mig_dest(mig, j)) {
                sent++;
                (void) ngx_miroir_mig_send(job, mig, mig->new[j],
                                           NGX_MIROIR_REQ_TASK, "POST", &uri,
                                           &body, 0, 1);
            }
        }

        break;

    case NGX_MIROIR_MIG_SETTINGS_GET:
    case NGX_MIROIR_MIG_FIELDS_GET:
        /* the settings of the copy's source, or of the node to repair from */
        p = ngx_snprintf(ubuf, sizeof(ubuf), "/indexes/%V/settings",
                         &ix->uid);
        uri.data = ubuf;
        uri.len = p - ubuf;
        sent++;
        (void) ngx_miroir_mig_send(job, mig,
                                   mig->step == NGX_MIROIR_MIG_FIELDS_GET
                                   ? mig->fields_from : mig->source,
                                   NGX_MIROIR_REQ_SETTINGS, "GET", &uri, NULL,
                                   0, 0);
        break;

    case NGX_MIROIR_MIG_FIELDS_PUT:
        /* the settings every node has (Miroir's fields filterable) */
        p = ngx_snprintf(ubuf, sizeof(ubuf), "/indexes/%V/settings",
                         &ix->uid);
        uri.data = ubuf;
        uri.len = p - ubuf;
        body.data = (u_char *) mig->settings;
        body.len = mig->settings ? ngx_strlen(mig->settings) : 0;

        for (j = 0; j < job->nnodes && j < MIROIR_MAX_NODES; j++) {
            if (mig->unfilterable[j]
                && ngx_miroir_job_usable(job, (uint16_t) j))
            {
                sent++;
                (void) ngx_miroir_mig_send(job, mig, (uint16_t) j,
                                           NGX_MIROIR_REQ_TASK, "PATCH", &uri,
                                           &body, 0, 1);
            }
        }

        break;

    case NGX_MIROIR_MIG_SETTINGS_PUT:
        p = ngx_snprintf(ubuf, sizeof(ubuf), "/indexes/%V/settings",
                         &ix->uid);
        uri.data = ubuf;
        uri.len = p - ubuf;
        body.data = (u_char *) mig->settings;
        body.len = mig->settings ? ngx_strlen(mig->settings) : 0;

        for (j = 0; j < job->rf; j++) {
            if (ngx_miroir_mig_dest(mig, j)) {
                sent++;
                (void) ngx_miroir_mig_send(job, mig, mig->new[j],
                                           NGX_MIROIR_REQ_TASK, "PATCH", &uri,
                                           &body, 0, 0);
            }
        }

        break;

    case NGX_MIROIR_MIG_HEAL_CLEAR:
        /* deletions it missed must not come back: empty it first */
        p = ngx_snprintf(ubuf, sizeof(ubuf), "/indexes/%V/documents/delete",
                         &ix->uid);
        uri.data = ubuf;
        uri.len = p - ubuf;
        p = ngx_snprintf(bbuf, sizeof(bbuf),
                         "{\"filter\":\"_miroir_shard = %uD OR "
                         "_miroir_shard NOT EXISTS\"}", mig->shard);
        body.data = bbuf;
        body.len = p - bbuf;
        sent++;
        (void) ngx_miroir_mig_send(job, mig, mig->heal_node,
                                   NGX_MIROIR_REQ_TASK, "POST", &uri, &body,
                                   0, 0);
        break;

    case NGX_MIROIR_MIG_FETCH:
        p = ngx_snprintf(ubuf, sizeof(ubuf), "/indexes/%V/documents/fetch",
                         &ix->uid);
        uri.data = ubuf;
        uri.len = p - ubuf;
        p = ngx_snprintf(bbuf, sizeof(bbuf),
                         "{\"filter\":\"_miroir_shard = %uD\",\"limit\":%d,"
                         "\"offset\":%ui}", mig->shard, NGX_MIROIR_MIG_BATCH,
                         mig->offset);
        body.data = bbuf;
        body.len = p - bbuf;
        mig->batch = 0;
        sent++;
        (void) ngx_miroir_mig_send(job, mig, mig->source,
                                   NGX_MIROIR_REQ_FETCH, "POST", &uri, &body,
                                   0, 0);
        break;

    case NGX_MIROIR_MIG_VERIFY:
        p = ngx_snprintf(ubuf, sizeof(ubuf), "/indexes/%V/documents/fetch",
                         &ix->uid);
        uri.data = ubuf;
        uri.len = p - ubuf;
        p = ngx_snprintf(bbuf, sizeof(bbuf),
                         "{\"filter\":\"_miroir_shard = %uD\",\"limit\":0}",
                         mig->shard);
        body.data = bbuf;
        body.len = p - bbuf;

        for (j = 0; j <= job->rf; j++) {
            if (j > 0 && !ngx_miroir_mig_writes(mig, j - 1)) {
                mig->totals[j] = -3;     /* not counted */
                continue;
            }

            mig->totals[j] = -2;
            sent++;
            (void) ngx_miroir_mig_send(job, mig,
                                       j == 0 ? mig->source : mig->new[j - 1],
                                       NGX_MIROIR_REQ_COUNT, "POST", &uri,
                                       &body, j, 0);
        }

        break;
    }

    mig->in_run = 0;

    /* nothing to send, or every request already over (failed at once) */

    if (mig->pending == 0) {
        ngx_miroir_mig_done(mig);
    }

    (void) sent;
}


/* Every request of the current step is over: choose the next step. */
static void
ngx_miroir_mig_done(ngx_miroir_mig_t *mig)
{
    ngx_uint_t         j, equal;
    ngx_msec_t         delay;
    ngx_miroir_job_t  *job;

    job = mig->job;

    if (job->aborting) {
        ngx_miroir_mig_release(mig);
        return;
    }

    if (mig->failed) {
        mig->failed = 0;

        if (++mig->attempts >= NGX_MIROIR_MIG_ATTEMPTS) {
            ngx_miroir_mig_shard_error(mig, 1, "giving up for now after %ui "
                                       "attempts (step %ui)", mig->attempts,
                                       mig->step);
            job->skip[mig->shard] = 1;
            ngx_miroir_mig_release(mig);
            return;
        }

        if (mig->step == NGX_MIROIR_MIG_VERIFY) {
            mig->step = NGX_MIROIR_MIG_FETCH;
            mig->offset = 0;
        }

        ngx_miroir_mig_later(mig, NGX_MIROIR_MIG_RETRY);
        return;
    }

    switch (mig->step) {

    case NGX_MIROIR_MIG_BARRIER:
        mig->step = NGX_MIROIR_MIG_CREATE;
        break;

    case NGX_MIROIR_MIG_GHOSTS:
        mig->step = NGX_MIROIR_MIG_BARRIER;
        mig->index = 0;
        break;

    case NGX_MIROIR_MIG_CREATE:
        mig->step = NGX_MIROIR_MIG_SETTINGS_GET;
        break;

    case NGX_MIROIR_MIG_SETTINGS_GET:
        mig->step = NGX_MIROIR_MIG_SETTINGS_PUT;
        break;

    case NGX_MIROIR_MIG_SETTINGS_PUT:
        /* a heal empties the copy on its first pass; later passes prune */
        mig->step = (mig->heal && mig->redo == 0) ? NGX_MIROIR_MIG_HEAL_CLEAR
                                                  : NGX_MIROIR_MIG_SYNC;
        break;

    case NGX_MIROIR_MIG_HEAL_CLEAR:
        mig->step = NGX_MIROIR_MIG_SYNC;
        break;

    case NGX_MIROIR_MIG_SYNC:
        mig->step = NGX_MIROIR_MIG_FETCH;
        mig->offset = 0;
        break;

    case NGX_MIROIR_MIG_IDS:
        mig->step = NGX_MIROIR_MIG_PRUNE;
        break;

    case NGX_MIROIR_MIG_PRUNE:
        ngx_miroir_mig_ids_free(mig);
        mig->step = NGX_MIROIR_MIG_VERIFY;
        break;

    case NGX_MIROIR_MIG_FETCH:
        if (mig->batch == NGX_MIROIR_MIG_BATCH) {
            mig->offset += mig->batch;

        } else {
            mig->step = NGX_MIROIR_MIG_IDS;
        }

        if (job->cl->rebalance_rate && mig->batch) {
            /* documents/s shared by the shards moving at once */
            delay = (ngx_msec_t) (1000 * mig->batch * job->nslots
                                  / job->cl->rebalance_rate);
            ngx_miroir_mig_later(mig, delay);
            return;
        }

        break;

    case NGX_MIROIR_MIG_VERIFY:
        equal = mig->totals[0] >= 0;

        for (j = 1; j <= job->rf; j++) {
            if (mig->totals[j] != -3 && mig->totals[j] != mig->totals[0]) {
                equal = 0;
            }
        }

        if (!equal && ngx_miroir_mig_dirty(mig)) {
            /* a write is the likely cause: end the pass, copy again */
            mig->index = job->indexes.nelts;
            mig->attempts = 0;
            break;
        }

        if (!equal) {
            if (++mig->attempts >= NGX_MIROIR_MIG_ATTEMPTS) {
                ngx_miroir_mig_shard_error(mig, 1, "counts differ after copy "
                                           "(%L on the source)",
                                           mig->totals[0]);
                job->skip[mig->shard] = 1;
                ngx_miroir_mig_release(mig);
                return;
            }

            /* node tasks may still be landing: count again, then recopy */
            if (mig->attempts >= 2) {
                mig->step = NGX_MIROIR_MIG_FETCH;
                mig->offset = 0;
            }

            ngx_miroir_mig_later(mig, NGX_MIROIR_MIG_RETRY);
            return;
        }

        mig->index++;
        mig->attempts = 0;
        mig->step = NGX_MIROIR_MIG_CREATE;
        break;

    case NGX_MIROIR_MIG_FIELDS_GET:
        mig->step = NGX_MIROIR_MIG_FIELDS_PUT;
        break;

    case NGX_MIROIR_MIG_FIELDS_PUT:
        free(mig->settings);
        mig->settings = NULL;

        if (++mig->index < job->indexes.nelts) {
            mig->step = NGX_MIROIR_MIG_FIELDS_GET;
            break;
        }

        /* filterable now: the deletes again */
        ngx_memzero(mig->unfilterable, sizeof(mig->unfilterable));
        mig->index = 0;
        mig->attempts = 0;
        mig->step = NGX_MIROIR_MIG_ORPHAN;
        break;

    case NGX_MIROIR_MIG_ORPHAN:
        if (!mig->fields_fixed && job->indexes.nelts
            && ngx_miroir_mig_unfilterable(mig))
        {
            /*
             * A node cannot filter by _miroir_shard: its partial copy
             * would stay (and come back if it owned the shard again).
             * Once per shard: the settings of a live owner there, then
             * the deletes again.
             */
            mig->fields_fixed = 1;
            mig->index = 0;
            mig->attempts = 0;
            mig->step = NGX_MIROIR_MIG_FIELDS_GET;
            break;
        }

        if (ngx_miroir_mig_retag(mig) == NGX_OK) {
            /*
             * The shard stays on its owners: the writes and the helper
             * of the abandoned move tagged its documents there with the
             * abandoned owner list.  Tag them again, as a copy pass
             * without new copies.
             */
            mig->retag = 1;
            mig->step = NGX_MIROIR_MIG_BARRIER;
            mig->index = 0;
            mig->attempts = 0;
            break;
        }

        if (mig->orphan_all) {
            /* no live owner to tag it from: the flag stays, next job */
            ngx_miroir_mig_release(mig);
            return;
        }

        if (job->state[mig->shard] != NGX_MIROIR_SHARD_SWITCHED) {
            /* moving elsewhere now: if that move is abandoned too, the
               tags must still be fixed, so a record stays until the shard
               switches or is tagged again */
            ngx_miroir_copies_retag(job, mig->shard);
        }

        ngx_miroir_copies_drop(job, mig->shard, mig->heal_node);
        ngx_miroir_log_event(ngx_cycle->log, NGX_LOG_NOTICE,
                             "migration_done", &job->cl->name, NULL,
                             "shard=%uD from=%V orphan=1", mig->shard,
                             &job->ids[mig->heal_node]);
        ngx_miroir_mig_release(mig);
        return;

    case NGX_MIROIR_MIG_DELETE:
        ngx_miroir_mig_state(job, mig->shard, NGX_MIROIR_SHARD_STABLE);
        ngx_miroir_log_event(ngx_cycle->log, NGX_LOG_NOTICE,
                             "migration_done", &job->cl->name, NULL,
                             "shard=%uD from=%V to=%V", mig->shard,
                             &job->ids[ngx_miroir_mig_first_lost(mig)],
                             &job->ids[ngx_miroir_mig_first_dest(mig)]);
        ngx_miroir_mig_release(mig);
        return;

    default:
        ngx_miroir_mig_release(mig);
        return;
    }

    ngx_miroir_mig_run(mig);
}


/* ------------------------------------------------------------ jobs */

static void
ngx_miroir_job_free(ngx_miroir_job_t *job)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_MIROIR_MIG_SLOTS; i++) {
        if (job->mig[i].wait.timer_set) {
            ngx_del_timer(&job->mig[i].wait);
        }

        free(job->mig[i].settings);
        ngx_miroir_mig_ids_free(&job->mig[i]);
    }

    ngx_destroy_pool(job->pool);
}


static ngx_miroir_job_t *
ngx_miroir_job_load(ngx_miroir_cluster_conf_t *cl, ngx_uint_t heal_only)
{
    size_t                       n;
    ngx_uint_t                   i, stored;
    ngx_pool_t                  *pool;
    ngx_slab_pool_t             *shpool;
    ngx_miroir_job_t            *job;
    ngx_miroir_shm_node_t       *sn;
    ngx_miroir_node_conf_t      *conf;
    ngx_miroir_rebalance_shm_t  *rb;
    const miroir_route_table_t  *rt;

    /* without a stored table the router's table is the current one */

    rt = ngx_miroir_route_table(cl, ngx_cycle->log);
    if (rt == NULL) {
        return NULL;
    }

    pool = ngx_create_pool(16384, ngx_cycle->log);
    if (pool == NULL) {
        return NULL;
    }

    job = ngx_pcalloc(pool, sizeof(ngx_miroir_job_t));
    if (job == NULL
        || ngx_array_init(&job->indexes, pool, 8,
                          sizeof(ngx_miroir_mig_index_t)) != NGX_OK)
    {
        ngx_destroy_pool(pool);
        return NULL;
    }

    job->cl = cl;
    job->pool = pool;
    job->heal_only = heal_only;
    job->nslots = ngx_min(cl->rebalance_concurrency, NGX_MIROIR_MIG_SLOTS);
    job->nshards = rt->nshards;
    job->rf = rt->rf;

    n = (size_t) job->nshards * job->rf;

    job->current = ngx_palloc(pool, n * sizeof(uint16_t));
    job->target = ngx_palloc(pool, n * sizeof(uint16_t));
    job->prev = ngx_pcalloc(pool, n * sizeof(uint16_t));
    job->state = ngx_pcalloc(pool, job->nshards);
    job->skip = ngx_pcalloc(pool, job->nshards);

    if (job->current == NULL || job->target == NULL || job->prev == NULL
        || job->state == NULL || job->skip == NULL)
    {
        ngx_destroy_pool(pool);
        return NULL;
    }

    shpool = ngx_miroir_mig_shpool();
    conf = cl->nodes.elts;

    ngx_shmtx_lock(&shpool->mutex);

    rb = cl->shm->rebalance;
    stored = rb && rb->current && rb->prev && rb->shard_state
             && rb->config_hash == cl->shm->config_hash
             && rb->nshards == job->nshards && rb->rf == job->rf;

    if (rb == NULL
        || (!heal_only && (!stored || rb->target == NULL))
        || (heal_only && stored && rb->target != NULL))
    {
        ngx_shmtx_unlock(&shpool->mutex);
        ngx_destroy_pool(pool);
        return NULL;
    }

    job->nnodes = cl->shm->nnodes;
    job->seq = rb->seq;

    if (stored) {
        ngx_memcpy(job->current, rb->current, n * sizeof(uint16_t));
        ngx_memcpy(job->target, rb->target ? rb->target : rb->current,
                   n * sizeof(uint16_t));
        ngx_memcpy(job->prev, rb->prev, n * sizeof(uint16_t));
        ngx_memcpy(job->state, rb->shard_state, job->nshards);

        if (rb->retag && rb->nshards == job->nshards) {
            job->retag = ngx_palloc(pool, job->nshards);
            if (job->retag) {
                ngx_memcpy(job->retag, rb->retag, job->nshards);
            }
        }

    } else {
        ngx_memcpy(job->current, rt->owners, n * sizeof(uint16_t));
        ngx_memcpy(job->target, rt->owners, n * sizeof(uint16_t));
    }

    for (i = 0; i < job->nnodes; i++) {
        sn = &cl->shm->nodes[i];

        job->ids[i].len = sn->id_len;
        job->ids[i].data = ngx_pnalloc(pool, sn->id_len + 1);
        job->addrs[i].len = sn->addr_len;
        job->addrs[i].data = ngx_pnalloc(pool, sn->addr_len + 1);
        job->nstate[i] = sn->state;

        if (job->ids[i].data && job->addrs[i].data) {
            ngx_memcpy(job->ids[i].data, sn->id, sn->id_len);
            job->ids[i].data[sn->id_len] = '\0';
            ngx_memcpy(job->addrs[i].data, sn->addr, sn->addr_len);
            job->addrs[i].data[sn->addr_len] = '\0';
        }

        if (i < cl->nodes.nelts && conf[i].key.len) {
            job->keys[i] = conf[i].key;

        } else {
            job->keys[i].len = ngx_strlen(rb->keys[i]);
            job->keys[i].data = ngx_pnalloc(pool, job->keys[i].len + 1);
            if (job->keys[i].data) {
                ngx_memcpy(job->keys[i].data, rb->keys[i],
                           job->keys[i].len);
            }
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    for (i = 0; i < job->nnodes; i++) {
        if (job->ids[i].data == NULL || job->addrs[i].data == NULL
            || (job->keys[i].len && job->keys[i].data == NULL))
        {
            ngx_destroy_pool(pool);
            return NULL;
        }
    }

    return job;
}


static ngx_uint_t
ngx_miroir_job_usable(ngx_miroir_job_t *job, uint16_t x)
{
    return x < job->nnodes && job->nstate[x] != NGX_MIROIR_NODE_REMOVED
           && !ngx_miroir_node_is_down(job->cl, x);
}


/*
 * A copy of shard s that missed writes, on a node that answers, and a
 * fresh live copy to re-sync it from: set mig up to heal it.
 */
static ngx_uint_t
ngx_miroir_job_heal(ngx_miroir_job_t *job, ngx_miroir_mig_t *mig, uint32_t s)
{
    uint16_t  *cur, x, y;
    uint32_t   j, k;

    cur = job->current + s * job->rf;

    for (j = 0; j < job->rf; j++) {
        x = cur[j];

        /* a node marked down by passive health is tried too: the
           helper's success is what tells it is back */

        if (!ngx_miroir_shard_is_stale(job->cl, s, x)
            || job->nstate[x] == NGX_MIROIR_NODE_REMOVED)
        {
            continue;
        }

        for (k = 0; k < job->rf; k++) {
            y = cur[k];

            if (y != x && ngx_miroir_job_usable(job, y)
                && !ngx_miroir_shard_is_stale(job->cl, s, y))
            {
                for (k = 0; k < job->rf; k++) {
                    mig->old[k] = cur[k];
                    mig->new[k] = cur[k];
                }

                mig->heal = 1;
                mig->heal_node = x;
                mig->source = y;
                mig->step = NGX_MIROIR_MIG_BARRIER;

                ngx_miroir_log_event(ngx_cycle->log, NGX_LOG_NOTICE,
                                     "migration_start", &job->cl->name, NULL,
                                     "shard=%uD from=%V to=%V heal=1", s,
                                     &job->ids[y], &job->ids[x]);

                return 1;
            }
        }
    }

    return 0;
}


/*
 * A free migration slot, cleared for shard s with its current owners as
 * both old and new owners (an orphan or retag step moves nothing); NULL
 * if every slot is busy.
 */
static ngx_miroir_mig_t *
ngx_miroir_job_claim(ngx_miroir_job_t *job, uint32_t s)
{
    ngx_uint_t         i, k;
    ngx_miroir_mig_t  *mig;

    for (i = 0; i < job->nslots; i++) {
        if (job->mig[i].step != NGX_MIROIR_MIG_FREE) {
            continue;
        }

        mig = &job->mig[i];
        ngx_memzero(mig, sizeof(ngx_miroir_mig_t));
        mig->job = job;
        mig->shard = s;

        for (k = 0; k < job->rf; k++) {
            mig->old[k] = job->current[s * job->rf + k];
            mig->new[k] = mig->old[k];
        }

        return mig;
    }

    return NULL;
}


/*
 * Copies recorded by a helper on nodes that neither own nor will own their
 * shard (an admin change made them useless, maybe halfway): delete them,
 * one per free slot.  Returns how many deletes started.
 */
static ngx_uint_t
ngx_miroir_job_orphans(ngx_miroir_job_t *job)
{
    uint16_t                 x;
    uint32_t                 s;
    ngx_uint_t               k, started;
    ngx_miroir_mig_t        *mig;
    ngx_miroir_mig_copy_t   *c;
    ngx_miroir_helper_cl_t  *hcl;

    hcl = ngx_miroir_copies_get(job->cl);
    started = 0;

    while (hcl && job->orphan_next < hcl->ncopies && !job->aborting) {
        c = &hcl->copies[job->orphan_next];
        s = c->shard;

        if (c->node[0] == '\0') {
            /* a retag record: due once the shard stops moving */

            if (s >= job->nshards
                || job->state[s] == NGX_MIROIR_SHARD_SWITCHED)
            {
                *c = hcl->copies[--hcl->ncopies];
                hcl->copies_dirty = 1;
                continue;
            }

            mig = ngx_miroir_job_claim(job, s);
            if (mig == NULL) {
                break;
            }

            mig->heal_node = NGX_MIROIR_MIG_RETAG;
            job->orphan_next++;

            if (ngx_miroir_mig_retag(mig) != NGX_OK) {
                mig->step = NGX_MIROIR_MIG_FREE;
                continue;
            }

            mig->retag = 1;
            mig->step = NGX_MIROIR_MIG_BARRIER;
            started++;

            ngx_miroir_mig_run(mig);
            continue;
        }

        for (k = 0; k < job->nnodes; k++) {
            if (ngx_strcmp(job->ids[k].data, c->node) == 0) {
                break;
            }
        }

        if (k == job->nnodes || s >= job->nshards
            || job->nstate[k] == NGX_MIROIR_NODE_REMOVED
            || ngx_miroir_mig_in(job->current + s * job->rf, job->rf,
                                 (uint16_t) k))
        {
            /* the node is gone (its copy with it), or owns the shard */
            *c = hcl->copies[--hcl->ncopies];
            hcl->copies_dirty = 1;
            continue;
        }

        x = (uint16_t) k;

        if (ngx_miroir_mig_in(job->target + s * job->rf, job->rf, x)
            || !ngx_miroir_job_usable(job, x))
        {
            job->orphan_next++;
            continue;
        }

        mig = ngx_miroir_job_claim(job, s);
        if (mig == NULL) {
            break;
        }

        mig->heal_node = x;
        mig->source = x;

        mig->step = NGX_MIROIR_MIG_ORPHAN;
        job->orphan_next++;
        started++;

        ngx_miroir_mig_run(mig);
    }

    return started;
}


/* Start the next shard that must move into a free slot; 0 if none. */
static ngx_uint_t
ngx_miroir_job_start_one(ngx_miroir_job_t *job, ngx_miroir_mig_t *mig)
{
    uint32_t   s, j, rf;
    ngx_int_t  rc;
    uint16_t  *cur, *tgt;

    rf = job->rf;

    for ( /* void */ ; job->next < job->nshards; job->next++) {
        s = (uint32_t) job->next;

        if (job->skip[s]) {
            continue;
        }

        cur = job->current + s * rf;
        tgt = job->target + s * rf;

        ngx_memzero(mig, sizeof(ngx_miroir_mig_t));
        mig->job = job;
        mig->shard = s;

        if (job->state[s] == NGX_MIROIR_SHARD_SWITCHED) {
            /*
             * Switched: delete the old copies once no read planned
             * before the switch can still read them (a request lasts at
             * most the cluster deadline).
             */
            if (ngx_current_msec - ngx_miroir_mig_switched_at(job, s, 0)
                < job->cl->deadline + NGX_MIROIR_MIG_RETRY)
            {
                job->waiting = 1;
                continue;
            }

            for (j = 0; j < rf; j++) {
                mig->old[j] = job->prev[s * rf + j];
                mig->new[j] = cur[j];
            }

            mig->step = NGX_MIROIR_MIG_DELETE;
            job->next++;
            ngx_miroir_mig_run(mig);
            return 1;
        }

        if (ngx_memcmp(cur, tgt, rf * sizeof(uint16_t)) == 0) {
            if (job->retag && job->retag[s]
                && job->state[s] == NGX_MIROIR_SHARD_STABLE)
            {
                /*
                 * An abandoned move (flagged by the admin change, read by
                 * name meanwhile): delete partial copies everywhere else,
                 * then tag the shard again (ngx_miroir_helper_retag.c
                 * clears the flag once every copy is right).
                 */
                for (j = 0; j < rf; j++) {
                    mig->old[j] = cur[j];
                    mig->new[j] = cur[j];
                }

                mig->heal_node = NGX_MIROIR_MIG_RETAG;
                mig->orphan_all = 1;

                if (ngx_miroir_mig_retag(mig) == NGX_OK) {
                    job->retag[s] = 0;      /* once per job */
                    mig->step = NGX_MIROIR_MIG_ORPHAN;
                    job->next++;
                    ngx_miroir_mig_run(mig);
                    return 1;
                }

                mig->orphan_all = 0;
            }

            if (job->heal_only && job->state[s] == NGX_MIROIR_SHARD_STABLE
                && ngx_miroir_job_heal(job, mig, s))
            {
                job->next++;
                ngx_miroir_mig_run(mig);
                return 1;
            }

            continue;
        }

        for (j = 0; j < rf; j++) {
            mig->old[j] = cur[j];
            mig->new[j] = tgt[j];
        }

        /* the source: a live old owner, one that missed no write if
           possible */

        mig->source = (uint16_t) -1;

        for (j = 0; j < rf; j++) {
            if (ngx_miroir_job_usable(job, cur[j])
                && (mig->source == (uint16_t) -1
                    || !ngx_miroir_shard_is_stale(job->cl, s, cur[j])))
            {
                mig->source = cur[j];

                if (!ngx_miroir_shard_is_stale(job->cl, s, cur[j])) {
                    break;
                }
            }
        }

        job->next++;

        if (mig->source == (uint16_t) -1) {
            ngx_miroir_mig_error(job, "shard %uD has no live copy to copy "
                                 "from", s);
            job->skip[s] = 1;
            mig->step = NGX_MIROIR_MIG_FREE;
            continue;
        }

        /* the new copies are recorded before anything is written there */

        for (j = 0; j < rf; j++) {
            if (ngx_miroir_mig_in(cur, rf, tgt[j])) {
                continue;
            }

            rc = ngx_miroir_copies_add(job, s, tgt[j]);

            if (rc == NGX_OK) {
                rc = ngx_miroir_copies_save(job->cl,
                                            ngx_miroir_copies_get(job->cl));
            }

            if (rc == NGX_ERROR) {
                /* copied anyway: only an abandoned copy would stay */
                ngx_miroir_log_event(ngx_cycle->log, NGX_LOG_WARN,
                                     "migration_error", &job->cl->name,
                                     &ngx_miroir_mig_records,
                                     "shard=%uD to=%V reason=\"cannot "
                                     "record the copy\"", s,
                                     &job->ids[tgt[j]]);
            }
        }

        mig->step = NGX_MIROIR_MIG_BARRIER;
        ngx_miroir_mig_state(job, s, NGX_MIROIR_SHARD_COPYING);

        ngx_miroir_log_event(ngx_cycle->log, NGX_LOG_NOTICE,
                             "migration_start", &job->cl->name, NULL,
                             "shard=%uD from=%V to=%V heal=0", s,
                             &job->ids[mig->source],
                             &job->ids[ngx_miroir_mig_first_dest(mig)]);

        if (job->aborting) {
            mig->step = NGX_MIROIR_MIG_FREE;
            return 0;
        }

        ngx_miroir_mig_run(mig);
        return 1;
    }

    return 0;
}


/* Every shard moved: the target becomes the topology. */
static void
ngx_miroir_job_finish(ngx_miroir_job_t *job)
{
    size_t                       n;
    ngx_uint_t                   i, done;
    ngx_slab_pool_t             *shpool;
    ngx_miroir_shm_cluster_t    *sc;
    ngx_miroir_rebalance_shm_t  *rb;

    shpool = ngx_miroir_mig_shpool();
    sc = job->cl->shm;
    done = 0;

    ngx_shmtx_lock(&shpool->mutex);

    rb = sc->rebalance;
    n = (size_t) job->nshards * job->rf;

    if (rb && rb->seq == job->seq && rb->target
        && ngx_memcmp(rb->current, rb->target, n * sizeof(uint16_t)) == 0)
    {
        for (i = 0; i < job->nshards; i++) {
            if (rb->shard_state[i] != NGX_MIROIR_SHARD_STABLE) {
                break;
            }
        }

        if (i == job->nshards) {
            ngx_slab_free_locked(shpool, rb->target);
            rb->target = NULL;

            for (i = 0; i < sc->nnodes; i++) {
                if (sc->nodes[i].state == NGX_MIROIR_NODE_JOINING) {
                    sc->nodes[i].state = NGX_MIROIR_NODE_ACTIVE;
                }
            }

            sc->version++;
            rb->seq++;
            done = 1;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (done) {
        (void) ngx_miroir_rebalance_save(job->cl, ngx_cycle->log);

        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "miroir helper: cluster \"%V\": rebalance finished, "
                      "topology version %uL", &job->cl->name, sc->version);
    }
}


void
ngx_miroir_helper_step(ngx_miroir_cluster_conf_t *cl, ngx_uint_t first)
{
    u_char                       buf[64];
    ngx_str_t                    uri;
    ngx_uint_t                   i, busy, pending, paused, started;
    ngx_uint_t                   moving, stale, flagged;
    uint64_t                     seq;
    ngx_slab_pool_t             *shpool;
    ngx_miroir_job_t            *job;
    ngx_miroir_helper_cl_t      *hcl;
    ngx_miroir_rebalance_shm_t  *rb;

    if (cl->shm == NULL || cl->index >= NGX_MIROIR_MIG_CLUSTERS) {
        return;
    }

    hcl = &ngx_miroir_helper_cl[cl->index];
    shpool = ngx_miroir_mig_shpool();

    if (hcl->copies_dirty) {
        (void) ngx_miroir_copies_save(cl, hcl);
    }

    ngx_shmtx_lock(&shpool->mutex);

    rb = cl->shm->rebalance;

    if (rb == NULL) {
        rb = ngx_slab_calloc_locked(shpool,
                                    sizeof(ngx_miroir_rebalance_shm_t));
        cl->shm->rebalance = rb;
    }

    pending = 0;
    paused = 0;
    seq = 0;
    flagged = 0;

    if (rb && rb->retag) {
        for (i = 0; i < rb->nshards; i++) {
            flagged += rb->retag[i];
        }
    }

    if (rb) {
        rb->helper_pid = (ngx_atomic_uint_t) ngx_pid;
        rb->helper_ticks++;
        pending = rb->target != NULL
                  && rb->config_hash == cl->shm->config_hash;
        paused = rb->paused;
        seq = rb->seq;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (first) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "miroir helper: cluster \"%V\": %s", &cl->name,
                      !pending ? "no rebalance pending"
                      : paused ? "rebalance pending, paused"
                      : "rebalance pending, resuming");
    }

    job = hcl->job;

    if (job && (paused || seq != job->seq
                || (job->heal_only ? pending : !pending)))
    {
        /* an admin change, a pause: stop after the requests in flight */
        job->aborting = 1;
    }

    if (job) {
        busy = job->listing;

        for (i = 0; i < job->nslots; i++) {
            busy += job->mig[i].step != NGX_MIROIR_MIG_FREE;
        }

        if (job->aborting) {
            if (busy == 0) {
                ngx_miroir_job_free(job);
                hcl->job = NULL;
            }

            return;
        }

        if (!job->listed) {
            if (!job->listing) {
                /* the index list, from the next usable node */
                for (i = 0; i < job->nnodes; i++) {
                    job->list_node = (job->list_node + 1) % job->nnodes;

                    if (ngx_miroir_job_usable(job,
                                              (uint16_t) job->list_node))
                    {
                        break;
                    }
                }

                uri.data = buf;
                uri.len = ngx_sprintf(buf, "/indexes?limit=1000") - buf;

                job->listing = 1;

                if (ngx_miroir_mig_send(job, NULL, (uint16_t) job->list_node,
                                        NGX_MIROIR_REQ_INDEXES, "GET", &uri,
                                        NULL, 0, 0)
                    != NGX_OK)
                {
                    job->listing = 0;
                }
            }

            return;
        }

        started = ngx_miroir_job_orphans(job);

        for (i = 0; i < job->nslots; i++) {
            if (job->mig[i].step == NGX_MIROIR_MIG_FREE
                && job->next < job->nshards)
            {
                started += ngx_miroir_job_start_one(job, &job->mig[i]);
            }
        }

        if (busy == 0 && started == 0 && job->next >= job->nshards
            && job->waiting)
        {
            /* switched shards not due yet, shards that writes kept
               changing: look again next tick */
            job->waiting = 0;
            job->next = 0;

            for (i = 0; i < job->nshards; i++) {
                if (job->skip[i] == 2) {
                    job->skip[i] = 0;
                }
            }

            return;
        }

        if (busy == 0 && started == 0 && job->next >= job->nshards) {
            ngx_miroir_job_finish(job);
            ngx_miroir_job_free(job);
            hcl->job = NULL;
            hcl->retry_at = ngx_time() + NGX_MIROIR_MIG_BACKOFF;
        }

        return;
    }

    if (paused || ngx_time() < hcl->retry_at) {
        return;
    }

    if (!pending) {
        /* nothing to move: re-sync the copies that missed writes */

        ngx_miroir_rebalance_health(cl, &moving, &stale);

        if (stale == 0 && flagged == 0
            && (ngx_miroir_copies_get(cl) == NULL
                || ngx_miroir_helper_cl[cl->index].ncopies == 0))
        {
            return;
        }

        hcl->job = ngx_miroir_job_load(cl, 1);
        hcl->retry_at = ngx_time() + NGX_MIROIR_MIG_BACKOFF;
        return;
    }

    hcl->job = ngx_miroir_job_load(cl, 0);

    if (hcl->job && ngx_miroir_copies_plan(hcl->job) != NGX_OK) {
        ngx_miroir_log_event(ngx_cycle->log, NGX_LOG_WARN, "migration_error",
                             &cl->name, &ngx_miroir_mig_records,
                             "reason=\"cannot record the new copies of the "
                             "plan\"");
    }

    if (hcl->job) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "miroir helper: cluster \"%V\": rebalance started, "
                      "%ui shard(s) at once", &cl->name, hcl->job->nslots);
    }
}
