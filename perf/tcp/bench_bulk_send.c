/* bench_bulk_send - the one client of the TAP comparison (b): connect to a
 * discard-like server, write for S seconds, then half-close and wait for
 * the server to close, so that every byte counted was received.
 *
 *   bench_bulk_send --addr A [--port P] [--seconds S] [--label L] [--impl I]
 *
 * Throughput = bytes written / (time from connect to the server's FIN).
 * When the server never closes (10 s), the end of the write loop is used
 * and "confirmed" is false. Output: one JSON line on stdout; exit 0, or 1
 * on a connect or write error. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BS_CHUNK (128 * 1024)

static uint64_t bs_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"addr", required_argument, NULL, 'a'},
		{"port", required_argument, NULL, 'p'},
		{"seconds", required_argument, NULL, 's'},
		{"label", required_argument, NULL, 'l'},
		{"impl", required_argument, NULL, 'i'},
		{NULL, 0, NULL, 0},
	};
	static char buf[BS_CHUNK];
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(9)};
	const char *label = "bulk", *impl = "?";
	double seconds = 5;
	uint64_t t0, t_write_end, t_end, until, bytes = 0;
	bool have_addr = false, confirmed = false;
	struct pollfd pfd;
	int o, fd, mss = 0;
	socklen_t sl = sizeof(mss);

	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'a': have_addr = inet_pton(AF_INET, optarg, &sa.sin_addr) == 1; break;
		case 'p': sa.sin_port = htons((uint16_t)atoi(optarg)); break;
		case 's': seconds = atof(optarg); break;
		case 'l': label = optarg; break;
		case 'i': impl = optarg; break;
		default: have_addr = false; optind = argc; break;
		}
	}
	if (!have_addr || seconds <= 0) {
		fprintf(stderr, "usage: bench_bulk_send --addr A [--port P] [--seconds S] "
				"[--label L] [--impl I]\n");
		return 2;
	}
	memset(buf, 'a', sizeof(buf));
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("bench_bulk_send: connect");
		return 1;
	}
	getsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, &sl);
	t0 = bs_now_us();
	until = t0 + (uint64_t)(seconds * 1e6);
	while (bs_now_us() < until) {
		ssize_t n = write(fd, buf, sizeof(buf));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("bench_bulk_send: write");
			return 1;
		}
		bytes += (uint64_t)n;
	}
	t_write_end = bs_now_us();
	shutdown(fd, SHUT_WR);
	pfd.fd = fd;
	pfd.events = POLLIN;
	t_end = t_write_end;
	while (poll(&pfd, 1, 10000) > 0) {
		char b[4096];
		ssize_t r = read(fd, b, sizeof(b));

		if (r <= 0) {
			confirmed = r == 0;
			t_end = bs_now_us();
			break;
		}
	}
	close(fd);
	printf("{\"suite\":\"tcp\",\"bench\":\"%s\",\"impl\":\"%s\",\"gbps\":%.3f,"
	       "\"bytes\":%" PRIu64 ",\"seconds\":%.3f,\"write_seconds\":%.3f,\"mss\":%d,"
	       "\"confirmed\":%s}\n",
	       label, impl, (double)bytes * 8.0 / (double)(t_end - t0) / 1e3, bytes,
	       (double)(t_end - t0) / 1e6, (double)(t_write_end - t0) / 1e6, mss,
	       confirmed ? "true" : "false");
	return 0;
}
