"""Entry script for frozen builds (PyInstaller needs a file, not a console_scripts entry)."""

import multiprocessing

from playground.cli import main

if __name__ == "__main__":
    # Training and big-text jobs run in spawned child processes; a frozen app must route them.
    multiprocessing.freeze_support()
    raise SystemExit(main())
