"""`python -m bench.webhooks`: see the package's docstring."""

import sys

from bench.webhooks import main

sys.exit(main())
