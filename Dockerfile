# The one image every stage runs: `gaitline worker frames|embed|index|track`.
FROM python:3.11-slim
# gcc and g++: torch.compile builds its kernels with them (the embed agents compile on CUDA)
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 ffmpeg gcc g++ \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY streams streams
COPY workers workers
COPY index index
COPY gait gait
COPY sim sim
COPY configs configs
COPY bench bench
RUN pip install --no-cache-dir .
# torch.compile's kernel cache: the default path is named after the user, which uid 10001 lacks
ENV TORCHINDUCTOR_CACHE_DIR=/tmp/torchinductor
USER 10001
ENTRYPOINT ["gaitline"]
