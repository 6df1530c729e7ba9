/*
 * ngx_miroir_write.h -- declarations shared by the write path files
 * (ngx_miroir_write*.c) and the task log (ngx_miroir_tasks.c).
 */

#ifndef NGX_MIROIR_WRITE_H
#define NGX_MIROIR_WRITE_H

#include "ngx_miroir.h"
#include "miroir_task.h"
#include "miroir_split.h"


/* how many Miroir tasks the log keeps (memory and state file) */
#define NGX_MIROIR_TASKS_KEEP     10000

/* the node tasks of one Miroir task */
#define NGX_MIROIR_TASK_PARTS     MIROIR_MAX_NODES


/* How a write's node tasks are combined (counter modes, see miroir_task.h) */
typedef enum {
    NGX_MIROIR_AGG_PLAIN = 0,       /* index and settings operations */
    NGX_MIROIR_AGG_DOCS,            /* received FIXED, indexed PRIMARY */
    NGX_MIROIR_AGG_DIV_RF           /* deletions: copies counted rf times */
} ngx_miroir_agg_e;


typedef struct {
    uint16_t                        node;
    uint64_t                        task;        /* the node's task uid */
    int64_t                         primary;     /* see MIROIR_TASK_PRIMARY */
    ngx_uint_t                      wait;        /* only waited for */
} ngx_miroir_task_part_t;


typedef struct ngx_miroir_write_s  ngx_miroir_write_t;

typedef void (*ngx_miroir_write_pt)(ngx_http_request_t *r,
    ngx_miroir_write_t *w);

/* A write's state across its fan-outs. */
struct ngx_miroir_write_s {
    ngx_miroir_cluster_conf_t      *cl;
    ngx_str_t                       index;       /* decoded index uid */
    ngx_str_t                       index_esc;   /* as in the uri */
    ngx_uint_t                      method;
    ngx_str_t                       uri;
    ngx_str_t                       args;
    ngx_str_t                       content_type;
    ngx_chain_t                    *body;
    off_t                           body_len;

    ngx_uint_t                      agg;         /* ngx_miroir_agg_e */
    int64_t                         received;    /* AGG_DOCS */
    ngx_uint_t                      ensure_filter:1;
    ngx_uint_t                      reset_filter:1;
    ngx_uint_t                      settings:1;
    ngx_str_t                       sub;         /* settings sub-route */
    ngx_miroir_write_pt             next;        /* after the probe */

    /* from the first fan-out: GET /indexes/<uid> on every node */
    uint8_t                         exists[MIROIR_MAX_NODES];
    uint8_t                         reached[MIROIR_MAX_NODES];
    u_char                         *pk;          /* the index's primary key */
    size_t                          pk_len;

    /* documents: the request's parameters and the split parts */
    void                           *docs;        /* ngx_miroir_docs_t */
    miroir_split_result_t          *split;
    uint8_t                         aux[MIROIR_MAX_NODES];

    /* the answer, once the main fan-out accepted */
    ngx_str_t                       answer;
    ngx_miroir_task_part_t         *parts;
    ngx_uint_t                      nparts;
    const char                     *tname;
    ngx_str_t                       tindex;
    miroir_error_t                 *failed;      /* Miroir failed it */
    u_char                          enqueued_at[40];

    /* stable_ties (ngx_miroir_ties.c) */
    char                           *ties;        /* the hidden rule sent */
    char                           *ties_pk;
    ngx_str_t                       ties_rules;  /* after step: the rules */
    ngx_str_t                       ties_uri;
    ngx_str_t                       ties_full;   /* + filterable fields */
    ngx_str_t                       ties_only;
    ngx_int_t                       ties_node;   /* where to read them */
    ngx_uint_t                      ties_all:1;  /* to every live node */
    ngx_uint_t                      ties_fetch:1;
    ngx_miroir_fanout_done_pt       ties_done;
    ngx_str_t                       ties_keep;   /* rules to remember */
    ngx_uint_t                      ties_keep_set:1;
    uint8_t                         live[MIROIR_MAX_NODES];

    /* counted in the zone's write buckets (ngx_miroir_write_begin()) */
    uint8_t                        *wbuckets;    /* touched buckets */
    ngx_uint_t                      wall:1;      /* every bucket */
    ngx_uint_t                      wbegun:1;
    ngx_uint_t                      wended:1;
    ngx_uint_t                      doc_delete:1; /* delete by filter/all */
};


/* ngx_miroir_write.c */
ngx_int_t ngx_miroir_write_route(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_str_t *path);
ngx_int_t ngx_miroir_write_start(ngx_http_request_t *r,
    ngx_miroir_write_t *w, ngx_uint_t in_body);
void ngx_miroir_write_main(ngx_http_request_t *r, ngx_miroir_write_t *w);
ngx_int_t ngx_miroir_write_chain(ngx_http_request_t *r, u_char *data,
    size_t len, ngx_chain_t **out);
void ngx_miroir_write_accepted(ngx_http_request_t *r, ngx_miroir_fanout_t *fo);
ngx_int_t ngx_miroir_write_after(ngx_http_request_t *r, ngx_miroir_write_t *w,
    ngx_miroir_fanout_done_pt done);
