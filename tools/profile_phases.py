#!/usr/bin/env python3
"""Where the time of one phase of a run goes, from a perf profile.

A flat `perf report` mixes a run's phases (the main row's registration
burst, then its steady state). This keeps the samples whose time falls in a
window of seconds after the first sample and charges each to its first
project frame from the leaf (inlined frames included), skipping the
container and CRDT internals named by --skip, so that a SlotMap lookup or a
std::set walk counts against the code that asked for it.

  perf record -F 200 --call-graph dwarf,16384 -o perf.data \\
      build/tools/bench/cluster_bench --rows main
  perf script -i perf.data -F time,ip,sym > perf.txt
  tools/profile_phases.py perf.txt --from 1 --to 22     # the burst
  tools/profile_phases.py perf.txt --from 23 --to 30    # the steady state
"""
import argparse
import collections
import re
import sys

DEFAULT_SKIP = "SlotMap,KeyLookup,Dot::operator,Causal,DotFun,LiveDotIndex,DotMap"


def samples(path):
    """(seconds, [frame names, leaf first]) per sample of `perf script -F time,ip,sym`."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for block in f.read().split("\n\n"):
            lines = [l.strip() for l in block.strip().split("\n") if l.strip()]
            if not lines:
                continue
            m = re.match(r"([0-9]+\.[0-9]+):", lines[0])
            if not m:
                continue
            frames = []
            for l in lines[1:]:
                name = l.split(" ", 1)[1] if " " in l else ""
                name = re.sub(r"\(.*", "", name).replace(" (inlined)", "").strip()
                frames.append(re.sub(r"<.*", "", name))
            yield float(m.group(1)), frames


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("perf_script", help="output of: perf script -F time,ip,sym")
    ap.add_argument("--from", dest="lo", type=float, default=0.0, help="window start, s after the first sample")
    ap.add_argument("--to", dest="hi", type=float, default=1e18, help="window end, s after the first sample")
    ap.add_argument("--prefix", default="heck::", help="what makes a frame the project's")
    ap.add_argument("--skip", default=DEFAULT_SKIP, help="comma-separated substrings of frames to look through")
    ap.add_argument("--top", type=int, default=30)
    args = ap.parse_args()
    skip = [s for s in args.skip.split(",") if s]

    all_samples = list(samples(args.perf_script))
    if not all_samples:
        sys.exit("no samples (was it made with: perf script -F time,ip,sym?)")
    t0 = min(t for t, _ in all_samples)
    chosen = [frames for t, frames in all_samples if args.lo <= t - t0 < args.hi]
    if not chosen:
        sys.exit(f"no samples between {args.lo} and {args.hi} s")
    owners = collections.Counter()
    for frames in chosen:
        owner = next((f for f in frames if f.startswith(args.prefix) and not any(s in f for s in skip)), None)
        owners[owner or (frames[0] if frames else "?")] += 1
    window = f"[{args.lo:g}, {args.hi:g}) s" if args.hi < 1e18 else f"[{args.lo:g} s, end]"
    print(f"{len(chosen)} of {len(all_samples)} samples in {window}")
    for name, n in owners.most_common(args.top):
        print(f"{100.0 * n / len(chosen):5.1f}%  {name}")


if __name__ == "__main__":
    main()
