/*
 * ngx_miroir_tasks.c -- Miroir's task log: its own task uid sequence,
 * the mapping of each Miroir task to the node tasks of its write, the
 * GET /tasks and GET /tasks/:uid routes that aggregate them, and the
 * stale marks of shard copies a write could not reach.
 *
 * The log lives in the shared zone (one slot per uid, uid % KEEP: the
 * last NGX_MIROIR_TASKS_KEEP tasks are kept) and is appended to
 * <miroir_state>/tasks-<cluster>.log, one line per change:
 *
 *     <uid> <final 0|1> <json>
 *
 * where json is either the pending record (index, type, enqueuedAt,
 * counter mode and node task uids) or, once every node task is finished,
 * the final task object the client sees (node tasks are no longer asked).
 * The master loads the file at start (later lines win) and the log is
 * rewritten with only the kept tasks when it grows past 3 x KEEP lines.
 */

#include "ngx_miroir_write.h"


typedef struct {
    uint64_t                        uid;
    u_char                         *text;       /* slab, NUL-terminated */
    uint32_t                        len;
    uint32_t                        final;
} ngx_miroir_task_slot_t;


typedef struct {
    uint64_t                        next_uid;
    ngx_uint_t                      lines;      /* in the log file */
    uint8_t                        *stale;      /* nnodes x shards bits */
    uint32_t                        stale_nodes;
    uint32_t                        stale_shards;
    ngx_miroir_task_slot_t          slots[NGX_MIROIR_TASKS_KEEP];
} ngx_miroir_tasks_shm_t;


/* a GET /tasks or GET /tasks/:uid in progress */
typedef struct {
    ngx_miroir_cluster_conf_t      *cl;
    ngx_uint_t                      n;           /* records */
    uint64_t                       *uids;
    u_char                        **texts;       /* copies, NUL-terminated */
    ngx_uint_t                     *final;
    cJSON                         **tasks;       /* aggregated, per record */
    ngx_uint_t                      single;      /* GET /tasks/:uid */
} ngx_miroir_tasks_req_t;


static ngx_miroir_tasks_shm_t *ngx_miroir_tasks_shm(
    ngx_miroir_cluster_conf_t *cl, ngx_slab_pool_t **shpool);
static ngx_int_t ngx_miroir_tasks_store_locked(ngx_miroir_cluster_conf_t *cl,
    ngx_slab_pool_t *shpool, ngx_miroir_tasks_shm_t *ts, uint64_t uid,
    u_char *text, size_t len, ngx_uint_t final, ngx_uint_t log,
    ngx_log_t *lg);
static void ngx_miroir_tasks_append(ngx_miroir_cluster_conf_t *cl,
    ngx_miroir_tasks_shm_t *ts, uint64_t uid, u_char *text, size_t len,
    ngx_uint_t final, ngx_log_t *log);
static void ngx_miroir_tasks_compact(ngx_miroir_cluster_conf_t *cl,
    ngx_miroir_tasks_shm_t *ts, ngx_log_t *log);
static ngx_int_t ngx_miroir_tasks_file(ngx_miroir_cluster_conf_t *cl,
    const char *prefix, const char *suffix, u_char *buf, size_t size);
static ngx_int_t ngx_miroir_tasks_fetch(ngx_http_request_t *r,
    ngx_miroir_tasks_req_t *tr);
static void ngx_miroir_tasks_fetched(ngx_http_request_t *r,
    ngx_miroir_fanout_t *fo);
static void ngx_miroir_tasks_answer(ngx_http_request_t *r,
    ngx_miroir_tasks_req_t *tr);
static ngx_int_t ngx_miroir_tasks_collect(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, uint64_t one, ngx_miroir_tasks_req_t *tr);


static ngx_str_t  ngx_miroir_tasks_uri = ngx_string("/tasks");

/* the miroir_state directory of the running cycle (set by init_module) */
static ngx_str_t  ngx_miroir_tasks_state;


/* ------------------------------------------------------------ the log */

static ngx_miroir_tasks_shm_t *
ngx_miroir_tasks_shm(ngx_miroir_cluster_conf_t *cl, ngx_slab_pool_t **shpool)
{
    ngx_miroir_main_conf_t  *mmcf;

    mmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_miroir_module);

    if (mmcf == NULL || mmcf->shpool == NULL || cl->shm == NULL) {
        return NULL;
    }

    *shpool = mmcf->shpool;

    return cl->shm->tasks;
}


static ngx_int_t
ngx_miroir_tasks_file(ngx_miroir_cluster_conf_t *cl, const char *prefix,
    const char *suffix, u_char *buf, size_t size)
{
    u_char  *p;

    if (ngx_miroir_tasks_state.len == 0) {
        return NGX_DECLINED;
    }

    p = ngx_snprintf(buf, size - 1, "%V/%s-%V%s", &ngx_miroir_tasks_state,
                     prefix, &cl->name, suffix);
    *p = '\0';

    return NGX_OK;
}


static ngx_int_t
ngx_miroir_tasks_store_locked(ngx_miroir_cluster_conf_t *cl,
    ngx_slab_pool_t *shpool, ngx_miroir_tasks_shm_t *ts, uint64_t uid,
    u_char *text, size_t len, ngx_uint_t final, ngx_uint_t log, ngx_log_t *lg)
{
    u_char                  *p;
    ngx_miroir_task_slot_t  *slot;

    slot = &ts->slots[uid % NGX_MIROIR_TASKS_KEEP];

    if (slot->text && slot->uid > uid) {
        return NGX_DECLINED;
    }

    p = ngx_slab_alloc_locked(shpool, len + 1);
    if (p == NULL) {
        ngx_log_error(NGX_LOG_ERR, lg, 0,
                      "miroir: miroir_zone is full, task %uL is not kept "
                      "in memory (enlarge the zone)", uid);
        return NGX_ERROR;
    }

    ngx_memcpy(p, text, len);
    p[len] = '\0';

    if (slot->text) {
        ngx_slab_free_locked(shpool, slot->text);
    }

    slot->uid = uid;
    slot->text = p;
    slot->len = (uint32_t) len;
    slot->final = (uint32_t) final;

    if (uid >= ts->next_uid) {
        ts->next_uid = uid + 1;
    }

    if (log) {
        ngx_miroir_tasks_append(cl, ts, uid, text, len, final, lg);
    }

    return NGX_OK;
}


static void
ngx_miroir_tasks_append(ngx_miroir_cluster_conf_t *cl,
    ngx_miroir_tasks_shm_t *ts, uint64_t uid, u_char *text, size_t len,
    ngx_uint_t final, ngx_log_t *log)
{
    u_char        head[64], *p;
    u_char        path[NGX_MAX_PATH];
    ngx_fd_t      fd;
    struct iovec  iov[3];

    if (ngx_miroir_tasks_file(cl, "tasks", ".log", path, sizeof(path))
        != NGX_OK)
    {
        return;
    }

    if (ts->lines > 3 * NGX_MIROIR_TASKS_KEEP) {
        ngx_miroir_tasks_compact(cl, ts, log);
        return;
    }

    fd = ngx_open_file(path, NGX_FILE_APPEND, NGX_FILE_CREATE_OR_OPEN, 0644);
    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "miroir: cannot open the task log \"%s\"", path);
        return;
    }

    p = ngx_sprintf(head, "%uL %ui ", uid, final);

    iov[0].iov_base = head;
    iov[0].iov_len = p - head;
    iov[1].iov_base = text;
    iov[1].iov_len = len;
    iov[2].iov_base = "\n";
    iov[2].iov_len = 1;

    if (writev(fd, iov, 3) != (ssize_t) (p - head + len + 1)) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "miroir: cannot append to the task log \"%s\"", path);
    }

    ngx_close_file(fd);

    ts->lines++;
}


