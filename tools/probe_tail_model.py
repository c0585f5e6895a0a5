#!/usr/bin/env python3
"""The tail of SWIM's first detection under round-robin probing, by Monte Carlo.

Each of the n - 1 other members probes one member per period, walking a
list that is reshuffled after each full pass (memberlist's order, and heck's
until 58f93dd; heck now probes on a slotted ring, core/membership/swim.h,
whose first probe after a crash comes within two periods while views
agree: this model is the figure that change answers). A crashed member is
first probed when the earliest prober reaches it: in its current pass if its
slot is still ahead, else in the next pass, at a fresh random slot. The probers' passes are independent. A probe
that gets no ack raises the suspicion at the end of its period, so first
detection is about the first probe plus one period.

--aligned-within P: the probers' passes are not independent but start
within P periods of one another, as in a simulated cluster whose members
started within start_spread_ms and have passes of the same length (every
pass is n - 1 periods, so the offsets last).

    tools/probe_tail_model.py --members 10 --windows 3.8,5,6.4,7.4
    tools/probe_tail_model.py --members 100 --trials 200000
    tools/probe_tail_model.py --members 10 --aligned-within 2 --windows 6.4

It prints, per window T (in periods), the probability that no prober has
probed the crashed member within T. Compare the sweep's "first detection"
row (heck sim ... --seeds 1..500): P(first detection > T + 1 period).
"""
import argparse
import random


def first_probe(rng: random.Random, probers: int, slots: int, aligned_within: float | None = None) -> float:
    best = float("inf")
    crash = rng.random() * slots  # aligned: the crash's time within the shared pass
    for _ in range(probers):
        if aligned_within is None:
            at = rng.random() * slots  # the crash's time within this prober's pass
        else:
            at = (crash + rng.random() * aligned_within) % slots
        phase = rng.random()  # where in a period this prober's probes fall
        slot = rng.randrange(slots)  # the crashed member's slot in this pass
        t = slot + phase - at
        if t < 0:  # already probed in this pass: the next pass, a fresh slot
            t = slots - at + rng.randrange(slots) + phase
        best = min(best, t)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--members", type=int, default=10, help="cluster size n (n - 1 probers, passes of n - 1)")
    p.add_argument("--trials", type=int, default=200_000)
    p.add_argument("--windows", default="1,2,3,3.8,5,6.4,7.4", help="windows T in periods, comma separated")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--aligned-within", type=float, default=None,
                   help="passes start within this many periods of one another (default: independent)")
    a = p.parse_args()
    if a.members < 2 or a.trials < 1:
        p.error("--members must be at least 2 and --trials at least 1")
    windows = [float(w) for w in a.windows.split(",")]
    rng = random.Random(a.seed)
    probers = slots = a.members - 1
    if a.aligned_within is not None and not 0 <= a.aligned_within <= slots:
        p.error(f"--aligned-within must be in [0, {slots}]")
    firsts = [first_probe(rng, probers, slots, a.aligned_within) for _ in range(a.trials)]
    passes = "independent passes" if a.aligned_within is None else f"passes within {a.aligned_within:g} periods"
    print(f"{a.members} members ({probers} probers, passes of {slots} periods, {passes}), {a.trials} crashes")
    print(f"{'window T (periods)':>20} {'P(no probe within T)':>22}")
    for w in windows:
        n = sum(1 for f in firsts if f > w)
        print(f"{w:>20g} {n / a.trials:>22.2e}")


if __name__ == "__main__":
    main()
