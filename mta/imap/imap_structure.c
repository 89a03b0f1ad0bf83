/* imap_structure - ENVELOPE / BODY / BODYSTRUCTURE rendering and the
 * structure blob with its part table (see imap_structure.h). */
#include <stdlib.h>
#include <string.h>

#include "imap/imap_structure.h"
#include "sl_err.h"

#define NONE UINT32_MAX
#define ADDR_MAX 512 /* addresses per header rendered */

/* --- strings ----------------------------------------------------------- */

/* RFC 3501 §4.3: a quoted string holds 7-bit text without CR, LF, NUL;
 * anything else goes as a literal. */
static int put_string(sl_buf_t *o, sl_slice_t v)
{
	bool lit = v.len > 1024;

	for (size_t i = 0; i < v.len && !lit; i++)
		if (v.ptr[i] == 0 || v.ptr[i] == '\r' || v.ptr[i] == '\n' || v.ptr[i] >= 0x80)
			lit = true;
	if (lit) {
		int rc = sl_buf_printf(o, "{%zu}\r\n", v.len);
		return rc < 0 ? rc : sl_buf_append(o, v.ptr, v.len);
	}
	int rc = sl_buf_reserve(o, v.len * 2 + 2);
	if (rc < 0)
		return rc;
	o->data[o->len++] = '"';
	for (size_t i = 0; i < v.len; i++) {
		if (v.ptr[i] == '"' || v.ptr[i] == '\\')
			o->data[o->len++] = '\\';
		o->data[o->len++] = v.ptr[i];
	}
	o->data[o->len++] = '"';
	o->data[o->len] = 0;
	return 0;
}

static int put_nstring(sl_buf_t *o, sl_slice_t v, bool set)
{
	if (!set)
		return sl_buf_append(o, "NIL", 3);
	return put_string(o, v);
}

static int put_upper(sl_buf_t *o, sl_slice_t v)
{
	uint8_t tmp[256];

	if (v.len > sizeof(tmp))
		return put_string(o, v);
	for (size_t i = 0; i < v.len; i++)
		tmp[i] = (v.ptr[i] >= 'a' && v.ptr[i] <= 'z') ? (uint8_t)(v.ptr[i] - 32) : v.ptr[i];
	return put_string(o, sl_slice_make(tmp, v.len));
}

static int put_lit(sl_buf_t *o, const char *s)
{
	return sl_buf_append(o, s, strlen(s));
}

static sl_slice_t str(const msg_struct_t *s, msg_sref_t r)
{
	return msg_struct_str(s, r);
}

/* A raw header value trimmed of surrounding blanks. */
static sl_slice_t trimmed(sl_slice_t v)
{
	while (v.len && (v.ptr[0] == ' ' || v.ptr[0] == '\t')) {
		v.ptr++;
		v.len--;
	}
	while (v.len && (v.ptr[v.len - 1] == ' ' || v.ptr[v.len - 1] == '\t'))
		v.len--;
	return v;
}

/* --- ENVELOPE ---------------------------------------------------------- */

static int put_addrs(sl_buf_t *o, sl_slice_t raw, bool set)
{
	msg_addr_t *a;
	uint32_t n = 0;
	sl_buf_t strs;
	int rc;

	if (!set || trimmed(raw).len == 0)
		return put_lit(o, "NIL");
	a = malloc(ADDR_MAX * sizeof(*a));
	if (!a)
		return SL_ENOMEM;
	sl_buf_init(&strs, 4 * raw.len + 64 * ADDR_MAX + 64);
	rc = msg_addr_parse(raw, a, ADDR_MAX, &n, &strs);
	if (rc == SL_ENOMEM)
		goto done;
	rc = 0; /* past ADDR_MAX: what fits is rendered */
	if (n == 0) {
		rc = put_lit(o, "NIL");
		goto done;
	}
	rc = put_lit(o, "(");
	for (uint32_t i = 0; i < n && rc >= 0; i++) {
		sl_slice_t f[4] = {a[i].name, a[i].adl, a[i].mailbox, a[i].host};
		if (a[i].kind == MSG_ADDR_GROUP_END) {
			rc = put_lit(o, "(NIL NIL NIL NIL)");
			continue;
		}
		rc = put_lit(o, "(");
		for (int k = 0; k < 4 && rc >= 0; k++) {
			if (k)
				rc = put_lit(o, " ");
			if (rc >= 0) {
				bool present = f[k].ptr != NULL;
				if (a[i].kind == MSG_ADDR_GROUP_START && k == 3)
					present = false;
				rc = put_nstring(o, f[k], present);
			}
		}
		if (rc >= 0)
			rc = put_lit(o, ")");
	}
	if (rc >= 0)
		rc = put_lit(o, ")");
done:
	sl_buf_free(&strs);
	free(a);
	return rc;
}

