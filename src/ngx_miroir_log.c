/*
 * ngx_miroir_log.c -- structured, rate-limited error log lines (see
 * ngx_miroir_log.h for the format).
 *
 * The rate limiter is a per-worker table of the (event, cluster, key)
 * pairs seen recently, open-addressed by a hash of the pair.  An entry
 * keeps the pair itself (up to NGX_MIROIR_LOG_ID_LEN bytes of it), so two
 * pairs never share a limit by accident.  When the few slots a pair may
 * use are all taken, the least recently written one is recycled; if it was
 * still holding back lines, a summary line with its "suppressed=N" is
 * written first, so no count is ever lost silently.
 */

#include "ngx_miroir.h"
#include "ngx_miroir_log.h"


#define NGX_MIROIR_LOG_SLOTS   512     /* per worker, a power of 2 */
#define NGX_MIROIR_LOG_PROBE   8
#define NGX_MIROIR_LOG_ID_LEN  120


typedef struct {
    ngx_msec_t   last;                  /* 0: free */
    ngx_uint_t   suppressed;
    ngx_uint_t   level;
    uint32_t     hash;
    uint16_t     len;
    uint16_t     event_len;             /* the pair: event\0cluster\0key */
    u_char       id[NGX_MIROIR_LOG_ID_LEN];
} ngx_miroir_log_slot_t;


static ngx_miroir_log_slot_t *ngx_miroir_log_slot(ngx_log_t *log,
    u_char *id, size_t len, size_t event_len, ngx_msec_t now);
static void ngx_miroir_log_flush(ngx_log_t *log, ngx_miroir_log_slot_t *s);
static void ngx_miroir_log_clean(u_char *p, u_char *last);


static ngx_miroir_log_slot_t  ngx_miroir_log_slots[NGX_MIROIR_LOG_SLOTS];


void
ngx_miroir_log_event(ngx_log_t *log, ngx_uint_t level, const char *event,
    ngx_str_t *cluster, ngx_str_t *key, const char *fmt, ...)
{
    u_char                 *p, *last, *start;
    size_t                  len, event_len;
    va_list                 args;
    ngx_str_t               none = ngx_null_string;
    ngx_uint_t              suppressed;
    ngx_msec_t              now;
    ngx_miroir_log_slot_t  *slot;
    u_char                  id[NGX_MIROIR_LOG_ID_LEN];
    u_char                  buf[NGX_MAX_ERROR_STR];

    if (log == NULL || log->log_level < level) {
        return;
    }

    suppressed = 0;

    if (key != NULL) {
        last = id + sizeof(id);
        p = ngx_slprintf(id, last, "%s", event);
        event_len = p - id;
        p = ngx_slprintf(p, last, "%Z%V%Z%V", cluster ? cluster : &none, key);
        len = p - id;

        now = ngx_current_msec;
        if (now == 0) {
            now = 1;
        }

        slot = ngx_miroir_log_slot(log, id, len, event_len, now);

        if (slot->last != 0 && now - slot->last < NGX_MIROIR_LOG_INTERVAL) {
            slot->suppressed++;
            return;
        }

        suppressed = slot->suppressed;

        slot->last = now;
        slot->suppressed = 0;
        slot->level = level;
    }

    last = buf + sizeof(buf);

    p = ngx_slprintf(buf, last, "event=%s", event);

    if (cluster != NULL) {
        p = ngx_slprintf(p, last, " cluster=%V", cluster);
    }

    if (fmt != NULL && *fmt != '\0') {
        start = p;
        p = ngx_slprintf(p, last, " ");
        va_start(args, fmt);
        p = ngx_vslprintf(p, last, fmt, args);
        va_end(args);
        ngx_miroir_log_clean(start, p);
    }

    if (suppressed) {
        p = ngx_slprintf(p, last, " suppressed=%ui", suppressed);
    }

    ngx_log_error(level, log, 0, "miroir: %*s", p - buf, buf);
}


