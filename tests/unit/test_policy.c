/* test_policy.c - the verdict rules of user/policy.c, one clock edge at a
 * time: each test judges a few sockets, a row per judgement. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "outcome.h"
#include "policy.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define S(x) ((uint64_t)(x) * 1000000000ull)
#define GRACE S(30)

static const struct policy_config cfg_default = { .stall_grace_ns = GRACE, .idle_timeout_ns = 0 };
/* peer_gone is opt-in (--peer-gone-timeout): its tests turn it on, at the same 30 s. */
static const struct policy_config cfg_peer_gone = { .stall_grace_ns = GRACE,
						    .peer_gone_timeout_ns = GRACE };

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

/* The same socket with its sequence numbers set: what is queued, modulo 2^32. */
static struct sr_sock queue_seqs(uint32_t snd_una, uint32_t write_seq)
{
	struct sr_sock e = stalled_sock();

	e.snd_una = snd_una;
	e.write_seq = write_seq;
	return e;
}

/* Nothing queued, last segment received at last_rx, first seen at 100 s: only rx_idle applies. */
static struct sr_sock idle_sock(uint64_t last_rx)
{
	struct sr_sock e = stalled_sock();

	e.write_seq = e.snd_una;
	e.queued_since_ns = 0;
	e.first_seen_ns = S(100);
	e.last_rx_ns = last_rx;
	return e;
}

/* In CLOSE_WAIT since 200 s with nothing queued: peer_gone and close_wait. */
static struct sr_sock close_wait_sock(void)
{
	struct sr_sock e = stalled_sock();

	e.state = SR_TCP_CLOSE_WAIT;
	e.write_seq = e.snd_una;
	e.queued_since_ns = 0;
	e.state_since_ns = S(200);
	return e;
}

/* The fields of a verdict a row names, checked in the order named. */
enum verdict_field { V_END, V_REASON, V_PENDING, V_ONSET, V_AGE, V_LIMIT, V_HELD };

#define REASON(r) { V_REASON, SR_REASON_##r }
#define PENDING(r) { V_PENDING, SR_REASON_##r }
#define ONSET(ns) { V_ONSET, (ns) }
#define AGE(ns) { V_AGE, (ns) }
#define LIMIT(ns) { V_LIMIT, (ns) }
#define HELD(ns) { V_HELD, (ns) }

/* One judgement: entry e at now under cfg (and the kernel's TCP memory
 * pressure: none unless given), and what its verdict must say. */
struct judgement {
	const char *what;
	const struct sr_sock *e;
	uint64_t now;
	const struct policy_config *cfg;
	struct {
		enum verdict_field field; /* V_END ends the list */
		uint64_t value;
	} want[5];
	struct policy_pressure pressure;
};

/* Pressure seen until t, and over since; pressure still seen at t (none
 * ended before); pressure seen again at t after one that ended at end. */
#define ENDED(t) { (t), (t), false }
#define LASTING(t) { (t), 0, true }
#define RETURNED(t, end) { (t), (end), true }

static uint64_t verdict_field(const struct policy_verdict *v, enum verdict_field f)
{
	switch (f) {
	case V_REASON:
		return v->reason;
	case V_PENDING:
		return v->pending;
	case V_ONSET:
		return v->onset_ns;
	case V_AGE:
		return v->age_ns;
	case V_HELD:
		return v->held_ns;
	default:
		return v->limit_ns;
	}
}

static void judge(const struct judgement *rows, size_t n)
{
	static const char *const names[] = {
		[V_REASON] = "reason", [V_PENDING] = "pending", [V_ONSET] = "onset_ns",
		[V_AGE] = "age_ns",    [V_LIMIT] = "limit_ns", [V_HELD] = "held_ns",
	};

	for (size_t i = 0; i < n; i++) {
		const struct judgement *r = &rows[i];
		struct policy_verdict v = policy_verdict(r->e, r->now, r->cfg, &r->pressure);

		for (size_t w = 0; w < ARRAY_SIZE(r->want) && r->want[w].field != V_END; w++) {
			enum verdict_field f = r->want[w].field;
			uint64_t got = verdict_field(&v, f), want = r->want[w].value;

			/* cmocka 1.1 cannot put a message on an assert: name the row first. */
			if (got != want && (f == V_REASON || f == V_PENDING))
				print_error("%s: %s is %s, want %s\n", r->what, names[f],
					    policy_reason_name(got), policy_reason_name(want));
			else if (got != want)
				print_error("%s: %s is %" PRIu64 ", want %" PRIu64 "\n", r->what,
					    names[f], got, want);
			assert_int_equal(got, want);
		}
	}
}

