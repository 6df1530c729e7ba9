/*
 * ngx_miroir_read.h -- the read path: read plans over the nodes, failover
 * rounds, and the routes that use them (search, documents, stats).
 */

#ifndef NGX_MIROIR_READ_H
#define NGX_MIROIR_READ_H

#include "ngx_miroir.h"

#include "miroir_filter.h"
#include "miroir_facets.h"
#include "miroir_merge.h"


/* at most this many rounds of failover per request */
#define NGX_MIROIR_READ_MAX_ROUNDS  4


typedef struct ngx_miroir_read_s  ngx_miroir_read_t;

/*
 * Prepare call (uri, args, body) for one node.  restr is the restriction
 * (a filter expression) the node must AND to the user's filter, or NULL
 * when the node answers for every document.
 */
typedef ngx_int_t (*ngx_miroir_read_build_pt)(ngx_miroir_read_t *rd,
    ngx_miroir_call_t *call, const char *restr);

/* Called once at the end: rd->error, rd->answers, rd->missing are set. */
typedef void (*ngx_miroir_read_done_pt)(ngx_miroir_read_t *rd);


/* A successful node answer (status 200). */
typedef struct {
    ngx_uint_t                      node;
    ngx_uint_t                      round;
    ngx_str_t                       body;
} ngx_miroir_read_answer_t;


struct ngx_miroir_read_s {
    ngx_http_request_t             *request;
    ngx_miroir_cluster_conf_t      *cl;
    ngx_str_t                       uid;        /* index uid (decoded) */
    ngx_uint_t                      method;
    ngx_str_t                       uri;        /* path sent to the nodes */
    ngx_miroir_read_build_pt        build;
    ngx_miroir_read_done_pt         done;
    void                           *data;

    /* an extra GET sent with the first round to one live node */
    ngx_str_t                       extra_uri;
    ngx_int_t                       extra_status;
    ngx_str_t                       extra_body;

    /* stable_ties: GET /indexes/<uid> with it (the primary key) */
    ngx_str_t                       pk_uri;
    ngx_int_t                       pk_call;    /* index, or -1 */
    ngx_int_t                       pk_status;
    ngx_str_t                       pk_body;

    ngx_msec_t                      start;
    ngx_uint_t                      round;
    ngx_uint_t                      in_body;    /* started by a body handler */

    uint8_t                         down[MIROIR_MAX_NODES];
    char                           *answered[MIROIR_MAX_NODES];
    char                          **restr;      /* per call of this round */
    ngx_int_t                       extra_call; /* index, or -1 */

    ngx_array_t                     answers;    /* ngx_miroir_read_answer_t */
    ngx_miroir_call_t              *error;      /* first client error */

    uint32_t                       *missing;
    ngx_uint_t                      nmissing;

    /* hedging (round 0): one slow node's shards also asked elsewhere */
    ngx_event_t                     hedge;
    ngx_miroir_fanout_t            *fanout;
    ngx_int_t                       hedged;     /* node, or -1 */
    ngx_uint_t                      hedge_first;    /* first hedge call */
    ngx_uint_t                      ncalls;     /* round calls, no extra */

    /*
     * Shards read by name for the whole request (see
     * ngx_miroir_read_named_init()): being migrated, or with a stale copy.
     */
    uint8_t                        *named;      /* nshards flags, or NULL */
    uint16_t                       *named_src;  /* preferred source */
    char                           *named_not;  /* NOT _miroir_shard IN */
    ngx_uint_t                      nnamed;
    miroir_route_table_t           *rt;         /* pinned while named */

    unsigned                        whole:1;    /* one node, no filter */
    unsigned                        named_init:1;
    unsigned                        sent:1;     /* the 503 was sent */
};


/* ngx_miroir_read.c */
ngx_miroir_read_t *ngx_miroir_read_create(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl);
ngx_int_t ngx_miroir_read_start(ngx_miroir_read_t *rd);
ngx_int_t ngx_miroir_read_set_body(ngx_http_request_t *r,
    ngx_miroir_call_t *call, u_char *data, size_t len);
ngx_int_t ngx_miroir_read_forward_error(ngx_miroir_read_t *rd);
ngx_int_t ngx_miroir_read_missing(ngx_miroir_read_t *rd);
ngx_int_t ngx_miroir_read_index_uri(ngx_http_request_t *r, ngx_str_t *uid,
    const char *suffix, ngx_str_t *out);
