"""The pipeline stages in data-path order: ``frames`` (cameras -> windows), ``embed`` (windows -> vectors),
``track`` (sightings -> the store); the index stage lives with the identity service in ``index/``.
Also the two in-process runs of the whole path: the ``demo`` (on a real broker) and the portable ``analyze``."""