static void test_send_stall_grace(void **state)
{
	const struct policy_config grace_2_5 = { .stall_grace_ns = 2500000000ull }; /* 2.5 s */
	const struct sr_sock e = stalled_sock();
	const struct judgement rows[] = {
		{ "5 s past the grace: fires", &e, S(100) + GRACE + S(5), &cfg_default,
		  { REASON(SEND_STALL), PENDING(NONE), ONSET(S(100)), AGE(GRACE + S(5)), LIMIT(GRACE) } },
		{ "2.5 s grace, 1 ns short", &e, S(100) + 2500000000ull - 1, &grace_2_5,
		  { REASON(NONE), PENDING(SEND_STALL), AGE(2499999999ull), LIMIT(2500000000ull) } },
		{ "2.5 s grace, exactly", &e, S(100) + 2500000000ull, &grace_2_5,
		  { REASON(SEND_STALL), AGE(2500000000ull), ONSET(S(100)) } },
	};

	(void)state;
	judge(rows, ARRAY_SIZE(rows));
}

static void test_ack_progress_resets_clock(void **state)
{
	struct sr_sock acked = stalled_sock(), acked_early = stalled_sock();
	const struct judgement rows[] = {
		{ "queued at 100 s, acked at 150 s", &acked, S(100) + GRACE + S(30), &cfg_default,
		  { REASON(NONE), PENDING(SEND_STALL), ONSET(S(150)), AGE(S(10)), LIMIT(GRACE) } },
		{ "1 ns short of a grace after the ack", &acked, S(150) + GRACE - 1, &cfg_default,
		  { REASON(NONE), AGE(GRACE - 1) } },
		{ "a grace after the ack", &acked, S(150) + GRACE, &cfg_default,
		  { REASON(SEND_STALL), ONSET(S(150)), AGE(GRACE) } },
		{ "progress older than the queue's start does not move the onset back", &acked_early,
		  S(100) + GRACE, &cfg_default, { REASON(SEND_STALL), ONSET(S(100)) } },
	};

	(void)state;
	acked.last_progress_ns = S(150);
	acked_early.last_progress_ns = S(60);
	judge(rows, ARRAY_SIZE(rows));
}

static void test_no_queue_or_no_onset_never_stalls(void **state)
{
	struct sr_sock empty = stalled_sock(), empty_no_onset, no_onset = stalled_sock();
	const struct judgement rows[] = {
		{ "empty, with a stale queued_since and a year without progress", &empty,
		  S(100) + S(86400ull * 365), &cfg_default, { REASON(NONE), PENDING(NONE), AGE(0) } },
		{ "empty, no queued_since", &empty_no_onset, S(100) + S(86400ull * 365), &cfg_default,
		  { REASON(NONE), PENDING(NONE) } },
		{ "bytes queued but no queued_since: an entry we cannot trust", &no_onset, S(100000),
		  &cfg_default, { REASON(NONE), PENDING(NONE) } },
	};

	(void)state;
	empty.write_seq = empty.snd_una;
	assert_int_equal(policy_queued_bytes(&empty), 0);
	empty_no_onset = empty;
	empty_no_onset.queued_since_ns = 0;
	no_onset.queued_since_ns = 0;
	judge(rows, ARRAY_SIZE(rows));
}

/* now earlier than the onset (an event stamped after our clock read): no underflow. */
static void test_clock_backwards(void **state)
{
	const struct policy_config idle_90 = { .stall_grace_ns = GRACE, .idle_timeout_ns = S(90) };
	struct sr_sock e = stalled_sock(), cw = stalled_sock(), idle = stalled_sock();
	const struct judgement rows[] = {
		{ "send_stall, 1 s before the onset", &e, S(99), &cfg_peer_gone,
		  { REASON(NONE), PENDING(SEND_STALL), ONSET(S(100)), AGE(0) } },
		{ "send_stall, now == 0: no huge age", &e, 0, &cfg_peer_gone, { REASON(NONE), AGE(0) } },
		{ "peer_gone, before CLOSE_WAIT began", &cw, S(150), &cfg_peer_gone,
		  { REASON(NONE), PENDING(PEER_GONE), AGE(0) } },
		{ "rx_idle, before the last segment", &idle, S(10), &idle_90,
		  { REASON(NONE), PENDING(RX_IDLE), AGE(0) } },
	};

	(void)state;
	cw.state = SR_TCP_CLOSE_WAIT;
	cw.write_seq = cw.snd_una;
	cw.rcv_nxt = cw.copied_seq + 1; /* the FIN unread */
	cw.state_since_ns = S(200);
	idle.write_seq = idle.snd_una;
	idle.last_rx_ns = S(300);
	judge(rows, ARRAY_SIZE(rows));
}

