/*
 * miroir_task.h -- one Meilisearch task out of the node tasks of a write.
 *
 * A Miroir task (its own uid sequence) maps to one task per node that
 * received part of the operation.  miroir_task_aggregate() combines those
 * node task objects, as returned by GET /tasks/:uid on each node, into
 * the task object a client sees:
 *
 *   uid          the Miroir uid given by the caller
 *   batchUid     the caller's value (Miroir's uid) or null
 *   indexUid, type, customMetadata   from the first part
 *   status       "succeeded" when every part succeeded; "failed" if any
 *                failed; else "canceled" if any was canceled; else the
 *                least advanced of the parts ("enqueued" < "processing"
 *                < "succeeded")
 *   error        the error of the first failed part (parts in node
 *                order), else null
 *   canceledBy   the caller's value or null (node uids mean nothing to
 *                a client)
 *   details      counters summed (see modes below); every other key
 *                (originalFilter, primaryKey, settings, swaps, ...) kept
 *                once, from the first part that has it
 *   enqueuedAt   the caller's (Miroir's) timestamp
 *   startedAt    the earliest of the parts, null if none started
 *   finishedAt   when the status is terminal, the latest of the parts'
 *                finishedAt; else null
 *   duration     finishedAt - startedAt as ISO 8601 ("PT0.123S",
 *                "P1DT3.5S" style: P[<d>D]T<s>S with 0, 3, 6 or 9
 *                fractional digits), null unless both are set
 *
 * Counters.  By default receivedDocuments, indexedDocuments,
 * deletedDocuments, editedDocuments, providedIds, matchedTasks,
 * canceledTasks and deletedTasks are summed over the parts (null parts
 * skipped; null when every part has null).  A counter that would be
 * counted once per replica takes a mode from the caller:
 *
 *   MIROIR_TASK_FIXED    the caller's value; for a document write pass
 *                        receivedDocuments = the documents Miroir received
 *   MIROIR_TASK_PRIMARY  each part contributes min(its value,
 *                        part.primary): for a document write set
 *                        part.primary to the number of documents of that
 *                        node's request whose shard the node leads, and
 *                        indexedDocuments counts every document once
 *   MIROIR_TASK_DIV_RF   the sum divided by rf (rounded down): broadcasts
 *                        where every node counts its own copies, such as
 *                        delete by filter's deletedDocuments
 *   MIROIR_TASK_SUM      the default, for disjoint parts
 *
 * The result keeps a null counter null (e.g. indexedDocuments while the
 * task runs), except FIXED, which is always the caller's number.
 */

#ifndef MIROIR_TASK_H
#define MIROIR_TASK_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "miroir_common.h"
#include "miroir_error.h"


typedef enum {
    MIROIR_TASK_SUM = 0,
    MIROIR_TASK_FIXED,
    MIROIR_TASK_PRIMARY,
    MIROIR_TASK_DIV_RF
} miroir_task_mode_e;


typedef struct {
    const char           *name;       /* details key, e.g. "indexedDocuments" */
    miroir_task_mode_e    mode;
    int64_t               value;      /* MIROIR_TASK_FIXED */
} miroir_task_counter_t;


typedef struct {
    const cJSON          *task;       /* the node's task object */
    int64_t               primary;    /* see MIROIR_TASK_PRIMARY */
} miroir_task_part_t;


typedef struct {
    uint64_t                      uid;
    const char                   *enqueued_at;   /* RFC 3339, required */
    int                           has_batch_uid;
    uint64_t                      batch_uid;
    int                           has_canceled_by;
    uint64_t                      canceled_by;
    uint32_t                      rf;            /* MIROIR_TASK_DIV_RF */
    const miroir_task_counter_t  *counters;      /* overrides, may be NULL */
    size_t                        ncounters;
} miroir_task_conf_t;


/*
 * Combine parts[0 .. nparts-1] (in node order) into one task object.
 *
 * @pre    conf->enqueued_at != NULL; nparts >= 1.
 * @param  out  receives the task as unformatted JSON text (free()).
 * @return MIROIR_OK; MIROIR_EINVAL (err: 500 internal) when a part is not
 *         a task object (no known "status"); MIROIR_ENOMEM.  *out is
 *         untouched on error.
 */
miroir_rc_t miroir_task_aggregate(const miroir_task_conf_t *conf,
    const miroir_task_part_t *parts, size_t nparts, char **out,
    miroir_error_t *err);

/*
 * Parse an RFC 3339 UTC timestamp ("2026-01-01T00:00:00.123456789Z",
 * fraction optional, 'Z' or +hh:mm offset) into seconds since the epoch
 * and nanoseconds.  @return MIROIR_OK or MIROIR_EINVAL.
 */
miroir_rc_t miroir_task_parse_time(const char *s, int64_t *sec,
    int32_t *nsec);

/*
 * Format a non-negative duration as Meilisearch does (see above) into buf.
 * @return the length needed, like snprintf.
 */
size_t miroir_task_duration(int64_t sec, int32_t nsec, char *buf,
    size_t size);


#endif /* MIROIR_TASK_H */
