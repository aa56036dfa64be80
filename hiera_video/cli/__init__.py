"""Command-line entry points (console_scripts in setup.py; tools/*.py are shims over them)."""
