/* test_policy.c - the verdict rules of user/policy.c, one clock edge at a time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "outcome.h"
#include "policy.h"

#define S(x) ((uint64_t)(x) * 1000000000ull)
#define GRACE S(30)

static const struct policy_config cfg_default = { .stall_grace_ns = GRACE, .idle_timeout_ns = 0 };

/* An ESTABLISHED socket with 1000 bytes queued since t=100 s and no progress since. */
static struct sr_sock stalled_sock(void)
{
	struct sr_sock e;

	memset(&e, 0, sizeof(e));
	e.state = SR_TCP_ESTABLISHED;
	e.first_seen_ns = S(50);
	e.state_since_ns = S(50);
	e.last_progress_ns = S(50);
	e.last_rx_ns = S(50);
	e.queued_since_ns = S(100);
	e.snd_una = 5000;
	e.write_seq = 6000;
	return e;
}

static void assert_none(const struct policy_verdict *v)
{
	assert_int_equal(v->reason, REASON_NONE);
}

static void test_send_stall_fires_after_grace(void **state)
{
	struct sr_sock e = stalled_sock();
	struct policy_verdict v;

	(void)state;
	v = policy_verdict(&e, S(100) + GRACE + S(5), &cfg_default);
	assert_int_equal(v.reason, REASON_SEND_STALL);
	assert_int_equal(v.pending, REASON_NONE);
	assert_int_equal(v.onset_ns, S(100));
	assert_int_equal(v.age_ns, GRACE + S(5));
	assert_int_equal(v.limit_ns, GRACE);
}

static void test_ack_progress_resets_clock(void **state)
{
	struct sr_sock e = stalled_sock();
	struct policy_verdict v;

	(void)state;
	/* Queued at 100 s, but the peer acked something at 150 s. */
	e.last_progress_ns = S(150);
	v = policy_verdict(&e, S(100) + GRACE + S(30), &cfg_default);
	assert_none(&v);
	assert_int_equal(v.pending, REASON_SEND_STALL);
	assert_int_equal(v.onset_ns, S(150));
	assert_int_equal(v.age_ns, S(10));
	assert_int_equal(v.limit_ns, GRACE);

	v = policy_verdict(&e, S(150) + GRACE - 1, &cfg_default);
	assert_none(&v);
	assert_int_equal(v.age_ns, GRACE - 1);

	v = policy_verdict(&e, S(150) + GRACE, &cfg_default);
	assert_int_equal(v.reason, REASON_SEND_STALL);
	assert_int_equal(v.onset_ns, S(150));
	assert_int_equal(v.age_ns, GRACE);

	/* Progress older than the queue's start does not move the onset back. */
	e.last_progress_ns = S(60);
	v = policy_verdict(&e, S(100) + GRACE, &cfg_default);
	assert_int_equal(v.reason, REASON_SEND_STALL);
	assert_int_equal(v.onset_ns, S(100));
}

static void test_empty_queue_never_stalls(void **state)
{
	struct sr_sock e = stalled_sock();
	struct policy_verdict v;

	(void)state;
	e.write_seq = e.snd_una;
	assert_int_equal(policy_queued_bytes(&e), 0);
	/* Even with a stale queued_since and a year without progress. */
	v = policy_verdict(&e, S(100) + S(86400ull * 365), &cfg_default);
	assert_none(&v);
	assert_int_equal(v.pending, REASON_NONE);
	assert_int_equal(v.age_ns, 0);

	e.queued_since_ns = 0;
	v = policy_verdict(&e, S(100) + S(86400ull * 365), &cfg_default);
	assert_none(&v);
	assert_int_equal(v.pending, REASON_NONE);
}

static void test_queued_without_onset_does_nothing(void **state)
{
	struct sr_sock e = stalled_sock();
	struct policy_verdict v;

	(void)state;
	/* Bytes queued but no queued_since: an entry we cannot trust. */
	e.queued_since_ns = 0;
	v = policy_verdict(&e, S(100000), &cfg_default);
	assert_none(&v);
	assert_int_equal(v.pending, REASON_NONE);
}

