"""Entry script of the frozen console (PyInstaller's analysis starts here)."""

import multiprocessing
import sys

from console_app.__main__ import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen child process must not start a second console
    sys.exit(main())
