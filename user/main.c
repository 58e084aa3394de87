/* main.c - parse the configuration and hand over: daemon, list, help or version. */
#include <stdio.h>

#include "daemon.h"
#include "log.h"
#include "options.h"

extern char **environ;

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
		fprintf(stderr, "sockreap: 'list' is not available in this build\n");
		return 2;
	case MODE_RUN:
		break;
	}
	log_setup(cfg.log_format, cfg.verbose ? LOG_DEBUG : LOG_INFO);
	return daemon_run(&cfg);
}
