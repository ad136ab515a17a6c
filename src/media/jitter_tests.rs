//! Jitter buffer scenarios on a virtual clock (1 ms steps).

use super::*;

const FRAME: u32 = 160; // 20 ms at 8 kHz

/// One packet as sent: index n has seq start+n and ts ts0 + 160 n.
#[derive(Clone, Copy)]
struct Sent {
    seq: u16,
    ts: RtpTimestamp,
    marker: bool,
    arrival_ms: u64,
}

fn stream(count: u16, seq0: u16, ts0: u32, delay_ms: impl Fn(u16) -> Option<u64>) -> Vec<Sent> {
    (0..count)
        .filter_map(|n| {
            delay_ms(n).map(|d| Sent {
                seq: seq0.wrapping_add(n),
                ts: RtpTimestamp(ts0).advance(FRAME * u32::from(n)),
                marker: n == 0,
                arrival_ms: 20 * u64::from(n) + d,
            })
        })
        .collect()
}

/// Runs the buffer; returns (time ms, playout) in order.
fn run(
    jb: &mut JitterBuffer,
    t0: Instant,
    mut sent: Vec<Sent>,
    until_ms: u64,
) -> Vec<(u64, Playout)> {
    sent.sort_by_key(|s| s.arrival_ms);
    let mut out = Vec::new();
    let mut i = 0;
    for ms in 0..=until_ms {
        let now = t0 + Duration::from_millis(ms);
        while let Some(s) = sent.get(i).filter(|s| s.arrival_ms == ms) {
            jb.push(s.seq, s.ts, s.marker, &s.seq.to_be_bytes(), now);
            i += 1;
        }
        if let Some(due) = jb.poll_timeout() {
            assert!(
                due <= now || jb.poll(now).is_none(),
                "poll_timeout must not be late"
            );
        }
        while let Some(p) = jb.poll(now) {
            out.push((ms, p));
        }
    }
    out
}

fn seqs(out: &[(u64, Playout)]) -> Vec<Option<u16>> {
    out.iter()
        .map(|(_, p)| match p {
            Playout::Frame { payload, .. } => Some(u16::from_be_bytes([payload[0], payload[1]])),
            Playout::Lost { .. } => None,
        })
        .collect()
}

fn buffer() -> JitterBuffer {
    JitterBuffer::new(JitterConfig::from_jitter_ms(60, 8000, FRAME))
}

#[test]
fn config_bounds() {
    let c = JitterConfig::from_jitter_ms(60, 8000, FRAME);
    assert_eq!(c.initial_delay, Duration::from_millis(60));
    assert_eq!(c.min_delay, Duration::from_millis(20));
    assert_eq!(c.max_delay, Duration::from_millis(240));
    assert_eq!(
        JitterConfig::from_jitter_ms(10, 8000, FRAME).initial_delay,
        Duration::from_millis(20)
    );
    assert_eq!(
        JitterConfig::from_jitter_ms(10, 8000, FRAME).max_delay,
        Duration::from_millis(200)
    );
    assert_eq!(
        JitterConfig::from_jitter_ms(5000, 8000, FRAME).max_delay,
        Duration::from_millis(1000)
    );
    assert!(c.capacity >= 24 && c.capacity <= 512);
}

#[test]
fn steady_stream_plays_in_order_after_initial_delay() {
    let t0 = Instant::now();
    let mut jb = buffer();
    let out = run(&mut jb, t0, stream(50, 1000, 0, |_| Some(5)), 1200);
    assert_eq!(seqs(&out), (1000..1050).map(Some).collect::<Vec<_>>());
    assert_eq!(out[0].0, 5 + 60, "first frame after arrival + jitter_ms");
    // One frame per 20 ms until the first shrink step (1 s after start).
    for w in out.windows(2).take_while(|w| w[1].0 < 1005) {
        assert_eq!(w[1].0 - w[0].0, 20, "one frame per 20 ms");
    }
    let shrunk = out.windows(2).filter(|w| w[1].0 - w[0].0 < 20).count();
    assert_eq!(
        shrunk, 1,
        "zero jitter: the delay shrinks by one frame per second"
    );
    let s = jb.stats();
    assert_eq!((s.received, s.played, s.lost, s.late), (50, 50, 0, 0));
}