static void test_grace_boundary_exact(void **state)
{
	struct sr_sock e = stalled_sock();
	struct policy_config cfg = { .stall_grace_ns = 2500000000ull }; /* 2.5 s */
	struct policy_verdict v;

	(void)state;
	v = policy_verdict(&e, S(100) + 2500000000ull - 1, &cfg);
	assert_none(&v);
	assert_int_equal(v.pending, REASON_SEND_STALL);
	assert_int_equal(v.age_ns, 2499999999ull);
	assert_int_equal(v.limit_ns, 2500000000ull);

	v = policy_verdict(&e, S(100) + 2500000000ull, &cfg);
	assert_int_equal(v.reason, REASON_SEND_STALL);
	assert_int_equal(v.age_ns, 2500000000ull);
	assert_int_equal(v.onset_ns, S(100));
}

static void test_clock_backwards(void **state)
{
	struct sr_sock e = stalled_sock();
	struct policy_verdict v;

	(void)state;
	/* now earlier than the onset (an event stamped after our clock read). */
	v = policy_verdict(&e, S(99), &cfg_default);
	assert_none(&v);
	assert_int_equal(v.pending, REASON_SEND_STALL);
	assert_int_equal(v.onset_ns, S(100));
	assert_int_equal(v.age_ns, 0);

	/* now == 0: still no underflow into a huge age. */
	v = policy_verdict(&e, 0, &cfg_default);
	assert_none(&v);
	assert_int_equal(v.age_ns, 0);

	/* Same for peer_gone and rx_idle. */
	e.state = SR_TCP_CLOSE_WAIT;
	e.write_seq = e.snd_una;
	e.rcv_nxt = e.copied_seq + 1; /* the FIN unread */
	e.state_since_ns = S(200);
	v = policy_verdict(&e, S(150), &cfg_default);
	assert_none(&v);
	assert_int_equal(v.pending, REASON_PEER_GONE);
	assert_int_equal(v.age_ns, 0);

	{
		struct policy_config c = { .stall_grace_ns = GRACE, .idle_timeout_ns = S(90) };

		e = stalled_sock();
		e.write_seq = e.snd_una;
		e.last_rx_ns = S(300);
		v = policy_verdict(&e, S(10), &c);
		assert_none(&v);
		assert_int_equal(v.pending, REASON_RX_IDLE);
		assert_int_equal(v.age_ns, 0);
	}
}

static void test_seq_wraparound(void **state)
{
	struct sr_sock e = stalled_sock();
	struct policy_verdict v;

	(void)state;
	/* 256 bytes before the wrap plus 100 after it. */
	e.snd_una = 0xFFFFFF00u;
	e.write_seq = 100;
	assert_int_equal(policy_queued_bytes(&e), 356);
	v = policy_verdict(&e, S(100) + GRACE, &cfg_default);
	assert_int_equal(v.reason, REASON_SEND_STALL);

	e.snd_una = 0xFFFFFFFFu;
	e.write_seq = 0;
	assert_int_equal(policy_queued_bytes(&e), 1);

	/* Largest sane difference. */
	e.snd_una = 10;
	e.write_seq = 10 + 0x7FFFFFFFu;
	assert_int_equal(policy_queued_bytes(&e), 0x7FFFFFFFu);

	/* write_seq "behind" snd_una: a torn read, not 4 GB queued. */
	e.snd_una = 5000;
	e.write_seq = 4999;
	assert_int_equal(policy_queued_bytes(&e), 0);
	v = policy_verdict(&e, S(100) + S(100000), &cfg_default);
	assert_none(&v);
	assert_int_equal(v.pending, REASON_NONE);

	e.snd_una = 50;
	e.write_seq = 0xFFFFFFF0u;
	assert_int_equal(policy_queued_bytes(&e), 0);
	v = policy_verdict(&e, S(100) + S(100000), &cfg_default);
	assert_none(&v);
}

static void test_non_established_never_send_stall(void **state)
{
	struct policy_config cfg = { .stall_grace_ns = GRACE, .idle_timeout_ns = S(1),
				     .close_wait_timeout_ns = S(1) };

	(void)state;
	/* Only ESTABLISHED and CLOSE_WAIT (an owner answering a half-closed
	 * peer) can send_stall; every other state is never judged at all. */
	for (int st = 0; st <= SR_TCP_NEW_SYN_RECV + 1; st++) {
		struct sr_sock e = stalled_sock();
		struct policy_verdict v;

		if (st == SR_TCP_ESTABLISHED || st == SR_TCP_CLOSE_WAIT)
			continue;
		e.state = (__u8)st;
		e.rcv_nxt = e.copied_seq + 1;
		v = policy_verdict(&e, S(100000), &cfg);
		assert_int_equal(v.reason, REASON_NONE);
		assert_int_equal(v.pending, REASON_NONE);
	}
}

