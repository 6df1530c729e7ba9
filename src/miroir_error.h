/*
 * miroir_error.h -- a Meilisearch error object, as the core reports it.
 *
 * Every invalid input the core detects maps to what Meilisearch (or Miroir,
 * for its own codes such as miroir_quorum_not_met) answers: an HTTP status,
 * an error code, an error type and a human message.  The link is derived
 * from the code: https://docs.meilisearch.com/errors#<code>.
 */

#ifndef MIROIR_ERROR_H
#define MIROIR_ERROR_H

#include <stddef.h>

#include "miroir_common.h"


#define MIROIR_ERROR_MSG_LEN  1024

typedef struct {
    int          status;                    /* HTTP status, e.g. 400 */
    const char  *code;                      /* static string, e.g. "malformed_payload" */
    const char  *type;                      /* "invalid_request", "internal", "auth", "system" */
    char         message[MIROIR_ERROR_MSG_LEN];
} miroir_error_t;


/*
 * Fill err (if not NULL) with status, code, type and a printf-formatted
 * message (truncated to MIROIR_ERROR_MSG_LEN - 1 bytes).  Returns MIROIR_ERROR
 * so callers can write "return miroir_error_set(err, ...);".
 */
miroir_rc_t miroir_error_set(miroir_error_t *err, int status, const char *code,
    const char *type, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/*
 * Render err as the Meilisearch JSON error object
 * {"message":..,"code":..,"type":..,"link":..} into buf (NUL-terminated,
 * truncated to size).  Returns the length it needed (like snprintf).
 */
size_t miroir_error_json(const miroir_error_t *err, char *buf, size_t size);


#endif /* MIROIR_ERROR_H */
