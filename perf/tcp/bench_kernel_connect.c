/* bench_kernel_connect - the Linux reference for bench_pair's conn test:
 * new TCP connections per second over the kernel stack, same pattern.
 *
 *   bench_kernel_connect [--seconds S] [--warmup S] [--concurrency C]
 *                        [--ports P] [--addr A] [--client-cpu N] [--server-cpu N]
 *
 * Two threads, each pinned to its own CPU (like bench_pair's two lcores):
 * the server listens on P ports (from 5001) and echoes; the client keeps C
 * non-blocking connections in flight, spread round-robin over the ports.
 * Each connection: connect, send 1 byte, read the echo, close (the client
 * closes first, so TIME_WAIT lands on the client side; P ports give the
 * kernel P x the 4-tuple space, and tcp_tw_reuse=2, the default, lets
 * loopback connects reuse TIME_WAIT ports). The server closes on EOF.
 *
 * Output: one JSON line on stdout; exit 0, or 1 when nothing completed. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define KC_BASE_PORT 5001
#define KC_MAX_PORTS 64
#define KC_EVENTS 256

typedef struct kc_opts {
	double seconds, warmup;
	unsigned concurrency, ports;
	int client_cpu, server_cpu;
	struct in_addr addr;
} kc_opts_t;

static kc_opts_t kc_opt;
static volatile int kc_stop;
static volatile int kc_server_ready;
static int kc_listen_fd[KC_MAX_PORTS];
static volatile int kc_server_tid;

/* Busy and softirq jiffies of the whole box (/proc/stat, all CPUs): busy
 * minus our two threads' run time minus softirq (the loopback traffic's
 * own processing) is what other jobs took during the window. */
static void kc_box_read(unsigned long long r[2])
{
	unsigned long long v[8] = {0};
	FILE *f = fopen("/proc/stat", "r");

	r[0] = r[1] = 0;
	if (f == NULL)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]) == 8) {
		r[0] = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
		r[1] = v[6];
	}
	fclose(f);
}

/* Run and run-queue wait time (ns) of thread TID: how much CPU the two
 * threads really got in the window (the same figures as bench_pair's). */
static void kc_sched_read(int tid, uint64_t r[2])
{
	char path[64];
	unsigned long long run = 0, wait = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat", tid);
	f = fopen(path, "r");
	if (f != NULL) {
		if (fscanf(f, "%llu %llu", &run, &wait) != 2)
			run = wait = 0;
		fclose(f);
	}
	r[0] = run;
	r[1] = wait;
}

static uint64_t kc_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
}

static void kc_pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
		fprintf(stderr, "bench_kernel_connect: cannot pin to cpu %d\n", cpu);
}

/* ---- server thread ---- */

static void *kc_server(void *arg)
{
	struct epoll_event ev[KC_EVENTS];
	int ep;

	(void)arg;
	kc_server_tid = (int)syscall(SYS_gettid);
	kc_pin(kc_opt.server_cpu);
	ep = epoll_create1(0);
	for (unsigned i = 0; i < kc_opt.ports; i++) {
		struct epoll_event e = {.events = EPOLLIN, .data.u64 = ((uint64_t)1 << 32) | (uint32_t)kc_listen_fd[i]};

		epoll_ctl(ep, EPOLL_CTL_ADD, kc_listen_fd[i], &e);
	}
	__atomic_store_n(&kc_server_ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&kc_stop, __ATOMIC_ACQUIRE)) {
		int n = epoll_wait(ep, ev, KC_EVENTS, 100);

		for (int i = 0; i < n; i++) {
			int fd = (int)(uint32_t)ev[i].data.u64;

			if (ev[i].data.u64 >> 32) {
				int c;

				while ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					struct epoll_event e = {.events = EPOLLIN, .data.u64 = (uint32_t)c};

					epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
				}
				continue;
			}
			char b[64];
			ssize_t r = read(fd, b, sizeof(b));

			if (r > 0) {
				if (write(fd, b, (size_t)r) < 0)
					close(fd);
			} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
				close(fd); /* also removes it from the epoll set */
			}
		}
	}
	close(ep);
	return NULL;
}

/* ---- client (main thread) ---- */

static uint64_t kc_completed, kc_errors, kc_connect_fail, kc_short_reads;
static unsigned kc_port_rr;
static int kc_last_errno;

/* Open one connection and register it; false when connect() refused. */
static bool kc_open(int ep)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr = kc_opt.addr};
	struct epoll_event e;
	int fd;

	sa.sin_port = htons((uint16_t)(KC_BASE_PORT + kc_port_rr++ % kc_opt.ports));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		kc_last_errno = errno;
		return false;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		kc_last_errno = errno;
		close(fd);
		return false;
	}
	/* EPOLLOUT: connected (then send the byte); EPOLLIN: the echo. */
	e.events = EPOLLOUT;
	e.data.u64 = (uint32_t)fd;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
	return true;
}

static void kc_run_client(uint64_t until_us, int ep, unsigned *pending)
{
	struct epoll_event ev[KC_EVENTS];

	while (kc_now_us() < until_us) {
		while (*pending > 0) {
			if (!kc_open(ep)) {
				kc_connect_fail++;
				break;
			}
			(*pending)--;
		}
		int n = epoll_wait(ep, ev, KC_EVENTS, 10);

		for (int i = 0; i < n; i++) {
			int fd = (int)(uint32_t)ev[i].data.u64;

			if (ev[i].events & (EPOLLERR | EPOLLHUP) && !(ev[i].events & EPOLLIN)) {
				kc_errors++;
				close(fd);
				(*pending)++;
				continue;
			}
			if (ev[i].events & EPOLLOUT) {
				struct epoll_event e = {.events = EPOLLIN, .data.u64 = (uint32_t)fd};

				if (write(fd, "x", 1) != 1) {
					kc_errors++;
					close(fd);
					(*pending)++;
					continue;
				}
				epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
				continue;
			}
			char b[8];
			ssize_t r = read(fd, b, sizeof(b));

			if (r < 0 && errno == EAGAIN)
				continue;
			if (r == 1)
				kc_completed++;
			else
				kc_short_reads++;
			close(fd);
			(*pending)++;
		}
	}
}

