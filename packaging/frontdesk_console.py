"""The desktop bundle's entry point: PyInstaller freezes this as ``frontdesk-console``."""

import sys

from frontdesk.console.app import main

if __name__ == "__main__":
    sys.exit(main())