static void test_seq_wraparound(void **state)
{
	static const struct {
		const char *what;
		uint32_t snd_una, write_seq, queued;
	} seqs[] = {
		{ "256 bytes before the wrap plus 100 after it", 0xFFFFFF00u, 100, 356 },
		{ "one byte across the wrap", 0xFFFFFFFFu, 0, 1 },
		{ "the largest sane difference", 10, 10 + 0x7FFFFFFFu, 0x7FFFFFFFu },
		{ "write_seq behind snd_una: a torn read, not 4 GB queued", 5000, 4999, 0 },
		{ "write_seq far behind snd_una", 50, 0xFFFFFFF0u, 0 },
	};
	const struct sr_sock wrapped = queue_seqs(0xFFFFFF00u, 100), torn = queue_seqs(5000, 4999),
			     torn_far = queue_seqs(50, 0xFFFFFFF0u);
	const struct judgement rows[] = {
		{ "queued across the wrap: a stall", &wrapped, S(100) + GRACE, &cfg_default,
		  { REASON(SEND_STALL) } },
		{ "torn read: nothing queued", &torn, S(100) + S(100000), &cfg_default,
		  { REASON(NONE), PENDING(NONE) } },
		{ "torn read, far behind: nothing queued", &torn_far, S(100) + S(100000), &cfg_default,
		  { REASON(NONE) } },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(seqs); i++) {
		struct sr_sock e = queue_seqs(seqs[i].snd_una, seqs[i].write_seq);
		uint32_t got = policy_queued_bytes(&e);

		if (got != seqs[i].queued)
			print_error("%s: %u bytes queued, want %u\n", seqs[i].what, got,
				    seqs[i].queued);
		assert_int_equal(got, seqs[i].queued);
	}
	judge(rows, ARRAY_SIZE(rows));
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
		v = policy_verdict(&e, S(100000), &cfg,NULL);
		assert_int_equal(v.reason, SR_REASON_NONE);
		assert_int_equal(v.pending, SR_REASON_NONE);
	}
}

/* A half-closed client waiting for its answer: the owner read the EOF. */
static void test_half_close_never_peer_gone(void **state)
{
	struct sr_sock all_read = close_wait_sock(), wrapped, unread, answering;
	const struct judgement rows[] = {
		{ "data and FIN consumed: recv() returned 0", &all_read, S(200) + S(100000),
		  &cfg_peer_gone, { REASON(NONE), PENDING(NONE) } },
		{ "rcv_nxt just past 2^32, everything read", &wrapped, S(200) + S(100000),
		  &cfg_peer_gone, { REASON(NONE) } },
		{ "the FIN unread across the wrap", &unread, S(200) + GRACE, &cfg_peer_gone,
		  { REASON(PEER_GONE) } },
		{ "it answers, the peer stops ACKing: 1 ns short", &answering, S(310) + GRACE - 1,
		  &cfg_peer_gone, { REASON(NONE), PENDING(SEND_STALL) } },
		{ "it answers, the peer stops ACKing: an ordinary send_stall", &answering,
		  S(310) + GRACE, &cfg_peer_gone, { REASON(SEND_STALL), ONSET(S(310)) } },
	};

	(void)state;
	all_read.rcv_nxt = 1001;
	all_read.copied_seq = 1001;
	wrapped = all_read;
	wrapped.rcv_nxt = 5;
	wrapped.copied_seq = 5;
	unread = wrapped;
	unread.copied_seq = 0xfffffffe;
	answering = unread;
	answering.copied_seq = answering.rcv_nxt;
	answering.write_seq = answering.snd_una + 4096;
	answering.queued_since_ns = S(300);
	answering.last_progress_ns = S(310);
	judge(rows, ARRAY_SIZE(rows));
}

/* Opt-in leak cleanup: CLOSE_WAIT with the close read, past its own timeout. */
static void test_close_wait_timeout(void **state)
{
	const struct policy_config cfg = { .stall_grace_ns = GRACE, .peer_gone_timeout_ns = GRACE,
					   .close_wait_timeout_ns = S(600) };
	struct sr_sock eof_read = close_wait_sock(), unread;
	const struct judgement rows[] = {
		{ "EOF read at 250 s, 1 ns short of 600 s", &eof_read, S(250) + S(600) - 1, &cfg,
		  { REASON(NONE), PENDING(CLOSE_WAIT), ONSET(S(250)) } },
		{ "EOF read at 250 s, 600 s on", &eof_read, S(250) + S(600), &cfg,
		  { REASON(CLOSE_WAIT), LIMIT(S(600)) } },
		{ "off by default", &eof_read, S(100000), &cfg_default, { REASON(NONE), PENDING(NONE) } },
		{ "unread: peer_gone's grace applies, not the leak timeout", &unread, S(250) + GRACE,
		  &cfg, { REASON(PEER_GONE) } },
	};

	(void)state;
	eof_read.last_read_ns = S(250); /* read the EOF at 250 s */
	eof_read.rcv_nxt = eof_read.copied_seq = 77;
	unread = eof_read;
	unread.rcv_nxt = 78;
	judge(rows, ARRAY_SIZE(rows));
}

/*
 * peer_gone is off unless asked for: a half-closed client's FIN left unread
 * by a live owner (it read its request before the FIN came, it is busy, it
 * saw the EOF with MSG_PEEK) looks exactly like a vanished peer. Asked for,
 * it runs on its own timeout, not the send-stall grace.
 */