/* Rewrite the log with the kept tasks only (atomic rename). */
static void
ngx_miroir_tasks_compact(ngx_miroir_cluster_conf_t *cl,
    ngx_miroir_tasks_shm_t *ts, ngx_log_t *log)
{
    u_char                  head[64], *p;
    u_char                  path[NGX_MAX_PATH], tmp[NGX_MAX_PATH];
    FILE                   *f;
    uint64_t                uid, first;
    ngx_uint_t              lines;
    ngx_miroir_task_slot_t *slot;

    if (ngx_miroir_tasks_file(cl, "tasks", ".log", path, sizeof(path))
        != NGX_OK
        || ngx_miroir_tasks_file(cl, "tasks", ".log.tmp", tmp, sizeof(tmp))
           != NGX_OK)
    {
        return;
    }

    f = fopen((char *) tmp, "w");
    if (f == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "miroir: cannot write \"%s\"", tmp);
        return;
    }

    first = ts->next_uid > NGX_MIROIR_TASKS_KEEP
            ? ts->next_uid - NGX_MIROIR_TASKS_KEEP : 0;
    lines = 0;

    for (uid = first; uid < ts->next_uid; uid++) {
        slot = &ts->slots[uid % NGX_MIROIR_TASKS_KEEP];

        if (slot->text == NULL || slot->uid != uid) {
            continue;
        }

        p = ngx_sprintf(head, "%uL %uD ", uid, slot->final);
        fwrite(head, 1, p - head, f);
        fwrite(slot->text, 1, slot->len, f);
        fputc('\n', f);
        lines++;
    }

    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "miroir: cannot write \"%s\"", tmp);
        fclose(f);
        return;
    }

    fclose(f);

    if (rename((char *) tmp, (char *) path) != 0) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "miroir: cannot rename \"%s\"", tmp);
        return;
    }

    ts->lines = lines;
}


/*
 * Add a Miroir task: a new uid of the cluster's sequence, the record of
 * its node tasks (or, for a write Miroir refused itself, its failed final
 * form), persisted before the client hears of it.  answer receives the
 * 202 body.
 */
ngx_int_t
ngx_miroir_tasks_add(ngx_http_request_t *r, ngx_miroir_cluster_conf_t *cl,
    ngx_str_t *index, const char *type, ngx_uint_t agg, int64_t received,
    ngx_miroir_task_part_t *parts, ngx_uint_t nparts, miroir_error_t *failed,
    u_char *enqueued_at, ngx_str_t *answer)
{
    u_char                  *buf, *p, *last, *idx;
    u_char                   now[40];
    size_t                   len, elen;
    uint64_t                 uid;
    ngx_int_t                rc;
    ngx_uint_t               i, final;
    ngx_slab_pool_t         *shpool;
    ngx_miroir_tasks_shm_t  *ts;
    char                     ebuf[2 * MIROIR_ERROR_MSG_LEN + 512];

    ts = ngx_miroir_tasks_shm(cl, &shpool);
    if (ts == NULL) {
        return NGX_ERROR;
    }

    if (enqueued_at) {
        ngx_cpystrn(now, enqueued_at, sizeof(now));

    } else {
        ngx_miroir_tasks_time(now);
    }

    len = 2 * index->len + 1024 + nparts * 64;

    if (failed) {
        elen = miroir_error_json(failed, ebuf, sizeof(ebuf));
        if (elen >= sizeof(ebuf)) {
            elen = 0;
        }

        len += elen;
    }

    buf = ngx_pnalloc(r->pool, len);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    last = buf + len;

    /* the index uid is a valid uid here or null: no escaping needed */

    idx = index->len ? index->data : NULL;

    ngx_shmtx_lock(&shpool->mutex);

    uid = ts->next_uid;

    p = buf;

    if (nparts) {
        /* the record: node tasks to aggregate or wait for */

        p = ngx_slprintf(p, last, "{\"uid\":%uL,", uid);
        p = idx ? ngx_slprintf(p, last, "\"indexUid\":\"%V\",", index)
                : ngx_slprintf(p, last, "\"indexUid\":null,");
        p = ngx_slprintf(p, last, "\"type\":\"%s\",\"enqueuedAt\":\"%s\","
                         "\"agg\":%ui,\"received\":%L,\"parts\":[",
                         type, now, agg, received);

        for (i = 0; i < nparts; i++) {
            p = ngx_slprintf(p, last, "%s[%uD,%uL,%L,%ui]", i ? "," : "",
                             (uint32_t) parts[i].node, parts[i].task,
                             parts[i].primary, parts[i].wait);
        }

        p = ngx_slprintf(p, last, "]%s", failed ? ",\"final\":" : "}");
    }

    if (failed) {
        /* the final task, known now */

        p = ngx_slprintf(p, last, "{\"uid\":%uL,\"batchUid\":%uL,", uid,
                         uid);
        p = idx ? ngx_slprintf(p, last, "\"indexUid\":\"%V\",", index)
                : ngx_slprintf(p, last, "\"indexUid\":null,");
        p = ngx_slprintf(p, last, "\"status\":\"failed\",\"type\":\"%s\","
                         "\"canceledBy\":null,\"details\":{"
                         "\"receivedDocuments\":%L,\"indexedDocuments\":0},"
                         "\"error\":%*s,\"duration\":\"PT0S\","
                         "\"enqueuedAt\":\"%s\",\"startedAt\":\"%s\","
                         "\"finishedAt\":\"%s\"}",
                         type, received, elen, ebuf, now, now, now);

        if (nparts) {
            p = ngx_slprintf(p, last, "}");
        }
    }

    final = (failed && nparts == 0);

    rc = ngx_miroir_tasks_store_locked(cl, shpool, ts, uid, buf, p - buf,
                                       final, 1, r->connection->log);
    if (rc == NGX_ERROR) {
        /* not kept in memory, but logged: the uid stays used */
        ts->next_uid = uid + 1;
        ngx_miroir_tasks_append(cl, ts, uid, buf, p - buf, final,
                                r->connection->log);
    }

    ngx_shmtx_unlock(&shpool->mutex);

    len = 256 + 2 * index->len;

    answer->data = ngx_pnalloc(r->pool, len);
    if (answer->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_slprintf(answer->data, answer->data + len, "{\"taskUid\":%uL,",
                     uid);
    p = idx ? ngx_slprintf(p, answer->data + len, "\"indexUid\":\"%V\",",
                           index)
            : ngx_slprintf(p, answer->data + len, "\"indexUid\":null,");
    p = ngx_slprintf(p, answer->data + len, "\"status\":\"enqueued\","
                     "\"type\":\"%s\",\"enqueuedAt\":\"%s\"}", type, now);

    answer->len = p - answer->data;

    return NGX_OK;
}


/* RFC 3339 UTC with nanoseconds, as Meilisearch prints its dates. */
void
ngx_miroir_tasks_time(u_char *buf)
{
    struct timespec  ts;
    ngx_tm_t         tm;
    u_char          *p;

    clock_gettime(CLOCK_REALTIME, &ts);
    ngx_gmtime(ts.tv_sec, &tm);

    p = ngx_sprintf(buf, "%4d-%02d-%02dT%02d:%02d:%02d.%09lZ",
                    tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                    tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec,
                    (long) ts.tv_nsec);
    *p = '\0';
}


/* ------------------------------------------------------------ startup */

static void
ngx_miroir_tasks_load(ngx_miroir_cluster_conf_t *cl, ngx_slab_pool_t *shpool,
    ngx_miroir_tasks_shm_t *ts, ngx_log_t *log)
{
    u_char     *line, *p, *end;
    u_char      path[NGX_MAX_PATH];
    char       *buf;
    size_t      cap, n;
    FILE       *f;
    uint64_t    uid;
    ngx_uint_t  final, lines;

    if (ngx_miroir_tasks_file(cl, "tasks", ".log", path, sizeof(path))
        != NGX_OK)
    {
        return;
    }

    f = fopen((char *) path, "r");
    if (f == NULL) {
        return;
    }

    buf = NULL;
    cap = 0;
    lines = 0;

    while ((ssize_t) (n = getline(&buf, &cap, f)) > 0) {
        line = (u_char *) buf;
        end = line + n;

        while (end > line && (end[-1] == '\n' || end[-1] == '\r')) {
            end--;
        }

        lines++;

        uid = 0;
        for (p = line; p < end && *p >= '0' && *p <= '9'; p++) {
            uid = uid * 10 + (*p - '0');
        }

        if (p == line || p + 3 > end || p[0] != ' ' || p[2] != ' ') {
            continue;
        }

        final = (p[1] == '1');
        p += 3;

        (void) ngx_miroir_tasks_store_locked(cl, shpool, ts, uid, p, end - p,
                                             final, 0, log);
    }

    free(buf);
    fclose(f);

    ts->lines = lines;

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "miroir cluster \"%V\": task log loaded, next task uid %uL",
                  &cl->name, ts->next_uid);
}


