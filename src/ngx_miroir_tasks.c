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
 *     <uid> <final 0|1|2> <json>
 *
 * where json is either the pending record (index, type, enqueuedAt,
 * counter mode and node task uids) or, once every node task is finished,
 * the final task object the client sees (node tasks are no longer asked).
 * A line with final 2 drops a task deleted by DELETE /tasks.  The master loads the file at start (later lines win) and the log is
 * rewritten with only the kept tasks when it grows past 3 x KEEP lines.
 *
 * POST /tasks/cancel and DELETE /tasks select Miroir tasks with the
 * filters of GET /tasks and send the node tasks of the selection to each
 * node in one request (uids=...); their Miroir task records "op" (its
 * details, counted in Miroir tasks), the canceled records "canceledBy".
 * A final task keeps its node tasks as "_parts" (never shown), so a
 * deletion reaches the nodes too.
 */

#include "ngx_miroir_write.h"


typedef struct {
    uint64_t                        uid;
    u_char                         *text;       /* slab, NUL-terminated */
    uint32_t                        len;
    uint32_t                        final;
} ngx_miroir_task_slot_t;


/*
 * stable_ties: what the write path told the nodes about an index that
 * they may not have applied yet (tasks still enqueued): its primary key,
 * and the user's ranking rules written while it had none.  Shared by the
 * workers, not persisted; the oldest entry is reused.
 */
#define NGX_MIROIR_TIES_MEM         32
#define NGX_MIROIR_TIES_UID_LEN     128
#define NGX_MIROIR_TIES_RULES_LEN   512

typedef struct {
    uint64_t                        stamp;      /* 0: free */
    uint16_t                        uid_len;
    uint16_t                        pk_len;
    uint16_t                        rules_len;  /* 0: not known */
    u_char                          uid[NGX_MIROIR_TIES_UID_LEN];
    u_char                          pk[NGX_MIROIR_TIES_UID_LEN];
    u_char                          rules[NGX_MIROIR_TIES_RULES_LEN];
} ngx_miroir_ties_mem_t;


typedef struct {
    uint64_t                        next_uid;
    ngx_uint_t                      lines;      /* in the log file */
    uint8_t                        *stale;      /* nnodes x shards bits */
    uint32_t                        stale_nodes;
    uint32_t                        stale_shards;
    ngx_miroir_task_slot_t          slots[NGX_MIROIR_TASKS_KEEP];
    uint64_t                        ties_stamp;
    ngx_miroir_ties_mem_t           ties[NGX_MIROIR_TIES_MEM];
} ngx_miroir_tasks_shm_t;


/* the task filters of GET /tasks, POST /tasks/cancel and DELETE /tasks */
#define NGX_MIROIR_TF_UIDS          0
#define NGX_MIROIR_TF_BATCH_UIDS    1
#define NGX_MIROIR_TF_CANCELED_BY   2
#define NGX_MIROIR_TF_STATUSES      3
#define NGX_MIROIR_TF_TYPES         4
#define NGX_MIROIR_TF_INDEX_UIDS    5
#define NGX_MIROIR_TF_LISTS         6

/* dates: before/after x enqueued/started/finished */
#define NGX_MIROIR_TF_DATES         6

typedef struct {
    ngx_str_t                       list[NGX_MIROIR_TF_LISTS];
    ngx_uint_t                      has_list[NGX_MIROIR_TF_LISTS];
    int64_t                         date[NGX_MIROIR_TF_DATES];   /* s */
    int64_t                         date_ns[NGX_MIROIR_TF_DATES];
    ngx_uint_t                      has_date[NGX_MIROIR_TF_DATES];
    ngx_uint_t                      any;         /* a filter was given */
    ngx_uint_t                      reverse;
    uint64_t                        limit;
    uint64_t                        from;
    ngx_uint_t                      has_from;
} ngx_miroir_tasks_filter_t;


#define NGX_MIROIR_TASKS_OP_CANCEL  1
#define NGX_MIROIR_TASKS_OP_DELETE  2

/* a GET /tasks or GET /tasks/:uid in progress */
typedef struct {
    ngx_miroir_cluster_conf_t      *cl;
    ngx_miroir_tasks_filter_t       flt;
    ngx_uint_t                      op;          /* cancel or delete */
    ngx_uint_t                      matched;
    ngx_uint_t                      nsel;
    ngx_uint_t                     *sel;         /* records canceled/deleted */
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
static void ngx_miroir_tasks_op(ngx_http_request_t *r,
    ngx_miroir_tasks_req_t *tr);
static void ngx_miroir_tasks_op_fetched(ngx_http_request_t *r,
    ngx_miroir_fanout_t *fo);
static void ngx_miroir_tasks_op_done(ngx_http_request_t *r,
    ngx_miroir_tasks_req_t *tr, ngx_miroir_fanout_t *fo);
static ngx_int_t ngx_miroir_tasks_uint(ngx_str_t *s, uint64_t *out);
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
    u_char *enqueued_at, const char *ties, ngx_str_t *answer)
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

    if (ties) {
        len += 6 * ngx_strlen(ties) + 16;
    }

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

        p = ngx_slprintf(p, last, "]");

        if (ties) {
            /* stable_ties: the rule this write added (hidden in details) */
            p = ngx_slprintf(p, last, ",\"ties\":\"");
            if (p + 6 * ngx_strlen(ties) < last) {
                p = (u_char *) ngx_escape_json(p, (u_char *) ties,
                                               ngx_strlen(ties));
            }
            p = ngx_slprintf(p, last, "\"");
        }

        p = ngx_slprintf(p, last, "%s", failed ? ",\"final\":" : "}");
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


/* ------------------------------------------------------------ ties */

static ngx_miroir_ties_mem_t *
ngx_miroir_ties_mem_find(ngx_miroir_tasks_shm_t *ts, ngx_str_t *uid,
    ngx_uint_t add)
{
    ngx_uint_t              i;
    ngx_miroir_ties_mem_t  *m, *old;

    old = &ts->ties[0];

    for (i = 0; i < NGX_MIROIR_TIES_MEM; i++) {
        m = &ts->ties[i];

        if (m->stamp && m->uid_len == uid->len
            && ngx_memcmp(m->uid, uid->data, uid->len) == 0)
        {
            return m;
        }

        if (m->stamp < old->stamp) {
            old = m;
        }
    }

    if (!add) {
        return NULL;
    }

    ngx_memzero(old, sizeof(ngx_miroir_ties_mem_t));
    ngx_memcpy(old->uid, uid->data, uid->len);
    old->uid_len = (uint16_t) uid->len;
    old->stamp = ++ts->ties_stamp;

    return old;
}


