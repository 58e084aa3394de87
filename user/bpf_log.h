/* bpf_log.h - libbpf's messages routed into the log. */
#ifndef SR_BPF_LOG_H
#define SR_BPF_LOG_H

#include <stdbool.h>

/*
 * Route libbpf's messages into the log (its debug output only when verbose).
 * A verifier log is logged line by line, never cut: whole when verbose, else
 * its last lines.
 */
void bpf_log_setup(bool verbose);

/* While quiet (a load whose refusal is an answer: a probe, a fallback
 * before load), libbpf's messages show only when verbose. */
void bpf_log_quiet(bool quiet);

#endif
