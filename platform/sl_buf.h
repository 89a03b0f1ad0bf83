/* sl_buf - the two buffer types of Sluice (STYLE.md #10).
 *
 * sl_slice_t is a non-owning view {ptr, len}; it is valid only as long as
 * whatever it points into. sl_buf_t is an owned, growable byte buffer with a
 * hard maximum: an append that would pass `max` fails with SL_ELIMIT and
 * leaves the buffer unchanged. Wire data is never parsed by hunting for NUL;
 * the buffer keeps a NUL after the data only as a convenience for logging. */
#ifndef SL_BUF_H
#define SL_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct sl_slice {
	const uint8_t *ptr;
	size_t len;
} sl_slice_t;

typedef struct sl_buf {
	uint8_t *data; /* owned; NULL until first growth */
	size_t len;    /* bytes in use */
	size_t cap;    /* bytes allocated (excluding the trailing NUL) */
	size_t max;    /* hard maximum for len */
} sl_buf_t;

#define SL_SLICE_LIT(s) ((sl_slice_t){(const uint8_t *)(s), sizeof(s) - 1})

static inline sl_slice_t sl_slice_make(const void *ptr, size_t len)
{
	return (sl_slice_t){(const uint8_t *)ptr, len};
}

/* sl_slice_eq_nocase - ASCII case-insensitive comparison with a C string. */
int sl_slice_eq_nocase(sl_slice_t s, const char *lit);

/* sl_buf_init - empty buffer that may grow up to MAX bytes. No allocation. */
void sl_buf_init(sl_buf_t *b, size_t max);
/* sl_buf_reserve - ensure room for N more bytes. 0, SL_ELIMIT, SL_ENOMEM. */
int sl_buf_reserve(sl_buf_t *b, size_t n);
/* sl_buf_append - copy N bytes to the end. 0, SL_ELIMIT or SL_ENOMEM; on
 * error the buffer is unchanged. */
int sl_buf_append(sl_buf_t *b, const void *p, size_t n);
/* sl_buf_printf - append formatted text; same returns as sl_buf_append. */
int sl_buf_printf(sl_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* sl_buf_consume - drop the first N bytes (N is clamped to len). */
void sl_buf_consume(sl_buf_t *b, size_t n);
/* sl_buf_reset - len = 0, keeps the allocation. */
void sl_buf_reset(sl_buf_t *b);
/* sl_buf_free - release the allocation; the buffer is empty afterwards. */
void sl_buf_free(sl_buf_t *b);

static inline sl_slice_t sl_buf_slice(const sl_buf_t *b)
{
	return (sl_slice_t){b->data, b->len};
}

#endif