/*
 * Remember an index's primary key (pk, or NULL: keep) and the user's
 * rules written while it had none (rules: NULL keep, empty: forget).
 */
void
ngx_miroir_ties_mem_put(ngx_miroir_cluster_conf_t *cl, ngx_str_t *uid,
    const char *pk, ngx_str_t *rules)
{
    size_t                   n;
    ngx_slab_pool_t         *shpool;
    ngx_miroir_ties_mem_t   *m;
    ngx_miroir_tasks_shm_t  *ts;

    ts = ngx_miroir_tasks_shm(cl, &shpool);
    if (ts == NULL || uid->len == 0 || uid->len > NGX_MIROIR_TIES_UID_LEN) {
        return;
    }

    n = pk ? ngx_strlen(pk) : 0;

    if (n > NGX_MIROIR_TIES_UID_LEN) {
        return;
    }

    ngx_shmtx_lock(&shpool->mutex);

    m = ngx_miroir_ties_mem_find(ts, uid, 1);

    if (pk) {
        ngx_memcpy(m->pk, pk, n);
        m->pk_len = (uint16_t) n;
    }

    if (rules) {
        m->rules_len = 0;

        if (rules->len <= NGX_MIROIR_TIES_RULES_LEN) {
            ngx_memcpy(m->rules, rules->data, rules->len);
            m->rules_len = (uint16_t) rules->len;
        }
    }

    m->stamp = ++ts->ties_stamp;

    ngx_shmtx_unlock(&shpool->mutex);
}


/* What is remembered of uid: pk (NUL-terminated) and rules, or empty. */
void
ngx_miroir_ties_mem_get(ngx_http_request_t *r, ngx_miroir_cluster_conf_t *cl,
    ngx_str_t *uid, char **pk, ngx_str_t *rules)
{
    u_char                  *p;
    ngx_slab_pool_t         *shpool;
    ngx_miroir_ties_mem_t   *m;
    ngx_miroir_tasks_shm_t  *ts;

    *pk = NULL;
    rules->len = 0;
    rules->data = NULL;

    ts = ngx_miroir_tasks_shm(cl, &shpool);
    if (ts == NULL || uid->len == 0 || uid->len > NGX_MIROIR_TIES_UID_LEN) {
        return;
    }

    p = ngx_pnalloc(r->pool, NGX_MIROIR_TIES_UID_LEN + 1
                             + NGX_MIROIR_TIES_RULES_LEN);
    if (p == NULL) {
        return;
    }

    ngx_shmtx_lock(&shpool->mutex);

    m = ngx_miroir_ties_mem_find(ts, uid, 0);

    if (m && m->pk_len) {
        *ngx_cpymem(p, m->pk, m->pk_len) = '\0';
        *pk = (char *) p;
    }

    if (m && m->rules_len) {
        rules->data = p + NGX_MIROIR_TIES_UID_LEN + 1;
        rules->len = m->rules_len;
        ngx_memcpy(rules->data, m->rules, m->rules_len);
    }

    ngx_shmtx_unlock(&shpool->mutex);
}


