"""One module per subcommand of the ``logmetrics`` command."""
