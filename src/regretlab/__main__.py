"""``python -m regretlab``: the same command line as the ``regretlab`` script."""

from __future__ import annotations

from regretlab.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