#[test]
fn loss_gives_a_lost_marker_at_the_right_time() {
    let t0 = Instant::now();
    let mut jb = buffer();
    let out = run(
        &mut jb,
        t0,
        stream(20, 7, 8000, |n| (n != 5 && n != 6).then_some(0)),
        800,
    );
    let got = seqs(&out);
    assert_eq!(got[4], Some(11));
    assert_eq!((got[5], got[6]), (None, None));
    assert_eq!(got[7], Some(14));
    assert_eq!(got.len(), 20);
    let Playout::Lost { ts, ticks } = &out[5].1 else {
        panic!()
    };
    assert_eq!((*ts, *ticks), (RtpTimestamp(8000 + 5 * FRAME), FRAME));
    assert_eq!(out[5].0 - out[4].0, 20);
    assert_eq!(jb.stats().lost, 2);
}

#[test]
fn reordered_and_duplicated_packets() {
    let t0 = Instant::now();
    let mut jb = buffer();
    let mut sent = stream(20, 0, 0, |n| {
        Some(match n {
            5 => 30, // arrives after 6
            _ => 2,
        })
    });
    let dup = sent[8];
    sent.push(Sent {
        arrival_ms: dup.arrival_ms + 3,
        ..dup
    });
    let out = run(&mut jb, t0, sent, 800);
    assert_eq!(seqs(&out), (0..20).map(Some).collect::<Vec<_>>());
    assert_eq!(jb.stats().duplicates, 1);
    assert_eq!(jb.stats().lost, 0);
}

#[test]
fn delay_spike_is_absorbed_and_adapted_to() {
    let t0 = Instant::now();
    let mut jb = buffer();
    // Packets 30..35 are held 150 ms, then released together (a spike).
    let spike = |n: u16| {
        Some(if (30..35).contains(&n) {
            150 - 20 * u64::from(n - 30)
        } else {
            0
        })
    };
    let out = run(&mut jb, t0, stream(150, 0, 0, spike), 3500);
    let first = jb.stats();
    assert!(first.late >= 1, "{first:?}");
    assert!(first.lost >= 1);
    let got = seqs(&out);
    assert_eq!(got.len() as u64, first.played + first.lost);
    assert!(
        got.iter()
            .flatten()
            .collect::<Vec<_>>()
            .windows(2)
            .all(|w| w[1] > w[0]),
        "in order"
    );
    // The playout clock moved back by the spike, then crept forward again.
    let lag_of = |seq: u16| {
        let (at, _) = out
            .iter()
            .zip(&got)
            .find(|(_, s)| **s == Some(seq))
            .unwrap()
            .0;
        at - 20 * u64::from(seq)
    };
    assert_eq!(lag_of(10), 60);
    assert!(lag_of(40) > 100, "lag after spike {}", lag_of(40));
    assert!(lag_of(149) < lag_of(40));
}

#[test]
fn delay_shrinks_back_when_network_is_calm() {
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(JitterConfig::from_jitter_ms(200, 8000, FRAME));
    let out = run(&mut jb, t0, stream(300, 0, 0, |_| Some(0)), 6500);
    let lag_first = out[0].0;
    let lag_last = out.last().unwrap().0 - 20 * 299;
    assert_eq!(lag_first, 200);
    assert!(
        (20..=100).contains(&lag_last),
        "delay should shrink by a frame per second, is {lag_last}"
    );
    assert_eq!(jb.stats().lost, 0);
    assert_eq!(jb.stats().played, 300);
}

#[test]
fn sequence_and_timestamp_wrap() {
    let t0 = Instant::now();
    let mut jb = buffer();
    let out = run(
        &mut jb,
        t0,
        stream(40, 65520, u32::MAX - 1000, |n| (n != 20).then_some(1)),
        1200,
    );
    let got = seqs(&out);
    assert_eq!(got.len(), 40);
    assert_eq!(got[15], Some(65535));
    assert_eq!(got[16], Some(0));
    assert_eq!(got[20], None, "seq 4 lost across the wrap");
    assert_eq!(got[39], Some(23));
}

#[test]
fn talkspurt_marker_resyncs_after_silence() {
    let t0 = Instant::now();
    let mut jb = buffer();
    let mut sent = stream(10, 0, 0, |_| Some(0));
    // 2 s of DTX silence: seq continues, ts jumps, marker set, arrives with 30 ms extra.
    sent.extend(
        stream(10, 10, 10 * FRAME + 16000, |_| Some(30))
            .into_iter()
            .map(|s| Sent {
                arrival_ms: s.arrival_ms + 200 + 2000,
                ..s
            }),
    );
    let out = run(&mut jb, t0, sent, 3500);
    assert_eq!(seqs(&out), (0..20).map(Some).collect::<Vec<_>>());
    assert!(jb.stats().resyncs >= 2);
    let (at, _) = out[10];
    let arrival = 200 + 2000 + 30;
    assert!(
        at >= arrival + 20 && at <= arrival + 100,
        "replayed at {at}"
    );
}