static void test_peer_gone_opt_in(void **state)
{
	const struct policy_config own = { .stall_grace_ns = GRACE, .peer_gone_timeout_ns = S(90) };
	const struct policy_config others_on = { .stall_grace_ns = GRACE, .idle_timeout_ns = S(5),
						 .close_wait_timeout_ns = S(5) };
	struct sr_sock fin = close_wait_sock(), request = close_wait_sock();
	const struct judgement rows[] = {
		{ "off: the FIN unread, and no clock runs either", &fin, S(200) + S(1000000),
		  &cfg_default, { REASON(NONE), PENDING(NONE) } },
		{ "off: the request and the FIN unread", &request, S(200) + S(1000000), &cfg_default,
		  { REASON(NONE), PENDING(NONE) } },
		{ "off, with an idle and a close-wait timeout on", &request, S(200) + S(1000000),
		  &others_on, { REASON(NONE) } },
		{ "asked for: its own timeout, not the stall grace", &request, S(200) + GRACE, &own,
		  { REASON(NONE), PENDING(PEER_GONE), LIMIT(S(90)) } },
		{ "asked for: at its own timeout", &request, S(200) + S(90), &own,
		  { REASON(PEER_GONE), LIMIT(S(90)) } },
	};

	(void)state;
	fin.rcv_nxt = fin.copied_seq + 1; /* the FIN unread */
	request.rcv_nxt = request.copied_seq + 5000; /* the request and the FIN unread */
	judge(rows, ARRAY_SIZE(rows));
}

static void test_peer_gone_onset(void **state)
{
	struct sr_sock fin = close_wait_sock(), draining, reading;
	const struct judgement rows[] = {
		{ "onset when CLOSE_WAIT began, 1 ns short", &fin, S(200) + GRACE - 1, &cfg_peer_gone,
		  { REASON(NONE), PENDING(PEER_GONE), ONSET(S(200)), AGE(GRACE - 1) } },
		{ "a grace after CLOSE_WAIT began", &fin, S(200) + GRACE, &cfg_peer_gone,
		  { REASON(PEER_GONE), ONSET(S(200)), AGE(GRACE), LIMIT(GRACE) } },
		{ "progress after entering CLOSE_WAIT moves it on", &draining, S(200) + GRACE,
		  &cfg_peer_gone,
		  { REASON(NONE), PENDING(PEER_GONE), ONSET(S(210)), AGE(GRACE - S(10)) } },
		{ "a grace after that progress", &draining, S(210) + GRACE, &cfg_peer_gone,
		  { REASON(PEER_GONE), ONSET(S(210)) } },
		{ "so does the owner reading part of what is left", &reading, S(210) + GRACE,
		  &cfg_peer_gone, { REASON(NONE), ONSET(S(220)) } },
	};

	(void)state;
	/* The onset is when CLOSE_WAIT began, later than the last progress. */
	fin.last_progress_ns = S(120);
	fin.rcv_nxt = fin.copied_seq + 1; /* the FIN is unread */
	draining = fin;
	draining.last_progress_ns = S(210); /* the owner still draining acks */
	reading = draining;
	reading.last_read_ns = S(220);
	judge(rows, ARRAY_SIZE(rows));
}

/* The cause= of each verdict, at its edges. */
static void test_cause(void **state)
{
	struct sr_sock e = stalled_sock(); /* queued since 100 s, last progress 50 s */
	struct policy_verdict v;

	(void)state;
	v = policy_verdict(&e, S(200), &cfg_peer_gone,NULL);
	assert_int_equal(v.reason, SR_REASON_SEND_STALL);
	/* A probe reply with a zero window after the clock started: alive, not reading. */
	e.last_rx_ns = S(150);
	e.snd_wnd = 0;
	assert_int_equal(policy_cause(&e, &v), CAUSE_ZERO_WINDOW);
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
	/* A pending clock has a cause too (for list). */
	v = policy_verdict(&e, S(110), &cfg_peer_gone,NULL);
	assert_int_equal(v.pending, SR_REASON_SEND_STALL);
	assert_int_equal(policy_cause(&e, &v), CAUSE_NO_ACK);

	/* rx_idle: data outstanding or not. */
	{
		struct policy_config c = { .stall_grace_ns = S(1000), .idle_timeout_ns = S(10) };

		e.last_rx_ns = S(50);
		v = policy_verdict(&e, S(200), &c, NULL);
		assert_int_equal(v.reason, SR_REASON_RX_IDLE);
		assert_int_equal(policy_cause(&e, &v), CAUSE_NO_ACK);
		e.write_seq = e.snd_una;
		e.queued_since_ns = 0;
		v = policy_verdict(&e, S(200), &c, NULL);
		assert_int_equal(policy_cause(&e, &v), CAUSE_SILENT);
	}

	/* peer_gone: the FIN alone, or data before it; close_wait: EOF read. */
	e.state = SR_TCP_CLOSE_WAIT;
	e.copied_seq = 1000;
	e.rcv_nxt = 1001;
	v = policy_verdict(&e, S(100000), &cfg_peer_gone,NULL);
	assert_int_equal(v.reason, SR_REASON_PEER_GONE);
	assert_int_equal(policy_cause(&e, &v), CAUSE_FIN_UNREAD);
	e.rcv_nxt = 1500;
	assert_int_equal(policy_cause(&e, &v), CAUSE_DATA_UNREAD);
	e.rcv_nxt = 1000;
	{
		struct policy_config c = { .stall_grace_ns = GRACE, .close_wait_timeout_ns = S(5) };

		v = policy_verdict(&e, S(100000), &c,NULL);
		assert_int_equal(v.reason, SR_REASON_CLOSE_WAIT);
		assert_int_equal(policy_cause(&e, &v), CAUSE_EOF_READ);
	}
}