void
ngx_miroir_log_node_error(ngx_log_t *log, ngx_uint_t level,
    ngx_miroir_cluster_conf_t *cl, ngx_uint_t node, ngx_uint_t method,
    ngx_str_t *path, const char *reason, ngx_int_t status,
    const char *detail)
{
    u_char                  *p, *last;
    const char              *m;
    ngx_str_t                none = ngx_string("-");
    ngx_miroir_node_conf_t  *nc;
    u_char                   quoted[256];

    if (cl == NULL || node >= cl->nodes.nelts) {
        return;
    }

    nc = (ngx_miroir_node_conf_t *) cl->nodes.elts + node;

    switch (method) {
    case NGX_HTTP_GET:
        m = "GET";
        break;
    case NGX_HTTP_POST:
        m = "POST";
        break;
    case NGX_HTTP_PUT:
        m = "PUT";
        break;
    case NGX_HTTP_PATCH:
        m = "PATCH";
        break;
    case NGX_HTTP_DELETE:
        m = "DELETE";
        break;
    case NGX_HTTP_HEAD:
        m = "HEAD";
        break;
    default:
        m = "-";
    }

    p = quoted;

    if (detail) {
        /* one quoted token: no quote nor backslash inside */

        p = ngx_cpymem(p, " detail=\"", sizeof(" detail=\"") - 1);
        last = quoted + sizeof(quoted) - 1;

        for ( /* void */ ; *detail && p < last; detail++) {
            *p++ = (*detail == '"' || *detail == '\\') ? '\'' : *detail;
        }

        *p++ = '"';
    }

    ngx_miroir_log_event(log, level, "node_error", &cl->name, &nc->id,
                         "node=%V addr=%V method=%s path=%V reason=%s "
                         "status=%i%*s",
                         &nc->id, &nc->addr_text, m,
                         path ? path : &none, reason, status,
                         (size_t) (p - quoted), quoted);
}


/*
 * The slot of a pair: its own if it is in the table, else a free or
 * recycled one (last = 0).
 */
static ngx_miroir_log_slot_t *
ngx_miroir_log_slot(ngx_log_t *log, u_char *id, size_t len, size_t event_len,
    ngx_msec_t now)
{
    uint32_t                hash;
    ngx_uint_t              i, n;
    ngx_miroir_log_slot_t  *s, *free, *old;

    hash = ngx_crc32_short(id, len);

    free = NULL;
    old = NULL;

    for (i = 0; i < NGX_MIROIR_LOG_PROBE; i++) {
        n = (hash + i) & (NGX_MIROIR_LOG_SLOTS - 1);
        s = &ngx_miroir_log_slots[n];

        if (s->last != 0 && s->hash == hash && s->len == len
            && ngx_memcmp(s->id, id, len) == 0)
        {
            return s;
        }

        if (s->last == 0) {
            if (free == NULL) {
                free = s;
            }

            continue;
        }

        /* a pair quiet for a whole interval holds nothing back any more */

        if (s->suppressed == 0 && now - s->last >= NGX_MIROIR_LOG_INTERVAL) {
            s->last = 0;

            if (free == NULL) {
                free = s;
            }

            continue;
        }

        if (old == NULL || (ngx_msec_int_t) (s->last - old->last) < 0) {
            old = s;
        }
    }

    if (free == NULL) {
        free = old;
        ngx_miroir_log_flush(log, free);
    }

    free->last = 0;
    free->suppressed = 0;
    free->hash = hash;
    free->len = (uint16_t) len;
    free->event_len = (uint16_t) event_len;
    ngx_memcpy(free->id, id, len);

    return free;
}


/* A recycled slot still held lines back: say how many. */
static void
ngx_miroir_log_flush(ngx_log_t *log, ngx_miroir_log_slot_t *s)
{
    u_char  *cluster, *key, *end;

    if (s->suppressed == 0 || log->log_level < s->level) {
        return;
    }

    end = s->id + s->len;
    cluster = ngx_min(s->id + s->event_len + 1, end);
    key = ngx_strlchr(cluster, end, '\0');
    key = key ? key + 1 : end;

    ngx_log_error(s->level, log, 0,
                  "miroir: event=%*s cluster=%*s key=%*s suppressed=%ui",
                  (size_t) s->event_len, s->id,
                  (size_t) (key - 1 - cluster), cluster,
                  (size_t) (end - key), key, s->suppressed);

    s->suppressed = 0;
}


/*
 * One line per event: control characters in values (a node id or an
 * index uid is partly user input) become '?', so nobody can forge lines.
 */
static void
ngx_miroir_log_clean(u_char *p, u_char *last)
{
    for ( /* void */ ; p < last; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            *p = '?';
        }
    }
}
