#!/usr/bin/env python3
"""Instruction counts of a callgrind profile by function, for judging where a review goes.

callgrind_annotate splits a function into one entry per source file its inlined code came
from, so its inclusive trees miss most callees of a Swift function. This reads the
callgrind.out file itself and merges those entries by function name.

  scripts/callgrind-functions.py top OUT [--base OUT0] [--per N] [--inclusive] [--limit K]
  scripts/callgrind-functions.py callees PATTERN OUT [--base OUT0] [--per N] [--limit K]
  scripts/callgrind-functions.py callers PATTERN OUT [--base OUT0] [--per N] [--limit K]

--base: a shorter run of the same command; its counts are subtracted, so start-up cancels
out (as in scripts/instructions.sh). --per: divide by this many reviews or requests (with
--base, the difference in their number). PATTERN is a regular expression over the mangled
names (`callees` takes the first function matching it, by inclusive count).

  valgrind --tool=callgrind --callgrind-out-file=a.out .build-prof/release/admission-bench \\
      --seconds 0.25 --endpoint validate ../shared/bench/fixtures/invalid.json
  (again with --seconds 1 into b.out; the last column of its output sums to the reviews)
  scripts/callgrind-functions.py callees 'ReviewDecoder.*decode' b.out --base a.out --per 380

Inclusive counts are self plus calls out; recursion makes them approximate.
"""
import argparse
import collections
import re
import sys


def parse(path):
    """Self cost and calls (inclusive cost, count) per function name."""
    names = {}
    self_cost = collections.Counter()
    calls = collections.defaultdict(collections.Counter)
    counts = collections.defaultdict(collections.Counter)
    events = None
    fn = cfn = None
    pending = None

    def name(text):
        # Names are compressed: "(id) name" defines an id, "(id)" refers to it.
        m = re.match(r"\((\d+)\)(?:\s+(.*))?", text)
        if not m:
            return text
        if m.group(2) is not None:
            names[m.group(1)] = m.group(2)
        return names[m.group(1)]

    with open(path) as f:
        for line in f:
            if line.startswith("positions:"):
                events = len(line.split()) - 1  # how many position columns precede the costs
            elif line.startswith("fn="):
                fn = name(line[3:].strip())
            elif line.startswith("cfn="):
                cfn = name(line[4:].strip())
            elif line.startswith("calls="):
                pending = int(line[6:].split()[0])
            elif line[:1] in "0123456789+-*" and fn is not None:
                fields = line.split()
                position_columns = events or 1
                if len(fields) <= position_columns:
                    continue
                cost = int(fields[position_columns])
                if pending is not None:
                    calls[fn][cfn] += cost
                    counts[fn][cfn] += pending
                    pending = None
                else:
                    self_cost[fn] += cost
    return self_cost, calls, counts


def inclusive(self_cost, calls):
    functions = set(self_cost) | set(calls)
    return {f: self_cost.get(f, 0) + sum(c for g, c in calls.get(f, {}).items() if g != f) for f in functions}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["top", "callees", "callers"])
    parser.add_argument("args", nargs="+", help="[PATTERN] OUT")
    parser.add_argument("--base", help="a shorter run to subtract")
    parser.add_argument("--per", type=float, default=1.0, help="divide by this many reviews or requests")
    parser.add_argument("--inclusive", action="store_true", help="top: sort by inclusive count")
    parser.add_argument("--limit", type=int, default=40)
    a = parser.parse_args()
    if a.command == "top":
        if len(a.args) != 1:
            parser.error("top takes OUT")
        pattern, out = None, a.args[0]
    else:
        if len(a.args) != 2:
            parser.error(f"{a.command} takes PATTERN OUT")
        pattern, out = a.args

    s1, c1, n1 = parse(out)
    s0, c0, n0 = parse(a.base) if a.base else ({}, {}, {})
    i1, i0 = inclusive(s1, c1), inclusive(s0, c0) if a.base else {}

    def d(x, y):
        return (x - y) / a.per

    def short(text):
        return text[:170]

    if a.command == "top":
        value = {f: d(i1[f], i0.get(f, 0)) if a.inclusive else d(s1.get(f, 0), s0.get(f, 0)) for f in i1}
        for f in sorted(value, key=lambda f: -value[f])[: a.limit]:
            print("%10.0f  %s" % (value[f], short(f)))
    elif a.command == "callees":
        matching = [f for f in i1 if re.search(pattern, f)]
        if not matching:
            sys.exit(f"no function matches {pattern}")
        f = max(matching, key=lambda f: i1[f] - i0.get(f, 0))
        print("%10.0f inclusive %10.0f self  %s" % (d(i1[f], i0.get(f, 0)), d(s1.get(f, 0), s0.get(f, 0)), short(f)))
        rows = [(d(c, c0.get(f, {}).get(g, 0)), d(n1[f][g], n0.get(f, {}).get(g, 0)), g) for g, c in c1[f].items()]
        for cost, count, g in sorted(rows, reverse=True)[: a.limit]:
            print("%10.0f  %8.1fx  %s" % (cost, count, short(g)))
    else:
        rows = []
        for f, callees in c1.items():
            for g, c in callees.items():
                if re.search(pattern, g):
                    rows.append((d(c, c0.get(f, {}).get(g, 0)), d(n1[f][g], n0.get(f, {}).get(g, 0)), f))
        print("%10.0f  %8.1fx  in all" % (sum(r[0] for r in rows), sum(r[1] for r in rows)))
        for cost, count, f in sorted(rows, reverse=True)[: a.limit]:
            print("%10.0f  %8.1fx  %s" % (cost, count, short(f)))


if __name__ == "__main__":
    main()
