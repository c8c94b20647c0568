"""The track stage: ``sightings.v1`` -> the store of sightings per identity."""
