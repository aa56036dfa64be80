"""Small helpers every layer may use: files on disk (``io``) and the process group (``dist``)."""
