"""The `a2m` command line: one entry point, one module per subcommand group."""
