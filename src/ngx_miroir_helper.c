/*
 * ngx_miroir_helper.c -- the helper process that runs migrations.
 *
 * Stock nginx gives a dynamic module no hook to add a process, but a path
 * registered with ngx_add_path() and a `manager` callback makes the master
 * start nginx's cache manager process ("nginx: cache manager process"),
 * which runs an event loop and calls the callback again after the delay
 * (ms) it returns.  The master restarts it with every reload, and it exits
 * at once on reload or stop (SIGQUIT/SIGTERM), so its work is done in
 * short non-blocking steps with every step checkpointed in the zone and
 * the state directory: the next helper resumes from the last checkpoint.
 * Registering the "miroir_state" directory also makes nginx create it
 * owned by the worker user (the helper runs as that user).
 *
 * This process is the only writer of migration progress (shard states,
 * counters) in the zone and of checkpoints in the state directory.
 */

#include "ngx_miroir.h"
#include "ngx_miroir_rebalance.h"
#include "ngx_miroir_helper.h"


#define NGX_MIROIR_HELPER_TICK  100     /* ms between two steps */


static ngx_msec_t ngx_miroir_helper_manager(void *data);


static ngx_uint_t  ngx_miroir_helper_started;


char *
ngx_miroir_helper_init_conf(ngx_conf_t *cf, ngx_miroir_main_conf_t *mmcf)
{
    ngx_path_t  *path;

    if (mmcf->state_path.len == 0 || mmcf->clusters.nelts == 0) {
        return NGX_CONF_OK;
    }

    path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
    if (path == NULL) {
        return NGX_CONF_ERROR;
    }

    /* NUL-terminated: ngx_create_paths() passes it to mkdir() */

    path->name.data = ngx_pnalloc(cf->pool, mmcf->state_path.len + 1);
    if (path->name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(path->name.data, mmcf->state_path.data, mmcf->state_path.len);
    path->name.data[mmcf->state_path.len] = '\0';
    path->name.len = mmcf->state_path.len;

    path->manager = ngx_miroir_helper_manager;
    path->data = mmcf;
    path->conf_file = cf->conf_file->file.name.data;
    path->line = cf->conf_file->line;

    if (ngx_add_path(cf, &path) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_msec_t
ngx_miroir_helper_manager(void *data)
{
    ngx_uint_t                  i, first;
    ngx_miroir_main_conf_t     *mmcf;
    ngx_miroir_cluster_conf_t  *cl;

    mmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_miroir_module);
    if (mmcf == NULL || mmcf->shpool == NULL) {
        return NGX_MIROIR_HELPER_TICK;
    }

    first = !ngx_miroir_helper_started;

    if (first) {
        ngx_miroir_helper_started = 1;

        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "miroir helper: started, pid %P", ngx_pid);
    }

    cl = mmcf->clusters.elts;

    for (i = 0; i < mmcf->clusters.nelts; i++) {
        ngx_miroir_helper_step(&cl[i], first);
        ngx_miroir_helper_down(&cl[i]);
        ngx_miroir_helper_retag(&cl[i]);
    }

    return NGX_MIROIR_HELPER_TICK;
}


