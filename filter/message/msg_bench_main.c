/* msg_bench - throughput of the MIME parser on a mix of messages.
 *
 *   build/msg_bench [-n ROUNDS] [-c CHUNK] [FILE...]
 *
 * Without files it generates a fixed mix (plain text, multipart/alternative
 * text+HTML in quoted-printable, a latin1 text, a base64 attachment of
 * 64 KiB, a message/rfc822 forward, a 5-part newsletter). Each message is
 * fed in CHUNK-byte pieces (default 1460, one TCP segment) with callbacks
 * that touch every byte (as a scanner would), and the rate is printed in
 * MB/s of raw message per CPU second (process CPU time, so other load on
 * the box does not count). Not a test: no pass/fail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "message/msg.h"
#include "message/msg_struct.h"
#include "sl_buf.h"

static uint64_t sink;

static int touch(void *ctx, const msg_part_t *p, sl_slice_t d)
{
	(void)ctx;
	(void)p;
	uint64_t s = 0;
	for (size_t i = 0; i < d.len; i++)
		s += d.ptr[i];
	sink += s;
	return 0;
}

static int on_url(void *ctx, const msg_part_t *p, sl_slice_t u)
{
	(void)ctx;
	(void)p;
	sink += u.len;
	return 0;
}

static void add(sl_buf_t *m, const char *s)
{
	sl_buf_append(m, s, strlen(s));
}

static void gen(sl_buf_t *msgs, size_t *offs, size_t *n)
{
	sl_buf_t m;
	unsigned r = 1;
	sl_buf_init(&m, 1u << 24);

#define NEXT()                                    \
	do {                                      \
		offs[(*n)++] = msgs->len;         \
		sl_buf_append(msgs, m.data, m.len); \
		sl_buf_reset(&m);                 \
	} while (0)
	/* 1: plain text, 8 KiB */
	add(&m, "From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nSubject: status report\r\n"
		"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n\r\n");
	for (int i = 0; i < 110; i++)
		add(&m, "The quick brown fox jumps over the lazy dog, see http://example.com/p.\r\n");
	NEXT();
	/* 2: alternative text + html, QP */
	add(&m, "From: news@shop.example\r\nSubject: =?utf-8?q?Gro=C3=9Fe_Angebote?=\r\n"
		"Content-Type: multipart/alternative; boundary=\"=_alt\"\r\n\r\n--=_alt\r\n"
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");
	for (int i = 0; i < 100; i++)
		add(&m, "Gro=C3=9Fe Angebote f=C3=BCr Sie, nur heute: https://shop.example/deal?id=3D1=\r\n23 jetzt.\r\n");
	add(&m, "--=_alt\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
		"<html><head><style>td{font:12px}</style></head><body><table>");
	for (int i = 0; i < 100; i++)
		add(&m, "<tr><td><a href=3D\"https://shop.example/item?id=3D42&amp;ref=3Dmail\">Gro=C3=9Fe &amp; kleine</a> "
			"Angebote&nbsp;&#8364;9</td></tr>\r\n");
	add(&m, "</table></body></html>\r\n--=_alt--\r\n");
	NEXT();
	/* 3: latin1 text */
	add(&m, "Subject: caf\xe9\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
	for (int i = 0; i < 100; i++)
		add(&m, "Un caf\xe9 cr\xe8me et deux cro\xeessants, s'il vous pla\xeet. Merci beaucoup.\r\n");
	NEXT();
	/* 4: base64 attachment, 64 KiB */
	add(&m, "Subject: invoice\r\nContent-Type: multipart/mixed; boundary=mix\r\n\r\n--mix\r\n"
		"Content-Type: text/plain\r\n\r\nPlease find the invoice attached.\r\n--mix\r\n"
		"Content-Type: application/pdf; name=\"invoice.pdf\"\r\nContent-Disposition: attachment; filename=\"invoice.pdf\"\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n");
	{
		static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		for (int line = 0; line < 1200; line++) {
			char l[80];
			for (int k = 0; k < 76; k++) {
				r = r * 1103515245u + 12345u;
				l[k] = b64[(r >> 16) & 63];
			}
			l[76] = '\r';
			l[77] = '\n';
			sl_buf_append(&m, l, 78);
		}
	}
	add(&m, "--mix--\r\n");
	NEXT();
	/* 5: forward with message/rfc822 */
	add(&m, "Subject: Fwd: hello\r\nContent-Type: multipart/mixed; boundary=f\r\n\r\n--f\r\n\r\nsee below\r\n--f\r\n"
		"Content-Type: message/rfc822\r\n\r\nFrom: \"Doe, John\" <john@x.example>\r\nSubject: hello\r\n\r\n");
	for (int i = 0; i < 60; i++)
		add(&m, "> quoted text of the original message, line after line.\r\n");
	add(&m, "--f--\r\n");
	NEXT();
	/* 6: five small parts */
	add(&m, "Content-Type: multipart/mixed; boundary=\"----=_Part_1\"\r\n\r\n");
	for (int i = 0; i < 5; i++) {
		add(&m, "------=_Part_1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n");
		for (int k = 0; k < 20; k++)
			add(&m, "short part line with www.example.net and more words\r\n");
	}
	add(&m, "------=_Part_1--\r\n");
	NEXT();
	sl_buf_free(&m);
#undef NEXT
}

int main(int argc, char **argv)
{
	int rounds = 300;
	size_t chunk = 1460;
	sl_buf_t msgs;
	size_t offs[4096], n = 0;

	sl_buf_init(&msgs, 1u << 30);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			rounds = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			chunk = (size_t)atol(argv[++i]);
			if (chunk == 0)
				chunk = 1;
		} else if (n < 4095) {
			FILE *f = fopen(argv[i], "rb");
			char buf[65536];
			size_t k;
			if (!f) {
				perror(argv[i]);
				return 2;
			}
			offs[n++] = msgs.len;
			while ((k = fread(buf, 1, sizeof(buf), f)) > 0)
				sl_buf_append(&msgs, buf, k);
			fclose(f);
		}
	}
	if (n == 0)
		gen(&msgs, offs, &n);
	offs[n] = msgs.len;

	msg_callbacks_t chain = {NULL, NULL, NULL, touch, touch, NULL, on_url, NULL};
	for (int with_struct = 0; with_struct < 2; with_struct++) {
		msg_struct_t *s = msg_struct_new(0);
		msg_callbacks_t cb = chain;
		if (with_struct)
			msg_struct_callbacks(s, &chain, &cb);
		msg_parser_t *p = msg_parser_new(NULL, &cb);
		struct timespec t0, t1;
		uint64_t bytes = 0;
		for (int r = -1; r < rounds; r++) {
			if (r == 0) { /* round -1 warms up caches and the iconv modules */
				bytes = 0;
				clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
			}
			for (size_t k = 0; k < n; k++) {
				const uint8_t *d = msgs.data + offs[k];
				size_t len = offs[k + 1] - offs[k];
				msg_parser_reset(p);
				msg_struct_reset(s);
				for (size_t i = 0; i < len; i += chunk)
					msg_parser_feed(p, d + i, len - i < chunk ? len - i : chunk);
				msg_parser_finish(p, NULL);
				bytes += len;
			}
		}
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
		double sec = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		printf("%s: %zu messages x %d rounds, %.1f MB in %.3f s: %.1f MB/s, %.0f msg/s (chunk %zu)\n",
		       with_struct ? "parser+struct" : "parser", n, rounds, (double)bytes / 1e6, sec,
		       (double)bytes / 1e6 / sec, (double)n * rounds / sec, chunk);
		msg_parser_free(&p);
		msg_struct_free(&s);
	}
	sl_buf_free(&msgs);
	return sink == 42 ? 1 : 0;
}
