"""Command line entry points, one module per original script name."""
