# One image per function, from one Dockerfile: `docker build -f infra/docker/function.Dockerfile
# --build-arg FUNCTION=auth .` (context: the repository root). Each image installs only its function's
# requirements.txt, that is the layer with that function's extras, so it carries no other function's libraries.
# The `migrate` target is the one-shot schema migration: the layer with its db extra only.

FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent tasktracker
WORKDIR /app

FROM base AS migrate
COPY layers/ layers/
RUN pip install "./layers[db]"
USER tasktracker
CMD ["python", "-m", "tasktracker.adapters.sqlalchemy.migrate", "upgrade"]

FROM base AS function
ARG FUNCTION
RUN test -n "${FUNCTION}" || { echo "build with --build-arg FUNCTION=<a folder of functions/>" >&2; exit 1; }
# The requirement files name the layer as `-e ../../layers[...]`: pip runs from the function's folder, as it
# does on a developer machine. Editable, so the dev profile's mount of layers/ reloads without a rebuild.
COPY layers/ layers/
COPY functions/${FUNCTION}/requirements.txt functions/${FUNCTION}/requirements.txt
RUN cd "functions/${FUNCTION}" && pip install -r requirements.txt "gunicorn>=23"
COPY functions/__init__.py functions/__init__.py
COPY functions/${FUNCTION}/ functions/${FUNCTION}/
# Workers and threads (2 x 4, for 2 cores; WEB_CONCURRENCY and GUNICORN_THREADS override them) and the metrics
# bookkeeping come from tasktracker.platform.gunicorn_config, as under `make up`. The workers' metric files
# live in the container's own tmpfs (/dev/shm): one directory per function, emptied as gunicorn starts.
ENV FUNCTION=${FUNCTION} \
    PROMETHEUS_MULTIPROC_DIR=/dev/shm/tasktracker-metrics
USER tasktracker
EXPOSE 8000
CMD ["sh", "-c", "exec gunicorn \"functions.${FUNCTION}.app:create_app()\" --config python:tasktracker.platform.gunicorn_config --bind 0.0.0.0:8000 --access-logfile - --worker-tmp-dir /dev/shm"]
