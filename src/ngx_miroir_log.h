/*
 * ngx_miroir_log.h -- structured, rate-limited error log lines.
 *
 * Every line has the same shape, so operators can grep and parse it:
 *
 *     miroir: event=node_down cluster=main node=n2 addr=10.0.0.2:7700
 *             fails=3 reason=connect_failed
 *
 * "event" names what happened (node_error, node_down, node_up,
 * read_failover, hedge, deadline, quorum_failed, replica_stale,
 * topology_change, migration_start, ...; the list, with each event's level,
 * fields and limit, is in docs/operations.md, "Log lines": add new events
 * there); the rest are key=value pairs produced by fmt (nginx's
 * ngx_sprintf() formats: %V, %ui, ...).  Values with spaces are
 * double-quoted by the caller; control characters in the formatted pairs
 * become '?', so a value cannot start a forged line.  Never log a key.
 *
 * Rate limiting: lines with the same (event, cluster, key) are written at
 * most once per NGX_MIROIR_LOG_INTERVAL per process (worker or helper); the
 * next line written for that pair ends with "suppressed=N", the count of
 * lines dropped meanwhile.  A pair evicted from the limiter's table while
 * it still holds lines back gets a summary line ("event=E cluster=C key=K
 * suppressed=N") first.  key NULL means "never rate limited" (rare events:
 * state transitions, topology changes, migration steps).
 */

#ifndef _NGX_MIROIR_LOG_H_INCLUDED_
#define _NGX_MIROIR_LOG_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_MIROIR_LOG_INTERVAL  1000   /* ms between two lines of a pair */


struct ngx_miroir_cluster_conf_s;


void ngx_miroir_log_event(ngx_log_t *log, ngx_uint_t level,
    const char *event, ngx_str_t *cluster, ngx_str_t *key,
    const char *fmt, ...);

/*
 * event=node_error for one node of cl (rate limited per node): reason is
 * a word (connect_failed, timeout, bad_answer, ...), method is
 * NGX_HTTP_GET, ... or 0, path (the node's path, never its arguments) may be
 * NULL, detail (NULL or free text, e.g. a parser's message) is quoted.
 * Never pass anything that holds a key.
 */
void ngx_miroir_log_node_error(ngx_log_t *log, ngx_uint_t level,
    struct ngx_miroir_cluster_conf_s *cl, ngx_uint_t node, ngx_uint_t method,
    ngx_str_t *path, const char *reason, ngx_int_t status,
    const char *detail);


#endif /* _NGX_MIROIR_LOG_H_INCLUDED_ */