static int kc_listen(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr = kc_opt.addr,
				 .sin_port = htons(port)};
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4096) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"seconds", required_argument, NULL, 's'},
		{"warmup", required_argument, NULL, 'w'},
		{"concurrency", required_argument, NULL, 'c'},
		{"ports", required_argument, NULL, 'p'},
		{"addr", required_argument, NULL, 'a'},
		{"client-cpu", required_argument, NULL, 'C'},
		{"server-cpu", required_argument, NULL, 'S'},
		{NULL, 0, NULL, 0},
	};
	pthread_t srv;
	uint64_t t0, t1, c0, c1, sc0[2], sc1[2], ss0[2], ss1[2];
	unsigned long long bx0[2], bx1[2];
	double others, tck = (double)sysconf(_SC_CLK_TCK), ncpu = (double)sysconf(_SC_NPROCESSORS_ONLN);
	unsigned pending;
	int o, ep;

	kc_opt.seconds = 5;
	kc_opt.warmup = 1;
	kc_opt.concurrency = 64;
	kc_opt.ports = 8;
	kc_opt.client_cpu = 0;
	kc_opt.server_cpu = 1;
	inet_pton(AF_INET, "127.0.0.1", &kc_opt.addr);
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 's': kc_opt.seconds = atof(optarg); break;
		case 'w': kc_opt.warmup = atof(optarg); break;
		case 'c': kc_opt.concurrency = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'p': kc_opt.ports = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'a':
			if (inet_pton(AF_INET, optarg, &kc_opt.addr) != 1)
				return 2;
			break;
		case 'C': kc_opt.client_cpu = atoi(optarg); break;
		case 'S': kc_opt.server_cpu = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: bench_kernel_connect [--seconds S] [--warmup S] "
					"[--concurrency C] [--ports P] [--addr A] "
					"[--client-cpu N] [--server-cpu N]\n");
			return 2;
		}
	}
	if (kc_opt.ports == 0 || kc_opt.ports > KC_MAX_PORTS || kc_opt.concurrency == 0)
		return 2;
	for (unsigned i = 0; i < kc_opt.ports; i++) {
		kc_listen_fd[i] = kc_listen((uint16_t)(KC_BASE_PORT + i));
		if (kc_listen_fd[i] < 0) {
			perror("bench_kernel_connect: listen");
			return 1;
		}
	}
	if (pthread_create(&srv, NULL, kc_server, NULL) != 0)
		return 1;
	while (!__atomic_load_n(&kc_server_ready, __ATOMIC_ACQUIRE))
		sched_yield();
	kc_pin(kc_opt.client_cpu);
	ep = epoll_create1(0);
	pending = kc_opt.concurrency;
	kc_run_client(kc_now_us() + (uint64_t)(kc_opt.warmup * 1e6), ep, &pending);
	kc_box_read(bx0);
	kc_sched_read((int)syscall(SYS_gettid), sc0);
	kc_sched_read(kc_server_tid, ss0);
	t0 = kc_now_us();
	c0 = kc_completed;
	kc_run_client(t0 + (uint64_t)(kc_opt.seconds * 1e6), ep, &pending);
	t1 = kc_now_us();
	c1 = kc_completed;
	kc_box_read(bx1);
	kc_sched_read((int)syscall(SYS_gettid), sc1);
	kc_sched_read(kc_server_tid, ss1);
	others = ((double)(bx1[0] - bx0[0]) / tck - (double)(bx1[1] - bx0[1]) / tck -
		  (double)(sc1[0] - sc0[0] + ss1[0] - ss0[0]) / 1e9) /
		 (ncpu * (double)(t1 - t0) / 1e6) * 100;
	__atomic_store_n(&kc_stop, 1, __ATOMIC_RELEASE);
	pthread_join(srv, NULL);
	if (c1 == c0) {
		fprintf(stderr, "bench_kernel_connect: nothing completed (%s)\n",
			strerror(kc_last_errno));
		return 1;
	}
	printf("{\"suite\":\"tcp\",\"bench\":\"loopback_conn\",\"impl\":\"linux\","
	       "\"conns_per_s\":%.1f,\"completed\":%" PRIu64 ",\"seconds\":%.3f,"
	       "\"concurrency\":%u,\"ports\":%u,\"errors\":%" PRIu64 ",\"connect_fail\":%" PRIu64
	       ",\"short_reads\":%" PRIu64 ",\"last_errno\":\"%s\","
	       "\"thread_cpu_share\":[%.3f,%.3f],\"thread_wait_ms\":[%.1f,%.1f],"
	       "\"others_pct\":%.1f}\n",
	       (double)(c1 - c0) * 1e6 / (double)(t1 - t0), c1 - c0, (double)(t1 - t0) / 1e6,
	       kc_opt.concurrency, kc_opt.ports, kc_errors, kc_connect_fail, kc_short_reads,
	       kc_last_errno ? strerror(kc_last_errno) : "",
	       (double)(sc1[0] - sc0[0]) / 1e3 / (double)(t1 - t0),
	       (double)(ss1[0] - ss0[0]) / 1e3 / (double)(t1 - t0), (double)(sc1[1] - sc0[1]) / 1e6,
	       (double)(ss1[1] - ss0[1]) / 1e6, others < 0 ? 0 : others);
	return 0;
}
