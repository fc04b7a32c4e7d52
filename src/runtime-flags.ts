import v8 from 'node:v8';

/*
 * V8 tuning for a proxy, set before any other module runs (each flag here is one V8 reads when
 * it collects, so it takes effect after start-up; `--single-threaded-gc`, by contrast, aborts V8
 * when set this late).
 *
 * Allocation-site pretenuring moves object literals that V8 has seen outlive a young-generation
 * collection straight to the old generation; under load it picks the gateway's per-request
 * objects (route match, upstream request), which then die in the old generation: measured with
 * `--trace-gc` at ~16k requests/s, 6 full mark-compacts (4-11 ms pauses each) in 10 s with it, 2
 * without, and the old generation no longer grows between them.
 *
 * Young-generation collections and the sweeping of dead Buffers' memory run on the main thread:
 * each scavenge of a proxy's short-lived objects is about a millisecond, too short for helper
 * threads to pay back their hand-off on a machine where the upstream and the clients compete for
 * the same cores. Measured under wrk (64 connections, 8 s, same machine, alternated): 40.2 and
 * 41.9 CPU µs per request with the helpers, 39.0 and 39.6 without; at half load p90 went from
 * 0.9-1.3 ms to 0.3-0.5 ms.
 */
v8.setFlagsFromString('--no-allocation-site-pretenuring');
v8.setFlagsFromString('--no-parallel-scavenge');
v8.setFlagsFromString('--no-concurrent-array-buffer-sweeping');