/* A half-closed client waiting for its answer: the owner read the EOF. */
static void test_half_close_never_peer_gone(void **state)
{
	struct sr_sock e = stalled_sock();
	struct policy_verdict v;

	(void)state;
	e.state = SR_TCP_CLOSE_WAIT;
	e.write_seq = e.snd_una;
	e.queued_since_ns = 0;
	e.state_since_ns = S(200);
	e.rcv_nxt = 1001;
	e.copied_seq = 1001; /* data and FIN consumed: recv() returned 0 */
	v = policy_verdict(&e, S(200) + S(100000), &cfg_default);
	assert_none(&v);
	assert_int_equal(v.pending, REASON_NONE);

	/* Sequence wrap: rcv_nxt just past 2^32, everything read. */
	e.rcv_nxt = 5;
	e.copied_seq = 5;
	v = policy_verdict(&e, S(200) + S(100000), &cfg_default);
	assert_none(&v);
	/* ... and with the FIN unread across the wrap. */
	e.copied_seq = 0xfffffffe;
	v = policy_verdict(&e, S(200) + GRACE, &cfg_default);
	assert_int_equal(v.reason, REASON_PEER_GONE);

	/* It answers and the half-closed peer stops ACKing: an ordinary send_stall. */
	e.copied_seq = e.rcv_nxt;
	e.write_seq = e.snd_una + 4096;
	e.queued_since_ns = S(300);
	e.last_progress_ns = S(310);
	v = policy_verdict(&e, S(310) + GRACE - 1, &cfg_default);
	assert_none(&v);
	assert_int_equal(v.pending, REASON_SEND_STALL);
	v = policy_verdict(&e, S(310) + GRACE, &cfg_default);
	assert_int_equal(v.reason, REASON_SEND_STALL);
	assert_int_equal(v.onset_ns, S(310));
}

/* Opt-in leak cleanup: CLOSE_WAIT with the close read, past its own timeout. */
static void test_close_wait_timeout(void **state)
{
	struct policy_config cfg = { .stall_grace_ns = GRACE, .close_wait_timeout_ns = S(600) };
	struct sr_sock e = stalled_sock();
	struct policy_verdict v;

	(void)state;
	e.state = SR_TCP_CLOSE_WAIT;
	e.write_seq = e.snd_una;
	e.queued_since_ns = 0;
	e.state_since_ns = S(200);
	e.last_read_ns = S(250); /* read the EOF at 250 s */
	e.rcv_nxt = e.copied_seq = 77;
	v = policy_verdict(&e, S(250) + S(600) - 1, &cfg);
	assert_none(&v);
	assert_int_equal(v.pending, REASON_CLOSE_WAIT);
	assert_int_equal(v.onset_ns, S(250));
	v = policy_verdict(&e, S(250) + S(600), &cfg);
	assert_int_equal(v.reason, REASON_CLOSE_WAIT);
	assert_int_equal(v.limit_ns, S(600));
	/* Off by default. */
	v = policy_verdict(&e, S(100000), &cfg_default);
	assert_none(&v);
	assert_int_equal(v.pending, REASON_NONE);
	/* Unread: peer_gone's grace applies, not the leak timeout. */
	e.rcv_nxt = 78;
	v = policy_verdict(&e, S(250) + GRACE, &cfg);
	assert_int_equal(v.reason, REASON_PEER_GONE);
	assert_string_equal(policy_reason_name(REASON_CLOSE_WAIT), "close_wait");
}

