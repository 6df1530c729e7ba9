/*
 * miroir_admin_body.h -- the bodies and query arguments of the admin
 * topology routes (src/ngx_miroir_admin.c):
 *
 *   POST  /_miroir/nodes          {"id","address","weight"?,"key"?}
 *   PATCH /_miroir/nodes/{id}     {"weight"}
 *   POST  /_miroir/rebalance      {"action":"add|reweight|drain|remove",
 *                                  "id",...; "force" for remove}
 *   ?force=true, ?dry_run=true
 *
 * The shape and the types are checked here; what needs the topology (the
 * id alphabet, an existing node, a literal IP:port, the key length) is
 * checked by the rebalancer.
 */

#ifndef MIROIR_ADMIN_BODY_H
#define MIROIR_ADMIN_BODY_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "miroir_error.h"


/* The same order as ngx_miroir_change_e. */
typedef enum {
    MIROIR_ADMIN_ADD = 0,
    MIROIR_ADMIN_REWEIGHT,
    MIROIR_ADMIN_DRAIN,
    MIROIR_ADMIN_REMOVE
} miroir_admin_action_t;


/* Strings point into the cJSON tree given to miroir_admin_body_parse();
 * an absent optional string is "" (length 0). */
typedef struct {
    miroir_admin_action_t   kind;
    const char             *id;
    size_t                  id_len;
    const char             *address;       /* add */
    size_t                  address_len;
    const char             *key;           /* add, optional */
    size_t                  key_len;
    unsigned                weight;        /* add, reweight: 1..1000 */
    int                     force;         /* remove */
} miroir_admin_body_t;


#define MIROIR_ADMIN_MAX_WEIGHT  1000


/*
 * Check the parsed body json (NULL when it did not parse) of a change of
 * kind (ADD for POST /_miroir/nodes, REWEIGHT for PATCH
 * /_miroir/nodes/{id}), or with generic set, of POST /_miroir/rebalance
 * (the kind is the body's "action").  out->id is left as the caller set
 * it unless the body carries the id (add, generic).  MIROIR_ERROR with a
 * 400 miroir_invalid_request error in err for a bad body.
 */
miroir_rc_t miroir_admin_body_parse(const cJSON *json,
    miroir_admin_action_t kind, int generic, miroir_admin_body_t *out,
    miroir_error_t *err);

/* Whether a query argument value (?force=, ?dry_run=) means true: "true"
 * in any case. */
int miroir_admin_arg_true(const char *v, size_t len);


#endif /* MIROIR_ADMIN_BODY_H */
