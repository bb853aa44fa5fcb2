# One image for the api, worker and migrate services.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJ_DATA_DIR=/data

# PyPI's Linux build of torch includes CUDA. For a smaller CPU-only image, build with
#   --build-arg TORCH_INDEX_URL=<PyTorch's CPU wheel index>
ARG TORCH_SPEC=torch==2.13.0
ARG TORCH_INDEX_URL=
RUN pip install ${TORCH_INDEX_URL:+--index-url ${TORCH_INDEX_URL}} "${TORCH_SPEC}"

WORKDIR /app
COPY pyproject.toml README.md ./
COPY services ./services
COPY api ./api
COPY worker ./worker
COPY migrations ./migrations
RUN pip install .

RUN useradd --create-home --uid 1000 app && mkdir -p /data && chown app /data
USER app
VOLUME ["/data"]
EXPOSE 8000

CMD ["uvicorn", "api.app:app", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers"]
