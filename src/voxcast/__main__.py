"""`python -m voxcast ...`: the same command as the `voxcast` script (see docs/cli.md)."""

from voxcast.cli.main import main

if __name__ == "__main__":
    main()