static void
ngx_miroir_stale_load(ngx_miroir_cluster_conf_t *cl,
    ngx_miroir_tasks_shm_t *ts)
{
    u_char                   path[NGX_MAX_PATH];
    char                     id[MIROIR_NODE_ID_LEN + 1];
    FILE                    *f;
    unsigned long            shard;
    ngx_uint_t               i;
    ngx_miroir_node_conf_t  *node;

    if (ngx_miroir_tasks_file(cl, "stale", ".txt", path, sizeof(path))
        != NGX_OK)
    {
        return;
    }

    f = fopen((char *) path, "r");
    if (f == NULL) {
        return;
    }

    node = cl->nodes.elts;

    while (fscanf(f, "%64s %lu", id, &shard) == 2) {
        for (i = 0; i < cl->nodes.nelts; i++) {
            if (node[i].id.len == ngx_strlen(id)
                && ngx_strncmp(node[i].id.data, id, node[i].id.len) == 0
                && shard < ts->stale_shards)
            {
                shard += (unsigned long) i * ts->stale_shards;
                ts->stale[shard / 8] |= (uint8_t) (1 << (shard % 8));
            }
        }
    }

    fclose(f);
}


/*
 * init_module (the master, before the workers start): give the state
 * directory to the worker user, who appends to the logs, and load the
 * task log and stale marks of every cluster into the zone the first time.
 */
ngx_int_t
ngx_miroir_tasks_init_module(ngx_cycle_t *cycle)
{
    u_char                      path[NGX_MAX_PATH];
    size_t                      bits;
    ngx_uint_t                  i;
    ngx_core_conf_t            *ccf;
    ngx_slab_pool_t            *shpool;
    ngx_miroir_tasks_shm_t     *ts;
    ngx_miroir_main_conf_t     *mmcf;
    ngx_miroir_cluster_conf_t  *cl;

    if (cycle->conf_ctx == NULL
        || cycle->conf_ctx[ngx_http_module.index] == NULL)
    {
        return NGX_OK;
    }

    mmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_miroir_module);

    if (mmcf == NULL || mmcf->shpool == NULL) {
        return NGX_OK;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    ngx_miroir_tasks_state = mmcf->state_path;

    if (mmcf->state_path.len && mmcf->state_path.len < sizeof(path)
        && geteuid() == 0 && ccf->user != (ngx_uid_t) NGX_CONF_UNSET_UINT)
    {
        ngx_memcpy(path, mmcf->state_path.data, mmcf->state_path.len);
        path[mmcf->state_path.len] = '\0';

        if (chown((char *) path, ccf->user, ccf->group) != 0) {
            ngx_log_error(NGX_LOG_WARN, cycle->log, ngx_errno,
                          "miroir: cannot chown \"%s\"", path);
        }
    }

    shpool = mmcf->shpool;
    cl = mmcf->clusters.elts;

    for (i = 0; i < mmcf->clusters.nelts; i++) {
        if (cl[i].shm == NULL) {
            continue;
        }

        ngx_shmtx_lock(&shpool->mutex);

        ts = cl[i].shm->tasks;

        if (ts && ts->stale_nodes == cl[i].nodes.nelts
            && ts->stale_shards == cl[i].shards)
        {
            ngx_shmtx_unlock(&shpool->mutex);
            goto chown;
        }

        if (ts == NULL) {
            ts = ngx_slab_calloc_locked(shpool,
                                        sizeof(ngx_miroir_tasks_shm_t));
            if (ts == NULL) {
                ngx_shmtx_unlock(&shpool->mutex);
                ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                              "miroir: miroir_zone too small for the task "
                              "log of cluster \"%V\"", &cl[i].name);
                return NGX_ERROR;
            }

            ngx_miroir_tasks_load(&cl[i], shpool, ts, cycle->log);
        }

        /* the stale marks follow the cluster's shape */

        if (ts->stale) {
            ngx_slab_free_locked(shpool, ts->stale);
        }

        ts->stale_nodes = (uint32_t) cl[i].nodes.nelts;
        ts->stale_shards = (uint32_t) cl[i].shards;
        bits = (size_t) ts->stale_nodes * ts->stale_shards;
        ts->stale = ngx_slab_calloc_locked(shpool, bits / 8 + 1);

        if (ts->stale == NULL) {
            ts->stale_nodes = 0;

        } else {
            ngx_miroir_stale_load(&cl[i], ts);
        }

        cl[i].shm->tasks = ts;

        ngx_shmtx_unlock(&shpool->mutex);

    chown:

        if (geteuid() == 0 && ccf->user != (ngx_uid_t) NGX_CONF_UNSET_UINT) {
            if (ngx_miroir_tasks_file(&cl[i], "tasks", ".log", path,
                                      sizeof(path)) == NGX_OK
                && chown((char *) path, ccf->user, ccf->group) != 0
                && ngx_errno != NGX_ENOENT)
            {
                ngx_log_error(NGX_LOG_WARN, cycle->log, ngx_errno,
                              "miroir: cannot chown \"%s\"", path);
            }

            if (ngx_miroir_tasks_file(&cl[i], "stale", ".txt", path,
                                      sizeof(path)) == NGX_OK
                && chown((char *) path, ccf->user, ccf->group) != 0
                && ngx_errno != NGX_ENOENT)
            {
                ngx_log_error(NGX_LOG_WARN, cycle->log, ngx_errno,
                              "miroir: cannot chown \"%s\"", path);
            }
        }
    }

    return NGX_OK;
}


