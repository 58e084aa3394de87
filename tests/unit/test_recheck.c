/* test_recheck.c - the re-check both kill paths run before acting
 * (include/sr_recheck.h), one row per fact that must stop a kill. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <linux/types.h>

#include "outcome.h"
#include "sockreap.h"
#include "sr_recheck.h"

/* A verdict judged on: 5000 bytes acked, copied_seq 700, 40 segments in. */
#define EXPECT(reason_, state_) \
	{ .bytes_acked = 5000, .reason = (reason_), .state = (state_), .copied_seq = 700, .segs_in = 40 }
/* The live socket exactly as judged: every rule's condition still true. */
#define LIVE(state_, queued_, rcv_nxt_) \
	{ .bytes_acked = 5000, .state = (state_), .queued = (queued_), .rcv_nxt = (rcv_nxt_), \
	  .copied_seq = 700, .segs_in = 40, .owned = 1 }

struct row {
	const char *what;
	struct sr_expect x;
	struct sr_live l;
	uint32_t want;
};

static void test_recheck_table(void **state)
{
	const uint32_t E = SR_TCP_ESTABLISHED, CW = SR_TCP_CLOSE_WAIT;
	struct row rows[] = {
		/* send_stall: same state, data queued, no ACK progress. */
		{ "send_stall holds", EXPECT(SR_REASON_SEND_STALL, E), LIVE(E, 100, 700), SR_RECHECK_DEAD },
		{ "send_stall in CLOSE_WAIT holds", EXPECT(SR_REASON_SEND_STALL, CW), LIVE(CW, 100, 701),
		  SR_RECHECK_DEAD },
		{ "send_stall: state moved", EXPECT(SR_REASON_SEND_STALL, E), LIVE(CW, 100, 700),
		  SR_RECHECK_STATE },
		{ "send_stall: drained", EXPECT(SR_REASON_SEND_STALL, E), LIVE(E, 0, 700), SR_RECHECK_DRAINED },
		{ "send_stall: torn queue read", EXPECT(SR_REASON_SEND_STALL, E), LIVE(E, 0x80000000u, 700),
		  SR_RECHECK_DRAINED },
		/* peer_gone: CLOSE_WAIT, something unread, no read, no ACK progress. */
		{ "peer_gone holds (FIN unread)", EXPECT(SR_REASON_PEER_GONE, CW), LIVE(CW, 0, 701),
		  SR_RECHECK_DEAD },
		{ "peer_gone holds (data unread)", EXPECT(SR_REASON_PEER_GONE, CW), LIVE(CW, 0, 9000),
		  SR_RECHECK_DEAD },
		{ "peer_gone: left CLOSE_WAIT", EXPECT(SR_REASON_PEER_GONE, CW), LIVE(SR_TCP_LAST_ACK, 0, 701),
		  SR_RECHECK_STATE },
		{ "peer_gone: everything read", EXPECT(SR_REASON_PEER_GONE, CW), LIVE(CW, 0, 700),
		  SR_RECHECK_READ },
		/* close_wait (leak cleanup): CLOSE_WAIT, no read, no ACK progress. */
		{ "close_wait holds", EXPECT(SR_REASON_CLOSE_WAIT, CW), LIVE(CW, 0, 700), SR_RECHECK_DEAD },
		{ "close_wait: left CLOSE_WAIT", EXPECT(SR_REASON_CLOSE_WAIT, CW), LIVE(E, 0, 700),
		  SR_RECHECK_STATE },
		/* rx_idle: ESTABLISHED, no segment of any kind since. */
		{ "rx_idle holds", EXPECT(SR_REASON_RX_IDLE, E), LIVE(E, 0, 700), SR_RECHECK_DEAD },
		{ "rx_idle: not established", EXPECT(SR_REASON_RX_IDLE, E), LIVE(CW, 0, 700), SR_RECHECK_STATE },
		{ "unknown reason", EXPECT(SR_REASON_NONE, E), LIVE(E, 100, 700), SR_RECHECK_NO_VERDICT },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint32_t got = sr_recheck(&rows[i].x, &rows[i].l);

		if (got != rows[i].want)
			fail_msg("%s: got %s, want %s", rows[i].what, recheck_name(got),
				 recheck_name(rows[i].want));
	}
}

/* One fact changed at a time, on every rule that is made of it. */
static void test_each_fact_stops_its_rules(void **state)
{
	const struct {
		uint32_t reason, state, rcv_nxt;
	} rules[] = {
		{ SR_REASON_SEND_STALL, SR_TCP_ESTABLISHED, 700 },
		{ SR_REASON_PEER_GONE, SR_TCP_CLOSE_WAIT, 701 },
		{ SR_REASON_CLOSE_WAIT, SR_TCP_CLOSE_WAIT, 700 },
		{ SR_REASON_RX_IDLE, SR_TCP_ESTABLISHED, 700 },
	};

	(void)state;
	for (size_t r = 0; r < sizeof(rules) / sizeof(rules[0]); r++) {
		struct sr_expect x = EXPECT(rules[r].reason, rules[r].state);
		struct sr_live base = LIVE(rules[r].state, 100, rules[r].rcv_nxt), l;
		bool acked_counts = rules[r].reason != SR_REASON_RX_IDLE;
		bool reads_count = rules[r].reason == SR_REASON_PEER_GONE ||
				   rules[r].reason == SR_REASON_CLOSE_WAIT;
		bool rx_counts = rules[r].reason == SR_REASON_RX_IDLE;

		assert_int_equal(sr_recheck(&x, &base), SR_RECHECK_DEAD);
		l = base;
		l.bytes_acked++; /* the peer acknowledged something */
		assert_int_equal(sr_recheck(&x, &l), acked_counts ? SR_RECHECK_ACKED : SR_RECHECK_DEAD);
		l = base;
		l.copied_seq++;	 /* the owner read a byte (and no more than was there) */
		l.rcv_nxt = l.copied_seq + 1;
		assert_int_equal(sr_recheck(&x, &l), reads_count ? SR_RECHECK_READING : SR_RECHECK_DEAD);
		l = base;
		l.segs_in++;	 /* a segment arrived: data, a bare ACK, a probe */
		assert_int_equal(sr_recheck(&x, &l), rx_counts ? SR_RECHECK_RECEIVED : SR_RECHECK_DEAD);
		l = base;
		l.owned = 0;	 /* a kernel socket, or one not accepted yet */
		assert_int_equal(sr_recheck(&x, &l), SR_RECHECK_UNOWNED);
		x.unowned_ok = 1; /* the target asks for those too */
		assert_int_equal(sr_recheck(&x, &l), SR_RECHECK_DEAD);
	}
}

static void test_names(void **state)
{
	(void)state;
	for (unsigned int i = 0; i < SR_RECHECK_MAX; i++)
		assert_string_not_equal(recheck_name(i), "unknown");
	assert_string_equal(recheck_name(SR_RECHECK_MAX), "unknown");
	assert_string_equal(recheck_name(SR_RECHECK_UNOWNED), "no process owns it");
	assert_string_equal(reap_result_name(REAP_UNOWNED), "unowned");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recheck_table),
		cmocka_unit_test(test_each_fact_stops_its_rules),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