/*
 * Kernel TCP memory pressure seen while a send stall's clock runs holds it:
 * the clock restarts from the last moment pressure was seen (or from the
 * timer a retransmission left armed then), three graces late at most while
 * the pressure lasts (a dead peer under pressure that never ends is reaped at
 * four), and once it is over no later than its end + TCP_RTO_MAX,
 * whatever the peer says (a receiver under pressure drops silently, and its
 * window can read zero while it reads). Pressure before the clock started and
 * the other rules are not held.
 */
static void test_pressure_holds_send_stall(void **state)
{
	struct sr_sock e = stalled_sock(), heard = stalled_sock(), zw = stalled_sock(),
		       zw_silent = stalled_sock(), rtx = stalled_sock(), rtx_after = stalled_sock(),
		       rtx_before = stalled_sock(), rtx_late = stalled_sock(),
		       rtx_later = stalled_sock(), rtx_back = stalled_sock();
	const struct policy_config idle = { .stall_grace_ns = GRACE, .idle_timeout_ns = S(60) };
	const struct sr_sock quiet = idle_sock(S(100));
	const struct judgement rows[] = {
		{ "never under pressure: not held", &e, S(130), &cfg_default,
		  { REASON(SEND_STALL), ONSET(S(100)), HELD(0) } },
		{ "pressure before the clock started: not held", &e, S(130), &cfg_default,
		  { REASON(SEND_STALL), ONSET(S(100)), HELD(0) }, ENDED(S(90)) },
		{ "silent peer, pressure at 110 s: the clock starts there", &e, S(130), &cfg_default,
		  { REASON(NONE), PENDING(SEND_STALL), ONSET(S(110)), AGE(S(20)), HELD(S(10)) }, ENDED(S(110)) },
		{ "... and fires a grace after it", &e, S(140), &cfg_default,
		  { REASON(SEND_STALL), ONSET(S(110)), AGE(GRACE), HELD(S(10)) }, ENDED(S(110)) },
		{ "heard, window open, pressure at 125 s: held the same", &heard, S(150), &cfg_default,
		  { REASON(NONE), PENDING(SEND_STALL), ONSET(S(125)), HELD(S(25)) }, ENDED(S(125)) },
		{ "pressure throughout: held three graces, 1 ns short of four", &e, S(220) - 1, &cfg_default,
		  { REASON(NONE), PENDING(SEND_STALL), ONSET(S(190)), HELD(3 * GRACE) }, LASTING(S(220)) },
		{ "pressure throughout: fires at four graces", &e, S(220), &cfg_default,
		  { REASON(SEND_STALL), ONSET(S(190)), AGE(GRACE), HELD(3 * GRACE) }, LASTING(S(220)) },
		{ "zero window heard after the clock started: held the same", &zw, S(130), &cfg_default,
		  { REASON(NONE), PENDING(SEND_STALL), ONSET(S(125)), HELD(S(25)) }, ENDED(S(125)) },
		{ "zero window, nothing heard since the clock started: held", &zw_silent, S(130),
		  &cfg_default, { REASON(NONE), PENDING(SEND_STALL), ONSET(S(125)), HELD(S(25)) }, ENDED(S(125)) },
		{ "rx_idle: never held", &quiet, S(160), &idle, { REASON(RX_IDLE), HELD(0) }, LASTING(S(159)) },
		{ "retransmitted at 108 s under pressure, timer due at 118 s: held until it fires",
		  &rtx, S(147), &cfg_default,
		  { REASON(NONE), PENDING(SEND_STALL), ONSET(S(118)), HELD(S(18)) }, ENDED(S(110)) },
		{ "... and fires a grace after that", &rtx, S(148), &cfg_default,
		  { REASON(SEND_STALL), ONSET(S(118)), AGE(GRACE), HELD(S(18)) }, ENDED(S(110)) },
		{ "the same timer without pressure: not held", &rtx, S(130), &cfg_default,
		  { REASON(SEND_STALL), ONSET(S(100)), HELD(0) } },
		{ "retransmitted after the pressure ended (the peer's first chance): held to it",
		  &rtx_after, S(139), &cfg_default,
		  { REASON(NONE), PENDING(SEND_STALL), ONSET(S(115)), HELD(S(15)) }, ENDED(S(110)) },
		{ "... and reaped a grace after it", &rtx_after, S(145), &cfg_default,
		  { REASON(SEND_STALL), ONSET(S(115)), AGE(GRACE), HELD(S(15)) }, ENDED(S(110)) },
		{ "retransmitted before the clock started: held to the pressure's end only", &rtx_before,
		  S(139), &cfg_default, { REASON(NONE), PENDING(SEND_STALL), ONSET(S(110)), HELD(S(10)) },
		  ENDED(S(110)) },
		{ "still under pressure, a timer due past the cap: three graces", &rtx_late, S(220),
		  &cfg_default, { REASON(SEND_STALL), ONSET(S(190)), HELD(3 * GRACE) },
		  LASTING(S(220)) },
		{ "pressure over at 205 s, after three graces: held to its end, past the cap", &e,
		  S(220), &cfg_default,
		  { REASON(NONE), PENDING(SEND_STALL), ONSET(S(205)), HELD(S(105)) }, ENDED(S(205)) },
		{ "... and reaped a grace after its end", &e, S(235), &cfg_default,
		  { REASON(SEND_STALL), ONSET(S(205)), AGE(GRACE), HELD(S(105)) }, ENDED(S(205)) },
		{ "pressure over at 200 s, the timer armed during it due at 300 s: held to it",
		  &rtx_late, S(329), &cfg_default,
		  { REASON(NONE), PENDING(SEND_STALL), ONSET(S(300)), HELD(S(200)) }, ENDED(S(200)) },
		{ "... and reaped a grace after it", &rtx_late, S(330), &cfg_default,
		  { REASON(SEND_STALL), ONSET(S(300)), AGE(GRACE), HELD(S(200)) }, ENDED(S(200)) },
		{ "pressure back at 170 s after one that ended at 150 s: its end's hold (the timer "
		  "at 260 s) stands",
		  &rtx_back, S(230), &cfg_default,
		  { REASON(NONE), PENDING(SEND_STALL), ONSET(S(260)), HELD(S(160)) },
		  RETURNED(S(230), S(150)) },
		{ "... and reaped a grace after it, the pressure still on", &rtx_back, S(290),
		  &cfg_default, { REASON(SEND_STALL), ONSET(S(260)), HELD(S(160)) },
		  RETURNED(S(290), S(150)) },
		{ "pressure back, the last end's hold shorter than the cap: the cap", &e, S(220),
		  &cfg_default, { REASON(SEND_STALL), ONSET(S(190)), HELD(3 * GRACE) },
		  RETURNED(S(220), S(150)) },
		{ "pressure back, the last one ended before the stall: the cap", &e, S(220),
		  &cfg_default, { REASON(SEND_STALL), ONSET(S(190)), HELD(3 * GRACE) },
		  RETURNED(S(220), S(90)) },
		{ "still retransmitting long after the pressure: held to its end + TCP_RTO_MAX",
		  &rtx_later, S(430), &cfg_default,
		  { REASON(SEND_STALL), ONSET(S(230)), HELD(S(130)) }, ENDED(S(110)) },
	};
	struct policy_verdict v;

	(void)state;
	heard.last_rx_ns = S(120);
	heard.snd_wnd = 65535;
	zw.last_rx_ns = S(120);
	zw.snd_wnd = 0;
	zw_silent.snd_wnd = 0;
	rtx.retrans_ns = S(108);
	rtx.retrans_due_ns = S(118);
	rtx_after.retrans_ns = S(115);
	rtx_after.retrans_due_ns = S(125);
	rtx_before.retrans_ns = S(95);
	rtx_before.retrans_due_ns = S(130);
	rtx_late.retrans_ns = S(108);
	rtx_late.retrans_due_ns = S(300);
	rtx_later.retrans_ns = S(400);
	rtx_later.retrans_due_ns = S(520);
	rtx_back.retrans_ns = S(140);
	rtx_back.retrans_due_ns = S(260);
	judge(rows, ARRAY_SIZE(rows));
	/* A held verdict's cause: nothing heard after its (moved) start. */
	v = policy_verdict(&e, S(140), &cfg_default, &(struct policy_pressure)ENDED(S(110)));
	assert_int_equal(policy_cause(&e, &v), CAUSE_NO_ACK);
	/* The cause looks at what the peer said since the stall began, not since
	 * the held start: a zero window heard at 120 s of a clock started at
	 * 100 s and held to 125 s is zero_window. */
	v = policy_verdict(&zw, S(160), &cfg_default, &(struct policy_pressure)ENDED(S(125)));
	assert_int_equal(v.reason, SR_REASON_SEND_STALL);
	assert_int_equal(policy_cause(&zw, &v), CAUSE_ZERO_WINDOW);
	zw.last_rx_ns = S(100);
	assert_int_equal(policy_cause(&zw, &v), CAUSE_NO_ACK);
}

