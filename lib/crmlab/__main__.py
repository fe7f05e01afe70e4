import sys

from crmlab.cli import main

sys.exit(main())
