/* main.c - parse the configuration and hand over: daemon, list, help or version. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "control.h"

#include "daemon.h"
#include "log.h"
#include "options.h"
#include "version.h" /* build/version.h, made by the Makefile */

extern char **environ;

/* `sockreap list`: ask the running daemon; 1 if none answers. */
static int list_sockets(const struct sr_config *cfg)
{
	const char *path = cfg->control_socket[0] ? cfg->control_socket : SR_DEFAULT_CONTROL_SOCKET;
	int ret = control_request(path, cfg->list_json ? "list json" : "list", stdout);

	if (ret == -ENOENT || ret == -ECONNREFUSED) {
		fprintf(stderr, "sockreap: no daemon is running (nothing answers on %s)\n", path);
		return 1;
	}
	if (ret == -EACCES) {
		fprintf(stderr, "sockreap: permission denied on %s: list needs the daemon's privilege "
				"(run as root)\n", path);
		return 1;
	}
	if (ret == -ETIMEDOUT) {
		fprintf(stderr, "sockreap: the daemon on %s did not answer within %d s\n", path,
			SR_CONTROL_CLIENT_WAIT_S);
		return 1;
	}
	if (ret) {
		fprintf(stderr, "sockreap: cannot talk to the daemon on %s: %s\n", path, strerror(-ret));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct sr_config cfg; /* large (paths): keep it off the stack */
	char err[512];

	if (options_parse(&cfg, argc, argv, environ, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	switch (cfg.mode) {
	case MODE_HELP:
		fputs(options_usage(), stdout);
		return 0;
	case MODE_VERSION:
		printf("sockreap %s\n", SOCKREAP_VERSION);
		return 0;
	case MODE_LIST:
		return list_sockets(&cfg);
	case MODE_RUN:
		break;
	}
	log_setup(cfg.log_format, cfg.verbose ? LOG_DEBUG : LOG_INFO);
	return daemon_run(&cfg);
}
