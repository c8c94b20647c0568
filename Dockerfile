# syntax=docker/dockerfile:1
# gaitline's images, one file, two targets; every stage runs from them (`gaitline worker frames|embed|index|track`,
# `gaitline api serve`, `gaitline kafka topics` for the chart's hook Job):
#   docker build --target cpu  -t ghcr.io/gaitline/gaitline:0.1.0 .        (the default: the last stage)
#   docker build --target cuda -t ghcr.io/gaitline/gaitline:0.1.0-cuda .   (PyPI's torch, its CUDA libraries inside)
# Dependencies install from constraints.txt (every runtime package pinned; `python -m gaitline.deploy` writes it),
# the package from the build context less .dockerignore: which packages and data files go in is decided in one
# place, pyproject.toml (tests/unit/test_image.py checks that this file and that list agree).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS base
# libgl1, libglib2.0-0: OpenCV; ffmpeg: camera streams; gcc, g++: torch.compile builds its kernels with them
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 ffmpeg gcc g++ \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 gaitline \
    && useradd --uid 10001 --gid 10001 --create-home --home-dir /home/gaitline --shell /usr/sbin/nologin gaitline
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1

FROM base AS source
COPY . /src
RUN python -m venv /opt/gaitline

FROM source AS build-cpu
# torch without CUDA (a fifth of the size): the CPU wheel of the pinned version, then the rest from PyPI
RUN /opt/gaitline/bin/pip install --index-url https://download.pytorch.org/whl/cpu \
        "$(grep '^torch==' /src/constraints.txt)" \
    && /opt/gaitline/bin/pip install -c /src/constraints.txt /src \
    && rm -rf /src

FROM source AS build-cuda
RUN /opt/gaitline/bin/pip install -c /src/constraints.txt /src \
    && rm -rf /src

FROM base AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="gaitline" \
      org.opencontainers.image.description="Gait recognition across a city's camera network, on Apache Kafka" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/gaitline/gaitline" \
      org.opencontainers.image.licenses="Apache-2.0"
# everything writable lives under /tmp (an emptyDir in the chart: the root filesystem is read-only)
ENV PATH=/opt/gaitline/bin:$PATH \
    TORCHINDUCTOR_CACHE_DIR=/tmp/torchinductor \
    TRITON_CACHE_DIR=/tmp/triton \
    MPLCONFIGDIR=/tmp/matplotlib \
    XDG_CACHE_HOME=/tmp/cache
WORKDIR /home/gaitline
STOPSIGNAL SIGTERM
ENTRYPOINT ["gaitline"]
CMD ["--help"]

FROM runtime AS cuda
LABEL org.opencontainers.image.variant="cuda"
COPY --from=build-cuda /opt/gaitline /opt/gaitline
USER 10001:10001

FROM runtime AS cpu
LABEL org.opencontainers.image.variant="cpu"
COPY --from=build-cpu /opt/gaitline /opt/gaitline
USER 10001:10001
