/* sl_timer - per-lcore hierarchical timer wheel.
 *
 * Four levels of 256 slots each, like the classic BSD/Linux cascading
 * wheel (Varghese & Lauck, "Hashed and Hierarchical Timing Wheels").
 * Level L holds timers whose due tick is between 256^L and 256^(L+1) ticks
 * ahead of the wheel's clock and is indexed by bits [8L, 8L+8) of the due
 * tick. When level 0 wraps, the next bucket of level 1 is cascaded down (and
 * so on upwards), so each timer moves at most three times in its life.
 * Timers further out than 2^32 ticks (49 days at 1 ms) wait in the last
 * slot of level 3 and are re-placed from their real expiry when cascaded.
 *
 * A per-level bitmap of non-empty slots lets run() jump straight to the next
 * tick where something happens, and lets next() find the earliest timer with
 * a handful of word scans instead of walking lists.
 *
 * Level-0 slots (one tick each) and the expired list are kept sorted by
 * expire_us, so timers fire in expiry order within a tick. Higher levels are unsorted; sorting happens when they cascade.
 *
 * Callback safety: a slot about to fire is first spliced onto the private
 * `firing` list and each timer is unlinked before its callback runs, so a
 * callback may re-arm itself, cancel or re-arm any other timer (including
 * one further down the firing list) and free its owner. */
#include "sl_timer.h"

#include <stdlib.h>

#include "sl_time.h"

#define TW_BITS 8
#define TW_SLOTS (1u << TW_BITS)
#define TW_MASK (TW_SLOTS - 1)
#define TW_LEVELS 4
#define TW_WORDS (TW_SLOTS / 64)

/* Values of sl_timer_t.slot beyond the wheel slots (level * 256 + index). */
#define TW_SLOT_EXPIRED (TW_LEVELS * TW_SLOTS) /* on the expired list */
#define TW_SLOT_FIRING (TW_SLOT_EXPIRED + 1)   /* on the firing list */
#define TW_SLOT_NONE UINT32_MAX                /* not pending */

/* The furthest a timer is placed ahead: the span of the whole wheel. */
#define TW_HORIZON ((UINT64_C(1) << (TW_BITS * TW_LEVELS)) - 1)

struct sl_timer_wheel {
	uint64_t now_us;   /* latest time seen (create or run) */
	uint64_t now_tick; /* every tick <= now_tick has been processed */
	uint32_t tick_us;
	unsigned count;    /* pending timers */
	/* Memo for sl_timer_wheel_next(), which is called every idle turn. */
	uint64_t next_memo_us;
	int next_memo_valid;
	uint64_t bitmap[TW_LEVELS][TW_WORDS];
	/* Circular lists with the head as sentinel: unlinking needs no head. */
	sl_timer_t slots[TW_LEVELS][TW_SLOTS];
	sl_timer_t expired; /* armed in the past: fire at the next run */
	sl_timer_t firing;  /* being fired by run() right now */
};

static void list_init(sl_timer_t *head)
{
	head->next = head->prev = head;
}

static int list_empty(const sl_timer_t *head)
{
	return head->next == head;
}

static void list_insert_after(sl_timer_t *pos, sl_timer_t *t)
{
	t->prev = pos;
	t->next = pos->next;
	pos->next->prev = t;
	pos->next = t;
}

static void list_unlink(sl_timer_t *t)
{
	t->prev->next = t->next;
	t->next->prev = t->prev;
	t->next = t->prev = NULL;
}

/* Insert keeping expire_us order (after equals). Scans from the tail
 * because timers are mostly armed as now + timeout, i.e. in order. */
static void list_insert_sorted(sl_timer_t *head, sl_timer_t *t)
{
	sl_timer_t *pos = head->prev;

	while (pos != head && pos->expire_us > t->expire_us)
		pos = pos->prev;
	list_insert_after(pos, t);
}

static void bitmap_set(sl_timer_wheel_t *w, unsigned level, unsigned idx)
{
	w->bitmap[level][idx / 64] |= UINT64_C(1) << (idx % 64);
}

