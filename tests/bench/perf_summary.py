#!/usr/bin/env python3
"""Summarises a heraldd CPU profile by what the time was spent on.

    perf script -i perf.data -F comm,tid,ip,sym > perf.txt
    tests/bench/perf_summary.py perf.txt

The profile comes from `herald_bench --workloads=throughput --perf=FILE`
(perf record -e cpu-clock --call-graph dwarf on heraldd). Each sample is
attributed to the first activity of ACTIVITIES (in list order) that appears
anywhere on its stack, and separately to the kind of function it was in
(its leaf). Prints percentages of all samples, and samples per thread.
"""
import collections
import sys

# (activity, substring of a frame's symbol); the first match in this order wins.
ACTIVITIES = [
    ("watch hub: re-reading task updates", "WatchHub::FetchOnce"),
    ("store writer: commit events (publish)", "SqliteStore::CommitEventsAsync"),
    ("store writer: claim tasks", "SqliteStore::ClaimTasks(herald::store::ClaimOptions const&)::{lambda(herald::store::sqlite::Connection&)#3}"),
    ("store writer: complete tasks (results)", "SqliteStore::CompleteTasksAsync"),
    ("store writer: checkpoint", "MaybeCheckpointOnWriter"),
    ("store writer: other", "SqliteStore::WriterLoop"),
    ("store checkpointer thread", "SqliteStore::CheckpointLoop"),
    ("claimer: decode claimed rows", "ClaimedFromRow"),
    ("claimer: other", "Dispatcher::ClaimOnce"),
    ("dispatcher: build request + start attempt", "Dispatcher::StartAttempt"),
    ("dispatcher: attempt result", "Dispatcher::OnResult"),
    ("dispatcher loop: other", "Dispatcher::Loop"),
    ("HTTP sender (libcurl)", "CurlSender::Impl::Run"),
    ("publish: validate, match, render", "Publisher::Prepare"),
    ("publish: other executor work", "Executor::Loop"),
    ("retention sweeper", "RetentionSweeper"),
    ("metrics", "prometheus"),
    ("gRPC", "grpc"),
]


def main():
    samples = []
    frames = []
    comm = tid = ""
    with open(sys.argv[1], errors="replace") as f:
        for line in f:
            if not line.strip():
                if frames or comm:
                    samples.append((comm, tid, frames))
                frames, comm, tid = [], "", ""
                continue
            if not line.startswith("\t"):
                head = line.split()
                comm, tid = head[0], head[1] if len(head) > 1 else ""
                continue
            parts = line.strip().split(None, 1)
            frames.append(parts[1] if len(parts) > 1 else "")
    if frames or comm:
        samples.append((comm, tid, frames))
    total = len(samples)
    by_activity = collections.Counter()
    leaf_lib = collections.Counter()
    by_thread = collections.Counter()
    by_thread_activity = collections.defaultdict(collections.Counter)
    for comm, tid, stack in samples:
        outer_first = list(reversed(stack))
        found = None
        for name, needle in ACTIVITIES:
            if any(needle in fr for fr in outer_first):
                found = name
                break
        by_activity[found or f"other ({comm})"] += 1
        by_thread[(comm, tid)] += 1
        by_thread_activity[(comm, tid)][found or "other"] += 1
        leaf = stack[0] if stack else ""
        if leaf.startswith("sqlite3") or "sqlite" in leaf.lower():
            leaf_lib["SQLite"] += 1
        elif any(k in leaf for k in ("malloc", "free", "_int_", "operator new", "operator delete")):
            leaf_lib["malloc/free"] += 1
        elif leaf.startswith("__memmove") or leaf.startswith("__mem") or leaf.startswith("__str"):
            leaf_lib["memcpy/strings"] += 1
        elif leaf[:1].islower() and "::" not in leaf and "(" not in leaf and "_" in leaf:
            leaf_lib["kernel or C library"] += 1
        else:
            leaf_lib["other"] += 1
    print(f"{total} samples")
    for name, n in by_activity.most_common():
        print(f"{100.0 * n / total:6.1f}%  {name}")
    print("\nby thread (samples; the -F frequency turns them into CPU seconds):")
    for (comm, tid), n in by_thread.most_common(12):
        print(f"{n:8d}  {comm} {tid}  {by_thread_activity[(comm, tid)].most_common(1)[0][0]}")
    print("\nby leaf function:")
    for name, n in leaf_lib.most_common():
        print(f"{100.0 * n / total:6.1f}%  {name}")


if __name__ == "__main__":
    main()
