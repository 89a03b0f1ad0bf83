/* sl_base64 - RFC 4648 base64 (the standard alphabet), as the SASL
 * exchanges of SMTP, IMAP and POP3 use it: padding required, no whitespace,
 * nothing after the padding. */
#ifndef SL_BASE64_H
#define SL_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* sl_base64_decode - decode LEN bytes of IN into OUT (room for OUT_MAX).
 * Returns the decoded length, or -1 for malformed input or too little room;
 * OUT may then hold partial output. */
long sl_base64_decode(const uint8_t *in, size_t len, uint8_t *out, size_t out_max);
/* sl_base64_encode - encode into OUT and NUL-terminate. Returns the encoded
 * length, or 0 (OUT untouched) when OUT_MAX cannot hold it with the NUL. */
size_t sl_base64_encode(const uint8_t *in, size_t len, char *out, size_t out_max);

#endif
