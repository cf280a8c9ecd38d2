"""Python SDK: typed clients that sign requests with the vendor's rule (sync and async)."""

from voxcast.client._client import AsyncVoxcastClient, VoxcastClient, VoxcastError
from voxcast.client._envelope import Envelope

__all__ = ["AsyncVoxcastClient", "Envelope", "VoxcastClient", "VoxcastError"]
