/* imap_recent - who has been told of a message (IMAP4rev1 \Recent).
 *
 * RFC 3501 §2.3.2: a message is \Recent in exactly one session, the first
 * to see it. The table maps a mailbox id to the highest UID already
 * claimed; a session claims everything up to what it has seen and keeps
 * \Recent for the UIDs above the previous claim. One table serves every
 * lane (the calls lock), so two sessions on different lcores never both
 * get \Recent for a message. It is memory only: after a restart every
 * message is \Recent once more to one session, which RFC 9051 (that
 * dropped \Recent) and every client tolerate; so is the table's reset
 * when it is half full of mailboxes. */
#ifndef SLUICE_IMAP_RECENT_H
#define SLUICE_IMAP_RECENT_H

#include <stdint.h>

typedef struct imap_recent imap_recent_t;

/* imap_recent_create - an empty table, or NULL (out of memory). */
imap_recent_t *imap_recent_create(void);
/* imap_recent_destroy - *T = NULL; NULL is a no-op. */
void imap_recent_destroy(imap_recent_t **t);

/* imap_recent_claimed - the highest UID claimed in MAILBOX_ID (0: none). */
uint32_t imap_recent_claimed(imap_recent_t *t, uint64_t mailbox_id);
/* imap_recent_claim - raise the claim of MAILBOX_ID to at least UID and
 * return the claim before: UIDs in (returned, UID] are the caller's. */
uint32_t imap_recent_claim(imap_recent_t *t, uint64_t mailbox_id, uint32_t uid);

#endif
