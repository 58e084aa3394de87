/* fuzz_options.c - libFuzzer: the command line and SOCKREAP_* environment.
 * Input: NUL-separated strings; those with a '=' and an upper-case SOCKREAP_
 * prefix go to the environment, the rest to argv. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

#define MAX_ARGS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sr_config cfg;
	char *copy = malloc(size + 1), *argv[MAX_ARGS + 2], *envp[MAX_ARGS + 1], err[512];
	int argc = 1, envc = 0;
	size_t i = 0;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	argv[0] = "sockreap";
	while (i <= size && argc < MAX_ARGS && envc < MAX_ARGS) {
		char *s = copy + i;

		if (!strncmp(s, "SOCKREAP_", 9) && strchr(s, '='))
			envp[envc++] = s;
		else
			argv[argc++] = s;
		i += strlen(s) + 1;
	}
	argv[argc] = NULL;
	envp[envc] = NULL;
	if (options_parse(&cfg, argc, argv, envp, err, sizeof(err)) == 0) {
		/* What parsed must be within the contract. */
		if (cfg.interval_s < SR_INTERVAL_MIN_S || cfg.interval_s > SR_INTERVAL_MAX_S ||
		    cfg.stall_grace_s < SR_STALL_GRACE_MIN_S || cfg.stall_grace_s > SR_RULE_MAX_S ||
		    cfg.map_capacity < SR_MAP_CAPACITY_MIN || cfg.map_capacity > SR_MAP_CAPACITY_MAX ||
		    cfg.n_ports > SR_MAX_PORTS || cfg.n_targets > SR_MAX_TARGETS - 1)
			abort();
		for (size_t p = 0; p < cfg.n_ports; p++)
			if (!cfg.ports[p].lo || cfg.ports[p].lo > cfg.ports[p].hi)
				abort();
	} else if (strncmp(err, "sockreap: ", 10) || strchr(err, '\n')) {
		abort(); /* every error is one line naming the program */
	}
	free(copy);
	return 0;
}
