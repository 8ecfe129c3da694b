"""gunicorn settings of `fieldcheck serve` (passed as `--config python:server.gunicorn_conf`).

Each worker loads the app (imports, the rule table, the schemas, the mappers: a few hundred
thousand objects that live as long as the worker) and then freezes what exists at that point
out of the garbage collector's way (`gc.freeze()`). Without it, every full collection walks
all of them again: in a sync worker that is a pause of about 100 ms every eight or nine
batches of 50 visits (docs/performance.md, "Sync"). The frozen objects are the ones that
live as long as the process anyway; everything made later is collected as before.
"""
from __future__ import annotations

import gc


def post_worker_init(worker) -> None:
    gc.freeze()
