"""`python -m pipeline` runs the facerec command line."""

from pipeline.entry import main

raise SystemExit(main())
