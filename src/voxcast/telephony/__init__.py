"""Carriers behind the `ports.Carrier` seam: the sandbox (simulated callees) and SIP trunks."""
