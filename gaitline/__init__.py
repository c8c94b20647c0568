"""gaitline: the command line and what every room shares (the root exception, the metrics server)."""

__version__ = "0.1.0"
