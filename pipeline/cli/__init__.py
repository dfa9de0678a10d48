"""The `facerec` command line (main.py builds the parser from the modules in commands/)."""

from pipeline.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
