"""The camera-network config: strict YAML schema, with file and line in every error.

A network file names its cameras (id, source, region, image->ground homography, fps) and the
topology edges between them (minimum and typical transit seconds). Unknown keys are errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from configs.exceptions import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
NETWORKS_DIR = PACKAGE_DIR / "networks"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Camera(_Strict):
    """One camera. ``source`` is a path, ``file://``, ``rtsp://``, ``http(s)://``, or ``sim://`` URL."""

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    source: str = Field(min_length=1)
    region: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    fps: float = Field(gt=0, le=240)
    homography: list[list[float]] | None = Field(
        None, description="3x3 matrix mapping image pixels (x, y, 1) to ground metres")
    start_time: float | None = Field(None, description="epoch seconds of a file's first frame")
    # where it stands on the site map: ground-plane metres, the frame the homography maps into
    position: tuple[float, float] | None = Field(None, description="site ground-plane metres [x, y]")
    heading_deg: float | None = Field(None, ge=-360, le=360,
                                      description="viewing direction, degrees counter-clockwise from +x")
    fov_deg: float = Field(60.0, ge=1, le=180, description="horizontal field of view, degrees")
    range_m: float = Field(20.0, gt=0, le=10_000, description="how far on the ground it sees people, metres")
    lat: float | None = Field(None, ge=-90, le=90, description="WGS84 latitude (with lon)")
    lon: float | None = Field(None, ge=-180, le=180, description="WGS84 longitude (with lat)")

    @model_validator(mode="after")
    def _geometry(self) -> Self:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon go together: give both or neither")
        if self.heading_deg is not None and self.position is None:
            raise ValueError("heading_deg needs a position")
        return self

    @field_validator("homography")
    @classmethod
    def _check_h(cls, v: list[list[float]] | None) -> list[list[float]] | None:
        if v is None:
            return v
        if len(v) != 3 or any(len(row) != 3 for row in v):
            raise ValueError("homography must be a 3x3 matrix")
        if abs(float(np.linalg.det(np.asarray(v)))) < 1e-12:
            raise ValueError("homography is singular")
        return v

    def homography_matrix(self) -> np.ndarray | None:
        """The homography as a float64 ``[3, 3]`` array, or None when uncalibrated."""
        return None if self.homography is None else np.asarray(self.homography, dtype=np.float64)

    def source_path(self, base: Path) -> str:
        """The source with a relative file path resolved against the config file's folder."""
        if "://" in self.source and not self.source.startswith("file://"):
            return self.source
        raw = self.source.removeprefix("file://")
        p = Path(raw)
        return str(p if p.is_absolute() else (base / p).resolve())


class Edge(_Strict):
    """A walkable link between two cameras, with plausible transit times."""

    from_: str = Field(alias="from")
    to: str
    min_transit_s: float = Field(ge=0)
    typical_transit_s: float = Field(ge=0)
    distance_m: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _order(self) -> Self:
        if self.typical_transit_s < self.min_transit_s:
            raise ValueError("typical_transit_s is below min_transit_s")
        return self


MAP_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


class Site(_Strict):
    """The site the cameras stand on: an optional map image and the ground rectangle it shows."""

    map_image: str | None = Field(None, min_length=1, description="floor plan or map: a PNG, JPEG or WebP "
                                                                  "file, relative to the config file")
    bounds: tuple[float, float, float, float] | None = Field(
        None, description="[x_min, y_min, x_max, y_max]: the ground metres the map image covers")

    @field_validator("map_image")
    @classmethod
    def _check_image(cls, v: str | None) -> str | None:
        if v is not None and not v.lower().endswith(MAP_IMAGE_SUFFIXES):
            raise ValueError(f"map_image must be one of {', '.join(MAP_IMAGE_SUFFIXES)}")
        return v

    @field_validator("bounds")
    @classmethod
    def _check_bounds(cls, v: tuple[float, float, float, float] | None) -> tuple[float, float, float, float] | None:
        if v is not None and not (v[0] < v[2] and v[1] < v[3]):
            raise ValueError("bounds must be [x_min, y_min, x_max, y_max] with x_min < x_max and y_min < y_max")
        return v

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.map_image is not None and self.bounds is None:
            raise ValueError("a map_image needs the bounds it covers")
        return self


class Network(_Strict):
    """A camera network: the unit a pipeline runs on."""

    version: int = Field(1, ge=1, le=1)
    name: str = Field(min_length=1)
    site: Site | None = None
    cameras: list[Camera] = Field(min_length=1)
    topology: list[Edge] = Field(default_factory=list)

    @model_validator(mode="after")
    def _refs(self) -> Self:
        ids = [c.id for c in self.cameras]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"duplicate camera ids: {sorted(dup)}")
        for e in self.topology:
            for end in (e.from_, e.to):
                if end not in ids:
                    raise ValueError(f"topology edge names unknown camera {end!r}")
        return self

    def camera(self, camera_id: str) -> Camera:
        """The camera with this id; :class:`ConfigError` naming the known ids otherwise."""
        for c in self.cameras:
            if c.id == camera_id:
                return c
        raise ConfigError(f"unknown camera id {camera_id!r} in network {self.name!r} "
                          f"(known: {', '.join(c.id for c in self.cameras)})")


class LoadedNetwork(BaseModel):
    """A validated network and the folder relative sources resolve against."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    network: Network
    path: Path

    @property
    def base(self) -> Path:
        """Folder of the config file."""
        return self.path.parent


def _line_of(node: yaml.Node, loc: tuple[int | str, ...]) -> int:
    """1-based line of the YAML node at ``loc``, as deep as the path exists in the file."""
    cur = node
    for part in loc:
        name = "from" if part == "from_" else part
        if isinstance(cur, yaml.MappingNode):
            match = [(k, v) for k, v in cur.value if k.value == name]
            if not match:
                break
            key, val = match[0]
            if part == loc[-1] and not isinstance(val, yaml.MappingNode | yaml.SequenceNode):
                return int(key.start_mark.line) + 1
            cur = val
        elif isinstance(cur, yaml.SequenceNode) and isinstance(part, int) and part < len(cur.value):
            cur = cur.value[part]
        else:
            break
    return int(cur.start_mark.line) + 1


def load_network(path: str | Path) -> LoadedNetwork:
    """Read and validate a network YAML file.

    Args:
        path: the file; a bare name (``vtest``) means a network shipped in ``configs/networks``.

    Raises:
        ConfigError: one line naming the file, the line and what is wrong.
    """
    p = Path(path)
    if not p.exists() and not p.suffix and (NETWORKS_DIR / f"{p.name}.yaml").exists():
        p = NETWORKS_DIR / f"{p.name}.yaml"
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read network config {p}: {exc.strerror}") from exc
    try:
        node = yaml.compose(text)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{p}{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(data, dict) or node is None:
        raise ConfigError(f"{p}:1: a network config must be a mapping with 'name' and 'cameras'")
    try:
        net = Network.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        lineno = _line_of(node, loc)
        where = ".".join(str(x) for x in loc) or "(top)"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        raise ConfigError(f"{p}:{lineno}: {where}: {msg}") from exc
    if net.site is not None and net.site.map_image is not None:
        img = Path(net.site.map_image)
        img = img if img.is_absolute() else p.resolve().parent / img
        if not img.is_file():
            raise ConfigError(f"{p}:{_line_of(node, ('site', 'map_image'))}: site.map_image: no such file {img}")
    return LoadedNetwork(network=net, path=p.resolve())
