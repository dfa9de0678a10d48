"""Measuring accuracy: 1:1 verification on pairs files, 1:K identification by folds, the
metrics and the plots (the evaluate-pairs and evaluate commands)."""
