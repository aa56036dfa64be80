"""Command-line converters from official dataset files to the lists the loaders read (run as scripts)."""
