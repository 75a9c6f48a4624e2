import sys

from calozoo.cli import main

sys.exit(main())