/* ------------------------------------------------------------ stale */

void
ngx_miroir_stale_mark(ngx_miroir_cluster_conf_t *cl, ngx_uint_t shard,
    ngx_uint_t node, ngx_log_t *log)
{
    size_t                   bit;
    ngx_slab_pool_t         *shpool;
    ngx_miroir_tasks_shm_t  *ts;

    ts = ngx_miroir_tasks_shm(cl, &shpool);

    if (ts == NULL || ts->stale == NULL || node >= ts->stale_nodes
        || shard >= ts->stale_shards)
    {
        return;
    }

    bit = (size_t) node * ts->stale_shards + shard;

    ngx_shmtx_lock(&shpool->mutex);
    ts->stale[bit / 8] |= (uint8_t) (1 << (bit % 8));
    ngx_shmtx_unlock(&shpool->mutex);
}


/*
 * The rebalancer re-synced the copy of shard "shard" on node "node":
 * clear its mark (and persist the marks).
 */
void
ngx_miroir_stale_clear(ngx_miroir_cluster_conf_t *cl, ngx_uint_t shard,
    ngx_uint_t node, ngx_log_t *log)
{
    size_t                   bit;
    ngx_slab_pool_t         *shpool;
    ngx_miroir_tasks_shm_t  *ts;

    ts = ngx_miroir_tasks_shm(cl, &shpool);

    if (ts == NULL || ts->stale == NULL || node >= ts->stale_nodes
        || shard >= ts->stale_shards)
    {
        return;
    }

    bit = (size_t) node * ts->stale_shards + shard;

    ngx_shmtx_lock(&shpool->mutex);
    ts->stale[bit / 8] &= (uint8_t) ~(1 << (bit % 8));
    ngx_shmtx_unlock(&shpool->mutex);

    (void) ngx_miroir_stale_save(cl, log);
}


/*
 * Whether the copy of shard "shard" on node "node" (index in the
 * cluster's nodes) missed a write and waits for the rebalancer.
 */
ngx_uint_t
ngx_miroir_shard_is_stale(ngx_miroir_cluster_conf_t *cl, ngx_uint_t shard,
    ngx_uint_t node)
{
    size_t                   bit;
    ngx_slab_pool_t         *shpool;
    ngx_miroir_tasks_shm_t  *ts;

    ts = ngx_miroir_tasks_shm(cl, &shpool);

    if (ts == NULL || ts->stale == NULL || node >= ts->stale_nodes
        || shard >= ts->stale_shards)
    {
        return 0;
    }

    bit = (size_t) node * ts->stale_shards + shard;

    return (ts->stale[bit / 8] >> (bit % 8)) & 1;
}


/* Persist the stale marks: "<node id> <shard>" lines, atomic rename. */
ngx_int_t
ngx_miroir_stale_save(ngx_miroir_cluster_conf_t *cl, ngx_log_t *log)
{
    u_char                   path[NGX_MAX_PATH], tmp[NGX_MAX_PATH];
    FILE                    *f;
    size_t                   bit;
    ngx_int_t                rc;
    ngx_uint_t               i, s;
    ngx_slab_pool_t         *shpool;
    ngx_miroir_node_conf_t  *node;
    ngx_miroir_tasks_shm_t  *ts;

    ts = ngx_miroir_tasks_shm(cl, &shpool);

    if (ts == NULL || ts->stale == NULL
        || ngx_miroir_tasks_file(cl, "stale", ".txt", path, sizeof(path))
           != NGX_OK
        || ngx_miroir_tasks_file(cl, "stale", ".txt.tmp", tmp, sizeof(tmp))
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    node = cl->nodes.elts;
    rc = NGX_OK;

    ngx_shmtx_lock(&shpool->mutex);

    f = fopen((char *) tmp, "w");
    if (f == NULL) {
        rc = NGX_ERROR;
        goto done;
    }

    for (i = 0; i < ts->stale_nodes && i < cl->nodes.nelts; i++) {
        for (s = 0; s < ts->stale_shards; s++) {
            bit = (size_t) i * ts->stale_shards + s;

            if ((ts->stale[bit / 8] >> (bit % 8)) & 1) {
                fprintf(f, "%.*s %lu\n", (int) node[i].id.len,
                        node[i].id.data, (unsigned long) s);
            }
        }
    }

    if (fclose(f) != 0 || rename((char *) tmp, (char *) path) != 0) {
        rc = NGX_ERROR;
    }

done:

    ngx_shmtx_unlock(&shpool->mutex);

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "miroir: cannot save the stale marks \"%s\"", path);
    }

    return rc;
}


/* ------------------------------------------------------------ routes */

static ngx_int_t
ngx_miroir_tasks_param(ngx_http_request_t *r, const char *name,
    ngx_str_t *value, ngx_uint_t *found)
{
    u_char     *dst, *src;
    ngx_str_t   v;

    *found = 0;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &v) != NGX_OK) {
        return NGX_OK;
    }

    *found = 1;

    value->data = ngx_pnalloc(r->pool, v.len + 1);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    dst = value->data;
    src = v.data;
    ngx_unescape_uri(&dst, &src, v.len, NGX_UNESCAPE_URI);
    *dst = '\0';
    value->len = dst - value->data;

    return NGX_OK;
}


static ngx_int_t
ngx_miroir_tasks_uint(ngx_str_t *s, uint64_t *out)
{
    size_t    i;
    uint64_t  v;

    if (s->len == 0 || s->len > 19) {
        return NGX_ERROR;
    }

    v = 0;

    for (i = 0; i < s->len; i++) {
        if (s->data[i] < '0' || s->data[i] > '9') {
            return NGX_ERROR;
        }

        v = v * 10 + (s->data[i] - '0');
    }

    *out = v;

    return NGX_OK;
}


/* Whether the comma-separated list holds item ("*" holds everything). */
static ngx_uint_t
ngx_miroir_tasks_in(ngx_str_t *list, const char *item)
{
    u_char  *p, *q, *end;
    size_t   len;

    if (item == NULL) {
        return 0;
    }

    len = ngx_strlen(item);
    p = list->data;
    end = p + list->len;

    while (p <= end) {
        q = ngx_strlchr(p, end, ',');
        if (q == NULL) {
            q = end;
        }

        while (p < q && *p == ' ') {
            p++;
        }

        if ((size_t) (q - p) == len && ngx_strncmp(p, item, len) == 0) {
            return 1;
        }

        if (q - p == 1 && *p == '*') {
            return 1;
        }

        p = q + 1;
    }

    return 0;
}


