"""One module per `facerec` command, each with add(subparsers) and run(args) -> exit code."""
