/* imap_recent - the \Recent claims of every lane (see imap_recent.h). */
#include "imap_recent.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define RECENT_SLOTS 16384u
#define RECENT_FILL_MAX (RECENT_SLOTS / 2)

struct recent_slot {
	uint64_t mailbox_id; /* 0 = empty */
	uint32_t claimed;
};

struct imap_recent {
	pthread_mutex_t lock;
	unsigned fill;
	struct recent_slot slot[RECENT_SLOTS];
};

imap_recent_t *imap_recent_create(void)
{
	imap_recent_t *t = calloc(1, sizeof(*t));

	if (t != NULL && pthread_mutex_init(&t->lock, NULL) != 0) {
		free(t);
		return NULL;
	}
	return t;
}

void imap_recent_destroy(imap_recent_t **tp)
{
	if (*tp == NULL)
		return;
	pthread_mutex_destroy(&(*tp)->lock);
	free(*tp);
	*tp = NULL;
}

/* recent_find - the slot of ID, added if ADD (NULL if absent and not ADD).
 * Linear probing; never full: at RECENT_FILL_MAX mailboxes the table
 * starts over. Called with the lock held. */
static struct recent_slot *recent_find(imap_recent_t *t, uint64_t id, bool add)
{
	uint32_t i = (uint32_t)((id * 0x9E3779B97F4A7C15ull) >> 40) & (RECENT_SLOTS - 1);

	while (t->slot[i].mailbox_id != 0 && t->slot[i].mailbox_id != id)
		i = (i + 1) & (RECENT_SLOTS - 1);
	if (t->slot[i].mailbox_id == id)
		return &t->slot[i];
	if (!add)
		return NULL;
	if (t->fill >= RECENT_FILL_MAX) {
		memset(t->slot, 0, sizeof(t->slot));
		t->fill = 0;
		return recent_find(t, id, true);
	}
	t->fill++;
	t->slot[i].mailbox_id = id;
	t->slot[i].claimed = 0;
	return &t->slot[i];
}

uint32_t imap_recent_claimed(imap_recent_t *t, uint64_t mailbox_id)
{
	struct recent_slot *r;
	uint32_t claimed;

	pthread_mutex_lock(&t->lock);
	r = recent_find(t, mailbox_id, false);
	claimed = r != NULL ? r->claimed : 0;
	pthread_mutex_unlock(&t->lock);
	return claimed;
}

uint32_t imap_recent_claim(imap_recent_t *t, uint64_t mailbox_id, uint32_t uid)
{
	struct recent_slot *r;
	uint32_t before;

	if (mailbox_id == 0)
		return uid; /* no such mailbox: nothing to claim */
	pthread_mutex_lock(&t->lock);
	r = recent_find(t, mailbox_id, true);
	before = r->claimed;
	if (uid > r->claimed)
		r->claimed = uid;
	pthread_mutex_unlock(&t->lock);
	return before;
}
