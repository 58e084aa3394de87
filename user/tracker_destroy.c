/* tracker_destroy.c - the kernel-side kill: the destroy walk's own object
 * (bpf/destroy.bpf.c), loaded where the kernel has bpf_sock_destroy(), run
 * in the socket's namespace. The reaper decides when; this only walks. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <string.h>

#include "log.h"
#include "netns.h"
#include "tracker_internal.h"

/*
 * The destroy walk is optional: if its object will not load or attach here,
 * the daemon runs without the fallback (event=ready says destroy=unavailable).
 */
void tracker_open_destroy(struct tracker *t)
{
	t->destroy = destroy_bpf__open_and_load();
	if (t->destroy && destroy_bpf__attach(t->destroy) == 0)
		t->destroy_link = t->destroy->links.sr_destroy;
	if (!t->destroy_link) {
		pr_warn("bpf_sock_destroy() is in the kernel but its walk would not load (%s): "
			"no destroy fallback",
			strerror(errno));
		destroy_bpf__destroy(t->destroy);
		t->destroy = NULL;
		t->has_destroy = false;
	}
}

static int destroy_here(void *ctx)
{
	struct tracker *t = ctx;

	return tracker_run_iter(t->destroy_link);
}

int tracker_destroy(struct tracker *t, uint64_t cookie, uint32_t netns_ino,
		    const struct sr_expect *x, bool dry_run, uint32_t *why)
{
	struct destroy_bpf__bss *bss;
	int ret;

	if (!t->has_destroy)
		return -EOPNOTSUPP;
	bss = t->destroy->bss;
	bss->destroy_cookie = cookie;
	bss->destroy_expect = *x;
	bss->destroy_dry_run = dry_run;
	bss->destroy_result = SR_DESTROY_NOT_FOUND;
	bss->destroy_recheck = SR_RECHECK_DEAD;
	ret = netns_run_in(netns_ino, destroy_here, t);
	if (ret == -ENOTRECOVERABLE)
		t->lost_netns = true;
	bss->destroy_cookie = 0;
	*why = bss->destroy_recheck;
	if (ret < 0)
		return ret;
	return bss->destroy_result;
}