static void test_peer_gone_onset(void **state)
{
	struct sr_sock e = stalled_sock();
	struct policy_verdict v;

	(void)state;
	e.state = SR_TCP_CLOSE_WAIT;
	e.write_seq = e.snd_una; /* peer_gone needs no queue */
	e.queued_since_ns = 0;
	e.state_since_ns = S(200);
	e.last_progress_ns = S(120);
	e.rcv_nxt = e.copied_seq + 1; /* the FIN is unread */

	/* Onset is when CLOSE_WAIT began (later than the last progress). */
	v = policy_verdict(&e, S(200) + GRACE - 1, &cfg_default);
	assert_none(&v);
	assert_int_equal(v.pending, REASON_PEER_GONE);
	assert_int_equal(v.onset_ns, S(200));
	assert_int_equal(v.age_ns, GRACE - 1);
	v = policy_verdict(&e, S(200) + GRACE, &cfg_default);
	assert_int_equal(v.reason, REASON_PEER_GONE);
	assert_int_equal(v.onset_ns, S(200));
	assert_int_equal(v.age_ns, GRACE);
	assert_int_equal(v.limit_ns, GRACE);

	/* Progress after entering CLOSE_WAIT (owner still draining acks) moves it on. */
	e.last_progress_ns = S(210);
	v = policy_verdict(&e, S(200) + GRACE, &cfg_default);
	assert_none(&v);
	assert_int_equal(v.pending, REASON_PEER_GONE);
	assert_int_equal(v.onset_ns, S(210));
	assert_int_equal(v.age_ns, GRACE - S(10));
	v = policy_verdict(&e, S(210) + GRACE, &cfg_default);
	assert_int_equal(v.reason, REASON_PEER_GONE);
	assert_int_equal(v.onset_ns, S(210));

	/* So does the owner reading part of what is left. */
	e.last_read_ns = S(220);
	v = policy_verdict(&e, S(210) + GRACE, &cfg_default);
	assert_none(&v);
	assert_int_equal(v.onset_ns, S(220));
}

/* The cause= of each verdict, at its edges. */
static void test_cause(void **state)
{
	struct sr_sock e = stalled_sock(); /* queued since 100 s, last progress 50 s */
	struct policy_verdict v;

	(void)state;
	v = policy_verdict(&e, S(200), &cfg_default);
	assert_int_equal(v.reason, REASON_SEND_STALL);
	/* A probe reply with a zero window after the clock started: alive, not reading. */
	e.last_rx_ns = S(150);
	e.snd_wnd = 0;
	assert_int_equal(policy_cause(&e, &v), CAUSE_ZERO_WINDOW);
	assert_string_equal(policy_cause_name(CAUSE_ZERO_WINDOW), "zero_window");
	/* A window update with an open window, then silence: the peer has room
	 * and still acknowledges nothing. */
	e.snd_wnd = 65535;
	assert_int_equal(policy_cause(&e, &v), CAUSE_NO_ACK);
	/* A zero window, then probes no longer answered (nothing heard since the
	 * clock started; a segment exactly at its start counts as before it). */
	e.snd_wnd = 0;
	e.last_rx_ns = S(100);
	assert_int_equal(policy_cause(&e, &v), CAUSE_NO_ACK);
	/* Nothing outstanding: the state does not tell (send_stall needs data). */
	e.write_seq = e.snd_una;
	assert_int_equal(policy_cause(&e, &v), CAUSE_UNKNOWN);
	e.write_seq = 6000;
	e.last_rx_ns = 0;
	assert_int_equal(policy_cause(&e, &v), CAUSE_NO_ACK);
	assert_string_equal(policy_cause_name(CAUSE_NO_ACK), "no_ack");
	/* A pending clock has a cause too (for list). */
	v = policy_verdict(&e, S(110), &cfg_default);
	assert_int_equal(v.pending, REASON_SEND_STALL);
	assert_int_equal(policy_cause(&e, &v), CAUSE_NO_ACK);

	/* rx_idle: data outstanding or not. */
	{
		struct policy_config c = { .stall_grace_ns = S(1000), .idle_timeout_ns = S(10) };

		e.last_rx_ns = S(50);
		v = policy_verdict(&e, S(200), &c);
		assert_int_equal(v.reason, REASON_RX_IDLE);
		assert_int_equal(policy_cause(&e, &v), CAUSE_NO_ACK);
		e.write_seq = e.snd_una;
		e.queued_since_ns = 0;
		v = policy_verdict(&e, S(200), &c);
		assert_int_equal(policy_cause(&e, &v), CAUSE_SILENT);
	}

	/* peer_gone: the FIN alone, or data before it; close_wait: EOF read. */
	e.state = SR_TCP_CLOSE_WAIT;
	e.copied_seq = 1000;
	e.rcv_nxt = 1001;
	v = policy_verdict(&e, S(100000), &cfg_default);
	assert_int_equal(v.reason, REASON_PEER_GONE);
	assert_int_equal(policy_cause(&e, &v), CAUSE_FIN_UNREAD);
	e.rcv_nxt = 1500;
	assert_int_equal(policy_cause(&e, &v), CAUSE_DATA_UNREAD);
	e.rcv_nxt = 1000;
	{
		struct policy_config c = { .stall_grace_ns = GRACE, .close_wait_timeout_ns = S(5) };

		v = policy_verdict(&e, S(100000), &c);
		assert_int_equal(v.reason, REASON_CLOSE_WAIT);
		assert_int_equal(policy_cause(&e, &v), CAUSE_EOF_READ);
	}
	assert_string_equal(policy_cause_name(CAUSE_MAX), "unknown");
}

