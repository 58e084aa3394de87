/* options.h - the daemon's configuration, parsed from argv and SOCKREAP_* env. */
#ifndef SR_OPTIONS_H
#define SR_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "log.h"
#include "ports.h"
#include "reaper.h"
#include "sockreap.h"
#include "target_spec.h"
#include "tracker.h"

#define SR_PATH_MAX 4096

enum sr_mode {
	MODE_RUN = 0,
	MODE_LIST,
	MODE_HELP,
	MODE_VERSION,
};

struct sr_config {
	enum sr_mode mode;
	double stall_grace_s;	/* --stall-grace */
	double peer_gone_timeout_s; /* --peer-gone-timeout; 0 = off */
	double idle_timeout_s;	/* --idle-timeout; 0 = off */
	double close_wait_timeout_s; /* --close-wait-timeout; 0 = off */
	double interval_s;	/* --interval */
	bool all_netns;
	bool dry_run;
	bool reap_unowned;	/* act on sockets with no user-space owner too */
	bool metrics_pod_labels; /* reaps counted by pod too (one label value per pod) */
	bool verbose;
	bool list_json;		/* list --json */
	enum log_format log_format;
	enum tracker_send_path send_path;
	enum reap_method kill_method;
	enum tracker_store socket_state;
	uint32_t map_capacity;
	char metrics_addr[256]; /* "" = off */
	char metrics_file[SR_PATH_MAX];
	char control_socket[108];	/* "" = off */
	size_t n_ports;		/* --port: local ports to target */
	struct sr_port_range ports[SR_MAX_PORTS];
	size_t n_exclude_ports;	/* --exclude-port: local ports never touched */
	struct sr_port_range exclude_ports[SR_MAX_PORTS];
	size_t n_cgroups;
	char cgroups[SR_MAX_CGROUPS][SR_PATH_MAX];
	size_t n_targets;	/* --target, first match wins; the plain flags are the defaults */
	struct sr_target targets[SR_MAX_TARGETS - 1];
};

#define SR_DEFAULT_STALL_GRACE_S 30.0
#define SR_DEFAULT_INTERVAL_S 1.0
#define SR_DEFAULT_METRICS_ADDR "127.0.0.1:9750"

/* Limits of the options that are only flags; the rules' are in target_spec.h. */
#define SR_INTERVAL_MIN_S 0.01
#define SR_INTERVAL_MAX_S 3600.0
#define SR_MAP_CAPACITY_MIN 64
#define SR_MAP_CAPACITY_MAX (16 * 1024 * 1024)

void options_defaults(struct sr_config *cfg);

/*
 * Fill cfg from envp (SOCKREAP_<OPTION>, NULL-terminated, may be NULL) and
 * then argv; a flag wins over its variable. Pure: no I/O, no exit.
 * Returns 0, or -EINVAL with a one-line message naming the problem and the
 * fix in err.
 */
int options_parse(struct sr_config *cfg, int argc, char *const argv[], char *const envp[],
		  char *err, size_t errlen);

/* ports_parse_range() and ports_split_hostport() are in ports.h,
 * options_parse_target() in target_spec.h. */

/* --help, generated from the option specs. */
const char *options_usage(void);
/* README's options table, generated from the same specs (a test holds
 * README to it). 0, or -ENOSPC if buf is too small. */
int options_markdown_table(char *buf, size_t len);

#endif
