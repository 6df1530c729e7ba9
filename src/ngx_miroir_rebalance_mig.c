/*
 * ngx_miroir_rebalance_mig.c -- the migration engine, run in the helper
 * process (ngx_miroir_helper.c calls ngx_miroir_helper_step() every tick).
 *
 * A job is the plan between the zone's current and target tables.  Up to
 * rebalance_concurrency shards move at once; each one, for every index:
 *
 *   CREATE        POST /indexes on the new owners (failure = it exists)
 *   SETTINGS      GET the index settings from the source, PATCH them on
 *                 the new owners (Miroir's filterable fields come along)
 *   FETCH/WRITE   bounded batches: POST documents/fetch with the filter
 *                 `_miroir_shard = s` on the source; PUT the documents,
 *                 owner fields rewritten to the new owner list, to the new
 *                 owners, and only the primary key + owner fields to the
 *                 owners that keep the shard (PUT = partial update)
 *   VERIFY        count the shard on the source and every new owner
 *
 * then SWITCH (the zone's current table takes the new owners: reads and
 * writes follow, version + 1, checkpoint saved) and DELETE (documents/delete
 * with the filter on the owners that no longer hold it).  Every write is a
 * node task, awaited by polling GET /tasks/{uid}.  Shard states in the zone
 * (planned, copying, switched) and the state file are the checkpoints: a
 * new helper (reload, crash) restarts copies from the beginning (they are
 * idempotent) and resumes pending deletes.  Nothing here blocks: every
 * request is a non-blocking ngx_miroir_hc_start() with a timeout.
 *
 * With no rebalance pending, the same steps heal the copies the write
 * path marked stale: the stale copy is emptied (HEAL_CLEAR: a deletion it
 * missed must not come back), copied again from a fresh owner, counted,
 * and its mark cleared.
 */

#include "ngx_miroir.h"
#include "ngx_miroir_rebalance.h"
#include "ngx_miroir_helper.h"


#define NGX_MIROIR_MIG_BATCH     1000
#define NGX_MIROIR_MIG_TIMEOUT   30000
#define NGX_MIROIR_MIG_POLL      100
#define NGX_MIROIR_MIG_RETRY     1000
#define NGX_MIROIR_MIG_ATTEMPTS  5
#define NGX_MIROIR_MIG_SLOTS     64
#define NGX_MIROIR_MIG_BACKOFF   5       /* s before a failed job retries */
#define NGX_MIROIR_MIG_CLUSTERS  64


/* the write path's stale marks (ngx_miroir_tasks.c) */
extern void ngx_miroir_stale_clear(ngx_miroir_cluster_conf_t *cl,
    ngx_uint_t shard, ngx_uint_t node, ngx_log_t *log)
    __attribute__((weak));


enum {
    NGX_MIROIR_MIG_FREE = 0,
    NGX_MIROIR_MIG_CREATE,
    NGX_MIROIR_MIG_SETTINGS_GET,
    NGX_MIROIR_MIG_SETTINGS_PUT,
    NGX_MIROIR_MIG_HEAL_CLEAR,
    NGX_MIROIR_MIG_FETCH,
    NGX_MIROIR_MIG_VERIFY,
    NGX_MIROIR_MIG_DELETE
};

enum {
    NGX_MIROIR_REQ_TASK = 0,     /* a write answered by a task: await it */
    NGX_MIROIR_REQ_SETTINGS,     /* keep the body */
    NGX_MIROIR_REQ_FETCH,        /* a batch: write it out */
    NGX_MIROIR_REQ_COUNT,        /* a total */
    NGX_MIROIR_REQ_INDEXES       /* the index list of a job */
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
    uint16_t                        heal_node;
    uint64_t                        copied;
    int64_t                         totals[1 + MIROIR_MAX_RF];
    char                           *settings;
    ngx_event_t                     wait;
} ngx_miroir_mig_t;

typedef struct {
    ngx_miroir_mig_t               *mig;
    ngx_miroir_job_t               *job;
    uint16_t                        node;
    ngx_uint_t                      kind;
    ngx_uint_t                      slot;
    ngx_uint_t                      ignore_failure;
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
    ngx_uint_t                      heal_only;   /* no rebalance pending */
    ngx_uint_t                      nslots;
    ngx_miroir_mig_t                mig[NGX_MIROIR_MIG_SLOTS];
};


typedef struct {
    ngx_miroir_job_t               *job;
    time_t                          retry_at;
} ngx_miroir_helper_cl_t;

static ngx_miroir_helper_cl_t  ngx_miroir_helper_cl[NGX_MIROIR_MIG_CLUSTERS];


static void ngx_miroir_mig_run(ngx_miroir_mig_t *mig);
static void ngx_miroir_mig_done(ngx_miroir_mig_t *mig);
static void ngx_miroir_mig_answer(ngx_miroir_hc_t *hc);


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


/* A batch arrived: write it to the new owners, owner fields rewritten. */
static void
ngx_miroir_mig_fetched(ngx_miroir_req_t *req, cJSON *json)
{
    char                    *full, *tags, name[16];
    cJSON                   *results, *doc, *small, *arr, *id;
    u_char                   ubuf[512], *p;
    ngx_str_t                uri, body;
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
    mig->step = NGX_MIROIR_MIG_FREE;
}


static void
ngx_miroir_mig_state(ngx_miroir_job_t *job, uint32_t s, ngx_uint_t state)
{
    ngx_slab_pool_t             *shpool;
    ngx_miroir_rebalance_shm_t  *rb;

    shpool = ngx_miroir_mig_shpool();

    ngx_shmtx_lock(&shpool->mutex);

    rb = job->cl->shm->rebalance;

    if (rb && rb->seq == job->seq && rb->shard_state) {
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
    }

    return rc;
}


