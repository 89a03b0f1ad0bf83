/* msg_decode - streaming transfer decoders: base64, quoted-printable,
 * uuencode. Each keeps its state between calls, so input may be split
 * anywhere, and never fails: bad input is decoded the way mail clients
 * decode it, and flagged. */
#include "message/msg_private.h"

/* 0..63 for the base64 alphabet, 64 for '=', 65 for whitespace, 66 other. */
static const uint8_t b64_tab[256] = {
#define X66 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66
	66, 66, 66, 66, 66, 66, 66, 66, 66, 65, 65, 66, 66, 65, 66, 66,
	X66,
	65, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 62, 66, 66, 66, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 66, 66, 66, 64, 66, 66,
	66, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 66, 66, 66, 66, 66,
	66, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 66, 66, 66, 66, 66,
	X66, X66, X66, X66, X66, X66, X66, X66,
#undef X66
};

/* RFC 2045 §6.8: characters outside the alphabet are ignored (clients do
 * the same); '=' ends the data, but concatenated base64 bodies exist, so
 * decoding goes on after it with a fresh quantum. */
size_t msg_b64_decode(msg_b64_t *s, const uint8_t *in, size_t len, uint8_t *out, uint32_t *anom)
{
	size_t o = 0;
	uint32_t acc = s->acc;
	unsigned nbits = s->nbits;

	for (size_t i = 0; i < len; i++) {
		/* fast path: whole quanta of alphabet bytes (most of a body line) */
		if (nbits == 0 && !s->pad) {
			while (i + 4 <= len) {
				uint32_t a = b64_tab[in[i]], b = b64_tab[in[i + 1]], c = b64_tab[in[i + 2]],
					 d = b64_tab[in[i + 3]];
				if ((a | b | c | d) >= 64)
					break;
				uint32_t q = a << 18 | b << 12 | c << 6 | d;
				out[o] = (uint8_t)(q >> 16);
				out[o + 1] = (uint8_t)(q >> 8);
				out[o + 2] = (uint8_t)q;
				o += 3;
				i += 4;
			}
			if (i >= len)
				break;
		}
		uint8_t v = b64_tab[in[i]];

		if (v < 64) {
			if (s->pad) {
				/* data after padding: a new quantum */
				s->pad = false;
				acc = 0;
				nbits = 0;
			}
			acc = (acc << 6) | v;
			nbits += 6;
			if (nbits >= 8) {
				nbits -= 8;
				out[o++] = (uint8_t)(acc >> nbits);
			}
		} else if (v == 64) {
			if (!s->pad && nbits != 2 && nbits != 4)
				*anom |= MSG_ANOM_BAD_BASE64; /* '=' where no padding belongs */
			s->pad = true;
			acc = 0;
			nbits = 0;
		} else if (v == 66) {
			*anom |= MSG_ANOM_BAD_BASE64;
		}
	}
	s->acc = acc & 0xffffff;
	s->nbits = (uint8_t)nbits;
	return o;
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10; /* lowercase is invalid but universally accepted */
	return -1;
}

/* RFC 2045 §6.7. States: 0 text, 1 after '=', 2 after '=X', 3 after '=' CR,
 * 4 after '=' and whitespace (a soft break with trailing blanks). Anything
 * that is not a valid escape or soft break is passed through as is. */
size_t msg_qp_decode(msg_qp_t *s, const uint8_t *in, size_t len, uint8_t *out, uint32_t *anom)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = in[i];

		switch (s->state) {
		case 0:
			if (c == '=') {
				s->state = 1;
				s->hold[0] = c;
				s->nhold = 1;
			} else {
				out[o++] = c;
			}
			break;
		case 1:
			if (hexval(c) >= 0) {
				s->state = 2;
				s->hold[s->nhold++] = c;
			} else if (c == '\n') {
				s->state = 0; /* soft line break */
			} else if (c == '\r') {
				s->state = 3;
			} else if (msg_is_wsp(c)) {
				s->state = 4;
				s->hold[s->nhold++] = c;
			} else {
				*anom |= MSG_ANOM_BAD_QP;
				out[o++] = '=';
				s->state = 0;
				i--; /* reprocess C as text */
			}
			break;
		case 2:
			if (hexval(c) >= 0) {
				out[o++] = (uint8_t)(hexval(s->hold[1]) << 4 | hexval(c));
				s->state = 0;
			} else {
				*anom |= MSG_ANOM_BAD_QP;
				out[o++] = '=';
				out[o++] = s->hold[1];
				s->state = 0;
				i--;
			}
			break;
		case 3:
			s->state = 0;
			if (c != '\n') {
				/* '=' CR without LF: drop the break, keep C */
				i--;
			}
			break;
		case 4:
			if (msg_is_wsp(c) && s->nhold < sizeof(s->hold)) {
				s->hold[s->nhold++] = c;
			} else if (c == '\n') {
				s->state = 0;
			} else if (c == '\r') {
				s->state = 3;
			} else {
				*anom |= MSG_ANOM_BAD_QP;
				for (unsigned k = 0; k < s->nhold; k++)
					out[o++] = s->hold[k];
				s->state = 0;
				i--;
			}
			break;
		}
	}
	return o;
}

