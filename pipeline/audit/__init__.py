"""facerec audit: the wrong, duplicate and useless photos of a folder-per-person dataset,
found before they teach the recognizer; quarantined and restored with a manifest."""