static void bitmap_clear(sl_timer_wheel_t *w, unsigned level, unsigned idx)
{
	w->bitmap[level][idx / 64] &= ~(UINT64_C(1) << (idx % 64));
}

/* First non-empty slot of LEVEL at distance 1..256 after index FROM
 * (distance 256 is FROM itself, one revolution later). 0 when empty. */
static unsigned bitmap_distance(const sl_timer_wheel_t *w, unsigned level, unsigned from)
{
	const uint64_t *bm = w->bitmap[level];
	unsigned start = (from + 1) & TW_MASK;

	for (unsigned i = 0; i <= TW_WORDS; i++) {
		unsigned word = (start / 64 + i) % TW_WORDS;
		uint64_t bits = bm[word];

		if (i == 0)
			bits &= ~UINT64_C(0) << (start % 64);
		else if (i == TW_WORDS)
			bits &= (start % 64) ? ~(~UINT64_C(0) << (start % 64)) : 0;
		if (bits != 0) {
			unsigned idx = word * 64 + (unsigned)__builtin_ctzll(bits);

			return ((idx - start) & TW_MASK) + 1;
		}
	}
	return 0;
}

/* Tick in which a timer expiring at EXPIRE_US fires: rounded up. */
static uint64_t due_tick(const sl_timer_wheel_t *w, uint64_t expire_us)
{
	return expire_us / w->tick_us + (expire_us % w->tick_us != 0);
}

static uint64_t tick_to_us(const sl_timer_wheel_t *w, uint64_t tick)
{
	if (tick > (SL_TIME_NEVER - 1) / w->tick_us)
		return SL_TIME_NEVER - 1;
	return tick * w->tick_us;
}

/* When run() will fire T: what next() reports for it. */
static uint64_t timer_when_us(const sl_timer_wheel_t *w, const sl_timer_t *t)
{
	if (t->slot >= TW_SLOT_EXPIRED)
		return t->expire_us;
	return tick_to_us(w, due_tick(w, t->expire_us));
}

/* Put T in the wheel relative to BASE (a tick not yet fired, or the last
 * fired one); DUE >= BASE. */
static void wheel_place(sl_timer_wheel_t *w, sl_timer_t *t, uint64_t due, uint64_t base)
{
	uint64_t delta = due - base;
	unsigned level, idx;

	if (delta > TW_HORIZON)
		due = base + TW_HORIZON; /* parked; re-placed when cascaded */
	for (level = 0; level < TW_LEVELS - 1; level++)
		if (delta < (UINT64_C(1) << (TW_BITS * (level + 1))))
			break;
	idx = (unsigned)(due >> (TW_BITS * level)) & TW_MASK;
	t->slot = level * TW_SLOTS + idx;
	if (level == 0)
		list_insert_sorted(&w->slots[0][idx], t);
	else
		list_insert_after(w->slots[level][idx].prev, t);
	bitmap_set(w, level, idx);
}

static void timer_detach(sl_timer_wheel_t *w, sl_timer_t *t)
{
	uint32_t slot = t->slot;

	list_unlink(t);
	if (slot < TW_SLOT_EXPIRED &&
	    list_empty(&w->slots[slot / TW_SLOTS][slot % TW_SLOTS]))
		bitmap_clear(w, slot / TW_SLOTS, slot % TW_SLOTS);
	t->slot = TW_SLOT_NONE;
	w->count--;
}

sl_timer_wheel_t *sl_timer_wheel_create(uint64_t now_us, uint32_t tick_us)
{
	sl_timer_wheel_t *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->tick_us = tick_us ? tick_us : 1000;
	w->now_us = now_us;
	w->now_tick = now_us / w->tick_us;
	for (unsigned l = 0; l < TW_LEVELS; l++)
		for (unsigned i = 0; i < TW_SLOTS; i++)
			list_init(&w->slots[l][i]);
	list_init(&w->expired);
	list_init(&w->firing);
	return w;
}

