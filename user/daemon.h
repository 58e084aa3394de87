/* daemon.h - the scan loop: read the map, judge, reap, observe. */
#ifndef SR_DAEMON_H
#define SR_DAEMON_H

#include "options.h"

/* Run until SIGINT/SIGTERM. Returns the process exit status (0, or 2 on bad set-up). */
int daemon_run(const struct sr_config *cfg);

#endif
