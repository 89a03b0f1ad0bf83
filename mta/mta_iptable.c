/* mta_iptable - per-address session counts and login failures. */
#include "mta_iptable.h"

#include <stdlib.h>

#define AUTHLOCK_SLOTS 4096

typedef struct ip_slot {
	uint32_t ip; /* 0 = empty */
	uint32_t count;
} ip_slot_t;

struct mta_ipcount {
	ip_slot_t *slot;
	uint32_t mask;
};

typedef struct authlock_slot {
	uint32_t ip;
	uint32_t failures;
	uint64_t since;
} authlock_slot_t;

struct mta_authlock {
	uint32_t limit;
	uint64_t window;
	authlock_slot_t slot[AUTHLOCK_SLOTS];
};

static uint32_t ip_hash(uint32_t ip)
{
	return (ip * 2654435761u) >> 7;
}

uint32_t mta_overflow_sessions(uint32_t max_sessions)
{
	return max_sessions < 32 ? max_sessions : 32;
}

mta_ipcount_t *mta_ipcount_create(uint32_t max_sessions)
{
	mta_ipcount_t *t = calloc(1, sizeof(*t));
	uint32_t cap = 64;

	if (t == NULL)
		return NULL;
	while (cap < 2 * max_sessions && cap < (1u << 30))
		cap <<= 1;
	t->slot = calloc(cap, sizeof(*t->slot));
	if (t->slot == NULL) {
		free(t);
		return NULL;
	}
	t->mask = cap - 1;
	return t;
}

void mta_ipcount_destroy(mta_ipcount_t **tp)
{
	if (*tp == NULL)
		return;
	free((*tp)->slot);
	free(*tp);
	*tp = NULL;
}

uint32_t mta_ipcount_acquire(mta_ipcount_t *t, uint32_t ip)
{
	uint32_t i = ip_hash(ip) & t->mask;

	while (t->slot[i].ip != 0 && t->slot[i].ip != ip)
		i = (i + 1) & t->mask;
	t->slot[i].ip = ip;
	return ++t->slot[i].count;
}

void mta_ipcount_release(mta_ipcount_t *t, uint32_t ip)
{
	uint32_t i = ip_hash(ip) & t->mask, j;

	while (t->slot[i].ip != ip) {
		if (t->slot[i].ip == 0)
			return;
		i = (i + 1) & t->mask;
	}
	if (--t->slot[i].count > 0)
		return;
	/* Knuth 6.4 algorithm R: pull later entries of the run back. */
	t->slot[i].ip = 0;
	j = i;
	for (;;) {
		uint32_t k;

		j = (j + 1) & t->mask;
		if (t->slot[j].ip == 0)
			return;
		k = ip_hash(t->slot[j].ip) & t->mask;
		if ((i <= j) ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		t->slot[i] = t->slot[j];
		t->slot[j].ip = 0;
		t->slot[j].count = 0;
		i = j;
	}
}

mta_authlock_t *mta_authlock_create(uint32_t failures, uint64_t window_us)
{
	mta_authlock_t *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->limit = failures;
	t->window = window_us;
	return t;
}

void mta_authlock_destroy(mta_authlock_t **tp)
{
	free(*tp);
	*tp = NULL;
}

/* The slot of IP if it holds IP within the window, else NULL. */
static authlock_slot_t *authlock_live(mta_authlock_t *t, uint32_t ip, uint64_t now_us)
{
	authlock_slot_t *l = &t->slot[ip_hash(ip) & (AUTHLOCK_SLOTS - 1)];

	if (t->limit == 0 || l->ip != ip)
		return NULL;
	if (now_us - l->since >= t->window) {
		l->ip = 0;
		return NULL;
	}
	return l;
}

uint32_t mta_authlock_failures(mta_authlock_t *t, uint32_t ip, uint64_t now_us)
{
	authlock_slot_t *l = authlock_live(t, ip, now_us);

	return l != NULL ? l->failures : 0;
}

bool mta_authlock_locked(mta_authlock_t *t, uint32_t ip, uint64_t now_us)
{
	return t->limit != 0 && mta_authlock_failures(t, ip, now_us) >= t->limit;
}

void mta_authlock_record(mta_authlock_t *t, uint32_t ip, bool ok, uint64_t now_us)
{
	authlock_slot_t *l = &t->slot[ip_hash(ip) & (AUTHLOCK_SLOTS - 1)];

	if (t->limit == 0)
		return;
	if (ok) {
		if (l->ip == ip)
			l->ip = 0;
		return;
	}
	if (authlock_live(t, ip, now_us) == NULL) {
		l->ip = ip;
		l->failures = 0;
		l->since = now_us;
	}
	l->failures++;
}