size_t msg_qp_flush(msg_qp_t *s, uint8_t *out, uint32_t *anom)
{
	size_t o = 0;

	if (s->state == 1 || s->state == 2 || s->state == 4) {
		/* a trailing "=" (+ blanks) is a soft break at the end of the body;
		 * "=X" is an invalid escape */
		if (s->state == 2) {
			*anom |= MSG_ANOM_BAD_QP;
			out[o++] = '=';
			out[o++] = s->hold[1];
		}
	}
	s->state = 0;
	s->nhold = 0;
	return o;
}

#define UU_DEC(c) ((uint8_t)(((c) - ' ') & 0x3f))

/* One line of a uuencoded block. Returns the bytes written. */
static size_t uu_line(msg_uu_t *s, uint8_t *out, uint32_t *anom)
{
	const uint8_t *l = s->line;
	size_t n = s->len, o = 0;

	while (n > 0 && (l[n - 1] == '\r' || l[n - 1] == ' ' || l[n - 1] == '\t'))
		n--;
	if (s->overlong) {
		if (s->state == 1)
			*anom |= MSG_ANOM_BAD_UUENCODE;
		return 0;
	}
	if (s->state == 0) {
		if (n >= 6 && memcmp(l, "begin ", 6) == 0)
			s->state = 1;
		return 0;
	}
	if (s->state != 1)
		return 0;
	if (n == 3 && memcmp(l, "end", 3) == 0) {
		s->state = 2;
		return 0;
	}
	if (n == 0)
		return 0;
	size_t want = UU_DEC(l[0]);
	size_t have = n - 1;
	if (want == 0)
		return 0;
	if ((want + 2) / 3 * 4 > have + 2) { /* allow lost trailing blanks */
		*anom |= MSG_ANOM_BAD_UUENCODE;
		/* never more output than the line carries: out <= in per line */
		if (want > (have + 3) / 4 * 3)
			want = (have + 3) / 4 * 3;
	}
	for (size_t i = 1; o < want; i += 4) {
		uint8_t q[4];

		for (int k = 0; k < 4; k++) {
			uint8_t c = (i + k < n) ? l[i + k] : ' ';
			if (c < ' ' || c > '`') {
				*anom |= MSG_ANOM_BAD_UUENCODE;
				c = ' ';
			}
			q[k] = UU_DEC(c);
		}
		uint8_t b[3] = {(uint8_t)(q[0] << 2 | q[1] >> 4), (uint8_t)(q[1] << 4 | q[2] >> 2),
				(uint8_t)(q[2] << 6 | q[3])};
		for (int k = 0; k < 3 && o < want; k++)
			out[o++] = b[k];
	}
	return o;
}

/* OUT needs room for LEN + 192 bytes: a line never decodes to more bytes
 * than it has (LF included), plus the line carried from the last call. */
size_t msg_uu_decode(msg_uu_t *s, const uint8_t *in, size_t len, uint8_t *out, uint32_t *anom)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = in[i];

		if (c == '\n') {
			o += uu_line(s, out + o, anom);
			s->len = 0;
			s->overlong = false;
		} else if (s->len < sizeof(s->line)) {
			s->line[s->len++] = c;
		} else {
			s->overlong = true;
		}
	}
	return o;
}

size_t msg_uu_flush(msg_uu_t *s, uint8_t *out, uint32_t *anom)
{
	size_t o = 0;

	if (s->len > 0)
		o = uu_line(s, out, anom);
	if (s->state == 1)
		*anom |= MSG_ANOM_TRUNCATED; /* no "end" line */
	s->len = 0;
	return o;
}
