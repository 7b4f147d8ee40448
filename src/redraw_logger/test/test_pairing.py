"""Stamp pairing and episode splitting (the code both the logger node and the bag reader use)."""

from redraw_logger.pairing import RecordedCommand, Frame, PairingConfig, StampPairer

MS = 1_000_000


def run(events):
    pairer = StampPairer(PairingConfig())
    pairs = []
    for kind, stamp in events:
        pairs += pairer.add_frame(Frame(stamp, stamp)) if kind == "f" else pairer.add_command(RecordedCommand(stamp, 0.1, 0.0))
    pairer.flush()
    return pairs, pairer.stats


def test_jittered_10hz_stream_pairs_every_step():
    events = []
    for i in range(20):
        t = i * 100 * MS + (7 * MS if i % 3 == 0 else -4 * MS)  # +-7 ms jitter on the frame
        events += [("f", t), ("c", t + 15 * MS)]  # command 15 ms later: within 22 ms
    pairs, stats = run(events)
    assert len(pairs) == 20 and stats.paired == 20 and stats.episodes == 1
    assert [p.first for p in pairs] == [True] + [False] * 19


def test_commands_too_far_from_any_frame_are_counted_not_paired():
    events = [("f", 0), ("c", 1 * MS), ("f", 100 * MS), ("c", 140 * MS), ("f", 200 * MS), ("c", 205 * MS)]
    pairs, stats = run(events)
    assert [p.frame.stamp for p in pairs] == [0, 200 * MS]
    assert stats.unpaired_frames == 1 and stats.unpaired_commands == 1


def test_gaps_start_new_episodes_and_fast_steps_are_dropped():
    stamps = [0, 100, 200, 230, 300, 900, 1000, 1100]  # 230: too close; 300 -> 900: gap
    events = [e for t in stamps for e in (("f", t * MS), ("c", t * MS))]
    pairs, stats = run(events)
    assert [p.frame.stamp // MS for p in pairs] == [0, 100, 200, 300, 900, 1000, 1100]
    assert [p.episode for p in pairs] == [0, 0, 0, 0, 1, 1, 1]
    assert stats.too_close == 1 and stats.episodes == 2


def test_stamps_going_backwards_are_dropped_and_counted():
    stamps = [0, 100, 200, 150, 300]
    pairs, stats = run([e for t in stamps for e in (("f", t * MS), ("c", t * MS))])
    assert [p.frame.stamp // MS for p in pairs] == [0, 100, 200, 300]
    assert stats.out_of_order == 1
