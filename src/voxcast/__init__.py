"""voxcast: a self-hostable outbound voice platform, wire-compatible with the LAAFFIC voice API."""

__version__ = "0.1.0"
