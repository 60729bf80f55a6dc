# syntax=docker/dockerfile:1
# digitlab's images. Two targets share one source layer:
#   app   (the default, last stage): the dashboard on CPU torch from PyTorch's CPU
#         wheel index -- none of the CUDA libraries PyPI's torch wheel pulls in.
#   train: run_model.py on PyPI's default torch wheel, which carries the CUDA
#         runtime, cuDNN and NCCL as pip packages; the host needs only the NVIDIA
#         driver and the container toolkit (docker-compose.yml reserves the GPUs).
# docker compose builds both; `docker build .` builds the app.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- the dependency list, read from pyproject.toml (one source of truth) ----
FROM ${PYTHON_IMAGE} AS requirements
WORKDIR /build
COPY pyproject.toml .
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; open('requirements.txt', 'w').write('\n'.join(deps) + '\n')" \
 && python -m venv /opt/venv

# ---- the app's virtual environment: torch for the CPU only ----
FROM requirements AS app-venv
ENV PATH=/opt/venv/bin:$PATH
# torch first and from the CPU index: the `torch==2.13.0` in requirements.txt is
# then already met by 2.13.0+cpu, so PyPI's CUDA build is never downloaded.
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
 && pip install --no-cache-dir -r requirements.txt

# ---- the trainer's virtual environment: torch with CUDA ----
FROM requirements AS train-venv
ENV PATH=/opt/venv/bin:$PATH
RUN pip install --no-cache-dir -r requirements.txt

# ---- only what runs: code, Streamlit's config, the committed weights ----
FROM scratch AS source
COPY settings.py run_model.py /app/
COPY model/ /app/model/
COPY db/ /app/db/
COPY streamlit/ /app/streamlit/
COPY .streamlit/ /app/.streamlit/
COPY saved_models/ /app/saved_models/

# ---- what both images share: a user, the layout, the settings ----
FROM ${PYTHON_IMAGE} AS runtime
# The code is imported from /app (not installed), so settings.REPO_ROOT is /app;
# the folders are still named explicitly, because compose mounts volumes on them.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PATH=/opt/venv/bin:$PATH \
    DIGITLAB_HOME=/var/lib/digitlab \
    DIGITLAB_MODELS_DIR=/app/saved_models \
    DIGITLAB_RESULTS_DIR=/app/results
RUN groupadd --system --gid 10001 digitlab \
 && useradd --system --uid 10001 --gid digitlab --home-dir /var/lib/digitlab --create-home \
      --shell /usr/sbin/nologin digitlab
WORKDIR /app
# Code owned by root (read-only to the app); weights, pictures and local state are
# the only places the digitlab user writes (volumes start as copies of these).
COPY --from=source /app /app
RUN mkdir -p /app/results && chown -R digitlab:digitlab /app/saved_models /app/results

# ---- GPU trainer (docker compose --profile train) ----
FROM runtime AS train
COPY --from=train-venv /opt/venv /opt/venv
USER 10001:10001
# One process per GPU; with a single GPU this is plain one-process training.
ENTRYPOINT ["torchrun", "--standalone", "--nproc_per_node=gpu", "run_model.py"]
CMD ["train"]

# ---- the dashboard (default target) ----
FROM runtime AS app
COPY --from=app-venv /opt/venv /opt/venv
USER 10001:10001
EXPOSE 8501
# slim has no curl; urlopen raises (exit 1) on anything but a 2xx answer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"]
CMD ["streamlit", "run", "streamlit/app.py"]
