/* ctl_server - control socket thread and command dispatch. */
#include "ctl_server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sl_err.h"
#include "sl_log.h"

#define CTL_REQ_MAX (64 * 1024)
#define CTL_ARGS_MAX 32
#define CTL_OUT_MAX (16 * 1024 * 1024)

struct ctl_server {
	int fd;
	int stop_pipe[2];
	pthread_t thread;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const ctl_cmd_t *const *tables;
	void *ctx;
};

static char ctl_errbuf[256];

/* Split WORDS into count of words it has. */
static int ctl_words_count(const char *words)
{
	int n = 1;

	for (const char *p = words; *p; p++)
		if (*p == ' ')
			n++;
	return n;
}

static int ctl_words_match(const char *words, int argc, char **argv)
{
	int i = 0;
	const char *p = words;

	while (*p) {
		size_t len = strcspn(p, " ");
		if (i >= argc || strlen(argv[i]) != len || strncmp(argv[i], p, len) != 0)
			return 0;
		i++;
		p += len;
		if (*p == ' ')
			p++;
	}
	return 1;
}

static void ctl_help(const ctl_server_t *srv, sl_buf_t *out)
{
	sl_buf_printf(out, "commands:\n");
	for (unsigned t = 0; srv->tables[t]; t++)
		for (const ctl_cmd_t *c = srv->tables[t]; c->words; c++)
			sl_buf_printf(out, "  %s\n", c->usage);
}

/* Dispatch to the command whose words are the longest prefix of ARGV. */
static void ctl_dispatch(ctl_server_t *srv, int argc, char **argv, sl_buf_t *out)
{
	const ctl_cmd_t *best = NULL;
	int best_words = 0;
	const char *error = NULL;
	sl_buf_t body;
	int rc;

	if (argc == 0 || strcmp(argv[0], "help") == 0) {
		sl_buf_printf(out, "ok\n");
		ctl_help(srv, out);
		return;
	}
	for (unsigned t = 0; srv->tables[t]; t++)
		for (const ctl_cmd_t *c = srv->tables[t]; c->words; c++) {
			int nw = ctl_words_count(c->words);
			if (nw > best_words && ctl_words_match(c->words, argc, argv)) {
				best = c;
				best_words = nw;
			}
		}
	if (best == NULL) {
		sl_buf_printf(out, "error: unknown command '%s' (try 'help')\n", argv[0]);
		return;
	}
	sl_buf_init(&body, CTL_OUT_MAX);
	rc = best->fn(srv->ctx, argc - best_words, argv + best_words, &body, &error);
	if (rc < 0) {
		sl_buf_printf(out, "error: %s\n", error ? error : sl_strerror(rc));
		if (rc == SL_EINVAL)
			sl_buf_printf(out, "usage: %s\n", best->usage);
	} else {
		sl_buf_printf(out, "ok\n");
		if (body.len)
			sl_buf_append(out, body.data, body.len);
	}
	sl_buf_free(&body);
}

static int ctl_peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return 0;
	return cred.uid == 0 || cred.uid == geteuid();
}

static void ctl_write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return;
		p += k;
		n -= (size_t)k;
	}
}

static void ctl_serve_one(ctl_server_t *srv, int fd)
{
	static char req[CTL_REQ_MAX + 1];
	char *argv[CTL_ARGS_MAX];
	size_t len = 0;
	int argc = 0;
	sl_buf_t out;
	struct timeval tv = {.tv_sec = 5};

	sl_buf_init(&out, CTL_OUT_MAX + 4096);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (!ctl_peer_allowed(fd)) {
		sl_buf_printf(&out, "error: permission denied\n");
		goto reply;
	}
	for (;;) {
		ssize_t k = recv(fd, req + len, CTL_REQ_MAX - len, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			sl_buf_printf(&out, "error: request not completed in time\n");
			goto reply;
		}
		if (k == 0)
			break;
		len += (size_t)k;
		if (len == CTL_REQ_MAX) {
			sl_buf_printf(&out, "error: request larger than %d bytes\n", CTL_REQ_MAX);
			goto reply;
		}
	}
	if (len > 0 && req[len - 1] != '\0') {
		sl_buf_printf(&out, "error: malformed request\n");
		goto reply;
	}
	for (size_t i = 0; i < len; i += strlen(req + i) + 1) {
		if (argc == CTL_ARGS_MAX) {
			sl_buf_printf(&out, "error: too many arguments\n");
			goto reply;
		}
		argv[argc++] = req + i;
	}
	ctl_dispatch(srv, argc, argv, &out);
reply:
	if (out.len)
		ctl_write_all(fd, out.data, out.len);
	sl_buf_free(&out);
}