static void test_rx_idle(void **state)
{
	const struct policy_config on = { .stall_grace_ns = GRACE, .idle_timeout_ns = S(90) };
	const struct sr_sock heard = idle_sock(S(400)), never = idle_sock(0), stale = idle_sock(S(20));
	const struct judgement rows[] = {
		{ "off by default, however long nothing arrives", &heard, S(10000000), &cfg_default,
		  { REASON(NONE), PENDING(NONE) } },
		{ "onset = last segment received: 1 ns short", &heard, S(400) + S(90) - 1, &on,
		  { REASON(NONE), PENDING(RX_IDLE), ONSET(S(400)), LIMIT(S(90)) } },
		{ "90 s after the last segment", &heard, S(490), &on,
		  { REASON(RX_IDLE), ONSET(S(400)), AGE(S(90)), LIMIT(S(90)) } },
		{ "nothing ever received: from first seen, 1 s short", &never, S(189), &on,
		  { REASON(NONE), PENDING(RX_IDLE), ONSET(S(100)) } },
		{ "nothing ever received: 90 s after first seen", &never, S(190), &on,
		  { REASON(RX_IDLE), ONSET(S(100)) } },
		{ "received before first seen (swept entry): from first seen", &stale, S(150), &on,
		  { REASON(NONE), ONSET(S(100)), AGE(S(50)) } },
	};

	(void)state;
	judge(rows, ARRAY_SIZE(rows));
}

