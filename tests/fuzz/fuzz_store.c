/* fuzz_store - the store's parsers of untrusted bytes: mailbox names and
 * addresses as clients send them (IMAP CREATE/RENAME, RCPT TO, sluicectl),
 * and the decoders of on-disk records (a damaged file must give
 * SL_ECORRUPT, never a crash). The first byte picks the target.
 *
 * Properties: canonical forms are idempotent and always valid; decoders
 * never read outside the record. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "st_private.h"

static void check_canon(int (*canon)(const char *, char *, const char **), const uint8_t *p,
			size_t n)
{
	char in[600], out[ST_STR_CAP], again[ST_STR_CAP];
	const char *err;

	if (n >= sizeof(in))
		n = sizeof(in) - 1;
	memcpy(in, p, n);
	in[n] = '\0';
	if (canon(in, out, &err) != 0)
		return;
	if (canon(out, again, &err) != 0 || strcmp(out, again) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static st_queue_rcpt_t rcpts[ST_RCPT_MAX];
	static const char *strs[ST_RCPT_MAX];
	static st_mbox_t m;
	uint8_t *copy;
	MDB_val v;

	if (size == 0)
		return 0;
	/* Decoders get an exact-size heap copy so ASan sees any overread. */
	copy = malloc(size - 1 ? size - 1 : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data + 1, size - 1);
	v = st_val(copy, size - 1);
	switch (data[0] % 6) {
	case 0:
		check_canon(st_mailbox_canon, data + 1, size - 1);
		break;
	case 1:
		check_canon(st_address_canon, data + 1, size - 1);
		break;
	case 2:
		check_canon(st_domain_canon, data + 1, size - 1);
		break;
	case 3: {
		st_queue_rec_t h;
		const char *sender;
		if (st_queue_decode(v, &h, &sender, rcpts) == 0)
			for (uint32_t i = 0; i < h.n_rcpts; i++)
				(void)strlen(rcpts[i].address), (void)strlen(rcpts[i].diag);
		break;
	}
	case 4: {
		st_quar_rec_t h;
		const char *verdict, *sender;
		if (st_quar_decode(v, &h, &verdict, &sender, strs) == 0)
			for (uint32_t i = 0; i < h.n_rcpts; i++)
				(void)strlen(strs[i]);
		break;
	}
	case 5:
		(void)st_mbox_decode(1, v, &m);
		break;
	}
	free(copy);
	return 0;
}