ngx_int_t ngx_miroir_read_args_get(ngx_str_t *args, const char *name,
    ngx_str_t *raw, ngx_str_t *value, ngx_pool_t *pool);
ngx_int_t ngx_miroir_read_parse_uint(ngx_str_t *v, uint64_t *out);
char *ngx_miroir_read_request_uid(ngx_http_request_t *r);
ngx_int_t ngx_miroir_read_escape_arg(ngx_http_request_t *r, u_char *p,
    size_t len, ngx_str_t *out);



/* index settings the merger needs, cached per worker */
typedef struct {
    uint64_t                        max_total_hits;
    uint32_t                        max_values;
    miroir_facet_rule_t            *rules;
    size_t                          nrules;
    char                           *primary_key;
    char                           *distinct_attr;  /* distinctAttribute */
    char                           *ties;   /* stable_ties: hidden rule */
} ngx_miroir_index_settings_t;

ngx_miroir_index_settings_t *ngx_miroir_read_settings_get(
    ngx_miroir_cluster_conf_t *cl, ngx_str_t *uid);
void ngx_miroir_read_settings_put(ngx_miroir_cluster_conf_t *cl,
    ngx_str_t *uid, ngx_str_t *json, ngx_log_t *log);
void ngx_miroir_read_settings_default(ngx_miroir_index_settings_t *s);

/* ngx_miroir_ties.c: stable_ties on the read path */
void ngx_miroir_ties_read_settings(ngx_miroir_cluster_conf_t *cl,
    ngx_str_t *uid, ngx_str_t *settings, ngx_str_t *index);
void ngx_miroir_ties_hide_details(ngx_miroir_index_settings_t *s, char *out,
    size_t *len);


/* one search-like request (search, documents, facet search, one query
   of a multi-search) as Miroir rewrites it for the nodes */
typedef struct {
    ngx_miroir_read_t              *rd;
    ngx_uint_t                      get;

    /* POST: the body without "filter", and the user's filter as JSON */
    ngx_str_t                       rest;       /* after the opening '{' */
    char                           *user;       /* NULL: no filter */
    ngx_uint_t                      keep_filter;
    ngx_str_t                       raw;        /* the whole body */
    ngx_uint_t                      docs;       /* documents, not search */
    ngx_uint_t                      facet;      /* facet search */
    ngx_uint_t                      fed;        /* federated query */
    ngx_uint_t                      doc_sort;   /* fetch with sort */
    ngx_str_t                       uid;        /* the query's index */
    double                          weight;     /* federationOptions */
    char                           *facet_name;

    /* GET: the arguments Miroir does not change, and the paging */
    ngx_str_t                       args;
    ngx_str_t                       paging;

    /* the search's distinct attribute: asked (`distinct`) or NULL */
    char                           *distinct;
    ngx_uint_t                      retrieve_all;   /* nodes return it */
    const char                     *strip[1];

    miroir_merge_params_t           params;
    ngx_miroir_index_settings_t    *settings;
    ngx_miroir_index_settings_t     defaults;
} ngx_miroir_search_t;


/* ngx_miroir_read_search.c */
const char *ngx_miroir_search_distinct_attr(ngx_miroir_search_t *sc);
ngx_int_t ngx_miroir_search_prepare(ngx_miroir_search_t *sc, cJSON *root,
    miroir_error_t *err);
ngx_int_t ngx_miroir_search_text(ngx_miroir_search_t *sc, const char *restr,
    ngx_str_t *out);
ngx_int_t ngx_miroir_read_search(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_str_t *uid);

ngx_int_t ngx_miroir_read_facet_search(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_str_t *uid);

/* ngx_miroir_read_multi.c */
ngx_int_t ngx_miroir_read_multi(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl);

/* ngx_miroir_read_probe.c */
ngx_int_t ngx_miroir_read_init_process(ngx_cycle_t *cycle);
void ngx_miroir_read_probe_arm(ngx_cycle_t *cycle);

/* ngx_miroir_read_docs.c */
ngx_int_t ngx_miroir_read_documents(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_str_t *uid, ngx_uint_t fetch);
ngx_int_t ngx_miroir_read_document(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_str_t *uid, ngx_str_t *id);

/* ngx_miroir_read_stats.c */
ngx_int_t ngx_miroir_read_stats(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, ngx_str_t *uid);


#endif /* NGX_MIROIR_READ_H */