static ngx_int_t
ngx_miroir_tasks_bad(ngx_http_request_t *r, const char *code,
    const char *fmt, ngx_str_t *v)
{
    miroir_error_t  err;

    miroir_error_set(&err, NGX_HTTP_BAD_REQUEST, code, "invalid_request", fmt,
                     (int) ngx_min(v->len, 200), v->data);

    return ngx_miroir_send_error(r, &err);
}


/* GET /tasks and GET /tasks/:uid (writes to /tasks are declined). */
ngx_int_t
ngx_miroir_tasks_route(ngx_http_request_t *r, ngx_miroir_cluster_conf_t *cl,
    ngx_str_t *path)
{
    u_char                  *p, *end;
    uint64_t                 uid;
    ngx_int_t                rc;
    ngx_str_t                v;
    ngx_uint_t               found;
    miroir_error_t           err;
    ngx_miroir_tasks_req_t  *tr;
    static const char       *statuses[] = {
        "enqueued", "processing", "succeeded", "failed", "canceled", NULL
    };
    static const char       *names[] = {
        "uids", "statuses", "types", "indexUids", "limit", "from", NULL
    };
    ngx_uint_t               i, j;

    if (path->len < 6 || ngx_strncmp(path->data, "/tasks", 6) != 0
        || (path->len > 6 && path->data[6] != '/'))
    {
        return NGX_DECLINED;
    }

    if (path->len > 7 && ngx_strlchr(path->data + 7, path->data + path->len,
                                     '/'))
    {
        return NGX_DECLINED;
    }

    if ((r->method == NGX_HTTP_DELETE && path->len == 6)
        || (r->method == NGX_HTTP_POST && path->len == 13
            && ngx_strncmp(path->data, "/tasks/cancel", 13) == 0))
    {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        if (r->args.len == 0) {
            miroir_error_set(&err, NGX_HTTP_BAD_REQUEST,
                             "missing_task_filters", "invalid_request",
                             "Query parameters to filter the tasks to %s "
                             "are missing. Available query parameters are: "
                             "`uids`, `indexUids`, `statuses`, `types`, "
                             "`canceledBy`, `beforeEnqueuedAt`, "
                             "`afterEnqueuedAt`, `beforeStartedAt`, "
                             "`afterStartedAt`, `beforeFinishedAt`, "
                             "`afterFinishedAt`.",
                             r->method == NGX_HTTP_DELETE ? "delete"
                                                          : "cancel");
            return ngx_miroir_send_error(r, &err);
        }

        miroir_error_set(&err, NGX_HTTP_NOT_IMPLEMENTED,
                         "miroir_not_supported", "invalid_request",
                         "Miroir does not %s tasks yet.",
                         r->method == NGX_HTTP_DELETE ? "delete" : "cancel");
        return ngx_miroir_send_error(r, &err);
    }

    if (r->method != NGX_HTTP_GET) {
        return NGX_DECLINED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    tr = ngx_pcalloc(r->pool, sizeof(ngx_miroir_tasks_req_t));
    if (tr == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    tr->cl = cl;

    if (path->len > 7) {
        v.data = path->data + 7;
        v.len = path->len - 7;

        if (ngx_miroir_tasks_uint(&v, &uid) != NGX_OK) {
            return ngx_miroir_tasks_bad(r, "invalid_task_uids",
                                        "Task uid `%.*s` is invalid. It "
                                        "should only contain numeric "
                                        "characters.", &v);
        }

        tr->single = 1;

        if (ngx_miroir_tasks_collect(r, cl, uid, tr) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (tr->n == 0) {
            miroir_error_set(&err, NGX_HTTP_NOT_FOUND, "task_not_found",
                             "invalid_request", "Task `%llu` not found.",
                             (unsigned long long) uid);
            return ngx_miroir_send_error(r, &err);
        }

        return ngx_miroir_tasks_fetch(r, tr);
    }

    /* validate the list parameters as Meilisearch does */

    if (r->args.len) {
        p = r->args.data;
        end = p + r->args.len;

        while (p < end) {
            v.data = p;
            while (p < end && *p != '=' && *p != '&') {
                p++;
            }
            v.len = p - v.data;

            while (p < end && *p != '&') {
                p++;
            }
            p++;

            if (v.len == 0) {
                continue;
            }

            for (j = 0; names[j]; j++) {
                if (v.len == ngx_strlen(names[j])
                    && ngx_strncmp(v.data, names[j], v.len) == 0)
                {
                    break;
                }
            }

            if (names[j] == NULL
                && !(v.len >= 6 && (ngx_strncmp(v.data, "before", 6) == 0
                                    || ngx_strncmp(v.data, "after", 5) == 0))
                && !(v.len == 10
                     && ngx_strncmp(v.data, "canceledBy", 10) == 0)
                && !(v.len == 7 && ngx_strncmp(v.data, "reverse", 7) == 0)
                && !(v.len == 8 && ngx_strncmp(v.data, "batchUid", 8) == 0))
            {
                return ngx_miroir_tasks_bad(r, "bad_request",
                    "Unknown parameter `%.*s`: expected one of `limit`, "
                    "`from`, `reverse`, `batchUids`, `uids`, `canceledBy`, "
                    "`types`, `statuses`, `indexUids`, `afterEnqueuedAt`, "
                    "`beforeEnqueuedAt`, `afterStartedAt`, "
                    "`beforeStartedAt`, `afterFinishedAt`, "
                    "`beforeFinishedAt`", &v);
            }
        }
    }

    if (ngx_miroir_tasks_param(r, "statuses", &v, &found) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (found) {
        p = v.data;
        end = p + v.len;

        while (p <= end) {
            ngx_str_t  item;

            item.data = p;
            p = ngx_strlchr(p, end, ',');
            if (p == NULL) {
                p = end;
            }
            item.len = p - item.data;
            p++;

            if (item.len == 1 && item.data[0] == '*') {
                continue;
            }

            for (i = 0; statuses[i]; i++) {
                if (item.len == ngx_strlen(statuses[i])
                    && ngx_strncmp(item.data, statuses[i], item.len) == 0)
                {
                    break;
                }
            }

            if (statuses[i] == NULL) {
                return ngx_miroir_tasks_bad(r, "invalid_task_statuses",
                    "Invalid value in parameter `statuses`: `%.*s` is not a "
                    "valid task status. Available statuses are `enqueued`, "
                    "`processing`, `succeeded`, `failed`, `canceled`.",
                    &item);
            }
        }
    }

    if (ngx_miroir_tasks_param(r, "limit", &v, &found) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (found && ngx_miroir_tasks_uint(&v, &uid) != NGX_OK) {
        return ngx_miroir_tasks_bad(r, "invalid_task_limit",
                                    "Invalid value in parameter `limit`: "
                                    "could not parse `%.*s` as a positive "
                                    "integer", &v);
    }

    if (ngx_miroir_tasks_param(r, "from", &v, &found) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (found && ngx_miroir_tasks_uint(&v, &uid) != NGX_OK) {
        return ngx_miroir_tasks_bad(r, "invalid_task_from",
                                    "Invalid value in parameter `from`: "
                                    "could not parse `%.*s` as a positive "
                                    "integer", &v);
    }

    if (ngx_miroir_tasks_param(r, "uids", &v, &found) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (found) {
        p = v.data;
        end = p + v.len;

        while (p <= end) {
            ngx_str_t  item;

            item.data = p;
            p = ngx_strlchr(p, end, ',');
            if (p == NULL) {
                p = end;
            }
            item.len = p - item.data;
            p++;

            if (!(item.len == 1 && item.data[0] == '*')
                && ngx_miroir_tasks_uint(&item, &uid) != NGX_OK)
            {
                return ngx_miroir_tasks_bad(r, "invalid_task_uids",
                    "Invalid value in parameter `uids`: could not parse "
                    "`%.*s` as a positive integer", &item);
            }
        }
    }

    if (ngx_miroir_tasks_collect(r, cl, (uint64_t) -1, tr) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_miroir_tasks_fetch(r, tr);
}


/* Copy the kept records (one, or all, newest first) out of the zone. */
static ngx_int_t
ngx_miroir_tasks_collect(ngx_http_request_t *r, ngx_miroir_cluster_conf_t *cl,
    uint64_t one, ngx_miroir_tasks_req_t *tr)
{
    uint64_t                 uid, first;
    ngx_uint_t               n;
    ngx_slab_pool_t         *shpool;
    ngx_miroir_task_slot_t  *slot;
    ngx_miroir_tasks_shm_t  *ts;

    ts = ngx_miroir_tasks_shm(cl, &shpool);
    if (ts == NULL) {
        return NGX_ERROR;
    }

    n = (one == (uint64_t) -1) ? NGX_MIROIR_TASKS_KEEP : 1;

    tr->uids = ngx_palloc(r->pool, n * sizeof(uint64_t));
    tr->texts = ngx_palloc(r->pool, n * sizeof(u_char *));
    tr->final = ngx_palloc(r->pool, n * sizeof(ngx_uint_t));
    tr->tasks = ngx_pcalloc(r->pool, n * sizeof(cJSON *));

    if (tr->uids == NULL || tr->texts == NULL || tr->final == NULL
        || tr->tasks == NULL)
    {
        return NGX_ERROR;
    }

    ngx_shmtx_lock(&shpool->mutex);

    first = ts->next_uid > NGX_MIROIR_TASKS_KEEP
            ? ts->next_uid - NGX_MIROIR_TASKS_KEEP : 0;

    for (uid = ts->next_uid; uid > first; /* void */) {
        uid--;

        if (one != (uint64_t) -1 && uid != one) {
            continue;
        }

        slot = &ts->slots[uid % NGX_MIROIR_TASKS_KEEP];

        if (slot->text == NULL || slot->uid != uid) {
            continue;
        }

        tr->texts[tr->n] = ngx_pnalloc(r->pool, slot->len + 1);
        if (tr->texts[tr->n] == NULL) {
            ngx_shmtx_unlock(&shpool->mutex);
            return NGX_ERROR;
        }

        ngx_memcpy(tr->texts[tr->n], slot->text, slot->len + 1);
        tr->uids[tr->n] = uid;
        tr->final[tr->n] = slot->final;
        tr->n++;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return NGX_OK;
}


/*
 * Ask the nodes for the node tasks of every record not final yet: one
 * GET /tasks?uids=... per node, whatever the number of records.
 */
static ngx_int_t
ngx_miroir_tasks_fetch(ngx_http_request_t *r, ngx_miroir_tasks_req_t *tr)
{
    cJSON                *rec, *parts, *part;
    u_char               *p;
    ngx_str_t             args;
    ngx_uint_t            i, node, nnodes, count[MIROIR_MAX_NODES];
    ngx_array_t           lists[MIROIR_MAX_NODES];
    ngx_miroir_call_t    *call;
    ngx_miroir_fanout_t  *fo;

    nnodes = tr->cl->nodes.nelts;
    ngx_memzero(count, sizeof(count));

    for (node = 0; node < nnodes; node++) {
        if (ngx_array_init(&lists[node], r->pool, 16, sizeof(uint64_t))
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    for (i = 0; i < tr->n; i++) {
        if (tr->final[i]) {
            continue;
        }

        rec = ngx_miroir_json_parse(r, tr->texts[i],
                                    ngx_strlen(tr->texts[i]));
        if (rec == NULL) {
            continue;
        }

        parts = cJSON_GetObjectItemCaseSensitive(rec, "parts");

        cJSON_ArrayForEach(part, parts) {
            uint64_t  *u;

            node = (ngx_uint_t) cJSON_GetArrayItem(part, 0)->valuedouble;

            if (node >= nnodes) {
                continue;
            }

            u = ngx_array_push(&lists[node]);
            if (u == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            *u = (uint64_t) cJSON_GetArrayItem(part, 1)->valuedouble;
            count[node]++;
        }
    }

    fo = NULL;

    for (node = 0; node < nnodes; node++) {
        uint64_t  *u;

        if (count[node] == 0) {
            continue;
        }

        if (fo == NULL) {
            fo = ngx_miroir_fanout_create(r, tr->cl, nnodes);
            if (fo == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        args.data = ngx_pnalloc(r->pool, 64 + 21 * count[node]);
        if (args.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = ngx_sprintf(args.data, "limit=%ui&uids=", count[node]);
        u = lists[node].elts;

        for (i = 0; i < lists[node].nelts; i++) {
            p = ngx_sprintf(p, "%s%uL", i ? "," : "", u[i]);
        }

        args.len = p - args.data;

        call = ngx_miroir_fanout_add(fo, node, NGX_HTTP_GET,
                                     &ngx_miroir_tasks_uri, &args);
        if (call == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (fo == NULL) {
        r->main->count++;
        ngx_miroir_tasks_answer(r, tr);
        return NGX_DONE;
    }

    r->main->count++;

    if (ngx_miroir_fanout_start(fo, ngx_miroir_tasks_fetched, tr) != NGX_OK) {
        r->main->count--;
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


/* Remove Miroir's own filterable fields from a task's details. */
static void
ngx_miroir_tasks_strip(cJSON *task)
{
    cJSON  *details, *error, *msg;

    details = cJSON_GetObjectItemCaseSensitive(task, "details");

    if (cJSON_IsObject(details)) {
        ngx_miroir_write_strip_json(details);
    }

    error = cJSON_GetObjectItemCaseSensitive(task, "error");
    msg = cJSON_IsObject(error)
          ? cJSON_GetObjectItemCaseSensitive(error, "message") : NULL;

    if (cJSON_IsString(msg)) {
        ngx_miroir_write_sanitize(msg->valuestring);
    }
}


static cJSON *
ngx_miroir_tasks_node_task(cJSON **answers, ngx_uint_t nnodes,
    ngx_uint_t node, uint64_t uid)
{
    cJSON  *results, *t, *u;

    if (node >= nnodes || answers[node] == NULL) {
        return NULL;
    }

    results = cJSON_GetObjectItemCaseSensitive(answers[node], "results");

    cJSON_ArrayForEach(t, results) {
        u = cJSON_GetObjectItemCaseSensitive(t, "uid");

        if (cJSON_IsNumber(u) && (uint64_t) u->valuedouble == uid) {
            return t;
        }
    }

    return NULL;
}


static void
ngx_miroir_tasks_fetched(ngx_http_request_t *r, ngx_miroir_fanout_t *fo)
{
    char                    *out;
    cJSON                   *rec, *parts, *part, *answers[MIROIR_MAX_NODES];
    cJSON                   *task, *st;
    int64_t                  received;
    ngx_uint_t               i, j, n, node, nnodes, missing, agg, terminal;
    ngx_uint_t               waiting;
    ngx_str_t                s;
    miroir_error_t           err;
    ngx_slab_pool_t         *shpool;
    ngx_miroir_call_t       *call;
    ngx_miroir_tasks_shm_t  *ts;
    ngx_miroir_tasks_req_t  *tr;
    miroir_task_conf_t       conf;
    miroir_task_counter_t    counters[3];
    miroir_task_part_t       tparts[NGX_MIROIR_TASK_PARTS];

    tr = fo->data;
    nnodes = tr->cl->nodes.nelts;
    call = fo->calls.elts;

    ngx_memzero(answers, sizeof(answers));

    for (i = 0; i < fo->calls.nelts; i++) {
        if (call[i].ok && call[i].status == NGX_HTTP_OK) {
            answers[call[i].node] = ngx_miroir_json_parse(r,
                                        call[i].response.data,
                                        call[i].response.len);
        }
    }

    ts = ngx_miroir_tasks_shm(tr->cl, &shpool);

    for (i = 0; i < tr->n; i++) {
        if (tr->final[i]) {
            continue;
        }

        rec = ngx_miroir_json_parse(r, tr->texts[i],
                                    ngx_strlen(tr->texts[i]));
        if (rec == NULL) {
            continue;
        }

        parts = cJSON_GetObjectItemCaseSensitive(rec, "parts");
        agg = (ngx_uint_t) cJSON_GetObjectItemCaseSensitive(rec, "agg")
                               ->valuedouble;
        received = (int64_t) cJSON_GetObjectItemCaseSensitive(rec, "received")
                                 ->valuedouble;

        n = 0;
        missing = 0;
        waiting = 0;

        cJSON_ArrayForEach(part, parts) {
            node = (ngx_uint_t) cJSON_GetArrayItem(part, 0)->valuedouble;

            task = ngx_miroir_tasks_node_task(answers, nnodes, node,
                       (uint64_t) cJSON_GetArrayItem(part, 1)->valuedouble);

            if (task == NULL || n == NGX_MIROIR_TASK_PARTS) {
                missing++;
                continue;
            }

            if (cJSON_GetArraySize(part) > 3
                && cJSON_GetArrayItem(part, 3)->valuedouble != 0)
            {
                /* Miroir's own follow-up (filterable fields): waited for */
                st = cJSON_GetObjectItemCaseSensitive(task, "status");

                if (!cJSON_IsString(st)
                    || (ngx_strcmp(st->valuestring, "succeeded") != 0
                        && ngx_strcmp(st->valuestring, "failed") != 0
                        && ngx_strcmp(st->valuestring, "canceled") != 0))
                {
                    waiting++;
                }

                continue;
            }

            tparts[n].task = task;
            tparts[n].primary =
                (int64_t) cJSON_GetArrayItem(part, 2)->valuedouble;
            n++;
        }

        st = cJSON_GetObjectItemCaseSensitive(rec, "final");

        if (cJSON_IsObject(st)) {
            /* failed by Miroir; finished once the waited-for parts are */

            task = cJSON_Duplicate(st, 1);
            if (task == NULL) {
                continue;
            }

            cJSON_AddItemToObject(rec, "_view", task);

            if (waiting || missing) {
                cJSON_ReplaceItemInObjectCaseSensitive(task, "status",
                    cJSON_CreateString("processing"));
                cJSON_ReplaceItemInObjectCaseSensitive(task, "finishedAt",
                                                       cJSON_CreateNull());
                cJSON_ReplaceItemInObjectCaseSensitive(task, "duration",
                                                       cJSON_CreateNull());
                cJSON_ReplaceItemInObjectCaseSensitive(task, "error",
                                                       cJSON_CreateNull());

            } else if (ts && ngx_miroir_json_print(r, task, &s) == NGX_OK) {
                ngx_shmtx_lock(&shpool->mutex);
                (void) ngx_miroir_tasks_store_locked(tr->cl, shpool, ts,
                                                     tr->uids[i], s.data,
                                                     s.len, 1, 1,
                                                     r->connection->log);
                ngx_shmtx_unlock(&shpool->mutex);
            }

            tr->tasks[i] = task;
            continue;
        }

        if (n == 0) {
            continue;       /* answered from the record below */
        }

        ngx_memzero(&conf, sizeof(conf));
        conf.uid = tr->uids[i];
        conf.enqueued_at = cJSON_GetObjectItemCaseSensitive(rec, "enqueuedAt")
                               ->valuestring;
        conf.has_batch_uid = 1;
        conf.batch_uid = tr->uids[i];
        conf.rf = (uint32_t) tr->cl->replication;

        j = 0;

        if (agg == NGX_MIROIR_AGG_DOCS) {
            counters[j].name = "receivedDocuments";
            counters[j].mode = MIROIR_TASK_FIXED;
            counters[j].value = received;
            j++;
            counters[j].name = "indexedDocuments";
            counters[j].mode = MIROIR_TASK_PRIMARY;
            counters[j].value = 0;
            j++;

        } else if (agg == NGX_MIROIR_AGG_DIV_RF) {
            counters[j].name = "deletedDocuments";
            counters[j].mode = MIROIR_TASK_DIV_RF;
            counters[j].value = 0;
            j++;
            counters[j].name = "providedIds";
            counters[j].mode = received >= 0 ? MIROIR_TASK_FIXED
                                             : MIROIR_TASK_DIV_RF;
            counters[j].value = received;
            j++;
        }

        conf.counters = counters;
        conf.ncounters = j;

        if (miroir_task_aggregate(&conf, tparts, n, &out, &err) != MIROIR_OK) {
            continue;
        }

        task = ngx_miroir_json_parse(r, (u_char *) out, ngx_strlen(out));
        free(out);

        if (task == NULL) {
            continue;
        }

        ngx_miroir_tasks_strip(task);

        /* indexUid and type are Miroir's (a swap has no index) */

        st = cJSON_GetObjectItemCaseSensitive(task, "status");
        terminal = cJSON_IsString(st)
                   && (ngx_strcmp(st->valuestring, "succeeded") == 0
                       || ngx_strcmp(st->valuestring, "failed") == 0
                       || ngx_strcmp(st->valuestring, "canceled") == 0);

        if (terminal && waiting) {
            cJSON_ReplaceItemInObjectCaseSensitive(task, "status",
                cJSON_CreateString("processing"));
            cJSON_ReplaceItemInObjectCaseSensitive(task, "finishedAt",
                                                   cJSON_CreateNull());
            cJSON_ReplaceItemInObjectCaseSensitive(task, "duration",
                                                   cJSON_CreateNull());
            cJSON_ReplaceItemInObjectCaseSensitive(task, "error",
                                                   cJSON_CreateNull());
            terminal = 0;
        }

        tr->tasks[i] = task;

        if (terminal && missing == 0 && ts
            && ngx_miroir_json_print(r, task, &s) == NGX_OK)
        {
            ngx_shmtx_lock(&shpool->mutex);
            (void) ngx_miroir_tasks_store_locked(tr->cl, shpool, ts,
                                                 tr->uids[i], s.data, s.len,
                                                 1, 1, r->connection->log);
            ngx_shmtx_unlock(&shpool->mutex);
        }
    }

    ngx_miroir_tasks_answer(r, tr);
}


/* The client's view of record i: final, aggregated, or still enqueued. */
static cJSON *
ngx_miroir_tasks_view(ngx_http_request_t *r, ngx_miroir_tasks_req_t *tr,
    ngx_uint_t i)
{
    cJSON  *rec, *task, *v;

    if (tr->tasks[i]) {
        return tr->tasks[i];
    }

    rec = ngx_miroir_json_parse(r, tr->texts[i], ngx_strlen(tr->texts[i]));
    if (rec == NULL) {
        return NULL;
    }

    if (tr->final[i]) {
        tr->tasks[i] = rec;
        return rec;
    }

    /* no node answered for it: what the client was told at first */

    task = cJSON_CreateObject();
    if (task == NULL) {
        return NULL;
    }

    cJSON_AddNumberToObject(task, "uid", (double) tr->uids[i]);
    cJSON_AddNullToObject(task, "batchUid");
    v = cJSON_GetObjectItemCaseSensitive(rec, "indexUid");
    cJSON_AddItemToObject(task, "indexUid", cJSON_Duplicate(v, 1));
    cJSON_AddStringToObject(task, "status", "enqueued");
    v = cJSON_GetObjectItemCaseSensitive(rec, "type");
    cJSON_AddItemToObject(task, "type", cJSON_Duplicate(v, 1));
    cJSON_AddNullToObject(task, "canceledBy");
    cJSON_AddObjectToObject(task, "details");
    cJSON_AddNullToObject(task, "error");
    cJSON_AddNullToObject(task, "duration");
    v = cJSON_GetObjectItemCaseSensitive(rec, "enqueuedAt");
    cJSON_AddItemToObject(task, "enqueuedAt", cJSON_Duplicate(v, 1));
    cJSON_AddNullToObject(task, "startedAt");
    cJSON_AddNullToObject(task, "finishedAt");

    /* owned by the record's pool cleanup through a child item */
    cJSON_AddItemToObject(rec, "_view", task);

    tr->tasks[i] = task;

    return task;
}


static ngx_uint_t
ngx_miroir_tasks_match(ngx_http_request_t *r, cJSON *task, uint64_t uid,
    ngx_str_t *uids, ngx_str_t *statuses, ngx_str_t *types,
    ngx_str_t *indexes)
{
    u_char  buf[32], *p;
    cJSON  *v;

    if (uids) {
        p = ngx_sprintf(buf, "%uL", uid);
        *p = '\0';

        if (!ngx_miroir_tasks_in(uids, (char *) buf)) {
            return 0;
        }
    }

    if (statuses) {
        v = cJSON_GetObjectItemCaseSensitive(task, "status");
        if (!ngx_miroir_tasks_in(statuses, cJSON_GetStringValue(v))) {
            return 0;
        }
    }

    if (types) {
        v = cJSON_GetObjectItemCaseSensitive(task, "type");
        if (!ngx_miroir_tasks_in(types, cJSON_GetStringValue(v))) {
            return 0;
        }
    }

    if (indexes) {
        v = cJSON_GetObjectItemCaseSensitive(task, "indexUid");
        if (!ngx_miroir_tasks_in(indexes, cJSON_GetStringValue(v))) {
            return 0;
        }
    }

    return 1;
}


static void
ngx_miroir_tasks_answer(ngx_http_request_t *r, ngx_miroir_tasks_req_t *tr)
{
    cJSON       *task, *list, *results;
    uint64_t     limit, from, next, total, first;
    ngx_str_t    out, v, uids, statuses, types, indexes;
    ngx_uint_t   i, found, has_uids, has_statuses, has_types, has_indexes;
    ngx_uint_t   has_next, has_first;

    if (tr->single) {
        task = ngx_miroir_tasks_view(r, tr, 0);

        if (task == NULL || ngx_miroir_json_print(r, task, &out) != NGX_OK) {
            ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_miroir_finish(r, ngx_miroir_send_json(r, NGX_HTTP_OK, out.data,
                                                  out.len));
        return;
    }

    limit = 20;
    from = (uint64_t) -1;

    if (ngx_miroir_tasks_param(r, "limit", &v, &found) == NGX_OK && found) {
        (void) ngx_miroir_tasks_uint(&v, &limit);
    }

    if (ngx_miroir_tasks_param(r, "from", &v, &found) == NGX_OK && found) {
        (void) ngx_miroir_tasks_uint(&v, &from);
    }

    (void) ngx_miroir_tasks_param(r, "uids", &uids, &has_uids);
    (void) ngx_miroir_tasks_param(r, "statuses", &statuses, &has_statuses);
    (void) ngx_miroir_tasks_param(r, "types", &types, &has_types);
    (void) ngx_miroir_tasks_param(r, "indexUids", &indexes, &has_indexes);

    list = cJSON_CreateObject();
    if (list == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    results = cJSON_AddArrayToObject(list, "results");

    total = 0;
    next = 0;
    first = 0;
    has_next = 0;
    has_first = 0;

    for (i = 0; i < tr->n; i++) {
        task = ngx_miroir_tasks_view(r, tr, i);
        if (task == NULL) {
            continue;
        }

        if (!ngx_miroir_tasks_match(r, task, tr->uids[i],
                                    has_uids ? &uids : NULL,
                                    has_statuses ? &statuses : NULL,
                                    has_types ? &types : NULL,
                                    has_indexes ? &indexes : NULL))
        {
            continue;
        }

        total++;

        if (tr->uids[i] > from) {
            continue;
        }

        if ((uint64_t) cJSON_GetArraySize(results) < limit) {
            if (!has_first) {
                first = tr->uids[i];
                has_first = 1;
            }

            cJSON_AddItemToArray(results, cJSON_Duplicate(task, 1));

        } else if (!has_next) {
            next = tr->uids[i];
            has_next = 1;
        }
    }

    cJSON_AddNumberToObject(list, "total", (double) total);
    cJSON_AddNumberToObject(list, "limit", (double) limit);

    if (has_first) {
        cJSON_AddNumberToObject(list, "from", (double) first);
    } else {
        cJSON_AddNullToObject(list, "from");
    }

    if (has_next) {
        cJSON_AddNumberToObject(list, "next", (double) next);
    } else {
        cJSON_AddNullToObject(list, "next");
    }

    if (ngx_miroir_json_print(r, list, &out) != NGX_OK) {
        cJSON_Delete(list);
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    cJSON_Delete(list);

    ngx_miroir_finish(r, ngx_miroir_send_json(r, NGX_HTTP_OK, out.data,
                                              out.len));
}
