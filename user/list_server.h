/* list_server.h - the daemon's side of `sockreap list`. */
#ifndef SR_LIST_SERVER_H
#define SR_LIST_SERVER_H

#include "identity.h"
#include "targets.h"
#include "tracker.h"

/*
 * Accept one pending client of control_fd and answer its request (table or
 * JSON) from a fresh read of the map into snap (the server's own snapshot,
 * never the scan's), each socket with the pod or unit ids says it belongs
 * to. Bounded in time by control.c.
 */
void list_serve(int control_fd, struct tracker *t, const struct targets *tg,
		struct identity_cache *ids, struct tracker_snapshot *snap,
		const struct policy_pressure *pressure);

#endif