int imap_structure_envelope(const msg_struct_t *s, uint32_t msg, sl_buf_t *out)
{
	const msg_snode_t *n = msg_struct_part(s, msg);
	int rc;

	if (!n || !n->is_message)
		return SL_ENOENT;
	const msg_sref_t *e = n->env;
	/* §7.4.2: absent or empty Sender / Reply-To take the From value */
	msg_sref_t sender = e[MSG_ENV_SENDER], reply = e[MSG_ENV_REPLY_TO];
	if (!sender.set || trimmed(str(s, sender)).len == 0)
		sender = e[MSG_ENV_FROM];
	if (!reply.set || trimmed(str(s, reply)).len == 0)
		reply = e[MSG_ENV_FROM];

	if ((rc = put_lit(out, "(")) < 0)
		return rc;
	if ((rc = put_nstring(out, trimmed(str(s, e[MSG_ENV_DATE])), e[MSG_ENV_DATE].set)) < 0 ||
	    (rc = put_lit(out, " ")) < 0 ||
	    (rc = put_nstring(out, trimmed(str(s, e[MSG_ENV_SUBJECT])), e[MSG_ENV_SUBJECT].set)) < 0)
		return rc;
	const msg_sref_t lists[6] = {e[MSG_ENV_FROM], sender, reply, e[MSG_ENV_TO], e[MSG_ENV_CC], e[MSG_ENV_BCC]};
	for (int k = 0; k < 6; k++) {
		if ((rc = put_lit(out, " ")) < 0 || (rc = put_addrs(out, str(s, lists[k]), lists[k].set)) < 0)
			return rc;
	}
	if ((rc = put_lit(out, " ")) < 0 ||
	    (rc = put_nstring(out, trimmed(str(s, e[MSG_ENV_IN_REPLY_TO])), e[MSG_ENV_IN_REPLY_TO].set)) < 0 ||
	    (rc = put_lit(out, " ")) < 0 ||
	    (rc = put_nstring(out, trimmed(str(s, e[MSG_ENV_MESSAGE_ID])), e[MSG_ENV_MESSAGE_ID].set)) < 0 ||
	    (rc = put_lit(out, ")")) < 0)
		return rc;
	return 0;
}

/* --- BODY / BODYSTRUCTURE ---------------------------------------------- */

static int put_params(sl_buf_t *o, const msg_struct_t *s, uint32_t first, uint32_t n, bool text_default)
{
	int rc;

	if (n == 0 && !text_default)
		return put_lit(o, "NIL");
	if ((rc = put_lit(o, "(")) < 0)
		return rc;
	bool have_cs = false;
	for (uint32_t i = 0; i < n; i++) {
		sl_slice_t name, value;
		msg_struct_param(s, first + i, &name, &value);
		if (name.len == 7 && memcmp(name.ptr, "charset", 7) == 0)
			have_cs = true;
		if ((i && (rc = put_lit(o, " ")) < 0) || (rc = put_upper(o, name)) < 0 ||
		    (rc = put_lit(o, " ")) < 0 || (rc = put_string(o, value)) < 0)
			return rc;
	}
	/* RFC 2045 §5.2: text without a charset is US-ASCII; say so, as servers do */
	if (text_default && !have_cs && (rc = put_lit(o, n ? " \"CHARSET\" \"US-ASCII\"" : "\"CHARSET\" \"US-ASCII\"")) < 0)
		return rc;
	return put_lit(o, ")");
}

static bool is_type(const msg_struct_t *s, msg_sref_t r, const char *lit)
{
	sl_slice_t v = str(s, r);
	return v.len == strlen(lit) && memcmp(v.ptr, lit, v.len) == 0;
}

