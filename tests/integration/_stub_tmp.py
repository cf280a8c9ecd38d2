import sys, types

if "voxcast.webhooks.outbox" not in sys.modules:
    try:
        import voxcast.webhooks.outbox  # noqa
    except ImportError:
        m = types.ModuleType("voxcast.webhooks.outbox")

        async def enqueue(session, **kw):
            pass

        m.enqueue = enqueue
        sys.modules["voxcast.webhooks.outbox"] = m
        import voxcast.webhooks as w

        w.outbox = m
    try:
        import voxcast.services.records  # noqa
    except ImportError:
        m = types.ModuleType("voxcast.services.records")
        m.record_to_push_json = lambda r: {}
        sys.modules["voxcast.services.records"] = m
