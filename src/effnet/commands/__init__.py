"""One module per CLI subcommand; see `effnet.cli.COMMANDS`."""
