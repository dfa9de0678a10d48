"""`python -m pipeline` runs the facerec command line."""

from .cli import main

raise SystemExit(main())
