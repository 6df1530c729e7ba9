/*
 * miroir_bytes.h -- a growable byte buffer.
 *
 * Generic: used by the splitter to build per-node bodies and by anyone who
 * needs to append bytes.  The buffer owns data (malloc()ed); release it
 * with miroir_bytes_free().  A zeroed struct is a valid empty buffer.
 * data is not NUL-terminated unless the caller appends a '\0'.
 */

#ifndef MIROIR_BYTES_H
#define MIROIR_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "miroir_common.h"


typedef struct {
    unsigned char  *data;
    size_t          len;
    size_t          cap;
} miroir_bytes_t;


/* Make b an empty buffer (does not free). */
void miroir_bytes_init(miroir_bytes_t *b);

/*
 * Ensure room for n more bytes.
 * @return MIROIR_OK, or MIROIR_ENOMEM with b untouched.
 */
miroir_rc_t miroir_bytes_reserve(miroir_bytes_t *b, size_t n);

/* @pre p != NULL unless n == 0.  @return MIROIR_OK or MIROIR_ENOMEM. */
miroir_rc_t miroir_bytes_append(miroir_bytes_t *b, const void *p, size_t n);

/* Append one byte.  @return MIROIR_OK or MIROIR_ENOMEM. */
miroir_rc_t miroir_bytes_putc(miroir_bytes_t *b, unsigned char c);

/* Append a NUL-terminated string (without the NUL). */
miroir_rc_t miroir_bytes_puts(miroir_bytes_t *b, const char *s);

/* Append the decimal digits of v, or of a signed value. */
miroir_rc_t miroir_bytes_put_u64(miroir_bytes_t *b, uint64_t v);
miroir_rc_t miroir_bytes_put_i64(miroir_bytes_t *b, int64_t v);

/*
 * Append s[0..n) as the contents of a JSON string (no surrounding quotes),
 * escaped like serde_json: '"', '\\', \b \f \n \r \t and other bytes below
 * 0x20 as \u00XX; everything else (UTF-8 included) verbatim.
 */
miroir_rc_t miroir_bytes_put_json_str(miroir_bytes_t *b, const void *s,
    size_t n);

/*
 * Append a finite double as serde_json (ryu) prints an f64: shortest
 * round-trip digits, "1.0", "0.001", "1e-7", "1e16", "-0.0".
 * @return MIROIR_OK or MIROIR_ENOMEM.
 */
miroir_rc_t miroir_bytes_put_f64(miroir_bytes_t *b, double v);

/* Forget the contents, keep the memory. */
static inline void
miroir_bytes_reset(miroir_bytes_t *b)
{
    b->len = 0;
}

/* Release the memory; b becomes an empty buffer. */
void miroir_bytes_free(miroir_bytes_t *b);

/*
 * Hand the contents over to the caller (who free()s them): returns data
 * (NULL if nothing was ever allocated), stores the length in *len and
 * leaves b empty.
 */
unsigned char *miroir_bytes_detach(miroir_bytes_t *b, size_t *len);


#endif /* MIROIR_BYTES_H */
