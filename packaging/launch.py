"""Entry script for frozen builds (PyInstaller needs a file, not a console_scripts entry)."""

from playground.cli import main

raise SystemExit(main())
