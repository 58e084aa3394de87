/* list_server.c - answer `sockreap list` on the control socket from a fresh map read. */
#include "list_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "control.h"
#include "listing.h"


/* Answer one `sockreap list` from a fresh read of the map. */
void list_serve(int control_fd, struct tracker *t, const struct targets *tg,
		struct identity_cache *ids, struct tracker_snapshot *snap,
		const struct policy_pressure *pressure)
{
	struct list_row *rows = NULL;
	struct pod_identity *who = NULL;
	char req[SR_CONTROL_REQ_MAX];
	uint64_t now;
	FILE *f = NULL;
	int c = control_accept(control_fd, req, sizeof(req)), body = -1, w = -1;

	if (c < 0)
		return;
	/* The answer goes to the client as a file (control_reply): written
	 * here at memory speed, read there at the client's. */
	body = memfd_create("sockreap-list", MFD_CLOEXEC);
	if (body < 0 || (w = dup(body)) < 0 || !(f = fdopen(w, "w"))) {
		if (w >= 0)
			close(w);
		goto out;
	}
	if (strcmp(req, "list") && strcmp(req, "list json")) {
		fprintf(f, "sockreap: unknown request\n");
	} else if (tracker_read(t, snap)) {
		fprintf(f, "sockreap: cannot read the socket map\n");
	} else if (snap->n && !(rows = calloc(snap->n, sizeof(*rows) + sizeof(*who)))) {
		fprintf(f, "sockreap: out of memory\n");
	} else {
		now = now_ns();
		who = (struct pod_identity *)(rows + snap->n);
		for (size_t i = 0; i < snap->n; i++) {
			const struct target *r = targets_of(tg, &snap->socks[i]);

			identity_of(ids, snap->socks[i].cgroup_id, (pid_t)snap->socks[i].owner_tgid,
				    &who[i]);
			rows[i] = (struct list_row){ snap->keys[i], &snap->socks[i],
						     policy_verdict(&snap->socks[i], now, &r->pol, pressure),
						     r->name, &who[i] };
		}
		listing_render(f, rows, snap->n, now, !strcmp(req, "list json"));
	}
	if (fclose(f) == 0)
		control_reply(c, body);
out:
	free(rows);
	if (body >= 0)
		close(body);
	/* A list of hundreds of thousands of sockets is tens of megabytes: give
	 * them back rather than keep them for the next answer. */
	tracker_snapshot_free(snap);
	close(c);
}