static void *ctl_thread(void *arg)
{
	ctl_server_t *srv = arg;
	struct pollfd pfd[2] = {{.fd = srv->fd, .events = POLLIN},
				{.fd = srv->stop_pipe[0], .events = POLLIN}};

	pthread_setname_np(pthread_self(), "sluice-ctl");
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			sl_log(SL_LOG_ERR, "ctl", "poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents)
			break;
		if (pfd[0].revents & POLLIN) {
			int cfd = accept4(srv->fd, NULL, NULL, SOCK_CLOEXEC);
			if (cfd < 0)
				continue;
			ctl_serve_one(srv, cfd);
			close(cfd);
		}
	}
	return NULL;
}

/* A socket file left by a crashed daemon is replaced; one that still has a
 * listener means another sluiced is running, which we must not hijack. */
static int ctl_path_in_use(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int live;

	if (fd < 0)
		return 0;
	live = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	return live;
}

int ctl_server_start(const char *path, const ctl_cmd_t *const *tables, void *ctx,
		     ctl_server_t **srv_r, const char **error_r)
{
	ctl_server_t *srv;
	struct sockaddr_un sa;
	char dir[sizeof(sa.sun_path)];
	char *slash;
	int rc = SL_EIO;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		*error_r = "control socket path too long";
		return SL_ECONFIG;
	}
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return SL_ENOMEM;
	srv->fd = -1;
	srv->stop_pipe[0] = srv->stop_pipe[1] = -1;
	srv->tables = tables;
	srv->ctx = ctx;
	snprintf(srv->path, sizeof(srv->path), "%s", path);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
			snprintf(ctl_errbuf, sizeof(ctl_errbuf), "cannot create %s: %s", dir,
				 strerror(errno));
			*error_r = ctl_errbuf;
			goto fail;
		}
	}
	if (ctl_path_in_use(&sa)) {
		snprintf(ctl_errbuf, sizeof(ctl_errbuf),
			 "control socket %s is in use: is another sluiced running?", path);
		*error_r = ctl_errbuf;
		rc = SL_EADDRINUSE;
		goto fail;
	}
	unlink(path);
	srv->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (srv->fd < 0 || bind(srv->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(path, 0660) != 0 || listen(srv->fd, 16) != 0 || pipe2(srv->stop_pipe, O_CLOEXEC) != 0) {
		snprintf(ctl_errbuf, sizeof(ctl_errbuf), "control socket %s: %s", path,
			 strerror(errno));
		*error_r = ctl_errbuf;
		goto fail;
	}
	if (pthread_create(&srv->thread, NULL, ctl_thread, srv) != 0) {
		*error_r = "cannot start control thread";
		goto fail;
	}
	*srv_r = srv;
	return 0;
fail:
	if (srv->fd >= 0) {
		close(srv->fd);
		unlink(path);
	}
	if (srv->stop_pipe[0] >= 0) {
		close(srv->stop_pipe[0]);
		close(srv->stop_pipe[1]);
	}
	free(srv);
	return rc;
}

void ctl_server_stop(ctl_server_t **srvp)
{
	ctl_server_t *srv = *srvp;
	char b = 1;

	if (srv == NULL)
		return;
	if (write(srv->stop_pipe[1], &b, 1) != 1)
		sl_log(SL_LOG_WARN, "ctl", "stop pipe write failed");
	pthread_join(srv->thread, NULL);
	close(srv->fd);
	close(srv->stop_pipe[0]);
	close(srv->stop_pipe[1]);
	unlink(srv->path);
	free(srv);
	*srvp = NULL;
}