static void
ngx_miroir_mig_run(ngx_miroir_mig_t *mig)
{
    u_char                  ubuf[512], bbuf[512], *p;
    ngx_str_t               uri, body;
    ngx_uint_t              j, i, sent;
    ngx_miroir_job_t       *job;
    ngx_miroir_mig_index_t *ix;

    job = mig->job;

    if (job->aborting) {
        ngx_miroir_mig_release(mig);
        return;
    }

    if (mig->step != NGX_MIROIR_MIG_DELETE
        && mig->index >= job->indexes.nelts)
    {
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

        mig->step = NGX_MIROIR_MIG_DELETE;
        mig->index = 0;
    }

    mig->in_run = 1;

    if (mig->step == NGX_MIROIR_MIG_DELETE) {
        sent = 0;

        for (i = 0; i < job->indexes.nelts; i++) {
            ix = (ngx_miroir_mig_index_t *) job->indexes.elts + i;

            p = ngx_snprintf(ubuf, sizeof(ubuf),
                             "/indexes/%V/documents/delete", &ix->uid);
            uri.data = ubuf;
            uri.len = p - ubuf;

            p = ngx_snprintf(bbuf, sizeof(bbuf),
                             "{\"filter\":\"_miroir_shard = %uD\"}",
                             mig->shard);
            body.data = bbuf;
            body.len = p - bbuf;

            for (j = 0; j < job->rf; j++) {
                if (ngx_miroir_mig_in(mig->new, job->rf, mig->old[j])
                    || job->nstate[mig->old[j]] == NGX_MIROIR_NODE_REMOVED)
                {
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
        p = ngx_snprintf(ubuf, sizeof(ubuf), "/indexes/%V/settings",
                         &ix->uid);
        uri.data = ubuf;
        uri.len = p - ubuf;
        sent++;
        (void) ngx_miroir_mig_send(job, mig, mig->source,
                                   NGX_MIROIR_REQ_SETTINGS, "GET", &uri, NULL,
                                   0, 0);
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
                         "{\"filter\":\"_miroir_shard = %uD\"}", mig->shard);
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
            ngx_miroir_mig_error(job, "shard %uD: giving up for now after "
                                 "%ui attempts (step %ui)", mig->shard,
                                 mig->attempts, mig->step);
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

    case NGX_MIROIR_MIG_CREATE:
        mig->step = NGX_MIROIR_MIG_SETTINGS_GET;
        break;

    case NGX_MIROIR_MIG_SETTINGS_GET:
        mig->step = NGX_MIROIR_MIG_SETTINGS_PUT;
        break;

    case NGX_MIROIR_MIG_SETTINGS_PUT:
        mig->step = mig->heal ? NGX_MIROIR_MIG_HEAL_CLEAR
                              : NGX_MIROIR_MIG_FETCH;
        mig->offset = 0;
        break;

    case NGX_MIROIR_MIG_HEAL_CLEAR:
        mig->step = NGX_MIROIR_MIG_FETCH;
        mig->offset = 0;
        break;

    case NGX_MIROIR_MIG_FETCH:
        if (mig->batch == NGX_MIROIR_MIG_BATCH) {
            mig->offset += mig->batch;

        } else {
            mig->step = NGX_MIROIR_MIG_VERIFY;
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

        if (!equal) {
            if (++mig->attempts >= NGX_MIROIR_MIG_ATTEMPTS) {
                ngx_miroir_mig_error(job, "shard %uD: counts differ after "
                                     "copy (%L on the source)", mig->shard,
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

    case NGX_MIROIR_MIG_DELETE:
        ngx_miroir_mig_state(job, mig->shard, NGX_MIROIR_SHARD_STABLE);
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
                mig->step = NGX_MIROIR_MIG_CREATE;

                return 1;
            }
        }
    }

    return 0;
}


/* Start the next shard that must move into a free slot; 0 if none. */
static ngx_uint_t
ngx_miroir_job_start_one(ngx_miroir_job_t *job, ngx_miroir_mig_t *mig)
{
    uint32_t   s, j, rf;
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
            /* a previous helper switched it: finish its deletes */
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

        /* the source: a live old owner */

        mig->source = (uint16_t) -1;

        for (j = 0; j < rf; j++) {
            if (ngx_miroir_job_usable(job, cur[j])) {
                mig->source = cur[j];
                break;
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

        mig->step = NGX_MIROIR_MIG_CREATE;
        ngx_miroir_mig_state(job, s, NGX_MIROIR_SHARD_COPYING);

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
    ngx_uint_t                   moving, stale;
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

        started = 0;

        for (i = 0; i < job->nslots; i++) {
            if (job->mig[i].step == NGX_MIROIR_MIG_FREE
                && job->next < job->nshards)
            {
                started += ngx_miroir_job_start_one(job, &job->mig[i]);
            }
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

        if (stale == 0) {
            return;
        }

        hcl->job = ngx_miroir_job_load(cl, 1);
        hcl->retry_at = ngx_time() + NGX_MIROIR_MIG_BACKOFF;
        return;
    }

    hcl->job = ngx_miroir_job_load(cl, 0);

    if (hcl->job) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "miroir helper: cluster \"%V\": rebalance started, "
                      "%ui shard(s) at once", &cl->name, hcl->job->nslots);
    }
}
