/* refload.c - attach the reference programs (refprogs.bpf.c) until SIGTERM.
 *
 *   refload
 *
 * Prints "ready send=1" (or send=0 where the kernel has no
 * tcp_sendmsg_locked tracepoint: only the ACK-path references then) once
 * attached; bench/report.py finds the programs through this process's fds.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "refprogs.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static struct refprogs_bpf *open_and_load(int with_send)
{
	struct refprogs_bpf *skel = refprogs_bpf__open();

	if (!skel)
		return NULL;
	if (!with_send) {
		bpf_program__set_autoload(skel->progs.ref_send_empty, false);
		bpf_program__set_autoload(skel->progs.ref_send_hash, false);
	}
	if (refprogs_bpf__load(skel) == 0 && refprogs_bpf__attach(skel) == 0)
		return skel;
	refprogs_bpf__destroy(skel);
	return NULL;
}

int main(void)
{
	struct refprogs_bpf *skel;
	int with_send = 1;

	libbpf_set_print(NULL);
	skel = open_and_load(1);
	if (!skel) {
		with_send = 0;
		skel = open_and_load(0);
	}
	if (!skel) {
		fprintf(stderr, "refload: cannot load the reference programs: %s\n", strerror(errno));
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("ready send=%d\n", with_send);
	fflush(stdout);
	while (!stop)
		pause();
	refprogs_bpf__destroy(skel);
	return 0;
}
