/* test_av_drive - checks shared by the container decoder tests
 * (tests/unit/test_av_<format>.c) that drive one decoder through
 * av_decoder_fn: the EICAR verdict of a full scan, and the member cap.
 * Include after test_av_dec.h. */
#ifndef TEST_AV_DRIVE_H
#define TEST_AV_DRIVE_H

/* A full scan without the attachment policy (which blocks some container
 * types, a PE among them, by itself) of the LEN bytes at F finds EICAR at
 * WHERE. */
static inline void drv_eicar_at(const void *f, size_t len, const char *name, const char *where)
{
	scan_fx_t fx;

	scan_fx_open_pol(&fx, NULL, 0);
	expect_verdict(scan_fx_run(&fx, name, f, len), FLT_AV_INFECTED, FLT_AV_EICAR_NAME, where);
	scan_fx_close(&fx);
}

/* DEC on F with members capped at CAP bytes stops at the cap (returns 1)
 * after N members, and the limit it reports is the cap's. */
static inline void drv_cap(av_decoder_fn dec, const void *f, size_t len, const char *name, uint64_t cap,
			   uint32_t n)
{
	char want[sizeof(((rec_t *)0)->limit)];
	rec_t r;

	snprintf(want, sizeof(want), "member larger than max_file %llu bytes", (unsigned long long)cap);
	rec_init(&r, cap);
	assert_int_equal(dec(sl_slice_make(f, len), name, &r.e), 1);
	assert_int_equal(r.n, n);
	assert_string_equal(r.limit, want);
	rec_free(&r);
}

#endif
