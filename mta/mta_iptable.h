/* mta_iptable - per-client-address bookkeeping shared by the mail servers.
 *
 * mta_ipcount_t counts the open sessions of each IPv4 address (open
 * addressing with backward-shift delete, sized for a session cap), so a
 * server can cap sessions per address. mta_authlock_t remembers failed
 * logins per address within a window (direct-mapped: a colliding address
 * takes the slot over; an attacker who spreads over many addresses gets few
 * tries from each anyway), so a server can refuse or slow down logins from
 * an address that keeps failing.
 *
 * Addresses are IPv4 in network order; 0 is never a client address.
 * Threading: one table per server, used on its lane only. */
#ifndef MTA_IPTABLE_H
#define MTA_IPTABLE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct mta_ipcount mta_ipcount_t;
typedef struct mta_authlock mta_authlock_t;

/* mta_ipcount_create - room for MAX_SESSIONS concurrent sessions. NULL on
 * allocation failure. */
mta_ipcount_t *mta_ipcount_create(uint32_t max_sessions);
void mta_ipcount_destroy(mta_ipcount_t **t);
/* mta_overflow_sessions - how many sessions past MAX_SESSIONS a server may
 * still accept only to say "too many" and close (SMTP 421, IMAP BYE, POP3
 * -ERR) before it resets: at most 32 and never more than MAX_SESSIONS, so a
 * table made for MAX_SESSIONS (it has room for twice as many) cannot fill. */
uint32_t mta_overflow_sessions(uint32_t max_sessions);
/* mta_ipcount_acquire - one more session from IP; returns the new count. */
uint32_t mta_ipcount_acquire(mta_ipcount_t *t, uint32_t ip);
/* mta_ipcount_release - one session from IP ended. */
void mta_ipcount_release(mta_ipcount_t *t, uint32_t ip);

/* mta_authlock_create - FAILURES failed logins within WINDOW_US lock an
 * address (FAILURES 0: never). NULL on allocation failure. */
mta_authlock_t *mta_authlock_create(uint32_t failures, uint64_t window_us);
void mta_authlock_destroy(mta_authlock_t **t);
/* mta_authlock_failures - failures recorded for IP in the current window. */
uint32_t mta_authlock_failures(mta_authlock_t *t, uint32_t ip, uint64_t now_us);
/* mta_authlock_locked - IP reached the failure limit in the window. */
bool mta_authlock_locked(mta_authlock_t *t, uint32_t ip, uint64_t now_us);
/* mta_authlock_record - a login from IP succeeded (forgets its failures)
 * or failed (counts one). */
void mta_authlock_record(mta_authlock_t *t, uint32_t ip, bool ok, uint64_t now_us);

#endif