static void test_rx_idle(void **state)
{
	struct policy_config on = { .stall_grace_ns = GRACE, .idle_timeout_ns = S(90) };
	struct sr_sock e = stalled_sock();
	struct policy_verdict v;

	(void)state;
	e.write_seq = e.snd_una; /* nothing queued: only rx_idle can apply */
	e.queued_since_ns = 0;
	e.first_seen_ns = S(100);
	e.last_rx_ns = S(400);

	/* Off by default, however long nothing arrives. */
	v = policy_verdict(&e, S(10000000), &cfg_default);
	assert_none(&v);
	assert_int_equal(v.pending, REASON_NONE);

	/* Onset = last segment received. */
	v = policy_verdict(&e, S(400) + S(90) - 1, &on);
	assert_none(&v);
	assert_int_equal(v.pending, REASON_RX_IDLE);
	assert_int_equal(v.onset_ns, S(400));
	assert_int_equal(v.limit_ns, S(90));
	v = policy_verdict(&e, S(490), &on);
	assert_int_equal(v.reason, REASON_RX_IDLE);
	assert_int_equal(v.onset_ns, S(400));
	assert_int_equal(v.age_ns, S(90));
	assert_int_equal(v.limit_ns, S(90));

	/* Nothing ever received: the clock starts when we first saw the socket. */
	e.last_rx_ns = 0;
	v = policy_verdict(&e, S(189), &on);
	assert_none(&v);
	assert_int_equal(v.pending, REASON_RX_IDLE);
	assert_int_equal(v.onset_ns, S(100));
	v = policy_verdict(&e, S(190), &on);
	assert_int_equal(v.reason, REASON_RX_IDLE);
	assert_int_equal(v.onset_ns, S(100));

	/* A receive timestamp older than first_seen (swept entry) counts from first_seen. */
	e.last_rx_ns = S(20);
	v = policy_verdict(&e, S(150), &on);
	assert_none(&v);
	assert_int_equal(v.onset_ns, S(100));
	assert_int_equal(v.age_ns, S(50));
}

static void test_precedence_send_stall_first(void **state)
{
	struct policy_config cfg = { .stall_grace_ns = GRACE, .idle_timeout_ns = S(10) };
	struct sr_sock e = stalled_sock();
	struct policy_verdict v;

	(void)state;
	/* Both have expired: send_stall wins, with its own clock. */
	v = policy_verdict(&e, S(1000), &cfg);
	assert_int_equal(v.reason, REASON_SEND_STALL);
	assert_int_equal(v.pending, REASON_NONE);
	assert_int_equal(v.onset_ns, S(100));
	assert_int_equal(v.age_ns, S(900));
	assert_int_equal(v.limit_ns, GRACE);

	/* send_stall still running, rx_idle expired: rx_idle fires. */
	e.queued_since_ns = S(990);
	v = policy_verdict(&e, S(1000), &cfg);
	assert_int_equal(v.reason, REASON_RX_IDLE);
	assert_int_equal(v.pending, REASON_NONE);
	assert_int_equal(v.onset_ns, S(50));
	assert_int_equal(v.age_ns, S(950));
	assert_int_equal(v.limit_ns, S(10));
}