static void test_precedence_send_stall_first(void **state)
{
	const struct policy_config cfg = { .stall_grace_ns = GRACE, .idle_timeout_ns = S(10) };
	struct sr_sock e = stalled_sock(), queued_late = stalled_sock();
	const struct judgement rows[] = {
		{ "both expired: send_stall wins, with its own clock", &e, S(1000), &cfg,
		  { REASON(SEND_STALL), PENDING(NONE), ONSET(S(100)), AGE(S(900)), LIMIT(GRACE) } },
		{ "send_stall still running, rx_idle expired: rx_idle fires", &queued_late, S(1000),
		  &cfg, { REASON(RX_IDLE), PENDING(NONE), ONSET(S(50)), AGE(S(950)), LIMIT(S(10)) } },
	};

	(void)state;
	queued_late.queued_since_ns = S(990);
	judge(rows, ARRAY_SIZE(rows));
}

static void test_pending_least_time_left(void **state)
{
	const struct policy_config cfg = { .stall_grace_ns = GRACE, .idle_timeout_ns = S(90) };
	struct sr_sock e = stalled_sock(), heard_35 = stalled_sock(), heard_40, nothing_queued;
	const struct judgement rows[] = {
		/* send_stall: onset 100, 30 s grace, 10 s left at t=120.
		 * rx_idle: onset 50, 90 s timeout, 20 s left at t=120. */
		{ "send_stall has 10 s left, rx_idle 20 s", &e, S(120), &cfg,
		  { REASON(NONE), PENDING(SEND_STALL), ONSET(S(100)), AGE(S(20)), LIMIT(GRACE) } },
		{ "received nothing since 35 s: rx_idle has 5 s left, send_stall 10 s", &heard_35,
		  S(120), &cfg,
		  { REASON(NONE), PENDING(RX_IDLE), ONSET(S(35)), AGE(S(85)), LIMIT(S(90)) } },
		{ "a tie keeps the rule checked first", &heard_40, S(120), &cfg,
		  { REASON(NONE), PENDING(SEND_STALL), ONSET(S(100)) } },
		{ "no rule running at all", &nothing_queued, S(120), &cfg_default,
		  { REASON(NONE), PENDING(NONE), ONSET(0), AGE(0), LIMIT(0) } },
	};

	(void)state;
	heard_35.last_rx_ns = S(35);
	heard_35.first_seen_ns = S(35);
	heard_40 = heard_35;
	heard_40.last_rx_ns = S(40);
	heard_40.first_seen_ns = S(40);
	nothing_queued = heard_40;
	nothing_queued.write_seq = nothing_queued.snd_una;
	judge(rows, ARRAY_SIZE(rows));
}

/* A row of names: the call (which says what the row is), its result, the name wanted. */
#define NAME(call, want) { #call, call, want }