void sl_timer_wheel_destroy(sl_timer_wheel_t **w)
{
	if (w == NULL || *w == NULL)
		return;
	/* Timers live in their owners, which may outlive the wheel: leave each
	 * one consistently "not pending" rather than pointing into freed memory. */
	for (unsigned l = 0; l < TW_LEVELS; l++)
		for (unsigned i = 0; i < TW_SLOTS; i++)
			while (!list_empty(&(*w)->slots[l][i]))
				timer_detach(*w, (*w)->slots[l][i].next);
	while (!list_empty(&(*w)->expired))
		timer_detach(*w, (*w)->expired.next);
	free(*w);
	*w = NULL;
}

void sl_timer_init(sl_timer_t *t, sl_timer_cb_t *cb, void *arg)
{
	t->next = t->prev = NULL;
	t->expire_us = 0;
	t->cb = cb;
	t->arg = arg;
	t->slot = TW_SLOT_NONE;
}

void sl_timer_arm(sl_timer_wheel_t *w, sl_timer_t *t, uint64_t expire_us)
{
	uint64_t when;

	if (t->slot != TW_SLOT_NONE)
		sl_timer_cancel(w, t);
	t->expire_us = expire_us;
	if (expire_us <= w->now_us) {
		t->slot = TW_SLOT_EXPIRED;
		list_insert_sorted(&w->expired, t);
	} else {
		/* expire_us > now_us >= now_tick * tick, so due > now_tick. */
		wheel_place(w, t, due_tick(w, expire_us), w->now_tick);
	}
	w->count++;
	when = timer_when_us(w, t);
	if (w->next_memo_valid && when < w->next_memo_us)
		w->next_memo_us = when;
}

void sl_timer_cancel(sl_timer_wheel_t *w, sl_timer_t *t)
{
	if (t->slot == TW_SLOT_NONE)
		return;
	/* The memo may have come from this very timer. */
	if (w->next_memo_valid && timer_when_us(w, t) <= w->next_memo_us)
		w->next_memo_valid = 0;
	timer_detach(w, t);
}

bool sl_timer_pending(const sl_timer_t *t)
{
	return t->slot != TW_SLOT_NONE;
}

uint64_t sl_timer_expiry(const sl_timer_t *t)
{
	return t->slot == TW_SLOT_NONE ? SL_TIME_NEVER : t->expire_us;
}

/* Earliest tick at which run() has work in the wheel proper: a level-0
 * slot's due tick or a higher level's next bucket start (when it cascades).
 * *LEVEL_R tells which. UINT64_MAX when the wheel is empty. */
static uint64_t wheel_next_event(const sl_timer_wheel_t *w, unsigned *level_r)
{
	uint64_t best = UINT64_MAX;

	for (unsigned l = 0; l < TW_LEVELS; l++) {
		unsigned shift = TW_BITS * l;
		unsigned cur = (unsigned)(w->now_tick >> shift) & TW_MASK;
		unsigned dist = bitmap_distance(w, l, cur);
		uint64_t start;

		if (dist == 0)
			continue;
		start = ((w->now_tick >> shift) + dist) << shift;
		if (start < best) {
			best = start;
			*level_r = l;
		}
	}
	return best;
}

/* Move every timer of bucket IDX at LEVEL down, relative to tick BASE. */
static void wheel_cascade(sl_timer_wheel_t *w, unsigned level, unsigned idx, uint64_t base)
{
	sl_timer_t *head = &w->slots[level][idx];

	bitmap_clear(w, level, idx);
	while (!list_empty(head)) {
		sl_timer_t *t = head->next;
		uint64_t due = due_tick(w, t->expire_us);

		list_unlink(t);
		wheel_place(w, t, due < base ? base : due, base);
	}
}

/* Fire everything on LIST (a slot or the expired list), in order. */
static unsigned wheel_fire(sl_timer_wheel_t *w, sl_timer_t *list)
{
	unsigned fired = 0;

	if (list_empty(list))
		return 0;
	/* Splice onto the firing list so that timers armed by callbacks land
	 * in their own slots, not in the batch being fired. */
	w->firing.next = list->next;
	w->firing.prev = list->prev;
	w->firing.next->prev = &w->firing;
	w->firing.prev->next = &w->firing;
	list_init(list);
	for (sl_timer_t *t = w->firing.next; t != &w->firing; t = t->next)
		t->slot = TW_SLOT_FIRING;
	while (!list_empty(&w->firing)) {
		sl_timer_t *t = w->firing.next;

		timer_detach(w, t);
		fired++;
		t->cb(t, t->arg); /* may free t: not touched afterwards */
	}
	return fired;
}

