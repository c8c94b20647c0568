"""A synthetic city for gaitline: walking bodies with individual gaits, cameras, ground truth.

Modules, each named after what it does:

* :mod:`sim.body`: identity/session parameters (body shape, gait kinematics) and the pose of an
  articulated 3-D body over time.
* :mod:`sim.camera`: pinhole cameras, projection, ground-plane homographies.
* :mod:`sim.render`: capsules/hulls → silhouettes (and coloured people for the city).
* :mod:`sim.outfit`: clothing and carried objects as extra volumes.
* :mod:`sim.noise`: segmentation noise that looks like background subtraction, occlusion.
* :mod:`sim.gaitset`: the CASIA-B-style dataset generator.
* :mod:`sim.city` / :mod:`sim.cityrender`: street graph, cameras, routes; video + ground truth.
* :mod:`sim.walkset`: a small labelled walking set in KTH's layout (the stand-in ``eval real`` is tested on).
* :mod:`sim.source`: the ``sim://`` camera source a frames worker reads.
* :mod:`sim.preview`: contact sheets; :mod:`gaitline.cli.sim`: ``gaitline sim``.
"""
