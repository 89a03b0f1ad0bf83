/* test_av_mail - a file that is itself a mail or an mbox is parsed with
 * filter/message and its parts scanned: EICAR in a base64 attachment, in a
 * uuencoded part, in the second message of an mbox, a mail attached as a
 * plain file inside a mail; what is not called mail (plain text, a header
 * block without MIME fields); nesting past max_depth; a part past
 * max_file; the extension policy on a part's file name; every truncation
 * of a mail; clamav-testfiles' clam.mail and
 * clam.exe.mbox.{base64,uu}. */
#include "test_av_dec.h"

static char *b64(const void *p, size_t n)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const uint8_t *s = p;
	char *out = malloc(n * 2 + 8), *o = out;

	assert_non_null(out);
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0) | (i + 2 < n ? s[i + 2] : 0);

		*o++ = al[v >> 18 & 63];
		*o++ = al[v >> 12 & 63];
		*o++ = i + 1 < n ? al[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? al[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static char *mail_with(const char *fname, const void *p, size_t n)
{
	char *enc = b64(p, n), *m = malloc(strlen(enc) + 1024);

	assert_non_null(m);
	sprintf(m,
		"From: a@example.com\r\nTo: b@example.com\r\nSubject: test\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n"
		"--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
		"--XX\r\nContent-Type: application/octet-stream; name=\"%s\"\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--XX--\r\n",
		fname, enc);
	free(enc);
	return m;
}

static void test_detect(void **state)
{
	static const char *const yes[] = {
		"From: a\nContent-Type: text/plain\n\nx",
		"From x@y Mon Jan  1 00:00:00 2024\nReceived: by x\n\tfolded\nContent-Transfer-Encoding: base64\n\nQQ==",
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n",
	};
	static const char *const no[] = {
		"From: a\nSubject: no mime fields\n\nbody",
		"hello world\nContent-Type: text/plain\n",
		" Content-Type: text/plain\n\n",
		"Content-Type text/plain\n\n",
		"",
		"From \n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(av_is_mail(sl_slice_make(yes[i], strlen(yes[i]))));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(av_is_mail(sl_slice_make(no[i], strlen(no[i]))));
}

static void test_members(void **state)
{
	char *m = mail_with("eicar.com", eicar, EICAR_LEN);
	rec_t r;

	(void)state;
	rec_init(&r, 1u << 20);
	assert_int_equal(av_dec_mail(sl_slice_make(m, strlen(m)), "m.eml", &r.e), 0);
	assert_int_equal(r.n, 2);
	rec_expect(&r, 0, "(null)", "hello", 5);
	assert_string_equal(r.type[0], "text/plain");
	rec_expect(&r, 1, "eicar.com", eicar, EICAR_LEN);
	assert_string_equal(r.type[1], "application/octet-stream");
	rec_free(&r);
	/* a member that says "stop" ends the walk */
	rec_init(&r, 1u << 20);
	r.stop_at = 0;
	assert_int_equal(av_dec_mail(sl_slice_make(m, strlen(m)), "m.eml", &r.e), 1);
	assert_int_equal(r.n, 1);
	rec_free(&r);
	free(m);
}

static void test_scan_eicar(void **state)
{
	char *m = mail_with("eicar.com", eicar, EICAR_LEN);
	char uu[512], mbox[2048];
	scan_fx_t f;

	(void)state;
	scan_fx_open(&f, NULL);
	expect_verdict(scan_fx_run(&f, "m.eml", m, strlen(m)), FLT_AV_INFECTED, FLT_AV_EICAR_NAME, "m.eml/eicar.com");
	/* uuencoded part, in the second message of an mbox */
	{
		/* uuencode by hand: 45 bytes per line */
		size_t o = 0;

		o += (size_t)sprintf(uu + o, "begin 644 e.com\n");
		for (size_t i = 0; i < EICAR_LEN; i += 45) {
			size_t n = EICAR_LEN - i < 45 ? EICAR_LEN - i : 45;

			uu[o++] = (char)(32 + n);
			for (size_t k = 0; k < n; k += 3) {
				uint8_t b0 = (uint8_t)eicar[i + k], b1 = k + 1 < n ? (uint8_t)eicar[i + k + 1] : 0,
					b2 = k + 2 < n ? (uint8_t)eicar[i + k + 2] : 0;
				uint8_t c[4] = {(uint8_t)(b0 >> 2), (uint8_t)((b0 & 3) << 4 | b1 >> 4),
						(uint8_t)((b1 & 15) << 2 | b2 >> 6), (uint8_t)(b2 & 63)};

				for (int j = 0; j < 4; j++)
					uu[o++] = c[j] ? (char)(32 + c[j]) : '`';
			}
			uu[o++] = '\n';
		}
		o += (size_t)sprintf(uu + o, "`\nend\n");
	}
	snprintf(mbox, sizeof(mbox),
		 "From a@b Mon Jan  1 00:00:00 2024\nFrom: a@b\nContent-Type: text/plain\n\nfirst\n\n"
		 "From c@d Mon Jan  1 00:00:01 2024\nFrom: c@d\nContent-Type: application/octet-stream; name=e.com\n"
		 "Content-Transfer-Encoding: x-uuencode\n\n%s",
		 uu);
	expect_verdict(scan_fx_run(&f, "box.mbox", mbox, strlen(mbox)), FLT_AV_INFECTED, FLT_AV_EICAR_NAME,
		       "box.mbox/e.com");
	/* a mail attached as an opaque file inside a mail */
	{
		char *outer = mail_with("fwd.eml", m, strlen(m));

		expect_verdict(scan_fx_run(&f, "o.eml", outer, strlen(outer)), FLT_AV_INFECTED, FLT_AV_EICAR_NAME,
			       "o.eml/fwd.eml/eicar.com");
		free(outer);
	}
	/* the policy sees a part's file name */
	{
		char *pm = mail_with("setup.exe", "MZ harmless", 11);

		expect_verdict(scan_fx_run(&f, "p.eml", pm, strlen(pm)), FLT_AV_POLICY, "Policy.Extension",
			       "p.eml/setup.exe");
		free(pm);
	}
	/* the same bytes without MIME fields are not opened: the raw scan only */
	expect_verdict(scan_fx_run(&f, "plain.txt", "Subject: x\n\nhello\n", 18), FLT_AV_CLEAN, "", NULL);
	scan_fx_close(&f);
	free(m);
}

static void test_limits(void **state)
{
	flt_av_limits_t lim;
	scan_fx_t f;
	char *m, *inner;
	uint8_t *big;

	(void)state;
	/* nesting: mail in mail in mail, max_depth 2 */
	flt_av_limits_default(&lim);
	lim.max_depth = 2;
	scan_fx_open(&f, &lim);
	m = mail_with("e.com", eicar, EICAR_LEN);
	for (int i = 0; i < 3; i++) {
		inner = m;
		m = mail_with("fwd.eml", inner, strlen(inner));
		free(inner);
	}
	expect_verdict(scan_fx_run(&f, "deep.eml", m, strlen(m)), FLT_AV_LIMITS, FLT_AV_LIMITS_NAME, NULL);
	assert_non_null(strstr(f.r.reason, "nesting deeper than 2"));
	free(m);
	scan_fx_close(&f);
	/* a part larger than max_file */
	flt_av_limits_default(&lim);
	lim.max_file = 1000;
	scan_fx_open(&f, &lim);
	big = calloc(1, 5000);
	m = mail_with("big.bin", big, 5000);
	expect_verdict(scan_fx_run(&f, "big.eml", m, strlen(m)), FLT_AV_LIMITS, FLT_AV_LIMITS_NAME, NULL);
	assert_non_null(strstr(f.r.reason, "max_file 1000"));
	free(m);
	free(big);
	scan_fx_close(&f);
}

static void test_truncations(void **state)
{
	char *m = mail_with("eicar.com", eicar, EICAR_LEN);
	size_t n = strlen(m);
	scan_fx_t f;

	(void)state;
	scan_fx_open(&f, NULL);
	for (size_t cut = 1; cut <= n; cut++) {
		const flt_av_result_t *r = scan_fx_run(&f, "t.eml", m, cut);

		/* a cut EICAR is no virus, but its name eicar.com still is policy */
		assert_true(r->verdict == FLT_AV_CLEAN || r->verdict == FLT_AV_INFECTED ||
			    (r->verdict == FLT_AV_POLICY && strcmp(r->name, "Policy.Extension") == 0));
	}
	expect_verdict(scan_fx_run(&f, "t.eml", m, n), FLT_AV_INFECTED, FLT_AV_EICAR_NAME, NULL);
	scan_fx_close(&f);
	free(m);
}

static void test_samples(void **state)
{
	static const char *const files[] = {"clam.mail", "clam.exe.mbox.base64", "clam.exe.mbox.uu"};
	scan_fx_t f;

	(void)state;
	scan_fx_open(&f, NULL);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		size_t len;
		uint8_t *p = sample(files[i], &len);
		char where[128];

		if (p == NULL)
			continue;
		snprintf(where, sizeof(where), "%s/clam.exe", files[i]);
		expect_verdict(scan_fx_run(&f, files[i], p, len), FLT_AV_INFECTED, "Sluice.Test.ClamExe.Body", where);
		free(p);
	}
	scan_fx_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detect),     cmocka_unit_test(test_members),
		cmocka_unit_test(test_scan_eicar), cmocka_unit_test(test_limits),
		cmocka_unit_test(test_truncations), cmocka_unit_test(test_samples),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
