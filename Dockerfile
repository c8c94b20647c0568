# The one image every stage runs: `gaitline worker frames|embed|index|track`, `gaitline api serve`.
FROM python:3.11-slim
# gcc and g++: torch.compile builds its kernels with them (the embed agents compile on CUDA)
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 ffmpeg gcc g++ \
    && rm -rf /var/lib/apt/lists/*
# The whole build context (less .dockerignore): which packages and data files are installed is
# decided in one place, pyproject.toml, never by a list of folders here.
COPY . /src
RUN pip install --no-cache-dir /src && rm -rf /src
WORKDIR /app
# torch.compile's kernel cache: the default path is named after the user, which uid 10001 lacks
ENV TORCHINDUCTOR_CACHE_DIR=/tmp/torchinductor
USER 10001
ENTRYPOINT ["gaitline"]
