/* sl_base64 - RFC 4648 §4 base64. */
#include "sl_base64.h"

static int sl_base64_val(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long sl_base64_decode(const uint8_t *in, size_t len, uint8_t *out, size_t out_max)
{
	size_t o = 0;

	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		size_t pad = 0;

		for (size_t k = 0; k < 4; k++) {
			if (in[i + k] == '=') {
				/* padding only at the very end, at most two */
				if (i + 4 != len || k < 2)
					return -1;
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad > 0)
				return -1;
			v[k] = sl_base64_val(in[i + k]);
			if (v[k] < 0)
				return -1;
		}
		if (o + 3 - pad > out_max)
			return -1;
		out[o++] = (uint8_t)((v[0] << 2) | (v[1] >> 4));
		if (pad < 2)
			out[o++] = (uint8_t)(((v[1] & 0x0f) << 4) | (v[2] >> 2));
		if (pad < 1)
			out[o++] = (uint8_t)(((v[2] & 0x03) << 6) | v[3]);
	}
	return (long)o;
}

size_t sl_base64_encode(const uint8_t *in, size_t len, char *out, size_t out_max)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	if (out_max < ((len + 2) / 3) * 4 + 1)
		return 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? tab[v & 63] : '=';
	}
	out[o] = '\0';
	return o;
}
