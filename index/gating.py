"""Spatio-temporal gating: could the same walker have been seen here and there, then and now?

The camera topology (``configs`` schema) says which cameras are linked and the least time a
walk between them takes. A candidate identity last seen on camera A at ``t_a`` is feasible
for a window on camera B starting at ``t_b`` when

* A is B (the same camera: a re-entry or a broken track), or
* A and B are linked and ``|t_b - t_a|`` is at least the edge's ``min_transit_s``, or
* they are not linked and at least ``open_world_s`` has passed (anyone can be anywhere in
  an hour; routes the topology does not list exist).

Without a topology every candidate is feasible.
"""

from __future__ import annotations

from configs.schema import Network


class TransitGate:
    """Feasibility of a match from the network's topology."""

    def __init__(self, network: Network | None, open_world_s: float = 3600.0) -> None:
        self.open_world_s = open_world_s
        self.enabled = network is not None
        self._min: dict[tuple[str, str], float] = {}
        if network is not None:
            for e in network.topology:
                for a, b in ((e.from_, e.to), (e.to, e.from_)):
                    self._min[(a, b)] = min(self._min.get((a, b), e.min_transit_s), e.min_transit_s)

    def feasible(self, last_camera: str | None, last_seen: float | None, camera: str, t: float) -> bool:
        """Whether a walker last seen on ``last_camera`` at ``last_seen`` can be on ``camera`` at ``t``."""
        if not self.enabled or last_camera is None or last_seen is None or last_camera == camera:
            return True
        gap = abs(t - last_seen)
        edge = self._min.get((last_camera, camera))
        if edge is not None:
            return gap >= edge
        return gap >= self.open_world_s