static void test_pending_least_time_left(void **state)
{
	struct policy_config cfg = { .stall_grace_ns = GRACE, .idle_timeout_ns = S(90) };
	struct sr_sock e = stalled_sock();
	struct policy_verdict v;

	(void)state;
	/* send_stall: onset 100, 30 s grace, 10 s left at t=120.
	 * rx_idle: onset 50, 90 s timeout, 20 s left at t=120. */
	v = policy_verdict(&e, S(120), &cfg);
	assert_none(&v);
	assert_int_equal(v.pending, REASON_SEND_STALL);
	assert_int_equal(v.onset_ns, S(100));
	assert_int_equal(v.age_ns, S(20));
	assert_int_equal(v.limit_ns, GRACE);

	/* Received nothing since 35 s: rx_idle now has 5 s left, send_stall 10 s. */
	e.last_rx_ns = S(35);
	e.first_seen_ns = S(35);
	v = policy_verdict(&e, S(120), &cfg);
	assert_none(&v);
	assert_int_equal(v.pending, REASON_RX_IDLE);
	assert_int_equal(v.onset_ns, S(35));
	assert_int_equal(v.age_ns, S(85));
	assert_int_equal(v.limit_ns, S(90));

	/* A tie keeps the rule checked first. */
	e.last_rx_ns = S(40);
	e.first_seen_ns = S(40);
	v = policy_verdict(&e, S(120), &cfg);
	assert_none(&v);
	assert_int_equal(v.pending, REASON_SEND_STALL);
	assert_int_equal(v.onset_ns, S(100));

	/* No rule running at all. */
	e.write_seq = e.snd_una;
	v = policy_verdict(&e, S(120), &cfg_default);
	assert_none(&v);
	assert_int_equal(v.pending, REASON_NONE);
	assert_int_equal(v.onset_ns, 0);
	assert_int_equal(v.age_ns, 0);
	assert_int_equal(v.limit_ns, 0);
}

static void test_reason_and_result_names(void **state)
{
	(void)state;
	assert_string_equal(policy_reason_name(REASON_NONE), "none");
	assert_string_equal(policy_reason_name(REASON_SEND_STALL), "send_stall");
	assert_string_equal(policy_reason_name(REASON_PEER_GONE), "peer_gone");
	assert_string_equal(policy_reason_name(REASON_RX_IDLE), "rx_idle");
	assert_string_equal(policy_reason_name(REASON_MAX), "unknown");
	assert_string_equal(policy_reason_name((enum sr_reason)1000), "unknown");

	assert_string_equal(reap_result_name(REAP_OK), "ok");
	assert_string_equal(reap_result_name(REAP_DRY_RUN), "dry_run");
	assert_string_equal(reap_result_name(REAP_GONE), "gone");
	assert_string_equal(reap_result_name(REAP_NO_OWNER), "no_owner");
	assert_string_equal(reap_result_name(REAP_MISMATCH), "mismatch");
	assert_string_equal(reap_result_name(REAP_RESUMED), "resumed");
	assert_string_equal(reap_result_name(REAP_ERROR), "error");
	assert_string_equal(reap_result_name(REAP_RESULT_MAX), "unknown");
	assert_string_equal(reap_result_name((enum reap_result)1000), "unknown");
	/* Every in-range value has a name (no NULL hole in the tables). */
	for (int r = 0; r < REASON_MAX; r++)
		assert_non_null(policy_reason_name((enum sr_reason)r));
	for (int r = 0; r < REAP_RESULT_MAX; r++)
		assert_non_null(reap_result_name((enum reap_result)r));
}

/*
 * Per-target rules: the daemon hands policy_verdict() rules[e->rule], so one
 * entry is judged by whichever struct policy_config its target carries.
 */
static void test_rules_per_target_grace(void **state)
{
	const struct policy_config rules[2] = {
		{ .stall_grace_ns = S(5), .idle_timeout_ns = 0 },   /* e.g. --target ...,stall-grace=5 */
		{ .stall_grace_ns = S(600), .idle_timeout_ns = 0 }, /* the defaults, --stall-grace 600 */
	};
	struct sr_sock e = stalled_sock();
	struct policy_verdict v;

	(void)state;
	/* Stalled since 100 s; at 110 s the short grace has run out, the long one has not. */
	e.rule = 0;
	v = policy_verdict(&e, S(110), &rules[e.rule]);
	assert_int_equal(v.reason, REASON_SEND_STALL);
	assert_int_equal(v.onset_ns, S(100));
	assert_int_equal(v.age_ns, S(10));
	assert_int_equal(v.limit_ns, S(5));

	e.rule = 1;
	v = policy_verdict(&e, S(110), &rules[e.rule]);
	assert_none(&v);
	assert_int_equal(v.pending, REASON_SEND_STALL);
	assert_int_equal(v.onset_ns, S(100));
	assert_int_equal(v.age_ns, S(10));
	assert_int_equal(v.limit_ns, S(600));

	/* Each rule's own boundary, exactly. */
	v = policy_verdict(&e, S(105) - 1, &rules[0]);
	assert_none(&v);
	v = policy_verdict(&e, S(105), &rules[0]);
	assert_int_equal(v.reason, REASON_SEND_STALL);
	v = policy_verdict(&e, S(700) - 1, &rules[1]);
	assert_none(&v);
	v = policy_verdict(&e, S(700), &rules[1]);
	assert_int_equal(v.reason, REASON_SEND_STALL);
	assert_int_equal(v.limit_ns, S(600));

	/* The grace covers peer_gone too: the same CLOSE_WAIT entry, two rules. */
	e.state = SR_TCP_CLOSE_WAIT;
	e.write_seq = e.snd_una;
	e.rcv_nxt = e.copied_seq + 1;
	e.state_since_ns = S(200);
	v = policy_verdict(&e, S(205), &rules[0]);
	assert_int_equal(v.reason, REASON_PEER_GONE);
	assert_int_equal(v.limit_ns, S(5));
	v = policy_verdict(&e, S(205), &rules[1]);
	assert_none(&v);
	assert_int_equal(v.pending, REASON_PEER_GONE);
	assert_int_equal(v.limit_ns, S(600));
}

