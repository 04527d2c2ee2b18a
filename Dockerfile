# Custody: the agent (`agent.py run`) in a container.
#
# Build on a host with a registry:   docker build -t custody .
# Build without a Docker engine or a registry (buildah; see README "Deploy" and docs/deploy.md):
#   buildah --storage-driver vfs bud --pull=never --isolation chroot --format docker --layers \
#     --build-arg BASE=localhost/custody-base:bookworm \
#     -v /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro --build-arg PIP_CERT=/run/host-ca.crt \
#     -t localhost/custody:latest .
#
# BASE must provide python3 (>= 3.11) with its venv module: python:3.12-slim does, and so does the
# Debian base the container test builds with debootstrap (python3, python3-venv, ca-certificates).
# The same BASE serves both stages, so the virtualenv built in the first runs in the second.
#
# Runtime contract: runs as uid/gid 10001; the root filesystem can be read-only; the only writes go
# to the /data volume (state database, HOME; temporary files fall back to /data when /tmp is not
# writable). Config: /etc/custody/custody.yaml (mount your own over it). Health: GET /healthz.
ARG BASE=python:3.12-slim

# Every instruction is a layer, and on the vfs storage driver (used where overlay mounts are not
# available) each layer is a full copy of the filesystem, so instructions are few and ordered by how
# often they change: base setup and metadata first, dependencies next, the application last.

# ---- build: a virtualenv with the pinned dependencies, and the byte-compiled application -------
FROM ${BASE} AS build
# A CA bundle for pip behind a TLS-intercepting proxy, given as a build-time mount only:
#   -v /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro --build-arg PIP_CERT=/run/host-ca.crt
# It is read by pip in this stage and never copied into the image.
ARG PIP_CERT=""
# Dependencies first (this layer is reused until pyproject.toml or constraints.txt changes):
# the project's runtime dependencies from pyproject.toml, every version pinned by constraints.txt.
COPY pyproject.toml constraints.txt /src/
RUN if [ -z "${PIP_CERT}" ]; then unset PIP_CERT; fi \
 && export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
      PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 \
 && python3 -m venv /opt/venv \
 && python3 -c "import tomllib; print(*tomllib.load(open('/src/pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
      > /src/requirements.txt \
 && /opt/venv/bin/pip install --no-cache-dir --no-compile --constraint /src/constraints.txt --requirement /src/requirements.txt \
 && /opt/venv/bin/pip check \
 && /opt/venv/bin/python -m compileall -q -j 0 /opt/venv
# The agent's user and its /data directory, prepared here and copied into the runtime stage, which
# then needs no RUN (so a build-time mount never leaves even an empty mount point in the image);
# /etc/mtab as Debian links it (a minimal base may lack it, and a container engine would then create
# it in the container's own layer at start).
RUN groupadd --gid 10001 custody \
 && useradd --no-log-init --uid 10001 --gid 10001 --home-dir /data --no-create-home --shell /usr/sbin/nologin custody \
 && mkdir -p /rootfs/etc /rootfs/data \
 && cp -p /etc/passwd /etc/group /rootfs/etc/ \
 && ln -s ../proc/self/mounts /rootfs/etc/mtab
# The application: only what .dockerignore lets through (agent.py and the runtime packages).
COPY . /src/app
RUN rm -rf /src/app/deploy \
 && /opt/venv/bin/python -m compileall -q -j 0 /src/app

# ---- runtime ---------------------------------------------------------------------------------
FROM ${BASE} AS runtime
COPY --from=build /rootfs/etc/ /etc/
COPY --from=build --chown=10001:10001 /rootfs/data/ /data/
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 \
    HOME=/data \
    TMPDIR=/data/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CUSTODY_HEALTHCHECK_URL=http://127.0.0.1:8080/healthz
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
USER 10001:10001
# No curl in a slim base: the image's own Python asks /healthz (set CUSTODY_HEALTHCHECK_URL when
# agent.listen is not port 8080).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/opt/venv/bin/python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['CUSTODY_HEALTHCHECK_URL'], timeout=4)"]
ENTRYPOINT ["/opt/venv/bin/python", "/app/agent.py"]
CMD ["run", "--config", "/etc/custody/custody.yaml"]
# Owned by root and read-only for the agent's user.
COPY --from=build /opt/venv /opt/venv
COPY --from=build /src/app /app
COPY deploy/custody.yaml /etc/custody/custody.yaml
ARG BASE VERSION=0.1.0 REVISION=unknown CREATED=unknown
LABEL org.opencontainers.image.title="Custody" \
      org.opencontainers.image.description="Data-residency compliance scanner: where every copy of your cloud data lives, who controls it, and which governments can compel it." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.documentation="docs/deploy.md" \
      org.opencontainers.image.base.name="${BASE}"
