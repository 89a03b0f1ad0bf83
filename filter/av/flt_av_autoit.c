/* flt_av_autoit - compiled AutoIt v3 scripts (an AutoIt interpreter PE
 * with the script appended, or in its "SCRIPT" resource), formats EA05 and
 * EA06, as public write-ups (e.g. the AutoIt-Ripper notes) describe them.
 *
 * A 16-byte marker a3 48 4b be 98 6c 4a a9 99 4c 53 0a 86 d6 48 7d and
 * "AU3!", then "EA05" or "EA06", 16 bytes (EA05 keys its file data with
 * their byte sum), then entries:
 *
 *   "FILE" (4 bytes, encrypted) | u32 n ^ K1 | name (n bytes; EA06: n
 *   UTF-16 units), encrypted with seed K2 + n | u32 m ^ K3 | source path
 *   likewise with seed K4 + m | u8 compressed | u32 packed size ^ K5 |
 *   u32 size ^ K5 | u32 Adler-32 ^ K6 | two FILETIMEs | data, encrypted
 *
 * EA05 encrypts with MT19937 (each key byte is the tempered output >> 1),
 * EA06 with a lagged "RanRot" generator (17 words, rol 9 + rol 13; a key
 * byte is the top byte of every second output). The constants K differ
 * between the two. Compressed data is "EA05"/"EA06", a big-endian size and
 * an LZSS bit stream (MSB first): a flag bit (literal when 0 for EA05, when
 * 1 for EA06), a literal byte, or a 15-bit distance and a length coded as
 * 2, 3, 5, 8 bits and then runs of 8 bits, each field's all-ones value
 * meaning "more" (lengths from 3).
 *
 * Every entry becomes a member: FileInstall'ed files by their name's last
 * path component, the script as "script.au3" (EA06 scripts are tokenised;
 * we scan them as they are, without turning the tokens back into text).
 * Bounds: at most AU3_FILES_MAX entries and AU3_MARKERS_MAX markers tried;
 * every length is checked against the file; decompression writes at most
 * e->cap bytes (more is the max_file/max_total verdict); a distance before
 * the start or input that runs out is broken. */
#include <stdio.h>
#include <string.h>

#include "av/flt_av_dec.h"
#include "sl_err.h"

#define AU3_FILES_MAX 4096u
#define AU3_MARKERS_MAX 8u
#define AU3_NAME_MAX 4096u

static const uint8_t au3_marker[20] = {0xa3, 0x48, 0x4b, 0xbe, 0x98, 0x6c, 0x4a, 0xa9, 0x99, 0x4c,
				       0x53, 0x0a, 0x86, 0xd6, 0x48, 0x7d, 'A',  'U',  '3',  '!'};

typedef struct au3_keys {
	uint32_t file, name_len, name, path_len, path, size, crc, data;
	bool ea06;
} au3_keys_t;

static const au3_keys_t au3_ea05 = {0x16fa, 0x29bc, 0xa25e, 0x29ac, 0xf25e, 0x45aa, 0xc3d2, 0x22af, false};
static const au3_keys_t au3_ea06 = {0x18ee, 0xadbc, 0xb33f, 0xf820, 0xf479, 0x87bc, 0xa685, 0x2477, true};

/* ---- key streams ---- */

typedef struct au3_rng {
	uint32_t s[624];
	uint32_t i;
	uint32_t c0, c1; /* EA06 */
	bool ea06;
} au3_rng_t;

static uint32_t au3_rol(uint32_t x, unsigned n)
{
	return x << n | x >> (32 - n);
}

static uint32_t au3_lame_next(au3_rng_t *r)
{
	uint32_t v = au3_rol(r->s[r->c0], 9) + au3_rol(r->s[r->c1], 13);

	r->s[r->c0] = v;
	r->c0 = r->c0 == 0 ? 16 : r->c0 - 1;
	r->c1 = r->c1 == 0 ? 16 : r->c1 - 1;
	return v;
}

static void au3_seed(au3_rng_t *r, bool ea06, uint32_t seed)
{
	r->ea06 = ea06;
	if (ea06) {
		for (int i = 0; i < 17; i++) {
			seed = 1 - seed * 0x53a9b4fbu;
			r->s[i] = seed;
		}
		r->c0 = 0;
		r->c1 = 10;
		for (int i = 0; i < 9; i++)
			au3_lame_next(r);
		return;
	}
	r->s[0] = seed;
	for (uint32_t i = 1; i < 624; i++)
		r->s[i] = 0x6c078965u * (r->s[i - 1] ^ r->s[i - 1] >> 30) + i;
	r->i = 624;
}