static void test_rules_per_target_idle_timeout(void **state)
{
	const struct policy_config rules[2] = {
		{ .stall_grace_ns = GRACE, .idle_timeout_ns = S(60) }, /* idle-timeout=60 */
		{ .stall_grace_ns = GRACE, .idle_timeout_ns = 0 },     /* idle-timeout=0: off */
	};
	struct sr_sock e = stalled_sock();
	struct policy_verdict v;

	(void)state;
	e.write_seq = e.snd_una; /* nothing queued: only rx_idle can apply */
	e.queued_since_ns = 0;
	e.first_seen_ns = S(100);
	e.last_rx_ns = S(200);

	v = policy_verdict(&e, S(260), &rules[0]);
	assert_int_equal(v.reason, REASON_RX_IDLE);
	assert_int_equal(v.onset_ns, S(200));
	assert_int_equal(v.age_ns, S(60));
	assert_int_equal(v.limit_ns, S(60));
	v = policy_verdict(&e, S(260) - 1, &rules[0]);
	assert_none(&v);
	assert_int_equal(v.pending, REASON_RX_IDLE);

	/* The other target turned it off: a year of silence does nothing, no clock runs. */
	v = policy_verdict(&e, S(260), &rules[1]);
	assert_none(&v);
	assert_int_equal(v.pending, REASON_NONE);
	assert_int_equal(v.age_ns, 0);
	assert_int_equal(v.limit_ns, 0);
	v = policy_verdict(&e, S(200) + S(86400ull * 365), &rules[1]);
	assert_none(&v);
	assert_int_equal(v.pending, REASON_NONE);

	/* With data queued, the rule without rx_idle still has send_stall. */
	e.write_seq = e.snd_una + 10;
	e.queued_since_ns = S(240);
	v = policy_verdict(&e, S(260), &rules[1]);
	assert_none(&v);
	assert_int_equal(v.pending, REASON_SEND_STALL);
	assert_int_equal(v.onset_ns, S(240));
	v = policy_verdict(&e, S(260), &rules[0]);
	assert_int_equal(v.reason, REASON_RX_IDLE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_send_stall_fires_after_grace),
		cmocka_unit_test(test_ack_progress_resets_clock),
		cmocka_unit_test(test_empty_queue_never_stalls),
		cmocka_unit_test(test_queued_without_onset_does_nothing),
		cmocka_unit_test(test_grace_boundary_exact),
		cmocka_unit_test(test_clock_backwards),
		cmocka_unit_test(test_seq_wraparound),
		cmocka_unit_test(test_non_established_never_send_stall),
		cmocka_unit_test(test_peer_gone_onset),
		cmocka_unit_test(test_half_close_never_peer_gone),
		cmocka_unit_test(test_close_wait_timeout),
		cmocka_unit_test(test_rx_idle),
		cmocka_unit_test(test_cause),
		cmocka_unit_test(test_precedence_send_stall_first),
		cmocka_unit_test(test_pending_least_time_left),
		cmocka_unit_test(test_reason_and_result_names),
		cmocka_unit_test(test_rules_per_target_grace),
		cmocka_unit_test(test_rules_per_target_idle_timeout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
