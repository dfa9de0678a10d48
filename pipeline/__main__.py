"""`python -m pipeline` runs the facerec command line."""

from .entry import main

raise SystemExit(main())
