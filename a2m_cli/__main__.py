"""`python -m a2m_cli ...` runs the `a2m` command."""

import sys

from a2m_cli.main import main

sys.exit(main())
