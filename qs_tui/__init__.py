"""QuantumState: an SRE war room in the terminal."""

import os

__version__ = "0.1.0"

# The embedded store's polars allocates through its bundled jemalloc, which by default keeps
# freed pages for reuse instead of handing them back to the system; in a war room that runs
# for days the tables are rewritten over and over and the process only grows (see
# pola-rs/polars#23128 and jemalloc's `dirty_decay_ms`/`muzzy_decay_ms` in its manual).
# Freed pages go back after a second: long runs stay flat, while a burst of work (loading a
# large file) still reuses its own pages instead of faulting fresh ones in for every buffer,
# which a decay of 0 makes it do (it read a 350 MB NDJSON file 1.6x slower). jemalloc reads
# this when polars loads, so it is set before anything imports polars; a value the user set
# wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:1000,muzzy_decay_ms:0")