/* Forget uid (NULL: every index, e.g. after a swap). */
void
ngx_miroir_ties_mem_forget(ngx_miroir_cluster_conf_t *cl, ngx_str_t *uid)
{
    ngx_uint_t               i;
    ngx_slab_pool_t         *shpool;
    ngx_miroir_ties_mem_t   *m;
    ngx_miroir_tasks_shm_t  *ts;

    ts = ngx_miroir_tasks_shm(cl, &shpool);
    if (ts == NULL) {
        return;
    }

    ngx_shmtx_lock(&shpool->mutex);

    if (uid == NULL) {
        for (i = 0; i < NGX_MIROIR_TIES_MEM; i++) {
            ts->ties[i].stamp = 0;
        }

    } else {
        m = ngx_miroir_ties_mem_find(ts, uid, 0);
        if (m) {
            m->stamp = 0;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);
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

    ngx_miroir_task_slot_t  *slot;

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

        if (line[p - line - 2] == '2') {
            /* deleted by DELETE /tasks */
            slot = &ts->slots[uid % NGX_MIROIR_TASKS_KEEP];

            if (slot->text && slot->uid == uid) {
                ngx_slab_free_locked(shpool, slot->text);
                slot->text = NULL;
            }

            if (uid >= ts->next_uid) {
                ts->next_uid = uid + 1;
            }

            continue;
        }

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


/*
 * Whether any copy of any shard is marked stale: one pass over the bits
 * (a few hundred words) instead of a lookup per shard and owner on every
 * read (ngx_miroir_read.c).
 */
ngx_uint_t
ngx_miroir_stale_any(ngx_miroir_cluster_conf_t *cl)
{
    size_t                   i, n;
    uint64_t                 w;
    ngx_slab_pool_t         *shpool;
    ngx_miroir_tasks_shm_t  *ts;

    ts = ngx_miroir_tasks_shm(cl, &shpool);

    if (ts == NULL || ts->stale == NULL) {
        return 0;
    }

    n = ((size_t) ts->stale_nodes * ts->stale_shards + 7) / 8;

    for (i = 0; i + 8 <= n; i += 8) {
        ngx_memcpy(&w, ts->stale + i, 8);
        if (w) {
            return 1;
        }
    }

    for ( /* void */ ; i < n; i++) {
        if (ts->stale[i]) {
            return 1;
        }
    }

    return 0;
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
    size_t      i;
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

    /* a query string's "+" is a space, as Meilisearch decodes it */

    for (i = 0; i < v.len; i++) {
        value->data[i] = (v.data[i] == '+') ? ' ' : v.data[i];
    }

    dst = value->data;
    src = value->data;
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


static ngx_int_t
ngx_miroir_tasks_bad2(ngx_http_request_t *r, const char *code,
    const char *fmt, const char *name, ngx_str_t *v)
{
    miroir_error_t  err;

    miroir_error_set(&err, NGX_HTTP_BAD_REQUEST, code, "invalid_request", fmt,
                     name, (int) ngx_min(v->len, 200), v->data);

    return ngx_miroir_send_error(r, &err);
}



static const char  *ngx_miroir_tasks_list_names[NGX_MIROIR_TF_LISTS] = {
    "uids", "batchUids", "canceledBy", "statuses", "types", "indexUids"
};

static const char  *ngx_miroir_tasks_date_names[NGX_MIROIR_TF_DATES] = {
    "beforeEnqueuedAt", "afterEnqueuedAt", "beforeStartedAt",
    "afterStartedAt", "beforeFinishedAt", "afterFinishedAt"
};

static const char  *ngx_miroir_tasks_date_codes[NGX_MIROIR_TF_DATES] = {
    "invalid_task_before_enqueued_at", "invalid_task_after_enqueued_at",
    "invalid_task_before_started_at", "invalid_task_after_started_at",
    "invalid_task_before_finished_at", "invalid_task_after_finished_at"
};

static const char  *ngx_miroir_tasks_date_fields[NGX_MIROIR_TF_DATES / 2] = {
    "enqueuedAt", "startedAt", "finishedAt"
};

static const char  *ngx_miroir_tasks_types[] = {
    "documentAdditionOrUpdate", "documentEdition", "documentDeletion",
    "settingsUpdate", "indexCreation", "indexDeletion", "indexUpdate",
    "indexSwap", "taskCancelation", "taskDeletion", "dumpCreation",
    "snapshotCreation", "export", "upgradeDatabase", "indexCompaction",
    "networkTopologyChange", NULL
};


static int64_t
ngx_miroir_tasks_days(int64_t y, int64_t m, int64_t d)
{
    int64_t  era, yoe, doy, doe;

    /* days since 1970-01-01 of a proleptic Gregorian date */

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}


static ngx_int_t
ngx_miroir_tasks_num(u_char *p, ngx_uint_t n, int64_t *v)
{
    ngx_uint_t  i;

    *v = 0;

    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return NGX_ERROR;
        }

        *v = *v * 10 + (p[i] - '0');
    }

    return NGX_OK;
}


/*
 * A date as Meilisearch takes it: YYYY-MM-DD or RFC 3339 (an offset is
 * required): seconds since the epoch and nanoseconds.  *bare tells a
 * bare date.
 */
static ngx_int_t
ngx_miroir_tasks_date(u_char *p, size_t len, int64_t *sec, int64_t *ns,
    ngx_uint_t *bare)
{
    u_char   *end;
    int64_t   y, mo, d, h, mi, s, frac, off, oh, om;
    ngx_int_t digits;

    end = p + len;
    *bare = 0;

    if (len < 10 || p[4] != '-' || p[7] != '-'
        || ngx_miroir_tasks_num(p, 4, &y) != NGX_OK
        || ngx_miroir_tasks_num(p + 5, 2, &mo) != NGX_OK
        || ngx_miroir_tasks_num(p + 8, 2, &d) != NGX_OK
        || mo < 1 || mo > 12 || d < 1 || d > 31)
    {
        return NGX_ERROR;
    }

    h = 0;
    mi = 0;
    s = 0;
    frac = 0;
    off = 0;

    if (len == 10) {
        *bare = 1;
        goto done;
    }

    p += 10;

    if (end - p < 9 || (p[0] != 'T' && p[0] != 't')
        || p[3] != ':' || p[6] != ':'
        || ngx_miroir_tasks_num(p + 1, 2, &h) != NGX_OK
        || ngx_miroir_tasks_num(p + 4, 2, &mi) != NGX_OK
        || ngx_miroir_tasks_num(p + 7, 2, &s) != NGX_OK
        || h > 23 || mi > 59 || s > 60)
    {
        return NGX_ERROR;
    }

    p += 9;

    if (p < end && *p == '.') {
        p++;
        digits = 0;

        while (p < end && *p >= '0' && *p <= '9') {
            if (digits < 9) {
                frac = frac * 10 + (*p - '0');
            }
            digits++;
            p++;
        }

        if (digits == 0) {
            return NGX_ERROR;
        }

        for ( /* void */ ; digits < 9; digits++) {
            frac *= 10;
        }
    }

    if (end - p == 1 && (*p == 'Z' || *p == 'z')) {
        goto done;
    }

    if (end - p != 6 || (p[0] != '+' && p[0] != '-') || p[3] != ':'
        || ngx_miroir_tasks_num(p + 1, 2, &oh) != NGX_OK
        || ngx_miroir_tasks_num(p + 4, 2, &om) != NGX_OK
        || oh > 23 || om > 59)
    {
        return NGX_ERROR;
    }

    off = (oh * 3600 + om * 60) * (p[0] == '+' ? 1 : -1);

done:

    *sec = ngx_miroir_tasks_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + s
           - off;
    *ns = frac;

    return NGX_OK;
}


/* Whether the comma-separated list of uints holds v ("*": everything). */
static ngx_uint_t
ngx_miroir_tasks_in_uint(ngx_str_t *list, uint64_t v)
{
    u_char     *p, *q, *end;
    uint64_t    u;
    ngx_str_t   item;

    p = list->data;
    end = p + list->len;

    while (p <= end) {
        q = ngx_strlchr(p, end, ',');
        if (q == NULL) {
            q = end;
        }

        item.data = p;
        item.len = q - p;

        while (item.len && item.data[0] == ' ') {
            item.data++;
            item.len--;
        }

        while (item.len && item.data[item.len - 1] == ' ') {
            item.len--;
        }

        if (item.len && item.data[0] == '+') {
            item.data++;
            item.len--;
        }

        if ((item.len == 1 && item.data[0] == '*')
            || (ngx_miroir_tasks_uint(&item, &u) == NGX_OK && u == v))
        {
            return 1;
        }

        p = q + 1;
    }

    return 0;
}


/*
 * Parse and validate the filters (and, for GET /tasks, limit, from and
 * reverse) as Meilisearch does.  NGX_OK, or NGX_ERROR with *rc set to
 * what the content handler returns (the error was answered).
 */
static ngx_int_t
ngx_miroir_tasks_filter(ngx_http_request_t *r, ngx_miroir_tasks_filter_t *f,
    ngx_uint_t list, ngx_int_t *rc)
{
    u_char      *p, *q, *end;
    int64_t      sec, ns;
    uint64_t     u;
    ngx_str_t    v, item;
    ngx_uint_t   i, j, k, found, bare, nlist;
    const char  *code;
    static const char  *statuses[] = {
        "enqueued", "processing", "succeeded", "failed", "canceled", NULL
    };
    static const char  *paging[] = { "limit", "from", "reverse", NULL };

    f->limit = 20;

    /* unknown parameters first, as Meilisearch does */

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

        found = 0;

        for (j = 0; list && paging[j]; j++) {
            if (v.len == ngx_strlen(paging[j])
                && ngx_strncmp(v.data, paging[j], v.len) == 0)
            {
                found = 1;
            }
        }

        for (j = 0; j < NGX_MIROIR_TF_LISTS; j++) {
            if (v.len == ngx_strlen(ngx_miroir_tasks_list_names[j])
                && ngx_strncmp(v.data, ngx_miroir_tasks_list_names[j], v.len)
                   == 0)
            {
                found = 1;
            }
        }

        for (j = 0; j < NGX_MIROIR_TF_DATES; j++) {
            if (v.len == ngx_strlen(ngx_miroir_tasks_date_names[j])
                && ngx_strncmp(v.data, ngx_miroir_tasks_date_names[j], v.len)
                   == 0)
            {
                found = 1;
            }
        }

        if (found) {
            continue;
        }

        *rc = ngx_miroir_tasks_bad(r, "bad_request", list
              ? "Unknown parameter `%.*s`: expected one of `limit`, "
                "`from`, `reverse`, `batchUids`, `uids`, `canceledBy`, "
                "`types`, `statuses`, `indexUids`, `afterEnqueuedAt`, "
                "`beforeEnqueuedAt`, `afterStartedAt`, "
                "`beforeStartedAt`, `afterFinishedAt`, "
                "`beforeFinishedAt`"
              : "Unknown parameter `%.*s`: expected one of `uids`, "
                "`batchUids`, `canceledBy`, `types`, `statuses`, "
                "`indexUids`, `afterEnqueuedAt`, `beforeEnqueuedAt`, "
                "`afterStartedAt`, `beforeStartedAt`, `afterFinishedAt`, "
                "`beforeFinishedAt`", &v);
        return NGX_ERROR;
    }

    if (list) {
        if (ngx_miroir_tasks_param(r, "limit", &v, &found) != NGX_OK) {
            goto failed;
        }

        if (found && ngx_miroir_tasks_uint(&v, &f->limit) != NGX_OK) {
            *rc = ngx_miroir_tasks_bad(r, "invalid_task_limit",
                                       "Invalid value in parameter `limit`: "
                                       "could not parse `%.*s` as a positive "
                                       "integer", &v);
            return NGX_ERROR;
        }

        if (ngx_miroir_tasks_param(r, "from", &v, &found) != NGX_OK) {
            goto failed;
        }

        if (found && ngx_miroir_tasks_uint(&v, &f->from) != NGX_OK) {
            *rc = ngx_miroir_tasks_bad(r, "invalid_task_from",
                                       "Invalid value in parameter `from`: "
                                       "could not parse `%.*s` as a positive "
                                       "integer", &v);
            return NGX_ERROR;
        }

        f->has_from = found;

        if (ngx_miroir_tasks_param(r, "reverse", &v, &found) != NGX_OK) {
            goto failed;
        }

        if (found) {
            if (v.len == 4 && ngx_strncmp(v.data, "true", 4) == 0) {
                f->reverse = 1;

            } else if (!(v.len == 5 && ngx_strncmp(v.data, "false", 5) == 0))
            {
                *rc = ngx_miroir_tasks_bad(r, "invalid_task_reverse",
                          "Invalid value in parameter `reverse`: could not "
                          "parse `%.*s` as a boolean, expected either `true` "
                          "or `false`", &v);
                return NGX_ERROR;
            }
        }
    }

    for (k = 0; k < NGX_MIROIR_TF_LISTS; k++) {
        if (ngx_miroir_tasks_param(r, ngx_miroir_tasks_list_names[k],
                                   &f->list[k], &f->has_list[k])
            != NGX_OK)
        {
            goto failed;
        }

        if (!f->has_list[k]) {
            continue;
        }

        f->any = 1;
        nlist = 0;

        p = f->list[k].data;
        end = p + f->list[k].len;

        while (p <= end) {
            q = ngx_strlchr(p, end, ',');
            if (q == NULL) {
                q = end;
            }

            item.data = p;
            item.len = q - p;
            p = q + 1;

            while (item.len && item.data[0] == ' ') {
                item.data++;
                item.len--;
            }

            while (item.len && item.data[item.len - 1] == ' ') {
                item.len--;
            }

            if (item.len == 0) {
                continue;
            }

            nlist++;

            if (item.len == 1 && item.data[0] == '*') {
                continue;
            }

            switch (k) {

            case NGX_MIROIR_TF_UIDS:
            case NGX_MIROIR_TF_BATCH_UIDS:
            case NGX_MIROIR_TF_CANCELED_BY:
                v = item;
                if (v.len && v.data[0] == '+') {
                    v.data++;
                    v.len--;
                }

                if (ngx_miroir_tasks_uint(&v, &u) == NGX_OK) {
                    break;
                }

                code = k == NGX_MIROIR_TF_UIDS ? "invalid_task_uids"
                       : k == NGX_MIROIR_TF_BATCH_UIDS ? "invalid_batch_uids"
                       : "invalid_task_canceled_by";

                *rc = ngx_miroir_tasks_bad2(r, code,
                          "Invalid value in parameter `%s`: could not parse "
                          "`%.*s` as a positive integer",
                          ngx_miroir_tasks_list_names[k], &item);
                return NGX_ERROR;

            case NGX_MIROIR_TF_STATUSES:
                for (i = 0; statuses[i]; i++) {
                    if (item.len == ngx_strlen(statuses[i])
                        && ngx_strncmp(item.data, statuses[i], item.len) == 0)
                    {
                        break;
                    }
                }

                if (statuses[i] == NULL) {
                    *rc = ngx_miroir_tasks_bad(r, "invalid_task_statuses",
                        "Invalid value in parameter `statuses`: `%.*s` is "
                        "not a valid task status. Available statuses are "
                        "`enqueued`, `processing`, `succeeded`, `failed`, "
                        "`canceled`.", &item);
                    return NGX_ERROR;
                }

                break;

            case NGX_MIROIR_TF_TYPES:
                for (i = 0; ngx_miroir_tasks_types[i]; i++) {
                    if (item.len == ngx_strlen(ngx_miroir_tasks_types[i])
                        && ngx_strncmp(item.data, ngx_miroir_tasks_types[i],
                                       item.len) == 0)
                    {
                        break;
                    }
                }

                if (ngx_miroir_tasks_types[i] == NULL) {
                    *rc = ngx_miroir_tasks_bad(r, "invalid_task_types",
                        "Invalid value in parameter `types`: `%.*s` is not a "
                        "valid task type. Available types are "
                        "`documentAdditionOrUpdate`, `documentEdition`, "
                        "`documentDeletion`, `settingsUpdate`, "
                        "`indexCreation`, `indexDeletion`, `indexUpdate`, "
                        "`indexSwap`, `taskCancelation`, `taskDeletion`, "
                        "`dumpCreation`, `snapshotCreation`, `export`, "
                        "`upgradeDatabase`, `indexCompaction`, "
                        "`networkTopologyChange`.", &item);
                    return NGX_ERROR;
                }

                break;

            default:
                break;
            }
        }

        if (nlist == 0) {
            /* an empty list: nothing to filter on */
            f->has_list[k] = 0;
        }
    }

    for (k = 0; k < NGX_MIROIR_TF_DATES; k++) {
        if (ngx_miroir_tasks_param(r, ngx_miroir_tasks_date_names[k], &v,
                                   &found)
            != NGX_OK)
        {
            goto failed;
        }

        if (!found) {
            continue;
        }

        f->any = 1;

        if (v.len == 1 && v.data[0] == '*') {
            continue;
        }

        if (ngx_miroir_tasks_date(v.data, v.len, &sec, &ns, &bare) != NGX_OK)
        {
            *rc = ngx_miroir_tasks_bad2(r, ngx_miroir_tasks_date_codes[k],
                      "Invalid value in parameter `%s`: `%.*s` is an "
                      "invalid date-time. It should follow the YYYY-MM-DD "
                      "or RFC 3339 date-time format.",
                      ngx_miroir_tasks_date_names[k], &v);
            return NGX_ERROR;
        }

        if (bare && (k % 2) == 1) {
            /* "after 2026-01-01": after the end of that day */
            sec += 86400;
        }

        f->date[k] = sec;
        f->date_ns[k] = ns;
        f->has_date[k] = 1;
    }

    return NGX_OK;

failed:

    *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
    return NGX_ERROR;
}


