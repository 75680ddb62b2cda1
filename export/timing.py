"""Wall-clock timing of a runner: medians after a warm-up call, because this machine is noisy."""

import statistics
import time

import numpy as np


def call_times(runner, inputs, repeats):
    """Seconds of ``repeats`` calls after one warm-up call (tracing, allocation) that is not counted."""
    runner(inputs)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        runner(inputs)
        times.append(time.perf_counter() - started)
    return times


def latency_ms(runner, one, repeats=30):
    """Median milliseconds of one batch-1 call."""
    return round(statistics.median(call_times(runner, one, repeats)) * 1000, 3)


def timings(runner, one, batch, repeats):
    """-> p50 and p90 ms for one sequence, and sequences per second for a batch."""
    single = call_times(runner, one, repeats)
    batched = call_times(runner, batch, max(3, repeats // 10))
    return {
        "p50_ms": round(statistics.median(single) * 1000, 4),
        "p90_ms": round(float(np.percentile(single, 90)) * 1000, 4),
        "throughput_per_s": round(len(batch) / statistics.median(batched), 1),
    }
