"""Photo libraries: clustering unlabelled faces into people, stable groups, contact sheets,
and the crops of recurring strangers (the cluster command, --keep-unknown)."""