static uint8_t au3_key_byte(au3_rng_t *r)
{
	uint32_t y;

	if (r->ea06) {
		au3_lame_next(r);
		return (uint8_t)(au3_lame_next(r) >> 24);
	}
	if (r->i >= 624) {
		for (uint32_t k = 0; k < 624; k++) {
			uint32_t v = (r->s[k] & 0x80000000u) | (r->s[(k + 1) % 624] & 0x7fffffffu);

			r->s[k] = r->s[(k + 397) % 624] ^ v >> 1 ^ ((v & 1) ? 0x9908b0dfu : 0);
		}
		r->i = 0;
	}
	y = r->s[r->i++];
	y ^= y >> 11;
	y ^= (y << 7) & 0x9d2c5680u;
	y ^= (y << 15) & 0xefc60000u;
	y ^= y >> 18;
	return (uint8_t)(y >> 1);
}

static void au3_decrypt(uint8_t *dst, const uint8_t *src, size_t n, bool ea06, uint32_t seed)
{
	au3_rng_t r;

	au3_seed(&r, ea06, seed);
	for (size_t i = 0; i < n; i++)
		dst[i] = src[i] ^ au3_key_byte(&r);
}

/* ---- the LZSS stream ---- */

typedef struct au3_bits {
	const uint8_t *p;
	size_t len, pos; /* pos in bits */
	bool eof;
} au3_bits_t;

static uint32_t au3_get(au3_bits_t *b, uint32_t n)
{
	uint32_t v = 0;

	for (uint32_t i = 0; i < n; i++) {
		if (b->pos >= b->len * 8) {
			b->eof = true;
			return 0;
		}
		v = v << 1 | ((b->p[b->pos >> 3] >> (7 - (b->pos & 7))) & 1);
		b->pos++;
	}
	return v;
}

/* Decompress IN ("EA05"/"EA06", size, bits) into OUT. 0, 1 (cap),
 * SL_EINVAL (OUT keeps what was decoded), SL_ENOMEM. */
static int au3_unpack(sl_slice_t in, bool ea06, av_emit_t *e, sl_buf_t *out)
{
	au3_bits_t b;
	uint32_t size;
	int rc;

	sl_buf_reset(out);
	if (in.len < 8 || memcmp(in.ptr, ea06 ? "EA06" : "EA05", 4) != 0)
		return SL_EINVAL;
	size = (uint32_t)in.ptr[4] << 24 | (uint32_t)in.ptr[5] << 16 | (uint32_t)in.ptr[6] << 8 | in.ptr[7];
	if (size > e->cap)
		return av_emit_toolarge(e);
	if ((rc = sl_buf_reserve(out, size)) != 0)
		return rc == SL_ELIMIT ? av_emit_toolarge(e) : rc;
	b = (au3_bits_t){in.ptr + 8, in.len - 8, 0, false};
	while (out->len < size) {
		if (au3_get(&b, 1) == (ea06 ? 1u : 0u)) {
			uint8_t c = (uint8_t)au3_get(&b, 8);

			if (b.eof)
				return SL_EINVAL;
			out->data[out->len++] = c;
		} else {
			uint32_t dist = au3_get(&b, 15), len = au3_get(&b, 2), add = 0;

			if (len == 3) {
				add = 3;
				len = au3_get(&b, 3);
				if (len == 7) {
					add = 10;
					len = au3_get(&b, 5);
					if (len == 31) {
						add = 41;
						len = au3_get(&b, 8);
						if (len == 255) {
							add = 296;
							/* each step reads 8 bits: bounded by the input */
							while ((len = au3_get(&b, 8)) == 255 && !b.eof && add < size)
								add += 255;
						}
					}
				}
			}
			len += 3 + add;
			if (b.eof || dist == 0 || dist > out->len)
				return SL_EINVAL;
			if (len > size - out->len)
				len = (uint32_t)(size - out->len); /* the last match may run past the end */
			for (uint32_t i = 0; i < len; i++, out->len++)
				out->data[out->len] = out->data[out->len - dist];
		}
	}
	return 0;
}

/* ---- entries ---- */

/* NAME (decrypted, EA06: UTF-16LE) as a printable member name: the last
 * path component; scripts become "script.au3". */
static void au3_member_name(char *dst, size_t cap, const uint8_t *p, size_t n, bool wide)
{
	size_t k = 0, step = wide ? 2 : 1;

	for (size_t i = 0; i + step <= n && k + 1 < cap; i += step) {
		uint32_t c = wide ? av_le16(p + i) : p[i];

		if (c == '\\' || c == '/') {
			k = 0;
			continue;
		}
		dst[k++] = c >= 0x20 && c < 0x7f ? (char)c : '_';
	}
	dst[k] = '\0';
	if (dst[0] == '>')
		snprintf(dst, cap, "script.au3");
}

/* NAME (EA06: UTF-16LE) is exactly the ASCII text S. */
static bool au3_is(const uint8_t *name, size_t n, bool wide, const char *s)
{
	size_t sl = strlen(s), step = wide ? 2 : 1;

	if (n != sl * step)
		return false;
	for (size_t i = 0; i < sl; i++)
		if (name[i * step] != (uint8_t)s[i] || (wide && name[i * step + 1] != 0))
			return false;
	return true;
}

static bool au3_read32(sl_slice_t d, size_t *at, uint32_t key, uint32_t *v_r)
{
	if (d.len - *at < 4)
		return false;
	*v_r = av_le32(d.ptr + *at) ^ key;
	*at += 4;
	return true;
}

