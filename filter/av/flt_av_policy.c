/* flt_av_policy - attachment policy: extensions, double extensions, true
 * and declared MIME types. The lists are configurable; these are the
 * defaults (docs/filter-av.md explains the choice). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "av/flt_av_private.h"

const char *const flt_av_default_block_ext[] = {
	/* Windows executables and libraries */
	"exe", "com", "scr", "pif", "cpl", "dll", "ocx", "sys", "drv", "msi", "msp", "mst", "appx", "msix",
	/* scripts and script hosts */
	"bat", "cmd", "js", "jse", "vbs", "vbe", "vb", "wsf", "wsc", "wsh", "ws", "ps1", "psm1", "psd1",
	"ps1xml", "hta", "sct", "jar", "msc", "gadget", "application", "xll",
	/* shortcuts, registry, help and disk images that carry the above past scanners */
	"lnk", "reg", "inf", "scf", "url", "chm", "hlp", "iso", "img", "vhd", "vhdx",
	NULL};

const char *const flt_av_default_decoy_ext[] = {
	"pdf", "doc", "docx", "docm", "xls", "xlsx", "xlsm", "ppt", "pptx", "rtf", "odt", "ods", "txt",
	"csv", "xml", "htm", "html", "eml", "msg", "jpg", "jpeg", "png", "gif", "bmp", "tif", "tiff",
	"mp3", "mp4", "wav", "avi", "mov", "zip", "rar", "7z", NULL};

const char *const flt_av_default_block_types[] = {
	"application/x-dosexec", "application/vnd.microsoft.portable-executable", "application/x-msdownload",
	"application/x-executable", "application/x-pie-executable", "application/x-sharedlib",
	"application/x-mach-binary", "application/x-msi", "application/x-ms-shortcut", "text/x-msdos-batch",
	NULL};

void flt_av_policy_default(flt_av_policy_t *p)
{
	p->block_ext = NULL;
	p->decoy_ext = NULL;
	p->block_types = NULL;
	p->block_encrypted = 1;
	p->enabled = 1;
}

static bool in_list(const char *const *list, const char *s, size_t len)
{
	for (; list != NULL && *list != NULL; list++)
		if (strlen(*list) == len && strncasecmp(*list, s, len) == 0)
			return true;
	return false;
}

/* Windows ignores trailing dots and spaces ("x.exe. ." runs as x.exe). */
static bool is_trail(char c)
{
	return c == '.' || c == ' ' || c == '\t';
}

int av_policy_check_name(const flt_av_policy_t *p, const char *name, char *name_r, size_t name_len,
			 char *reason, size_t reason_len)
{
	const char *const *block = p->block_ext != NULL ? p->block_ext : flt_av_default_block_ext;
	const char *const *decoy = p->decoy_ext != NULL ? p->decoy_ext : flt_av_default_decoy_ext;
	const char *base = name, *ext, *inner;
	size_t len, elen, ilen;

	for (const char *c = name; *c != '\0'; c++)
		if (*c == '/' || *c == '\\')
			base = c + 1;
	len = strlen(base);
	while (len > 0 && is_trail(base[len - 1]))
		len--;
	ext = NULL;
	for (size_t i = len; i > 0; i--)
		if (base[i - 1] == '.') {
			ext = base + i;
			break;
		}
	if (ext == NULL || ext == base + 1)
		return 0; /* no extension, or a dot file */
	elen = (size_t)(base + len - ext);
	if (!in_list(block, ext, elen))
		return 0;
	/* the extension before it, spaces trimmed ("invoice.pdf      .exe") */
	ilen = 0;
	inner = NULL;
	{
		size_t end = (size_t)(ext - 1 - base);

		while (end > 0 && base[end - 1] == ' ')
			end--;
		for (size_t i = end; i > 0; i--)
			if (base[i - 1] == '.') {
				inner = base + i;
				ilen = end - i;
				break;
			}
	}
	if (inner != NULL && inner != base + 1 && in_list(decoy, inner, ilen)) {
		snprintf(name_r, name_len, "Policy.DoubleExtension");
		snprintf(reason, reason_len, "double extension .%.*s.%.*s", (int)ilen, inner, (int)elen, ext);
	} else {
		snprintf(name_r, name_len, "Policy.Extension");
		snprintf(reason, reason_len, "extension .%.*s is blocked", (int)elen, ext);
	}
	return 1;
}

int av_policy_type_blocked(const flt_av_policy_t *p, const char *t)
{
	const char *const *types = p->block_types != NULL ? p->block_types : flt_av_default_block_types;
	size_t len = 0;

	while (t[len] == ' ')
		t++;
	while (t[len] != '\0' && t[len] != ';' && t[len] != ' ')
		len++;
	return in_list(types, t, len);
}