static void test_names(void **state)
{
	const struct {
		const char *what, *got, *want;
	} names[] = {
		NAME(policy_reason_name(SR_REASON_NONE), "none"),
		NAME(policy_reason_name(SR_REASON_SEND_STALL), "send_stall"),
		NAME(policy_reason_name(SR_REASON_PEER_GONE), "peer_gone"),
		NAME(policy_reason_name(SR_REASON_RX_IDLE), "rx_idle"),
		NAME(policy_reason_name(SR_REASON_CLOSE_WAIT), "close_wait"),
		NAME(policy_cause_name(CAUSE_ZERO_WINDOW), "zero_window"),
		NAME(policy_cause_name(CAUSE_NO_ACK), "no_ack"),
		NAME(reap_result_name(REAP_OK), "ok"),
		NAME(reap_result_name(REAP_DRY_RUN), "dry_run"),
		NAME(reap_result_name(REAP_GONE), "gone"),
		NAME(reap_result_name(REAP_NO_OWNER), "no_owner"),
		NAME(reap_result_name(REAP_MISMATCH), "mismatch"),
		NAME(reap_result_name(REAP_RESUMED), "resumed"),
		NAME(reap_result_name(REAP_ERROR), "error"),
		/* Out of range. */
		NAME(policy_reason_name(SR_REASON_MAX), "unknown"),
		NAME(policy_reason_name((enum sr_reason)1000), "unknown"),
		NAME(policy_cause_name(CAUSE_MAX), "unknown"),
		NAME(reap_result_name(REAP_RESULT_MAX), "unknown"),
		NAME(reap_result_name((enum reap_result)1000), "unknown"),
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (!names[i].got || strcmp(names[i].got, names[i].want))
			print_error("%s: got '%s', want '%s'\n", names[i].what,
				    names[i].got ? names[i].got : "(NULL)", names[i].want);
		assert_string_equal(names[i].got, names[i].want);
	}
	/* Every in-range value has a name (no NULL hole in the tables). */
	for (int r = 0; r < SR_REASON_MAX; r++)
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
		/* e.g. --target ...,stall-grace=5,peer-gone=5 */
		{ .stall_grace_ns = S(5), .peer_gone_timeout_ns = S(5) },
		/* the defaults: --stall-grace 600 --peer-gone-timeout 600 */
		{ .stall_grace_ns = S(600), .peer_gone_timeout_ns = S(600) },
	};
	struct sr_sock short_rule = stalled_sock(), long_rule = stalled_sock(), cw;
	const struct judgement rows[] = {
		/* Stalled since 100 s; at 110 s the short grace has run out, the long one has not. */
		{ "short grace, 110 s", &short_rule, S(110), &rules[0],
		  { REASON(SEND_STALL), ONSET(S(100)), AGE(S(10)), LIMIT(S(5)) } },
		{ "long grace, 110 s", &long_rule, S(110), &rules[1],
		  { REASON(NONE), PENDING(SEND_STALL), ONSET(S(100)), AGE(S(10)), LIMIT(S(600)) } },
		/* Each rule's own boundary, exactly. */
		{ "short grace, 1 ns short", &long_rule, S(105) - 1, &rules[0], { REASON(NONE) } },
		{ "short grace, exactly", &long_rule, S(105), &rules[0], { REASON(SEND_STALL) } },
		{ "long grace, 1 ns short", &long_rule, S(700) - 1, &rules[1], { REASON(NONE) } },
		{ "long grace, exactly", &long_rule, S(700), &rules[1],
		  { REASON(SEND_STALL), LIMIT(S(600)) } },
		/* Each target's peer_gone timeout: the same CLOSE_WAIT entry, two rules. */
		{ "short peer_gone timeout", &cw, S(205), &rules[0],
		  { REASON(PEER_GONE), LIMIT(S(5)) } },
		{ "long peer_gone timeout", &cw, S(205), &rules[1],
		  { REASON(NONE), PENDING(PEER_GONE), LIMIT(S(600)) } },
	};

	(void)state;
	short_rule.rule = 0;
	long_rule.rule = 1;
	cw = long_rule;
	cw.state = SR_TCP_CLOSE_WAIT;
	cw.write_seq = cw.snd_una;
	cw.rcv_nxt = cw.copied_seq + 1;
	cw.state_since_ns = S(200);
	judge(rows, ARRAY_SIZE(rows));
}

static void test_rules_per_target_idle_timeout(void **state)
{
	const struct policy_config rules[2] = {
		{ .stall_grace_ns = GRACE, .idle_timeout_ns = S(60) }, /* idle-timeout=60 */
		{ .stall_grace_ns = GRACE, .idle_timeout_ns = 0 },     /* idle-timeout=0: off */
	};
	struct sr_sock idle = idle_sock(S(200)), queued = idle_sock(S(200));
	const struct judgement rows[] = {
		{ "idle-timeout=60, 60 s on", &idle, S(260), &rules[0],
		  { REASON(RX_IDLE), ONSET(S(200)), AGE(S(60)), LIMIT(S(60)) } },
		{ "idle-timeout=60, 1 ns short", &idle, S(260) - 1, &rules[0],
		  { REASON(NONE), PENDING(RX_IDLE) } },
		/* The other target turned it off: a year of silence does nothing, no clock runs. */
		{ "idle-timeout=0, 60 s on", &idle, S(260), &rules[1],
		  { REASON(NONE), PENDING(NONE), AGE(0), LIMIT(0) } },
		{ "idle-timeout=0, a year on", &idle, S(200) + S(86400ull * 365), &rules[1],
		  { REASON(NONE), PENDING(NONE) } },
		/* With data queued, the rule without rx_idle still has send_stall. */
		{ "idle-timeout=0, data queued", &queued, S(260), &rules[1],
		  { REASON(NONE), PENDING(SEND_STALL), ONSET(S(240)) } },
		{ "idle-timeout=60, data queued", &queued, S(260), &rules[0], { REASON(RX_IDLE) } },
	};

	(void)state;
	queued.write_seq = queued.snd_una + 10;
	queued.queued_since_ns = S(240);
	judge(rows, ARRAY_SIZE(rows));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_send_stall_grace),
		cmocka_unit_test(test_ack_progress_resets_clock),
		cmocka_unit_test(test_no_queue_or_no_onset_never_stalls),
		cmocka_unit_test(test_clock_backwards),
		cmocka_unit_test(test_seq_wraparound),
		cmocka_unit_test(test_non_established_never_send_stall),
		cmocka_unit_test(test_peer_gone_opt_in),
		cmocka_unit_test(test_peer_gone_onset),
		cmocka_unit_test(test_half_close_never_peer_gone),
		cmocka_unit_test(test_close_wait_timeout),
		cmocka_unit_test(test_rx_idle),
		cmocka_unit_test(test_pressure_holds_send_stall),
		cmocka_unit_test(test_cause),
		cmocka_unit_test(test_precedence_send_stall_first),
		cmocka_unit_test(test_pending_least_time_left),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_rules_per_target_grace),
		cmocka_unit_test(test_rules_per_target_idle_timeout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
