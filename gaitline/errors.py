"""The root of every error gaitline raises on purpose.

Each room declares its own errors in its ``exceptions.py``, all derived from
:class:`GaitlineError`; the command line turns any of them into one line on stderr and exit
code 2, the API into a 4xx with the message, a stream stage into a dead letter with the reason.
"""

from __future__ import annotations


class GaitlineError(Exception):
    """Root of every error gaitline raises on purpose (the CLI turns these into exit code 2)."""