#[test]
fn huge_timestamp_jump_without_marker_resyncs() {
    let t0 = Instant::now();
    let mut jb = buffer();
    let mut sent = stream(10, 0, 0, |_| Some(0));
    sent.extend(
        stream(10, 10, 0x8000_0000, |_| Some(400))
            .into_iter()
            .map(|mut s| {
                s.marker = false;
                s
            }),
    );
    let out = run(&mut jb, t0, sent, 1500);
    assert_eq!(seqs(&out).len(), 20);
    assert!(out.last().unwrap().0 < 1200);
    assert_eq!(jb.stats().resyncs, 2);
}

#[test]
fn overflow_drops_the_oldest() {
    let t0 = Instant::now();
    let cfg = JitterConfig::from_jitter_ms(60, 8000, FRAME);
    let mut jb = JitterBuffer::new(cfg);
    for n in 0..(cfg.capacity as u16 + 40) {
        jb.push(n, RtpTimestamp(u32::from(n) * FRAME), false, &[0], t0);
    }
    assert_eq!(jb.len(), cfg.capacity);
    assert_eq!(jb.stats().overflow, 40);
    let Some(Playout::Frame { ts, .. }) = jb.poll(t0 + Duration::from_secs(60)) else {
        panic!()
    };
    assert_eq!(ts, RtpTimestamp(40 * FRAME), "oldest were dropped");
}

#[test]
fn reset_waits_for_a_new_source() {
    let t0 = Instant::now();
    let mut jb = buffer();
    jb.push(1, RtpTimestamp(0), true, &[1], t0);
    jb.reset();
    assert!(jb.is_empty());
    assert_eq!(jb.poll(t0 + Duration::from_secs(1)), None);
    jb.push(9000, RtpTimestamp(5), true, &[2], t0);
    assert_eq!(
        jb.poll(t0 + Duration::from_millis(60)),
        Some(Playout::Frame {
            ts: RtpTimestamp(5),
            payload: vec![2],
            marker: true
        })
    );
}

proptest::proptest! {
    /// Any arrival pattern: frames come out in sequence order, never twice,
    /// and the buffer never exceeds its capacity.
    #[test]
    fn arbitrary_arrivals_are_ordered_and_bounded(
        delays in proptest::collection::vec(proptest::option::weighted(0.9, 0u64..300), 1..120),
        seq0 in proptest::prelude::any::<u16>(),
        ts0 in proptest::prelude::any::<u32>(),
    ) {
        let t0 = Instant::now();
        let mut jb = buffer();
        let n = delays.len() as u16;
        let sent = stream(n, seq0, ts0, |i| delays[usize::from(i)]);
        let out = run(&mut jb, t0, sent, 20 * u64::from(n) + 1500);
        let played: Vec<u16> = seqs(&out).into_iter().flatten().map(|s| s.wrapping_sub(seq0)).collect();
        proptest::prop_assert!(played.windows(2).all(|w| w[1] > w[0]), "{:?}", played);
        proptest::prop_assert!(jb.len() <= JitterConfig::from_jitter_ms(60, 8000, FRAME).capacity);
    }
}

#[test]
fn peek_next_shows_the_packet_after_a_loss() {
    let t0 = Instant::now();
    let mut jb = buffer();
    assert_eq!(jb.peek_next(), None);
    for n in [0u16, 2] {
        let ts = RtpTimestamp(FRAME * u32::from(n));
        jb.push(
            n,
            ts,
            n == 0,
            &[n as u8],
            t0 + Duration::from_millis(20 * u64::from(n)),
        );
    }
    let later = t0 + Duration::from_millis(200);
    assert!(matches!(jb.poll(later), Some(Playout::Frame { .. })));
    assert_eq!(jb.peek_next(), None, "seq 1 is missing");
    assert!(matches!(jb.poll(later), Some(Playout::Lost { .. })));
    assert_eq!(
        jb.peek_next(),
        Some(&[2u8][..]),
        "the packet after the lost one"
    );
    assert!(matches!(jb.poll(later), Some(Playout::Frame { .. })));
    assert_eq!(jb.peek_next(), None);
}

