# ladderbot's container image: `ladderbot serve` as a non-root user, with a health check on /healthz.
#
#   docker build -t ladderbot .                     # on the official Python image (the default base)
#   docker build --build-arg BASE_IMAGE=... .       # on any Debian-like image with python3 (3.11+) and venv
#
# compose.yaml runs it with PostgreSQL: a migrate step, N web and M clock processes (README, "Install").
# The base is a build argument so the image can be built where no registry is reachable: the test
# (tests/test_container.py) builds it on a Debian base made locally with debootstrap.
ARG BASE_IMAGE=python:3.11-slim

# --- build: a virtual environment with the dependencies, then ladderbot itself ---------------------------
FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
# The dependencies first, read from pyproject.toml: this layer is rebuilt only when they change
COPY pyproject.toml ./
RUN python3 -m venv /opt/venv \
 && python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt \
 && /opt/venv/bin/pip install --quiet --upgrade pip \
 && /opt/venv/bin/pip install --quiet -r /tmp/requirements.txt
COPY . ./
# Installed in place (editable, no dependencies): ladderbot finds content/, migrations/ and manifest.yml
# beside its code in /app, as it does in a checkout
RUN /opt/venv/bin/pip install --quiet --no-deps -e . \
 && rm -rf /app/build \
 && /opt/venv/bin/python -m compileall -q /app/bot /app/handlers /app/migrations

# --- runtime: the same base, the virtual environment and the code, nothing to build with ----------------
FROM ${BASE_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=3000 \
    LOG_FORMAT=json \
    MPLCONFIGDIR=/tmp/matplotlib
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home --shell /usr/sbin/nologin ladderbot
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=root:root /app /app
# data/ holds the SQLite file when DATABASE_URL is not set (a volume keeps it); PostgreSQL needs nothing here
RUN mkdir -p /app/data && chown ladderbot:ladderbot /app/data
WORKDIR /app
USER ladderbot
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"]
ENTRYPOINT ["ladderbot"]
CMD ["serve"]
