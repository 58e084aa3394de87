/* bpf_log.h - libbpf's messages routed into the log, and the verifier's last word. */
#ifndef SR_BPF_LOG_H
#define SR_BPF_LOG_H

#include <stdbool.h>

/*
 * Route libbpf's messages into the log (its debug output only when verbose).
 * A verifier log is logged line by line, never cut: whole when verbose, else
 * its last lines; the refused program and the log's last line are kept.
 */
void bpf_log_setup(bool verbose);

/* While quiet (a load whose refusal is an answer: a probe, a fallback
 * attempt), libbpf's messages show only when verbose. */
void bpf_log_quiet(bool quiet);

/* Forget the last refusal before a load; then read what the kernel refused ("" if nothing). */
void bpf_log_forget_refusal(void);
const char *bpf_log_refused_prog(void);
const char *bpf_log_refused_why(void);

#endif
