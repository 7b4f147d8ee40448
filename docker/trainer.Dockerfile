# Workstation trainer image: the `redraw` command with CUDA torch (PyPI's Linux torch wheel bundles CUDA).
#   docker compose -f docker/compose.yaml run --rm trainer demo --scale paper
FROM python:3.11-slim-bookworm

RUN apt-get update && apt-get install -y --no-install-recommends \
        libegl1 libgl1 libgl1-mesa-dri libglu1-mesa \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /redraw
COPY requirements.txt requirements.txt
RUN pip install --no-cache-dir torch==2.13.0 && pip install --no-cache-dir -r requirements.txt
COPY src src
COPY models models
RUN pip install --no-cache-dir --no-deps -e src/redraw_testing -e src/redraw_perception -e src/redraw_policy \
        -e src/redraw_logger -e src/redraw_trainer

ENV PYGLET_HEADLESS=true
ENTRYPOINT ["redraw"]
CMD ["--help"]
