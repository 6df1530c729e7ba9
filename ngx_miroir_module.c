/*
 * ngx_miroir_module.c -- directives, configuration and module context of
 * Miroir, a RAID-like layer for Meilisearch.
 *
 *   miroir_zone    name size;
 *   miroir_state   path;
 *   miroir_cluster name { shards N; replication R; master_key K;
 *                         node ID ADDR [weight=W] [key=K]; ... }
 *   miroir         cluster;        (location: the Meilisearch API)
 *   miroir_admin   cluster;        (location: the /_miroir/ admin API)
 */

#include "ngx_miroir.h"
#include "ngx_miroir_read.h"
#include "ngx_miroir_rebalance.h"
#include "miroir_conf_value.h"


/* miroir_conf_quorum() answers the NGX_MIROIR_QUORUM_* values */
_Static_assert(NGX_MIROIR_QUORUM_ALL == 0 && NGX_MIROIR_QUORUM_MAJORITY == 1
               && NGX_MIROIR_QUORUM_ONE == 2,
               "miroir_conf_quorum() and NGX_MIROIR_QUORUM_* differ");


static ngx_int_t ngx_miroir_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_miroir_init_process(ngx_cycle_t *cycle);
static void *ngx_miroir_create_main_conf(ngx_conf_t *cf);
static char *ngx_miroir_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_miroir_create_loc_conf(ngx_conf_t *cf);
static char *ngx_miroir_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);

