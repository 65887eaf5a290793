"""citybrain: the command line on top of the rooms (schemas, feeds, transforms, warehouse).

Importing the package sets how Polars' allocator returns memory (:data:`ALLOCATOR_CONF`):
the command line, the DAG files and the task functions all import it before Polars.
"""

import os

#: jemalloc's own defaults: keep freed pages 10 s before handing them back to the system.
#: Polars sets ``dirty_decay_ms:500,muzzy_decay_ms:1000`` at its import, a choice for
#: interactive sessions that should shrink soon after a query. citybrain's tasks are batch
#: jobs that free and allocate the same working set step after step and chunk after chunk:
#: pages handed back after half a second were faulted in again at once, and the page
#: faults and ``madvise`` calls were 20-40% of the normalize step's CPU on a 2-core VM.
#: Measured on the 1M-resident population export, whole process: 7.9 instead of 8.4 s
#: (sys 2.3 instead of 3.1 CPU-s), peak memory 1.84 instead of 1.62 GiB.
#:
#: And one arena per CPU (``percpu_arena``), where jemalloc's default is four per CPU, each
#: thread tied to one: freed memory goes back to the arena it came from, and only threads
#: allocating from that arena reuse it. A chunk passes through three threads of ours
#: (transforms.batch.NormalizedBatch._chunks) and many of Polars', spread over eight
#: arenas, so a thread often found its own arena empty and faulted in fresh pages while
#: another's held freed ones. Staging the 5M-resident population export, 5 interleaved
#: pairs: 0.97x the time (0.94-1.00), 15-25% fewer page faults, 170-480 MB less at peak.
ALLOCATOR_CONF = "dirty_decay_ms:10000,muzzy_decay_ms:0,percpu_arena:percpu"

# Polars reads the variable once, when it is first imported, and appends it to its own
# settings (the later setting wins). An operator's own value is kept.
os.environ.setdefault("_RJEM_MALLOC_CONF", ALLOCATOR_CONF)
