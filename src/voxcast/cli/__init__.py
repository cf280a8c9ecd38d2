"""The `voxcast` command: serve, worker and admin sub-commands."""