unsigned sl_timer_wheel_run(sl_timer_wheel_t *w, uint64_t now_us)
{
	unsigned fired = 0;
	uint64_t target;

	target = (now_us > w->now_us ? now_us : w->now_us) / w->tick_us;
	w->next_memo_valid = 0;
	fired += wheel_fire(w, &w->expired);
	while (w->now_tick < target) {
		unsigned level = 0;
		uint64_t tick = wheel_next_event(w, &level);

		if (tick > target) {
			w->now_tick = target;
			break;
		}
		w->now_tick = tick;
		/* Callbacks of this tick see it as "now": what they arm for a
		 * later tick up to NOW_US still fires in this run (a periodic
		 * timer catches up), what they arm for this tick or earlier
		 * waits for the next run (no endless loop). */
		if (tick_to_us(w, tick) > w->now_us)
			w->now_us = tick_to_us(w, tick);
		/* Cascade from the top so that a timer can fall several levels
		 * at once and still reach level 0 before the tick fires. */
		for (unsigned l = TW_LEVELS - 1; l >= 1; l--) {
			unsigned shift = TW_BITS * l;

			if ((tick & ((UINT64_C(1) << shift) - 1)) == 0)
				wheel_cascade(w, l, (unsigned)(tick >> shift) & TW_MASK, tick);
		}
		fired += wheel_fire(w, &w->slots[0][tick & TW_MASK]);
		if (list_empty(&w->slots[0][tick & TW_MASK]))
			bitmap_clear(w, 0, (unsigned)(tick & TW_MASK));
	}
	if (now_us > w->now_us)
		w->now_us = now_us;
	w->next_memo_valid = 0;
	return fired;
}

/* Earliest due tick in a higher-level bucket: its list is unsorted. */
static uint64_t bucket_min_tick(const sl_timer_wheel_t *w, const sl_timer_t *head)
{
	uint64_t best = UINT64_MAX;

	for (const sl_timer_t *t = head->next; t != head; t = t->next) {
		uint64_t due = due_tick(w, t->expire_us);

		if (due < best)
			best = due;
	}
	return best;
}

uint64_t sl_timer_wheel_next(const sl_timer_wheel_t *w)
{
	sl_timer_wheel_t *memo = (sl_timer_wheel_t *)w; /* logically const */
	uint64_t best = UINT64_MAX;

	if (w->count == 0)
		return SL_TIME_NEVER;
	if (w->next_memo_valid)
		return w->next_memo_us;
	if (!list_empty(&w->expired)) {
		/* Sorted, and everything in the wheel fires after now_us. */
		best = w->expired.next->expire_us;
		goto done;
	}
	for (unsigned l = 0; l < TW_LEVELS; l++) {
		unsigned shift = TW_BITS * l;
		unsigned cur = (unsigned)(w->now_tick >> shift) & TW_MASK;
		unsigned dist = bitmap_distance(w, l, cur);
		uint64_t start, tick;
		const sl_timer_t *head;

		if (dist == 0)
			continue;
		start = ((w->now_tick >> shift) + dist) << shift;
		if (start >= best)
			continue;
		head = &w->slots[l][(cur + dist) & TW_MASK];
		if (l == 0) {
			tick = start; /* one tick per slot: exact */
		} else if (start - w->now_tick <= TW_SLOTS) {
			/* A near bucket can hold the earliest timer: be exact,
			 * at the cost of one walk per memo refresh. */
			tick = bucket_min_tick(w, head);
		} else {
			tick = start; /* far: the bucket start is a lower bound */
		}
		if (tick < best)
			best = tick;
	}
	best = tick_to_us(w, best);
done:
	memo->next_memo_us = best;
	memo->next_memo_valid = 1;
	return best;
}

unsigned sl_timer_wheel_count(const sl_timer_wheel_t *w)
{
	return w->count;
}
