"""`serve` and `worker` freeze what start-up allocated out of the cyclic collector's reach
(`settle_heap`), so a full collection no longer walks every module, route and model, and let
the collector run less often."""

from __future__ import annotations

import gc

from voxcast.cli.main import settle_heap


def test_settle_heap_freezes_the_objects_alive_and_full_collections_skip_them() -> None:
    assert gc.get_freeze_count() == 0
    gc.collect()  # garbage left by earlier tests in this process is not alive
    alive = len(gc.get_objects())
    thresholds = gc.get_threshold()
    try:
        settle_heap()
        assert gc.get_threshold() == (10_000, 20, 20)
        frozen = gc.get_freeze_count()
        assert frozen >= alive * 0.9  # everything the collection left alive
        assert len(gc.get_objects()) < alive * 0.1  # what a full collection still walks
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
