"""The ``gaitline`` command: a thin layer over the library functions of the other rooms.

Every module here is a typer app or command; the root app (:mod:`gaitline.cli.main`) imports
each one explicitly, so a missing module is an import error at start, never a silent skip."""
