"""Video: frames read from a file, camera or stream, faces tracked and named, annotated frames
encoded (with the input's sound when FFmpeg is at hand), and a timeline of who was seen."""