void ngx_miroir_write_answer(ngx_http_request_t *r, ngx_miroir_write_t *w);
void ngx_miroir_write_after_done(ngx_http_request_t *r,
    ngx_miroir_fanout_t *fo);
void ngx_miroir_write_sanitize(char *msg);
void ngx_miroir_write_pass(ngx_http_request_t *r, ngx_miroir_call_t *call);
ngx_int_t ngx_miroir_write_quorum(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, uint8_t *failed, uint8_t *touched,
    miroir_error_t *err);
ngx_str_t *ngx_miroir_write_filter_list(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl);

/*
 * Writes in flight per shard bucket (ngx_miroir_write_count_t): touch()
 * records a shard the write may change, begin() counts the write as
 * started in the touched buckets (all: every bucket) before any node gets
 * it, end() counts it as done once the main fan-out is over (also called
 * by a pool cleanup, so a failed or aborted write is counted too).
 */
ngx_int_t ngx_miroir_write_touch(ngx_http_request_t *r,
    ngx_miroir_write_t *w, ngx_uint_t shard);
ngx_int_t ngx_miroir_write_touch_parts(ngx_http_request_t *r,
    ngx_miroir_write_t *w, miroir_split_result_t *res);
ngx_int_t ngx_miroir_write_begin(ngx_http_request_t *r,
    ngx_miroir_write_t *w, ngx_uint_t all);
void ngx_miroir_write_end(ngx_miroir_write_t *w);

/* ngx_miroir_write_docs.c */
void ngx_miroir_write_docs_body(ngx_http_request_t *r, ngx_str_t *body);
void ngx_miroir_write_docs_send(ngx_http_request_t *r,
    ngx_miroir_write_t *w);
ngx_int_t ngx_miroir_write_delete_one(ngx_http_request_t *r,
    ngx_miroir_write_t *w, ngx_str_t *id);
void ngx_miroir_write_delete_batch_body(ngx_http_request_t *r,
    ngx_str_t *body);
ngx_int_t ngx_miroir_write_payload_limit(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, off_t len);
ngx_int_t ngx_miroir_write_too_large(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl);
ngx_uint_t ngx_miroir_write_moving(ngx_miroir_cluster_conf_t *cl);
ngx_uint_t ngx_miroir_write_lacks_index(ngx_miroir_write_t *w,
    ngx_uint_t node);

/* ngx_miroir_write_read.c: index and settings reads */
ngx_int_t ngx_miroir_write_index_get(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_str_t *index);
ngx_int_t ngx_miroir_write_index_list(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl);
ngx_int_t ngx_miroir_write_settings_get(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_str_t *uri, ngx_str_t *sub);
void ngx_miroir_write_strip_json(cJSON *json);

/* ngx_miroir_tasks.c */
ngx_int_t ngx_miroir_tasks_route(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_str_t *path);
ngx_int_t ngx_miroir_tasks_add(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_str_t *index, const char *type,
    ngx_uint_t agg, int64_t received, ngx_miroir_task_part_t *parts,
    ngx_uint_t nparts, miroir_error_t *failed, u_char *enqueued_at,
    const char *ties, ngx_str_t *answer);
void ngx_miroir_tasks_time(u_char *buf);
void ngx_miroir_stale_mark(ngx_miroir_cluster_conf_t *cl, ngx_uint_t shard,
    ngx_uint_t node, ngx_log_t *log);
ngx_int_t ngx_miroir_stale_save(ngx_miroir_cluster_conf_t *cl,
    ngx_log_t *log);
ngx_int_t ngx_miroir_tasks_init_module(ngx_cycle_t *cycle);

/* ngx_miroir_ties.c: stable_ties on the write path */
ngx_int_t ngx_miroir_ties_write(ngx_http_request_t *r, ngx_miroir_write_t *w);
void ngx_miroir_ties_accepted(ngx_http_request_t *r, ngx_miroir_write_t *w,
    uint8_t *failed, uint8_t *sent);
ngx_int_t ngx_miroir_ties_fetch(ngx_http_request_t *r, ngx_miroir_write_t *w,
    ngx_miroir_fanout_done_pt done);
ngx_int_t ngx_miroir_ties_after_add(ngx_http_request_t *r,
    ngx_miroir_write_t *w, ngx_uint_t i, ngx_str_t *list,
    ngx_miroir_fanout_t **after);
void ngx_miroir_ties_hide_settings(ngx_miroir_cluster_conf_t *cl, cJSON *json,
    ngx_str_t *index);
void ngx_miroir_ties_hide_task(cJSON *rec, cJSON *task);
void ngx_miroir_ties_mem_put(ngx_miroir_cluster_conf_t *cl, ngx_str_t *uid,
    const char *pk, ngx_str_t *rules);
void ngx_miroir_ties_mem_get(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_str_t *uid, char **pk,
    ngx_str_t *rules);
void ngx_miroir_ties_mem_forget(ngx_miroir_cluster_conf_t *cl,
    ngx_str_t *uid);


#endif /* NGX_MIROIR_WRITE_H */