#[test]
fn a_300_ms_burst_is_reported_lost_packet_by_packet_on_the_timeline() {
    let t0 = Instant::now();
    let mut jb = buffer();
    // Packets 10..25 (15 x 20 ms = 300 ms) never arrive.
    let out = run(
        &mut jb,
        t0,
        stream(40, 100, 0, |n| (!(10..25).contains(&n)).then_some(0)),
        1200,
    );
    let got = seqs(&out);
    assert_eq!(got.len(), 40, "one playout per packet sent, lost or not");
    assert!(got[10..25].iter().all(Option::is_none));
    assert_eq!(got[25], Some(125));
    // The loss shows when packet 25 arrives (500 ms): the Lost already due
    // come then, the others at their turn, each with the timestamp its
    // packet would have had; packet 25 still plays at its own time (the
    // first's arrival + 60 ms + 500 ms): the timeline goes on.
    for (i, (ms, _)) in out.iter().enumerate().take(25).skip(10) {
        assert_eq!(*ms, (60 + 20 * i as u64).max(500), "{i}");
    }
    assert_eq!(out[25].0, 560);
    assert_eq!(out[26].0, 580);
    for (i, (_, p)) in out.iter().enumerate().take(25).skip(10) {
        let Playout::Lost { ts, ticks } = p else {
            panic!("{i}: {p:?}")
        };
        assert_eq!((*ts, *ticks), (RtpTimestamp(FRAME * i as u32), FRAME));
    }
    assert_eq!(jb.stats().lost, 15);
}

#[test]
fn a_sequence_gap_without_audio_time_is_skipped() {
    // Telephone-events share the sequence space: after packet 4 (ts 640)
    // come 6 event packets, then audio again at ts 960 (seq 11). Only the
    // 20 ms of audio time between them (ts 800) is reported lost.
    let t0 = Instant::now();
    let mut jb = buffer();
    let mut sent = stream(5, 0, 0, |_| Some(0));
    for n in 0..20u16 {
        sent.push(Sent {
            seq: 11 + n,
            ts: RtpTimestamp(960 + FRAME * u32::from(n)),
            marker: false,
            arrival_ms: 100 + 20 * u64::from(n),
        });
    }
    let out = run(&mut jb, t0, sent, 1000);
    let got = seqs(&out);
    assert_eq!(
        &got[..7],
        &[Some(0), Some(1), Some(2), Some(3), Some(4), None, Some(11)]
    );
    assert_eq!(out[6].0 - out[4].0, 40, "seq 11 plays at its own time");
    assert_eq!(jb.stats().lost, 6);
}

#[test]
fn delay_histogram_counts_each_frames_wait() {
    let t0 = Instant::now();
    let mut jb = buffer();
    // Constant network delay: every frame waits the initial 60 ms until
    // the shrink after 1 s.
    run(&mut jb, t0, stream(40, 0, 0, |_| Some(3)), 900);
    let d = jb.stats().delay;
    assert_eq!(d.count(), jb.stats().played);
    assert_eq!(d.quantile_ms(0.5), Some(60));
    assert_eq!(d.quantile_ms(0.99), Some(60));
    assert_eq!(d.mean(), Some(Duration::from_millis(60)));
    // Jitter: half the packets 30 ms late wait 30 ms less.
    let mut jb = buffer();
    run(
        &mut jb,
        t0,
        stream(40, 0, 0, |n| Some(if n % 2 == 1 { 30 } else { 0 })),
        900,
    );
    let d = jb.stats().delay;
    assert_eq!(d.quantile_ms(0.4), Some(30));
    assert_eq!(d.quantile_ms(0.99), Some(60));
}

#[test]
fn a_huge_sequence_gap_is_skipped_not_reported_packet_by_packet() {
    // Packets 1 tick apart, then a jump of 10 000 sequence numbers within
    // the timestamp room: a few packets must not cause 10 000 Lost.
    let t0 = Instant::now();
    let mut jb = buffer();
    let mut sent = Vec::new();
    for n in 0..3u16 {
        sent.push(Sent {
            seq: n,
            ts: RtpTimestamp(u32::from(n)),
            marker: n == 0,
            arrival_ms: 0,
        });
    }
    sent.push(Sent {
        seq: 10_003,
        ts: RtpTimestamp(12_000),
        marker: false,
        arrival_ms: 10,
    });
    let out = run(&mut jb, t0, sent, 3000);
    assert!(out.len() <= 4 + MAX_LOST_RUN as usize, "{}", out.len());
    assert_eq!(seqs(&out).last(), Some(&Some(10_003)));
}