static char *ngx_miroir_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_miroir_cluster(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_miroir_cluster_line(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf);
static char *ngx_miroir_cluster_node(ngx_conf_t *cf,
    ngx_miroir_cluster_conf_t *cl);
static char *ngx_miroir_cluster_check(ngx_conf_t *cf,
    ngx_miroir_cluster_conf_t *cl);
static char *ngx_miroir_location(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_command_t  ngx_miroir_commands[] = {

    { ngx_string("miroir_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_miroir_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("miroir_state"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_miroir_main_conf_t, state_path),
      NULL },

    { ngx_string("miroir_cluster"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_TAKE1,
      ngx_miroir_cluster,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("miroir"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_miroir_location,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_MIROIR_ROLE_API,
      NULL },

    { ngx_string("miroir_admin"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_miroir_location,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_MIROIR_ROLE_ADMIN,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_miroir_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_miroir_postconfiguration,          /* postconfiguration */

    ngx_miroir_create_main_conf,           /* create main configuration */
    ngx_miroir_init_main_conf,             /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_miroir_create_loc_conf,            /* create location configuration */
    ngx_miroir_merge_loc_conf              /* merge location configuration */
};


ngx_module_t  ngx_http_miroir_module = {
    NGX_MODULE_V1,
    &ngx_miroir_module_ctx,                /* module context */
    ngx_miroir_commands,                   /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_miroir_tasks_init_module,          /* init module */
    ngx_miroir_init_process,               /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * Workers start the health probe of down nodes (one worker does it); the
 * call is also made in the cache manager process, where it does nothing.
 */
static ngx_int_t
ngx_miroir_init_process(ngx_cycle_t *cycle)
{
    return ngx_miroir_read_init_process(cycle);
}


/* Count every request of a miroir location once it is logged. */
static ngx_int_t
ngx_miroir_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_miroir_main_conf_t     *mmcf;
    ngx_http_core_main_conf_t  *cmcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_miroir_module);

    if (mmcf->clusters.nelts == 0) {
        return NGX_OK;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_miroir_metrics_log_handler;

    return NGX_OK;
}


static void *
ngx_miroir_create_main_conf(ngx_conf_t *cf)
{
    ngx_miroir_main_conf_t  *mmcf;

    mmcf = ngx_pcalloc(cf->pool, sizeof(ngx_miroir_main_conf_t));
    if (mmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mmcf->zone = NULL;
     *     mmcf->zone_name = { 0, NULL };
     *     mmcf->state_path = { 0, NULL };
     *     mmcf->shm = NULL;
     */

    if (ngx_array_init(&mmcf->clusters, cf->pool, 2,
                       sizeof(ngx_miroir_cluster_conf_t))
        != NGX_OK)
    {
        return NULL;
    }

    mmcf->zone_size = NGX_CONF_UNSET;

    return mmcf;
}


/* The zone must hold the header and every cluster, with slab overhead. */
static size_t
ngx_miroir_zone_needed(ngx_miroir_main_conf_t *mmcf)
{
    return 8 * ngx_pagesize
           + sizeof(ngx_miroir_shm_t)
           + mmcf->clusters.nelts * (sizeof(ngx_miroir_shm_cluster_t)
                                     + sizeof(void *) + ngx_pagesize);
}


static char *
ngx_miroir_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_miroir_main_conf_t  *mmcf = conf;

    size_t  needed;

    if (mmcf->clusters.nelts == 0) {
        return NGX_CONF_OK;
    }

    if (mmcf->zone == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"miroir_cluster\" requires a \"miroir_zone\" "
                           "directive in the http block");
        return NGX_CONF_ERROR;
    }

    needed = ngx_miroir_zone_needed(mmcf);

    if ((size_t) mmcf->zone_size < needed) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "miroir_zone \"%V\" is too small: %uz bytes "
                           "given, at least %uz needed for %ui cluster(s)",
                           &mmcf->zone_name, (size_t) mmcf->zone_size,
                           needed, mmcf->clusters.nelts);
        return NGX_CONF_ERROR;
    }

    /* the helper process (migrations) lives on the state directory */
    return ngx_miroir_helper_init_conf(cf, mmcf);
}


static void *
ngx_miroir_create_loc_conf(ngx_conf_t *cf)
{
    ngx_miroir_loc_conf_t  *mlcf;

    mlcf = ngx_pcalloc(cf->pool, sizeof(ngx_miroir_loc_conf_t));
    if (mlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mlcf->cluster = NULL;
     *     mlcf->cluster_name = { 0, NULL };
     *     mlcf->role = NGX_MIROIR_ROLE_NONE;
     */

    return mlcf;
}


static char *
ngx_miroir_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_miroir_loc_conf_t  *conf = child;

    ngx_uint_t                  i;
    ngx_miroir_main_conf_t     *mmcf;
    ngx_miroir_cluster_conf_t  *cl;
    ngx_http_core_loc_conf_t   *clcf;

    /* the handlers are per location: nothing is inherited */

    if (conf->role == NGX_MIROIR_ROLE_NONE || conf->cluster != NULL) {
        return NGX_CONF_OK;
    }

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_miroir_module);
    cl = mmcf->clusters.elts;

    for (i = 0; i < mmcf->clusters.nelts; i++) {
        if (cl[i].name.len == conf->cluster_name.len
            && ngx_strncmp(cl[i].name.data, conf->cluster_name.data,
                           cl[i].name.len) == 0)
        {
            conf->cluster = &cl[i];

            /*
             * The body size limit is the cluster's max_payload, enforced by
             * Miroir with Meilisearch's payload_too_large error rather than
             * nginx's HTML 413 page (the core module is merged first).
             */

            clcf = ngx_http_conf_get_module_loc_conf(cf,
                                                     ngx_http_core_module);
            clcf->client_max_body_size = 0;

            return NGX_CONF_OK;
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "unknown miroir cluster \"%V\"", &conf->cluster_name);
    return NGX_CONF_ERROR;
}


static char *
ngx_miroir_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_miroir_main_conf_t  *mmcf = conf;

    ssize_t     size;
    ngx_str_t  *value;

    if (mmcf->zone_name.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone name \"%V\" in \"%V\" directive",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    size = ngx_parse_size(&value[2]);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\" in \"%V\" directive",
                           &value[2], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "miroir_zone \"%V\" is too small: at least %uz "
                           "bytes needed", &value[1], 8 * ngx_pagesize);
        return NGX_CONF_ERROR;
    }

    mmcf->zone_name = value[1];
    mmcf->zone_size = size;

    return ngx_miroir_zone_add(cf, mmcf);
}


static char *
ngx_miroir_cluster(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_miroir_main_conf_t  *mmcf = conf;

    char                       *rv;
    ngx_str_t                  *value;
    ngx_uint_t                  i;
    ngx_conf_t                  save;
    ngx_miroir_cluster_conf_t  *cl;

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].len >= NGX_MIROIR_NAME_LEN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid cluster name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    cl = mmcf->clusters.elts;

    for (i = 0; i < mmcf->clusters.nelts; i++) {
        if (cl[i].name.len == value[1].len
            && ngx_strncmp(cl[i].name.data, value[1].data, value[1].len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate miroir cluster \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    cl = ngx_array_push(&mmcf->clusters);
    if (cl == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(cl, sizeof(ngx_miroir_cluster_conf_t));

    cl->name = value[1];
    cl->index = mmcf->clusters.nelts - 1;
    cl->shards = NGX_CONF_UNSET_UINT;
    cl->replication = NGX_CONF_UNSET_UINT;
    cl->connect_timeout = NGX_CONF_UNSET_MSEC;
    cl->node_timeout = NGX_CONF_UNSET_MSEC;
    cl->deadline = NGX_CONF_UNSET_MSEC;
    cl->keepalive = NGX_CONF_UNSET_UINT;
    cl->hedge_after = NGX_CONF_UNSET_MSEC;
    cl->write_quorum = NGX_CONF_UNSET_UINT;
    cl->allow_partial = NGX_CONF_UNSET;
    cl->stable_ties = NGX_CONF_UNSET;
    cl->max_payload = NGX_CONF_UNSET_SIZE;
    cl->max_response = NGX_CONF_UNSET_SIZE;
    cl->rebalance_concurrency = NGX_CONF_UNSET_UINT;
    cl->rebalance_rate = NGX_CONF_UNSET_UINT;
    cl->down_after = NGX_CONF_UNSET_MSEC;

    if (ngx_array_init(&cl->nodes, cf->pool, 4,
                       sizeof(ngx_miroir_node_conf_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    save = *cf;
    cf->handler = ngx_miroir_cluster_line;
    cf->handler_conf = (void *) cl;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /*
     * The cluster array may move when another cluster is pushed, so the
     * block only validates here; pointers into it are taken once the whole
     * http block is parsed (merge_loc_conf, init_main_conf).
     */

    return ngx_miroir_cluster_check(cf, cl);
}


/* The values Miroir parses itself are checked by the core
 * (src/miroir_conf_value.c). */
static ngx_int_t
ngx_miroir_parse_uint(ngx_conf_t *cf, ngx_str_t *v, ngx_uint_t *out)
{
    uint64_t  n;

    if (miroir_conf_uint((const char *) v->data, v->len, &n) != MIROIR_OK) {
        return NGX_ERROR;
    }

    *out = (ngx_uint_t) n;

    return NGX_OK;
}


static char *
ngx_miroir_cluster_line(ngx_conf_t *cf, ngx_command_t *dummy, void *conf)
{
    ngx_miroir_cluster_conf_t  *cl = (ngx_miroir_cluster_conf_t *) conf;

    ngx_int_t    k;
    ssize_t      size;
    ngx_str_t   *value;
    ngx_flag_t  *fp;
    ngx_uint_t   n, *up;
    ngx_msec_t   ms, *mp;

    value = cf->args->elts;

    if (value[0].len == 4 && ngx_strncmp(value[0].data, "node", 4) == 0) {
        return ngx_miroir_cluster_node(cf, cl);
    }

    if (cf->args->nelts != 2) {
        goto invalid_args;
    }

    up = NULL;
    mp = NULL;

    if (ngx_strcmp(value[0].data, "shards") == 0) {
        up = &cl->shards;

    } else if (ngx_strcmp(value[0].data, "replication") == 0) {
        up = &cl->replication;

    } else if (ngx_strcmp(value[0].data, "keepalive") == 0) {
        up = &cl->keepalive;

    } else if (ngx_strcmp(value[0].data, "rebalance_concurrency") == 0) {
        up = &cl->rebalance_concurrency;

    } else if (ngx_strcmp(value[0].data, "rebalance_rate") == 0) {
        up = &cl->rebalance_rate;       /* documents/s, 0: unlimited */

    } else if (ngx_strcmp(value[0].data, "down_after") == 0) {
        mp = &cl->down_after;

    } else if (ngx_strcmp(value[0].data, "connect_timeout") == 0) {
        mp = &cl->connect_timeout;

    } else if (ngx_strcmp(value[0].data, "node_timeout") == 0) {
        mp = &cl->node_timeout;

    } else if (ngx_strcmp(value[0].data, "deadline") == 0) {
        mp = &cl->deadline;

    } else if (ngx_strcmp(value[0].data, "hedge_after") == 0) {
        if (cl->hedge_after != NGX_CONF_UNSET_MSEC) {
            goto duplicate;
        }

        if (miroir_conf_flag((const char *) value[1].data, value[1].len)
            == 0)
        {
            cl->hedge_after = 0;
            return NGX_CONF_OK;
        }

        mp = &cl->hedge_after;

    } else if (ngx_strcmp(value[0].data, "write_quorum") == 0) {
        if (cl->write_quorum != NGX_CONF_UNSET_UINT) {
            goto duplicate;
        }

        /* the core's 0, 1, 2 are NGX_MIROIR_QUORUM_ALL, _MAJORITY, _ONE */

        k = miroir_conf_quorum((const char *) value[1].data, value[1].len);
        if (k < 0) {
            goto invalid_value;
        }

        cl->write_quorum = (ngx_uint_t) k;

        return NGX_CONF_OK;

    } else if (ngx_strcmp(value[0].data, "allow_partial") == 0
               || ngx_strcmp(value[0].data, "stable_ties") == 0)
    {
        fp = (value[0].data[0] == 'a') ? &cl->allow_partial
                                       : &cl->stable_ties;

        if (*fp != NGX_CONF_UNSET) {
            goto duplicate;
        }

        k = miroir_conf_flag((const char *) value[1].data, value[1].len);

        if (k == 1) {
            *fp = 1;

        } else if (k == 0) {
            *fp = 0;

        } else {
            goto invalid_value;
        }

        return NGX_CONF_OK;

    } else if (ngx_strcmp(value[0].data, "max_payload") == 0) {
        if (cl->max_payload != NGX_CONF_UNSET_SIZE) {
            goto duplicate;
        }

        size = ngx_parse_size(&value[1]);
        if (size == NGX_ERROR || size == 0) {
            goto invalid_value;
        }

        cl->max_payload = (size_t) size;
        return NGX_CONF_OK;

    } else if (ngx_strcmp(value[0].data, "max_response") == 0) {
        if (cl->max_response != NGX_CONF_UNSET_SIZE) {
            goto duplicate;
        }

        size = ngx_parse_size(&value[1]);
        if (size == NGX_ERROR || size == 0) {
            goto invalid_value;
        }

        cl->max_response = (size_t) size;
        return NGX_CONF_OK;

    } else if (ngx_strcmp(value[0].data, "master_key") == 0) {
        if (cl->master_key.data) {
            goto duplicate;
        }

        if (value[1].len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "empty \"master_key\" in miroir_cluster "
                               "\"%V\"", &cl->name);
            return NGX_CONF_ERROR;
        }

        cl->master_key = value[1];
        return NGX_CONF_OK;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown directive \"%V\" in miroir_cluster "
                           "\"%V\"", &value[0], &cl->name);
        return NGX_CONF_ERROR;
    }

    if (up) {
        if (*up != NGX_CONF_UNSET_UINT) {
            goto duplicate;
        }

        if (ngx_miroir_parse_uint(cf, &value[1], &n) != NGX_OK) {
            goto invalid_value;
        }

        *up = n;
        return NGX_CONF_OK;
    }

    if (*mp != NGX_CONF_UNSET_MSEC) {
        goto duplicate;
    }

    ms = ngx_parse_time(&value[1], 0);
    if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {
        goto invalid_value;
    }

    *mp = ms;
    return NGX_CONF_OK;

duplicate:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" is duplicate in miroir_cluster \"%V\"",
                       &value[0], &cl->name);
    return NGX_CONF_ERROR;

invalid_value:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\" of miroir_cluster "
                       "\"%V\"", &value[1], &value[0], &cl->name);
    return NGX_CONF_ERROR;

invalid_args:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid number of arguments in \"%V\" of "
                       "miroir_cluster \"%V\"", &value[0], &cl->name);
    return NGX_CONF_ERROR;
}


static char *
ngx_miroir_cluster_node(ngx_conf_t *cf, ngx_miroir_cluster_conf_t *cl)
{
    ngx_str_t               *value, s;
    ngx_url_t                u;
    ngx_uint_t               i;
    miroir_conf_node_t       params;
    ngx_miroir_node_conf_t  *node, *nodes;

    value = cf->args->elts;

    if (cf->args->nelts < 3 || cf->args->nelts > 5) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid number of arguments in \"node\" of "
                           "miroir_cluster \"%V\": expected "
                           "\"node ID ADDRESS [weight=W] [key=K]\"",
                           &cl->name);
        return NGX_CONF_ERROR;
    }

    if (!miroir_conf_node_id_valid((const char *) value[1].data,
                                   value[1].len))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid node id \"%V\" in miroir_cluster \"%V\": "
                           "1 to %d characters among A-Z a-z 0-9 _ -",
                           &value[1], &cl->name, MIROIR_NODE_ID_LEN - 1);
        return NGX_CONF_ERROR;
    }

    if (cl->nodes.nelts >= MIROIR_MAX_NODES) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "too many nodes in miroir_cluster \"%V\" "
                           "(at most %d)", &cl->name, MIROIR_MAX_NODES);
        return NGX_CONF_ERROR;
    }

    nodes = cl->nodes.elts;

    for (i = 0; i < cl->nodes.nelts; i++) {
        if (nodes[i].id.len == value[1].len
            && ngx_strncmp(nodes[i].id.data, value[1].data, value[1].len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate node id \"%V\" in miroir_cluster "
                               "\"%V\"", &value[1], &cl->name);
            return NGX_CONF_ERROR;
        }
    }

    ngx_memzero(&u, sizeof(ngx_url_t));
    u.url = value[2];
    u.no_resolve = 0;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        if (u.err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s in node \"%V\" address \"%V\"",
                               u.err, &value[1], &u.url);
        }

        return NGX_CONF_ERROR;
    }

    if (u.naddrs == 0 || u.no_port || u.uri.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid node address \"%V\" for node \"%V\": "
                           "expected HOST:PORT", &value[2], &value[1]);
        return NGX_CONF_ERROR;
    }

    if (u.naddrs > 1 || value[2].len >= NGX_MIROIR_ADDR_LEN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "node \"%V\" address \"%V\" must name exactly one "
                           "address", &value[1], &value[2]);
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < cl->nodes.nelts; i++) {
        if (ngx_cmp_sockaddr(nodes[i].addr.sockaddr, nodes[i].addr.socklen,
                             u.addrs[0].sockaddr, u.addrs[0].socklen, 1)
            == NGX_OK)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate node address \"%V\" in "
                               "miroir_cluster \"%V\" (nodes \"%V\" and "
                               "\"%V\")", &value[2], &cl->name,
                               &nodes[i].id, &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    node = ngx_array_push(&cl->nodes);
    if (node == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(node, sizeof(ngx_miroir_node_conf_t));

    node->id = value[1];
    node->addr_text = value[2];
    node->addr = u.addrs[0];
    node->host = value[2];
    node->weight = 1;

    miroir_conf_node_init(&params);

    for (i = 3; i < cf->args->nelts; i++) {

        switch (miroir_conf_node_param((const char *) value[i].data,
                                       value[i].len, &params))
        {
        case MIROIR_CONF_NODE_OK:
            continue;

        case MIROIR_CONF_NODE_BAD_WEIGHT:
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid weight \"%V\" for node \"%V\": "
                               "expected 1..10000", &value[i], &value[1]);
            return NGX_CONF_ERROR;

        case MIROIR_CONF_NODE_EMPTY_KEY:
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "empty key for node \"%V\"", &value[1]);
            return NGX_CONF_ERROR;

        default: /* MIROIR_CONF_NODE_UNKNOWN */
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" for node \"%V\"",
                               &value[i], &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    node->weight = params.weight;

    if (params.key) {
        node->key.data = (u_char *) params.key;
        node->key.len = params.key_len;
    }

    if (node->key.len) {
        s.len = sizeof("Bearer ") - 1 + node->key.len;
        s.data = ngx_pnalloc(cf->pool, s.len);
        if (s.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memcpy(ngx_cpymem(s.data, "Bearer ", 7), node->key.data,
                   node->key.len);
        node->auth = s;
    }

    return NGX_CONF_OK;
}


static char *
ngx_miroir_cluster_check(ngx_conf_t *cf, ngx_miroir_cluster_conf_t *cl)
{
    ngx_uint_t               i;
    ngx_miroir_node_conf_t  *node;

    if (cl->nodes.nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "miroir_cluster \"%V\" has no \"node\"",
                           &cl->name);
        return NGX_CONF_ERROR;
    }

    ngx_conf_init_uint_value(cl->shards, 1024);
    ngx_conf_init_uint_value(cl->replication, 1);
    ngx_conf_init_uint_value(cl->keepalive, 32);
    ngx_conf_init_msec_value(cl->connect_timeout, 1000);
    ngx_conf_init_msec_value(cl->node_timeout, 5000);
    ngx_conf_init_msec_value(cl->deadline, 10000);
    ngx_conf_init_msec_value(cl->hedge_after, 0);
    ngx_conf_init_uint_value(cl->write_quorum, NGX_MIROIR_QUORUM_ALL);
    ngx_conf_init_value(cl->allow_partial, 0);
    ngx_conf_init_value(cl->stable_ties, 0);
    ngx_conf_init_size_value(cl->max_payload, 100 * 1024 * 1024);
    ngx_conf_init_size_value(cl->max_response, 100 * 1024 * 1024);
    ngx_conf_init_uint_value(cl->rebalance_concurrency, 4);
    ngx_conf_init_uint_value(cl->rebalance_rate, 0);
    ngx_conf_init_msec_value(cl->down_after, 300000);

    if (cl->rebalance_concurrency == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"rebalance_concurrency\" of miroir_cluster "
                           "\"%V\" must be at least 1", &cl->name);
        return NGX_CONF_ERROR;
    }

    /* the helper's slots (NGX_MIROIR_MIG_SLOTS, ngx_miroir_rebalance_mig.c) */
    if (cl->rebalance_concurrency > 64) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"rebalance_concurrency\" %ui of miroir_cluster "
                           "\"%V\" is out of range 1..64",
                           cl->rebalance_concurrency, &cl->name);
        return NGX_CONF_ERROR;
    }

    if (cl->shards < MIROIR_MIN_SHARDS || cl->shards > MIROIR_MAX_SHARDS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"shards\" %ui of miroir_cluster \"%V\" is out of "
                           "range %d..%d", cl->shards, &cl->name,
                           MIROIR_MIN_SHARDS, MIROIR_MAX_SHARDS);
        return NGX_CONF_ERROR;
    }

    if (cl->replication < 1 || cl->replication > MIROIR_MAX_RF) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"replication\" %ui of miroir_cluster \"%V\" is "
                           "out of range 1..%d", cl->replication, &cl->name,
                           MIROIR_MAX_RF);
        return NGX_CONF_ERROR;
    }

    if (cl->replication > cl->nodes.nelts) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"replication\" %ui of miroir_cluster \"%V\" is "
                           "larger than its %ui node(s)", cl->replication,
                           &cl->name, cl->nodes.nelts);
        return NGX_CONF_ERROR;
    }

    node = cl->nodes.elts;

    for (i = 0; i < cl->nodes.nelts; i++) {
        if (ngx_miroir_upstream_conf(cf, cl, &node[i]) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    cl->config_hash = ngx_miroir_cluster_hash(cl);

    return NGX_CONF_OK;
}


static char *
ngx_miroir_location(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_miroir_loc_conf_t  *mlcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (mlcf->role != NGX_MIROIR_ROLE_NONE) {
        return "is duplicate";
    }

    value = cf->args->elts;

    mlcf->cluster_name = value[1];
    mlcf->role = cmd->offset;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    clcf->handler = (cmd->offset == NGX_MIROIR_ROLE_API)
                    ? ngx_miroir_api_handler : ngx_miroir_admin_handler;

    return NGX_CONF_OK;
}