static int au3_entries(sl_slice_t d, size_t at, const au3_keys_t *k, uint32_t sum, av_emit_t *e)
{
	sl_buf_t dec, out;
	uint8_t name[AU3_NAME_MAX * 2];
	int rc = 0;

	av_emit_buf_init(e, &dec);
	av_emit_buf_init(e, &out);
	for (uint32_t f = 0; f < AU3_FILES_MAX && rc == 0; f++) {
		uint32_t nlen, plen, psize = 0, usize = 0, crc = 0;
		uint8_t tag[4], comp;
		size_t nbytes, pbytes;
		char mname[256];
		sl_slice_t data;

		if (d.len - at < 4)
			break; /* the end */
		au3_decrypt(tag, d.ptr + at, 4, k->ea06, k->file);
		if (memcmp(tag, "FILE", 4) != 0)
			break; /* the end of the entries */
		at += 4;
		if (!au3_read32(d, &at, k->name_len, &nlen) || nlen > AU3_NAME_MAX) {
			e->broken++;
			break;
		}
		nbytes = k->ea06 ? (size_t)nlen * 2 : nlen;
		if (d.len - at < nbytes) {
			e->broken++;
			break;
		}
		au3_decrypt(name, d.ptr + at, nbytes, k->ea06, k->name + nlen);
		at += nbytes;
		if (!au3_read32(d, &at, k->path_len, &plen) || plen > AU3_NAME_MAX) {
			e->broken++;
			break;
		}
		pbytes = k->ea06 ? (size_t)plen * 2 : plen;
		if (d.len - at < pbytes + 1 + 12 + 16) {
			e->broken++;
			break;
		}
		at += pbytes; /* the source path: not needed */
		au3_member_name(mname, sizeof(mname), name, nbytes, k->ea06);
		comp = d.ptr[at++];
		if (au3_is(name, nbytes, k->ea06, ">>>AUTOIT NO CMDEXECUTE<<<")) {
			/* a marker entry: a size and that many bytes + 0x18 */
			uint32_t skip;

			if (!au3_read32(d, &at, k->size, &skip) || (uint64_t)skip + 0x18 > d.len - at) {
				e->broken++;
				break;
			}
			at += (size_t)skip + 0x18;
			continue;
		}
		au3_read32(d, &at, k->size, &psize);
		au3_read32(d, &at, k->size, &usize);
		au3_read32(d, &at, k->crc, &crc);
		at += 16; /* creation and last-write times */
		if (psize > d.len - at) {
			e->broken++;
			break;
		}
		if (psize > e->cap) {
			rc = av_emit_toolarge(e);
			break;
		}
		sl_buf_reset(&dec);
		if ((rc = sl_buf_reserve(&dec, psize)) != 0) {
			rc = rc == SL_ELIMIT ? av_emit_toolarge(e) : rc;
			break;
		}
		au3_decrypt(dec.data, d.ptr + at, psize, k->ea06, k->ea06 ? k->data : sum + k->data);
		dec.len = psize;
		at += psize;
		data = sl_buf_slice(&dec);
		if (comp == 1) {
			rc = au3_unpack(data, k->ea06, e, &out);
			if (rc == SL_EINVAL) {
				e->broken++; /* what was decoded is still scanned */
				rc = 0;
			}
			if (rc != 0)
				break;
			data = sl_buf_slice(&out);
		}
		(void)usize;
		(void)crc; /* the data is scanned whatever its checksum says */
		rc = e->member(e, mname[0] != '\0' ? mname : NULL, NULL, data);
	}
	sl_buf_free(&dec);
	sl_buf_free(&out);
	return rc;
}

int av_dec_autoit(sl_slice_t d, const char *name, av_emit_t *e)
{
	size_t i = 0x40;

	(void)name;
	for (uint32_t m = 0; m < AU3_MARKERS_MAX && i < d.len; m++) {
		const uint8_t *p = memmem(d.ptr + i, d.len - i, au3_marker, sizeof(au3_marker));
		size_t at;
		const au3_keys_t *k;
		uint8_t tag[4];
		uint32_t sum = 0;

		if (p == NULL)
			return 0;
		at = (size_t)(p - d.ptr) + sizeof(au3_marker);
		i = at;
		if (d.len - at < 4 + 16 + 4)
			continue;
		if (memcmp(d.ptr + at, "EA05", 4) == 0)
			k = &au3_ea05;
		else if (memcmp(d.ptr + at, "EA06", 4) == 0)
			k = &au3_ea06;
		else
			continue;
		at += 4;
		for (int j = 0; j < 16; j++)
			sum += d.ptr[at + j];
		at += 16;
		au3_decrypt(tag, d.ptr + at, 4, k->ea06, k->file);
		if (memcmp(tag, "FILE", 4) != 0) {
			e->broken++;
			continue;
		}
		return au3_entries(d, at, k, sum, e);
	}
	return 0;
}