static int put_enc(sl_buf_t *o, const msg_struct_t *s, const msg_snode_t *n)
{
	switch (n->cte_kind) {
	case MSG_CTE_7BIT:
		return put_lit(o, "\"7BIT\"");
	case MSG_CTE_8BIT:
		return put_lit(o, "\"8BIT\"");
	case MSG_CTE_BINARY:
		return put_lit(o, "\"BINARY\"");
	case MSG_CTE_QP:
		return put_lit(o, "\"QUOTED-PRINTABLE\"");
	case MSG_CTE_BASE64:
		return put_lit(o, "\"BASE64\"");
	default:
		break;
	}
	sl_slice_t v = trimmed(str(s, n->cte));
	return v.len ? put_upper(o, v) : put_lit(o, "\"7BIT\"");
}

static int put_dsp(sl_buf_t *o, const msg_struct_t *s, const msg_snode_t *n)
{
	int rc;

	if (!n->disp_type.set || n->disp_type.len == 0)
		return put_lit(o, "NIL");
	if ((rc = put_lit(o, "(")) < 0 || (rc = put_upper(o, str(s, n->disp_type))) < 0 ||
	    (rc = put_lit(o, " ")) < 0 || (rc = put_params(o, s, n->dparam0, n->ndparams, false)) < 0)
		return rc;
	return put_lit(o, ")");
}

/* Content-Language: one tag is a string, several a list (RFC 3501 body-fld-lang). */
static int put_lang(sl_buf_t *o, const msg_struct_t *s, const msg_snode_t *n)
{
	sl_slice_t v = str(s, n->language);
	sl_slice_t tags[32];
	size_t nt = 0, i = 0;
	int rc;

	while (i < v.len && nt < 32) {
		size_t j = i;
		while (j < v.len && v.ptr[j] != ',')
			j++;
		sl_slice_t t = trimmed(sl_slice_make(v.ptr + i, j - i));
		/* drop a comment, e.g. "en (English)" */
		for (size_t k = 0; k < t.len; k++)
			if (t.ptr[k] == '(' || t.ptr[k] == ' ') {
				t.len = k;
				break;
			}
		if (t.len)
			tags[nt++] = t;
		i = j + 1;
	}
	if (nt == 0)
		return put_lit(o, "NIL");
	if (nt == 1)
		return put_string(o, tags[0]);
	if ((rc = put_lit(o, "(")) < 0)
		return rc;
	for (size_t k = 0; k < nt; k++)
		if ((k && (rc = put_lit(o, " ")) < 0) || (rc = put_string(o, tags[k])) < 0)
			return rc;
	return put_lit(o, ")");
}

/* Extension data of a single part (after the basic/text/message fields). */
static int put_ext1(sl_buf_t *o, const msg_struct_t *s, const msg_snode_t *n)
{
	int rc;

	if ((rc = put_lit(o, " ")) < 0 || (rc = put_nstring(o, trimmed(str(s, n->md5)), n->md5.set)) < 0 ||
	    (rc = put_lit(o, " ")) < 0 || (rc = put_dsp(o, s, n)) < 0 || (rc = put_lit(o, " ")) < 0 ||
	    (rc = put_lang(o, s, n)) < 0 || (rc = put_lit(o, " ")) < 0 ||
	    (rc = put_nstring(o, trimmed(str(s, n->location)), n->location.set)) < 0)
		return rc;
	return 0;
}

/* "type" "subtype" params id desc enc octets: the fields every 1-part body has. */
static int put_basic(sl_buf_t *o, const msg_struct_t *s, const msg_snode_t *n)
{
	bool text = is_type(s, n->type, "text");
	int rc;

	if ((rc = put_upper(o, str(s, n->type))) < 0 || (rc = put_lit(o, " ")) < 0 ||
	    (rc = put_upper(o, str(s, n->subtype))) < 0 || (rc = put_lit(o, " ")) < 0 ||
	    (rc = put_params(o, s, n->param0, n->nparams, text)) < 0 || (rc = put_lit(o, " ")) < 0 ||
	    (rc = put_nstring(o, trimmed(str(s, n->id)), n->id.set)) < 0 || (rc = put_lit(o, " ")) < 0 ||
	    (rc = put_nstring(o, trimmed(str(s, n->description)), n->description.set)) < 0 ||
	    (rc = put_lit(o, " ")) < 0 || (rc = put_enc(o, s, n)) < 0)
		return rc;
	return sl_buf_printf(o, " %llu", (unsigned long long)(n->body_end - n->body_off));
}

static const char empty_text[] = "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0)";

