"""One thin script per DVC stage: parse arguments, call ``pipeline``, write outputs."""