/* GET /tasks, GET /tasks/:uid, POST /tasks/cancel and DELETE /tasks. */
ngx_int_t
ngx_miroir_tasks_route(ngx_http_request_t *r, ngx_miroir_cluster_conf_t *cl,
    ngx_str_t *path)
{
    uint64_t                 uid;
    ngx_int_t                rc;
    ngx_str_t                v;
    ngx_uint_t               op;
    miroir_error_t           err;
    ngx_miroir_tasks_req_t  *tr;

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

    op = 0;

    if (r->method == NGX_HTTP_DELETE && path->len == 6) {
        op = NGX_MIROIR_TASKS_OP_DELETE;

    } else if (r->method == NGX_HTTP_POST && path->len == 13
               && ngx_strncmp(path->data, "/tasks/cancel", 13) == 0)
    {
        op = NGX_MIROIR_TASKS_OP_CANCEL;

    } else if (r->method != NGX_HTTP_GET) {
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
    tr->op = op;

    if (op == 0 && path->len > 7) {
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

    if (ngx_miroir_tasks_filter(r, &tr->flt, op == 0, &rc) != NGX_OK) {
        return rc;
    }

    if (op && !tr->flt.any) {
        miroir_error_set(&err, NGX_HTTP_BAD_REQUEST,
                         "missing_task_filters", "invalid_request",
                         "Query parameters to filter the tasks to %s "
                         "are missing. Available query parameters are: "
                         "`uids`, `indexUids`, `statuses`, `types`, "
                         "`canceledBy`, `beforeEnqueuedAt`, "
                         "`afterEnqueuedAt`, `beforeStartedAt`, "
                         "`afterStartedAt`, `beforeFinishedAt`, "
                         "`afterFinishedAt`.",
                         op == NGX_MIROIR_TASKS_OP_DELETE ? "delete"
                                                          : "cancel");
        return ngx_miroir_send_error(r, &err);
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


/* The node has left the topology (removed or evicted by down_after). */
static ngx_uint_t
ngx_miroir_tasks_node_gone(ngx_miroir_cluster_conf_t *cl, ngx_uint_t node)
{
    if (cl->shm == NULL || node >= cl->shm->nnodes) {
        return 1;
    }

    return cl->shm->nodes[node].state == NGX_MIROIR_NODE_REMOVED;
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


/*
 * Miroir's own parts of a task: the details of a cancelation or deletion
 * (counted in Miroir tasks, not node tasks) and the uid of the Miroir
 * task that canceled it.
 */
static void
ngx_miroir_tasks_fix(cJSON *rec, cJSON *task, ngx_uint_t done)
{
    cJSON  *op, *det, *by, *st;

    op = cJSON_GetObjectItemCaseSensitive(rec, "op");

    if (cJSON_IsObject(op)) {
        det = cJSON_CreateObject();
        cJSON_AddItemToObject(det, "matchedTasks", cJSON_Duplicate(
            cJSON_GetObjectItemCaseSensitive(op, "matchedTasks"), 1));

        if (done) {
            cJSON_AddItemToObject(det,
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(op,
                                                                      "key")),
                cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(op, "count"),
                                1));
        } else {
            cJSON_AddNullToObject(det,
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(op,
                                                                      "key")));
        }

        cJSON_AddItemToObject(det, "originalFilter", cJSON_Duplicate(
            cJSON_GetObjectItemCaseSensitive(op, "originalFilter"), 1));

        if (cJSON_GetObjectItemCaseSensitive(task, "details")) {
            cJSON_ReplaceItemInObjectCaseSensitive(task, "details", det);
        } else {
            cJSON_AddItemToObject(task, "details", det);
        }
    }

    by = cJSON_GetObjectItemCaseSensitive(rec, "canceledBy");
    st = cJSON_GetObjectItemCaseSensitive(task, "status");

    /* as in Meilisearch, a task has no batch until one starts it */

    if (cJSON_IsString(st) && ngx_strcmp(st->valuestring, "enqueued") == 0
        && cJSON_GetObjectItemCaseSensitive(task, "batchUid"))
    {
        cJSON_ReplaceItemInObjectCaseSensitive(task, "batchUid",
                                               cJSON_CreateNull());
    }

    if (cJSON_IsNumber(by) && cJSON_IsString(st)
        && ngx_strcmp(st->valuestring, "canceled") == 0)
    {
        cJSON_ReplaceItemInObjectCaseSensitive(task, "canceledBy",
                                               cJSON_Duplicate(by, 1));
    }
}


/* The final form kept in the log, with the node tasks (for DELETE /tasks). */
static ngx_int_t
ngx_miroir_tasks_print_final(ngx_http_request_t *r, cJSON *task,
    cJSON *parts, ngx_str_t *out)
{
    ngx_int_t  rc;

    if (cJSON_IsArray(parts)) {
        cJSON_AddItemToObject(task, "_parts", cJSON_Duplicate(parts, 1));
    }

    rc = ngx_miroir_json_print(r, task, out);

    cJSON_DeleteItemFromObjectCaseSensitive(task, "_parts");

    return rc;
}


static void
ngx_miroir_tasks_fetched(ngx_http_request_t *r, ngx_miroir_fanout_t *fo)
{
    char                    *out;
    cJSON                   *rec, *parts, *part, *answers[MIROIR_MAX_NODES];
    cJSON                   *task, *st;
    int64_t                  received;
    ngx_uint_t               i, j, n, node, nnodes, missing, agg, terminal;
    ngx_uint_t               waiting, unanswered;
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
        unanswered = 0;
        waiting = 0;

        cJSON_ArrayForEach(part, parts) {
            node = (ngx_uint_t) cJSON_GetArrayItem(part, 0)->valuedouble;

            task = ngx_miroir_tasks_node_task(answers, nnodes, node,
                       (uint64_t) cJSON_GetArrayItem(part, 1)->valuedouble);

            if (task == NULL || n == NGX_MIROIR_TASK_PARTS) {
                /*
                 * A node that did not answer may still run its part: the
                 * status waits for it, unless the node has left the
                 * topology (removed or evicted: it will never answer).
                 * A node that answered without the task no longer has it.
                 */
                if (task == NULL && node < nnodes && answers[node] == NULL
                    && !ngx_miroir_tasks_node_gone(tr->cl, node))
                {
                    unanswered++;
                }

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

            if (waiting || unanswered) {
                cJSON_ReplaceItemInObjectCaseSensitive(task, "status",
                    cJSON_CreateString("processing"));
                cJSON_ReplaceItemInObjectCaseSensitive(task, "finishedAt",
                                                       cJSON_CreateNull());
                cJSON_ReplaceItemInObjectCaseSensitive(task, "duration",
                                                       cJSON_CreateNull());
                cJSON_ReplaceItemInObjectCaseSensitive(task, "error",
                                                       cJSON_CreateNull());

            } else if (ts && ngx_miroir_tasks_print_final(r, task, parts, &s)
                              == NGX_OK)
            {
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
        ngx_miroir_ties_hide_task(rec, task);

        /* indexUid and type are Miroir's (a swap has no index) */

        st = cJSON_GetObjectItemCaseSensitive(task, "status");
        terminal = cJSON_IsString(st)
                   && (ngx_strcmp(st->valuestring, "succeeded") == 0
                       || ngx_strcmp(st->valuestring, "failed") == 0
                       || ngx_strcmp(st->valuestring, "canceled") == 0);

        if (terminal && (waiting || unanswered)) {
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

        ngx_miroir_tasks_fix(rec, task, terminal && missing == 0);

        tr->tasks[i] = task;

        if (terminal && missing == 0 && ts
            && ngx_miroir_tasks_print_final(r, task, parts, &s) == NGX_OK)
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
        cJSON_DeleteItemFromObjectCaseSensitive(rec, "_parts");
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

    ngx_miroir_tasks_fix(rec, task, 0);

    /* owned by the record's pool cleanup through a child item */
    cJSON_AddItemToObject(rec, "_view", task);

    tr->tasks[i] = task;

    return task;
}


static ngx_uint_t
ngx_miroir_tasks_match(ngx_http_request_t *r, cJSON *task, uint64_t uid,
    ngx_miroir_tasks_filter_t *f)
{
    int64_t      sec, ns;
    cJSON       *v;
    ngx_int_t    cmp;
    ngx_uint_t   k, bare;
    const char  *s;
    static const char  *fields[NGX_MIROIR_TF_LISTS] = {
        NULL, "batchUid", "canceledBy", "status", "type", "indexUid"
    };

    for (k = 0; k < NGX_MIROIR_TF_LISTS; k++) {
        if (!f->has_list[k]) {
            continue;
        }

        if (k == NGX_MIROIR_TF_UIDS) {
            if (!ngx_miroir_tasks_in_uint(&f->list[k], uid)) {
                return 0;
            }

            continue;
        }

        v = cJSON_GetObjectItemCaseSensitive(task, fields[k]);

        if (k <= NGX_MIROIR_TF_CANCELED_BY) {
            if (!cJSON_IsNumber(v)
                || !ngx_miroir_tasks_in_uint(&f->list[k],
                                             (uint64_t) v->valuedouble))
            {
                return 0;
            }

            continue;
        }

        if (!ngx_miroir_tasks_in(&f->list[k], cJSON_GetStringValue(v))) {
            return 0;
        }
    }

    for (k = 0; k < NGX_MIROIR_TF_DATES; k++) {
        if (!f->has_date[k]) {
            continue;
        }

        s = ngx_miroir_tasks_date_fields[k / 2];
        v = cJSON_GetObjectItemCaseSensitive(task, s);
        s = cJSON_GetStringValue(v);

        if (s == NULL
            || ngx_miroir_tasks_date((u_char *) s, ngx_strlen(s), &sec, &ns,
                                     &bare)
               != NGX_OK)
        {
            return 0;
        }

        cmp = sec < f->date[k] ? -1 : sec > f->date[k] ? 1
              : ns < f->date_ns[k] ? -1 : ns > f->date_ns[k] ? 1 : 0;

        /* bounds are exclusive */

        if ((k % 2 == 0 && cmp >= 0) || (k % 2 == 1 && cmp <= 0)) {
            return 0;
        }
    }

    return 1;
}


static void
ngx_miroir_tasks_answer(ngx_http_request_t *r, ngx_miroir_tasks_req_t *tr)
{
    cJSON                      *task, *list, *results;
    uint64_t                    next, total, first;
    ngx_str_t                   out;
    ngx_uint_t                  k, i, has_next, has_first;
    ngx_miroir_tasks_filter_t  *f;

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

    if (tr->op) {
        ngx_miroir_tasks_op(r, tr);
        return;
    }

    f = &tr->flt;

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

    /* the records are newest first; reverse=true walks them backwards */

    for (k = 0; k < tr->n; k++) {
        i = f->reverse ? tr->n - 1 - k : k;

        task = ngx_miroir_tasks_view(r, tr, i);
        if (task == NULL) {
            continue;
        }

        if (!ngx_miroir_tasks_match(r, task, tr->uids[i], f)) {
            continue;
        }

        total++;

        if (f->has_from
            && (f->reverse ? tr->uids[i] < f->from : tr->uids[i] > f->from))
        {
            continue;
        }

        if ((uint64_t) cJSON_GetArraySize(results) < f->limit) {
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
    cJSON_AddNumberToObject(list, "limit", (double) f->limit);

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


/* The node task uids of record i: its parts (kept in the final form). */
static cJSON *
ngx_miroir_tasks_parts(ngx_http_request_t *r, ngx_miroir_tasks_req_t *tr,
    ngx_uint_t i)
{
    cJSON  *rec;

    rec = ngx_miroir_json_parse(r, tr->texts[i], ngx_strlen(tr->texts[i]));
    if (rec == NULL) {
        return NULL;
    }

    return cJSON_GetObjectItemCaseSensitive(rec,
                                            tr->final[i] ? "_parts" : "parts");
}


/*
 * POST /tasks/cancel and DELETE /tasks, once every record is known:
 * select the Miroir tasks, then cancel or delete their node tasks with
 * one request per node.
 */
static void
ngx_miroir_tasks_op(ngx_http_request_t *r, ngx_miroir_tasks_req_t *tr)
{
    u_char               *p;
    cJSON                *task, *parts, *part;
    uint64_t             *u;
    ngx_str_t             args;
    ngx_uint_t            i, j, node, nnodes, sel;
    const char           *st;
    ngx_array_t           lists[MIROIR_MAX_NODES];
    ngx_miroir_call_t    *call;
    ngx_miroir_fanout_t  *fo;
    static ngx_str_t      cancel_uri = ngx_string("/tasks/cancel");

    nnodes = tr->cl->nodes.nelts;

    tr->sel = ngx_palloc(r->pool, (tr->n + 1) * sizeof(ngx_uint_t));
    if (tr->sel == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    for (node = 0; node < nnodes; node++) {
        if (ngx_array_init(&lists[node], r->pool, 16, sizeof(uint64_t))
            != NGX_OK)
        {
            ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    for (i = 0; i < tr->n; i++) {
        task = ngx_miroir_tasks_view(r, tr, i);

        if (task == NULL || !ngx_miroir_tasks_match(r, task, tr->uids[i],
                                                    &tr->flt))
        {
            continue;
        }

        tr->matched++;

        st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task,
                                                                   "status"));
        if (st == NULL) {
            continue;
        }

        /* Meilisearch cancels unfinished tasks and deletes finished ones */

        sel = (ngx_strcmp(st, "enqueued") == 0
               || ngx_strcmp(st, "processing") == 0);

        if (tr->op == NGX_MIROIR_TASKS_OP_DELETE) {
            sel = !sel;
        }

        if (!sel) {
            continue;
        }

        tr->sel[tr->nsel++] = i;

        parts = ngx_miroir_tasks_parts(r, tr, i);

        cJSON_ArrayForEach(part, parts) {
            node = (ngx_uint_t) cJSON_GetArrayItem(part, 0)->valuedouble;

            if (node >= nnodes) {
                continue;
            }

            u = ngx_array_push(&lists[node]);
            if (u == NULL) {
                ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }

            *u = (uint64_t) cJSON_GetArrayItem(part, 1)->valuedouble;
        }
    }

    fo = NULL;

    for (node = 0; node < nnodes; node++) {
        if (lists[node].nelts == 0) {
            continue;
        }

        if (fo == NULL) {
            fo = ngx_miroir_fanout_create(r, tr->cl, nnodes);
            if (fo == NULL) {
                ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }
        }

        args.data = ngx_pnalloc(r->pool, 16 + 21 * lists[node].nelts);
        if (args.data == NULL) {
            ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        p = ngx_cpymem(args.data, "uids=", 5);
        u = lists[node].elts;

        for (j = 0; j < lists[node].nelts; j++) {
            p = ngx_sprintf(p, "%s%uL", j ? "," : "", u[j]);
        }

        args.len = p - args.data;

        call = ngx_miroir_fanout_add(fo, node,
                   tr->op == NGX_MIROIR_TASKS_OP_CANCEL ? NGX_HTTP_POST
                                                        : NGX_HTTP_DELETE,
                   tr->op == NGX_MIROIR_TASKS_OP_CANCEL
                   ? &cancel_uri : &ngx_miroir_tasks_uri, &args);
        if (call == NULL) {
            ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    if (fo == NULL) {
        ngx_miroir_tasks_op_done(r, tr, NULL);
        return;
    }

    if (ngx_miroir_fanout_start(fo, ngx_miroir_tasks_op_fetched, tr)
        != NGX_OK)
    {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static void
ngx_miroir_tasks_op_fetched(ngx_http_request_t *r, ngx_miroir_fanout_t *fo)
{
    ngx_miroir_tasks_op_done(r, fo->data, fo);
}


/*
 * The nodes took the cancelation or deletion (or there was nothing to
 * send): record the Miroir task, mark or drop the selected records,
 * answer 202.
 */
static void
ngx_miroir_tasks_op_done(ngx_http_request_t *r, ngx_miroir_tasks_req_t *tr,
    ngx_miroir_fanout_t *fo)
{
    u_char                  *p;
    u_char                   now[40];
    char                    *text;
    cJSON                   *rec, *parts, *part, *ans, *tu, *det, *old;
    uint64_t                 uid;
    ngx_str_t                s, filter;
    ngx_uint_t               i, nparts, cancel;
    const char              *type, *key;
    ngx_slab_pool_t         *shpool;
    ngx_miroir_call_t       *call;
    ngx_miroir_task_slot_t  *slot;
    ngx_miroir_tasks_shm_t  *ts;

    ts = ngx_miroir_tasks_shm(tr->cl, &shpool);
    if (ts == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    cancel = (tr->op == NGX_MIROIR_TASKS_OP_CANCEL);
    type = cancel ? "taskCancelation" : "taskDeletion";
    key = cancel ? "canceledTasks" : "deletedTasks";

    ngx_miroir_tasks_time(now);

    /* originalFilter: the query string as the client sent it */

    filter.len = r->args.len + 1;
    filter.data = ngx_pnalloc(r->pool, filter.len + 1);
    if (filter.data == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    filter.data[0] = '?';
    ngx_memcpy(filter.data + 1, r->args.data, r->args.len);
    filter.data[filter.len] = '\0';

    rec = cJSON_CreateObject();
    if (rec == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    parts = cJSON_CreateArray();
    nparts = 0;

    for (i = 0; fo && i < fo->calls.nelts; i++) {
        call = fo->calls.elts;
        call = &call[i];

        if (!call->ok || (call->status != NGX_HTTP_OK
                          && call->status != NGX_HTTP_ACCEPTED))
        {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "miroir: node %ui did not take the task %s "
                          "(status %ui)", call->node,
                          cancel ? "cancelation" : "deletion", call->status);
            continue;
        }

        ans = ngx_miroir_json_parse(r, call->response.data,
                                    call->response.len);
        tu = ans ? cJSON_GetObjectItemCaseSensitive(ans, "taskUid") : NULL;

        if (!cJSON_IsNumber(tu)) {
            continue;
        }

        part = cJSON_CreateArray();
        cJSON_AddItemToArray(part, cJSON_CreateNumber((double) call->node));
        cJSON_AddItemToArray(part, cJSON_CreateNumber(tu->valuedouble));
        cJSON_AddItemToArray(part, cJSON_CreateNumber(0));
        cJSON_AddItemToArray(part, cJSON_CreateNumber(0));
        cJSON_AddItemToArray(parts, part);
        nparts++;
    }

    ngx_shmtx_lock(&shpool->mutex);

    uid = ts->next_uid;

    cJSON_AddNumberToObject(rec, "uid", (double) uid);

    if (nparts) {
        cJSON_AddNullToObject(rec, "indexUid");
        cJSON_AddStringToObject(rec, "type", type);
        cJSON_AddStringToObject(rec, "enqueuedAt", (char *) now);
        cJSON_AddNumberToObject(rec, "agg", NGX_MIROIR_AGG_PLAIN);
        cJSON_AddNumberToObject(rec, "received", -1);
        det = cJSON_AddObjectToObject(rec, "op");
        cJSON_AddNumberToObject(det, "matchedTasks", (double) tr->matched);
        cJSON_AddStringToObject(det, "key", key);
        cJSON_AddNumberToObject(det, "count", (double) tr->nsel);
        cJSON_AddStringToObject(det, "originalFilter", (char *) filter.data);
        cJSON_AddItemToObject(rec, "parts", parts);

    } else {
        /* no node task involved: done at once */

        cJSON_Delete(parts);
        cJSON_AddNumberToObject(rec, "batchUid", (double) uid);
        cJSON_AddNullToObject(rec, "indexUid");
        cJSON_AddStringToObject(rec, "status", "succeeded");
        cJSON_AddStringToObject(rec, "type", type);
        cJSON_AddNullToObject(rec, "canceledBy");
        det = cJSON_AddObjectToObject(rec, "details");
        cJSON_AddNumberToObject(det, "matchedTasks", (double) tr->matched);
        cJSON_AddNumberToObject(det, key, (double) tr->nsel);
        cJSON_AddStringToObject(det, "originalFilter", (char *) filter.data);
        cJSON_AddNullToObject(rec, "error");
        cJSON_AddStringToObject(rec, "duration", "PT0S");
        cJSON_AddStringToObject(rec, "enqueuedAt", (char *) now);
        cJSON_AddStringToObject(rec, "startedAt", (char *) now);
        cJSON_AddStringToObject(rec, "finishedAt", (char *) now);
    }

    text = cJSON_PrintUnformatted(rec);
    cJSON_Delete(rec);

    if (text == NULL
        || ngx_miroir_tasks_store_locked(tr->cl, shpool, ts, uid,
                                         (u_char *) text, ngx_strlen(text),
                                         nparts == 0, 1, r->connection->log)
           == NGX_ERROR)
    {
        ts->next_uid = uid + 1;
    }

    free(text);

    /* mark (canceledBy) or drop the selected records */

    for (i = 0; i < tr->nsel; i++) {
        slot = &ts->slots[tr->uids[tr->sel[i]] % NGX_MIROIR_TASKS_KEEP];

        if (slot->text == NULL || slot->uid != tr->uids[tr->sel[i]]) {
            continue;
        }

        if (!cancel) {
            ngx_slab_free_locked(shpool, slot->text);
            slot->text = NULL;
            ngx_miroir_tasks_append(tr->cl, ts, slot->uid, (u_char *) "{}",
                                    2, 2, r->connection->log);
            continue;
        }

        old = cJSON_Parse((char *) slot->text);
        if (old == NULL) {
            continue;
        }

        cJSON_DeleteItemFromObjectCaseSensitive(old, "canceledBy");
        cJSON_AddNumberToObject(old, "canceledBy", (double) uid);

        text = cJSON_PrintUnformatted(old);
        cJSON_Delete(old);

        if (text) {
            (void) ngx_miroir_tasks_store_locked(tr->cl, shpool, ts,
                                                 slot->uid, (u_char *) text,
                                                 ngx_strlen(text),
                                                 slot->final, 1,
                                                 r->connection->log);
            free(text);
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    s.data = ngx_pnalloc(r->pool, 256);
    if (s.data == NULL) {
        ngx_miroir_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_snprintf(s.data, 256, "{\"taskUid\":%uL,\"indexUid\":null,"
                     "\"status\":\"enqueued\",\"type\":\"%s\","
                     "\"enqueuedAt\":\"%s\"}", uid, type, now);

    s.len = p - s.data;

    ngx_miroir_finish(r, ngx_miroir_send_json(r, NGX_HTTP_ACCEPTED, s.data,
                                              s.len));
}