int imap_structure_body(const msg_struct_t *s, uint32_t part, bool ext, sl_buf_t *out)
{
	struct frame {
		uint32_t node, next_child;
		uint8_t phase;
		bool any_child;
	};
	uint32_t cap = msg_struct_nparts(s) + 2, sp = 0;
	struct frame *st;
	int rc = 0;

	if (!msg_struct_part(s, part))
		return SL_ENOENT;
	st = malloc(cap * sizeof(*st));
	if (!st)
		return SL_ENOMEM;
	st[sp++] = (struct frame){part, NONE, 0, false};
	while (sp > 0 && rc >= 0) {
		struct frame *f = &st[sp - 1];
		const msg_snode_t *n = msg_struct_part(s, f->node);
		if (f->phase == 0) {
			if (n->is_multipart) {
				rc = put_lit(out, "(");
				f->phase = 1;
				f->next_child = n->first_child;
			} else if (n->is_rfc822) {
				const msg_snode_t *m = msg_struct_part(s, n->first_child);
				if ((rc = put_lit(out, "(")) < 0 || (rc = put_basic(out, s, n)) < 0 ||
				    (rc = put_lit(out, " ")) < 0)
					break;
				if (m && m->is_message) {
					if ((rc = imap_structure_envelope(s, n->first_child, out)) < 0 ||
					    (rc = put_lit(out, " ")) < 0)
						break;
					f->phase = 2;
					st[sp++] = (struct frame){n->first_child, NONE, 0, false};
				} else {
					/* the message was cut off (structure truncated): an empty one */
					rc = put_lit(out, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ");
					if (rc >= 0)
						rc = put_lit(out, empty_text);
					f->phase = 2;
				}
			} else {
				bool text = is_type(s, n->type, "text");
				if ((rc = put_lit(out, "(")) < 0 || (rc = put_basic(out, s, n)) < 0)
					break;
				if (text && (rc = sl_buf_printf(out, " %llu", (unsigned long long)n->body_lines)) < 0)
					break;
				if (ext && (rc = put_ext1(out, s, n)) < 0)
					break;
				rc = put_lit(out, ")");
				sp--;
			}
		} else if (f->phase == 1) {
			if (f->next_child != NONE) {
				uint32_t c = f->next_child;
				f->next_child = msg_struct_part(s, c) ? msg_struct_part(s, c)->next_sibling : NONE;
				f->any_child = true;
				st[sp++] = (struct frame){c, NONE, 0, false};
				continue;
			}
			/* RFC 3501 wants 1*body: a multipart without parts shows an empty text */
			if (!f->any_child && (rc = put_lit(out, empty_text)) < 0)
				break;
			if ((rc = put_lit(out, " ")) < 0 || (rc = put_upper(out, str(s, n->subtype))) < 0)
				break;
			if (ext) {
				if ((rc = put_lit(out, " ")) < 0 ||
				    (rc = put_params(out, s, n->param0, n->nparams, false)) < 0 ||
				    (rc = put_lit(out, " ")) < 0 || (rc = put_dsp(out, s, n)) < 0 ||
				    (rc = put_lit(out, " ")) < 0 || (rc = put_lang(out, s, n)) < 0 ||
				    (rc = put_lit(out, " ")) < 0 ||
				    (rc = put_nstring(out, trimmed(str(s, n->location)), n->location.set)) < 0)
					break;
			}
			rc = put_lit(out, ")");
			sp--;
		} else {
			/* message/rfc822 after its body: lines, extension data */
			if ((rc = sl_buf_printf(out, " %llu", (unsigned long long)n->body_lines)) < 0)
				break;
			if (ext && (rc = put_ext1(out, s, n)) < 0)
				break;
			rc = put_lit(out, ")");
			sp--;
		}
	}
	free(st);
	return rc < 0 ? rc : 0;
}

/* --- the blob ---------------------------------------------------------- */

/* Layout (little-endian):
 *   "SLST" u8 version(1) u8[3] 0
 *   u32 envelope_len, u32 body_len, u32 bodystructure_len, u32 nparts
 *   envelope, body, bodystructure bytes
 *   nparts rows: u32 parent, u8 flags, u64 header_off, u64 body_off,
 *                u64 body_end, u16 path_len, path bytes
 * flags: 1 is_message, 2 is_multipart, 4 is_rfc822. */
#define BLOB_MAGIC "SLST"
#define BLOB_VERSION 1
#define ROW_FIXED (4 + 1 + 8 + 8 + 8 + 2)
enum { RF_MESSAGE = 1, RF_MULTI = 2, RF_RFC822 = 4 };

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

int imap_structure_blob(const msg_struct_t *s, sl_buf_t *out)
{
	uint32_t np = msg_struct_nparts(s);
	size_t start = out->len;
	uint8_t hdr[24];
	int rc;

	if (np == 0 || msg_struct_truncated(s))
		return SL_EINVAL;
	memcpy(hdr, BLOB_MAGIC, 4);
	hdr[4] = BLOB_VERSION;
	hdr[5] = hdr[6] = hdr[7] = 0;
	memset(hdr + 8, 0, 16);
	if ((rc = sl_buf_append(out, hdr, sizeof(hdr))) < 0)
		return rc;
	size_t l0 = out->len;
	if ((rc = imap_structure_envelope(s, 0, out)) < 0)
		goto fail;
	size_t l1 = out->len;
	if ((rc = imap_structure_body(s, 0, false, out)) < 0)
		goto fail;
	size_t l2 = out->len;
	if ((rc = imap_structure_body(s, 0, true, out)) < 0)
		goto fail;
	size_t l3 = out->len;
	le32(out->data + start + 8, (uint32_t)(l1 - l0));
	le32(out->data + start + 12, (uint32_t)(l2 - l1));
	le32(out->data + start + 16, (uint32_t)(l3 - l2));
	le32(out->data + start + 20, np);
	for (uint32_t i = 0; i < np; i++) {
		const msg_snode_t *n = msg_struct_part(s, i);
		sl_slice_t path = str(s, n->path);
		uint8_t row[ROW_FIXED];
		le32(row, n->parent);
		row[4] = (uint8_t)((n->is_message ? RF_MESSAGE : 0) | (n->is_multipart ? RF_MULTI : 0) |
				   (n->is_rfc822 ? RF_RFC822 : 0));
		le64(row + 5, n->header_off);
		le64(row + 13, n->body_off);
		le64(row + 21, n->body_end);
		row[29] = (uint8_t)(path.len & 0xff);
		row[30] = (uint8_t)(path.len >> 8);
		if (path.len > 0xffff) {
			rc = SL_ELIMIT;
			goto fail;
		}
		if ((rc = sl_buf_append(out, row, sizeof(row))) < 0 ||
		    (rc = sl_buf_append(out, path.ptr, path.len)) < 0)
			goto fail;
	}
	return 0;
fail:
	out->len = start;
	return rc;
}

int imap_structure_view(sl_slice_t b, imap_structure_view_t *v)
{
	if (b.len < 24 || memcmp(b.ptr, BLOB_MAGIC, 4) != 0 || b.ptr[4] != BLOB_VERSION)
		return SL_ECORRUPT;
	uint64_t le = rd32(b.ptr + 8), lb = rd32(b.ptr + 12), ls = rd32(b.ptr + 16);
	if (24 + le + lb + ls > b.len)
		return SL_ECORRUPT;
	v->envelope = sl_slice_make(b.ptr + 24, le);
	v->body = sl_slice_make(b.ptr + 24 + le, lb);
	v->bodystructure = sl_slice_make(b.ptr + 24 + le + lb, ls);
	v->nparts = rd32(b.ptr + 20);
	return 0;
}

typedef struct row {
	uint32_t parent;
	uint8_t flags;
	uint64_t header_off, body_off, body_end;
} row_t;

/* Row I of the table (rows are read in order: the table is small). */
static int rows_load(sl_slice_t b, row_t **rows_r, uint32_t *n_r)
{
	imap_structure_view_t v;
	int rc = imap_structure_view(b, &v);

	if (rc < 0)
		return rc;
	size_t pos = 24 + v.envelope.len + v.body.len + v.bodystructure.len;
	if (v.nparts == 0 || v.nparts > b.len / ROW_FIXED)
		return SL_ECORRUPT;
	row_t *rows = calloc(v.nparts, sizeof(*rows));
	if (!rows)
		return SL_ENOMEM;
	for (uint32_t i = 0; i < v.nparts; i++) {
		if (pos + ROW_FIXED > b.len)
			goto corrupt;
		const uint8_t *r = b.ptr + pos;
		rows[i].parent = rd32(r);
		rows[i].flags = r[4];
		rows[i].header_off = rd64(r + 5);
		rows[i].body_off = rd64(r + 13);
		rows[i].body_end = rd64(r + 21);
		size_t pl = (size_t)r[29] | (size_t)r[30] << 8;
		pos += ROW_FIXED + pl;
		if (pos > b.len || (i == 0 ? rows[i].parent != NONE : rows[i].parent >= i) ||
		    rows[i].header_off > rows[i].body_off || rows[i].body_off > rows[i].body_end)
			goto corrupt;
	}
	*rows_r = rows;
	*n_r = v.nparts;
	return 0;
corrupt:
	free(rows);
	return SL_ECORRUPT;
}

/* The K-th (1-based) child of row P, or NONE. */
static uint32_t nth_child(const row_t *rows, uint32_t n, uint32_t p, unsigned long k)
{
	unsigned long seen = 0;

	for (uint32_t i = p + 1; i < n; i++)
		if (rows[i].parent == p && ++seen == k)
			return i;
	return NONE;
}

int imap_structure_section(sl_slice_t blob, sl_slice_t path, enum imap_sect kind, uint64_t *off_r,
			   uint64_t *len_r)
{
	row_t *rows;
	uint32_t n, cur = 0;
	int rc = rows_load(blob, &rows, &n);
	bool self_body = false; /* "1" of a non-multipart message: its own body */

	if (rc < 0)
		return rc;
	/* walk the path: at a message, a number picks a child of its multipart
	 * body, or (1 only) the body itself; at a message/rfc822 part, step
	 * into its message first */
	size_t i = 0;
	while (i < path.len) {
		unsigned long k = 0;
		size_t j = i;
		while (j < path.len && path.ptr[j] >= '0' && path.ptr[j] <= '9' && k < 100000)
			k = k * 10 + (unsigned long)(path.ptr[j++] - '0');
		if (j == i || k == 0 || (j < path.len && (path.ptr[j] != '.' || j + 1 == path.len))) {
			rc = SL_EINVAL;
			goto done;
		}
		if (self_body) {
			rc = SL_ENOENT; /* nothing below a leaf body */
			goto done;
		}
		if (rows[cur].flags & RF_RFC822) {
			uint32_t m = nth_child(rows, n, cur, 1);
			if (m == NONE) {
				rc = SL_ENOENT;
				goto done;
			}
			cur = m;
		}
		if (rows[cur].flags & RF_MULTI) {
			uint32_t c = nth_child(rows, n, cur, k);
			if (c == NONE) {
				rc = SL_ENOENT;
				goto done;
			}
			cur = c;
		} else if (k == 1 && (rows[cur].flags & RF_MESSAGE)) {
			self_body = true;
		} else {
			rc = SL_ENOENT;
			goto done;
		}
		i = j < path.len ? j + 1 : j;
	}
	const row_t *r = &rows[cur];
	switch (kind) {
	case IMAP_SECT_PART:
		if (path.len == 0) {
			rc = SL_EINVAL; /* BODY[] is the whole message, not a part */
			break;
		}
		*off_r = r->body_off;
		*len_r = r->body_end - r->body_off;
		break;
	case IMAP_SECT_MIME:
		if (path.len == 0) {
			rc = SL_EINVAL;
			break;
		}
		*off_r = r->header_off;
		*len_r = r->body_off - r->header_off;
		break;
	case IMAP_SECT_HEADER:
	case IMAP_SECT_TEXT: {
		const row_t *m = r;
		if (self_body) {
			rc = SL_EINVAL; /* "1.HEADER" of a plain body */
			break;
		}
		if (r->flags & RF_RFC822) {
			uint32_t c = nth_child(rows, n, cur, 1);
			m = c == NONE ? NULL : &rows[c];
		} else if (!(r->flags & RF_MESSAGE) || (path.len && !(r->flags & RF_RFC822))) {
			m = (r->flags & RF_MESSAGE) && path.len == 0 ? r : NULL;
		}
		if (!m) {
			rc = SL_EINVAL;
			break;
		}
		if (kind == IMAP_SECT_HEADER) {
			*off_r = m->header_off;
			*len_r = m->body_off - m->header_off;
		} else {
			*off_r = m->body_off;
			*len_r = m->body_end - m->body_off;
		}
		break;
	}
	}
done:
	free(rows);
	return rc;
}
