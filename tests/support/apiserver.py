"""A real kube-apiserver with a real etcd on loopback ports, for tests ("envtest" style).

No nodes and no controllers: CRDs, schema and CEL validation, the status subresource,
server-side apply, watches, RBAC, ValidatingAdmissionPolicies and the TokenRequest API are
real; nothing garbage-collects, finishes a namespace's deletion or runs pods.

The binaries are built once from their Go modules by ``hack/build-test-cluster.sh`` (pinned in
``hack/test-cluster/go.mod``) and cached under ``~/.cache/airoute/test-cluster/<version>/bin``.
``KUBEBUILDER_ASSETS`` (the envtest convention: a folder holding ``kube-apiserver`` and
``etcd``) takes precedence when set.

Typical use (``tests/integration/conftest.py`` wraps this in a session fixture)::

    with TestCluster(binaries_available() or build_binaries()) as cluster:
        cluster.kubectl("get", "namespaces")
        kubeconfig = cluster.service_account_kubeconfig("airoute-system", "airoute-controller")

This module needs ``cryptography`` and the ``kubectl`` command; it never reads ``~/.kube``.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import ipaddress
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from tests.support.net import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "hack" / "build-test-cluster.sh"
GO_MODULE = REPO_ROOT / "hack" / "test-cluster" / "go.mod"
# The CRDs installed at start; AIROUTE_TEST_CRDS_DIR points elsewhere ("" for none).
CRDS_DIR = REPO_ROOT / "crds"
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"

SKIP_REASON = (
    "the test API server is not built: run `hack/build-test-cluster.sh` (or `make test-cluster`); "
    "it builds kube-apiserver and etcd from their Go modules (needs Go and the Go module proxy, "
    "several minutes the first time)"
)

SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
FIELD_MANAGER = "airoute-tests"


class TestClusterError(RuntimeError):
    """The test API server could not be built, started or used."""

    __test__ = False  # not a pytest test class


# --------------------------------------------------------------------------- binaries


def pinned_versions() -> dict[str, str]:
    """The Kubernetes and etcd versions pinned in hack/test-cluster/go.mod."""
    versions: dict[str, str] = {}
    for line in GO_MODULE.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "k8s.io/kubernetes":
            versions.setdefault("kubernetes", fields[1])
        elif len(fields) >= 2 and fields[0] == "go.etcd.io/etcd/server/v3":
            versions.setdefault("etcd", fields[1])
    return versions


def cache_dir() -> Path:
    """Where hack/build-test-cluster.sh keeps its builds (same rules as the script)."""
    if os.environ.get("AIROUTE_TEST_CLUSTER_CACHE"):
        return Path(os.environ["AIROUTE_TEST_CLUSTER_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "airoute" / "test-cluster"


def _complete(bin_dir: Path) -> bool:
    return all(os.access(bin_dir / name, os.X_OK) for name in ("kube-apiserver", "etcd"))


def binaries_available() -> Path | None:
    """The folder holding kube-apiserver and etcd if they are built, else None. Fast."""
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if assets and _complete(Path(assets)):
        return Path(assets)
    try:
        versions = pinned_versions()
    except OSError:
        return None
    bin_dir = cache_dir() / versions.get("kubernetes", "unknown") / "bin"
    stamp = f"kubernetes {versions.get('kubernetes')} etcd {versions.get('etcd')}"
    try:
        if _complete(bin_dir) and (bin_dir / "VERSION").read_text().strip() == stamp:
            return bin_dir
    except OSError:
        pass
    return None


def build_binaries(stderr: Any = None, timeout: float = 3600) -> Path:
    """Runs hack/build-test-cluster.sh (a no-op when already built); returns the bin folder.

    Progress goes to ``stderr`` (a file object; default: inherited). Raises TestClusterError
    with the reason when building is impossible (no Go, no module proxy, compile error).
    """
    if not BUILD_SCRIPT.exists():
        raise TestClusterError(f"{BUILD_SCRIPT} is missing")
    try:
        done = subprocess.run(
            ["bash", str(BUILD_SCRIPT)],
            stdout=subprocess.PIPE,
            stderr=stderr if stderr is not None else None,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TestClusterError(f"{BUILD_SCRIPT.name} could not run: {exc}") from exc
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines or not _complete(Path(lines[-1])):
        hint = "no Go toolchain" if done.returncode == 3 else "see the build output above"
        raise TestClusterError(
            f"{BUILD_SCRIPT.relative_to(REPO_ROOT)} failed (exit {done.returncode}, {hint}); "
            f"its log is under {cache_dir()}"
        )
    return Path(lines[-1])


# --------------------------------------------------------------------------- certificates


def _certificates(directory: Path) -> dict[str, Path]:
    """Serving CA + cert (SANs 127.0.0.1, localhost), client CA + admin cert (system:masters),
    and the service-account signing key pair. Writes PEM files; returns their paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    until = now + dt.timedelta(days=7)

    def key() -> ec.EllipticCurvePrivateKey:
        return ec.generate_private_key(ec.SECP256R1())

    def name(cn: str, org: str | None = None) -> x509.Name:
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        if org:
            attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
        return x509.Name(attrs)

    def ca(cn: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        k = key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(name(cn))
            .public_key(k.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(until)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(k.public_key()), critical=False)
            .sign(k, hashes.SHA256())
        )
        return cert, k

    def leaf(
        issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
        subject: x509.Name,
        usage: x509.ObjectIdentifier,
        sans: list[x509.GeneralName] | None = None,
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        k = key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer[0].subject)
            .public_key(k.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(until)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_encipherment=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    content_commitment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key()),
                critical=False,
            )
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return builder.sign(issuer[1], hashes.SHA256()), k

    serving_ca = ca("airoute-test-serving-ca")
    client_ca = ca("airoute-test-client-ca")
    serving = leaf(
        serving_ca,
        name("kube-apiserver"),
        ExtendedKeyUsageOID.SERVER_AUTH,
        [
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("10.0.0.1")),  # the `kubernetes` Service
            x509.DNSName("localhost"),
            x509.DNSName("kubernetes"),
            x509.DNSName("kubernetes.default"),
            x509.DNSName("kubernetes.default.svc"),
            x509.DNSName("kubernetes.default.svc.cluster.local"),
        ],
    )
    admin = leaf(client_ca, name("airoute-test-admin", "system:masters"), ExtendedKeyUsageOID.CLIENT_AUTH)
    sa_key = key()

    def cert_pem(cert: x509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(k: ec.EllipticCurvePrivateKey) -> bytes:
        return k.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    files = {
        "serving-ca.crt": cert_pem(serving_ca[0]),
        "client-ca.crt": cert_pem(client_ca[0]),
        "apiserver.crt": cert_pem(serving[0]),
        "apiserver.key": key_pem(serving[1]),
        "admin.crt": cert_pem(admin[0]),
        "admin.key": key_pem(admin[1]),
        "sa.key": key_pem(sa_key),
        "sa.pub": sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    }
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for filename, data in files.items():
        path = directory / filename
        path.write_bytes(data)
        path.chmod(0o600)
        paths[filename] = path
    return paths


# --------------------------------------------------------------------------- processes


def _prctl() -> Any:
    """libc's prctl, looked up in the parent (nothing may be imported between fork and exec)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _prctl()
_PR_SET_PDEATHSIG = 1


def _child_setup() -> None:  # runs in the child between fork and exec
    os.setsid()  # its own process group: stop() signals the whole group
    if _PRCTL is not None:
        # SIGKILL when the thread that started it dies, so nothing is orphaned even if pytest
        # itself is killed. Start clusters from a thread that lives as long as they should
        # (pytest's main thread does).
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)


class _Process:
    def __init__(self, name: str, argv: Sequence[str], log: Path, env: Mapping[str, str]):
        self.name = name
        self.log = log
        self._log_file = log.open("ab")
        self.popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=dict(env),
            preexec_fn=_child_setup,
        )

    def running(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def stop(self, timeout: float = 10) -> None:
        try:
            if self.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.popen.wait(timeout)
            # The group may hold more than the leader: make sure nothing is left.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(5)
        finally:
            self._log_file.close()


# --------------------------------------------------------------------------- the cluster


class TestCluster:
    """etcd + kube-apiserver on free loopback ports, with an admin kubeconfig.

    Attributes once started: ``kubeconfig`` (admin, client certificate in group
    system:masters), ``server`` (https URL), ``ca_file`` (the serving CA), ``workdir`` (logs,
    etcd data, kubeconfigs; removed by stop() unless ``keep`` / AIROUTE_KEEP_TEST_CLUSTER=1).
    ``crds_dir``: the CRDs installed at start; None means $AIROUTE_TEST_CRDS_DIR if set (empty:
    none), else the repository's crds/; False installs none.
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        bin_dir: Path,
        *,
        workdir: Path | None = None,
        crds_dir: Path | Literal[False] | None = None,
        extra_apiserver_args: Iterable[str] = (),
        start_timeout: float = 120,
        keep: bool | None = None,
        audit_policy: Mapping[str, Any] | None = None,
    ):
        self.bin_dir = Path(bin_dir)
        if crds_dir is None:  # the default: $AIROUTE_TEST_CRDS_DIR, else crds/
            override = os.environ.get("AIROUTE_TEST_CRDS_DIR")
            crds_dir = CRDS_DIR if override is None else (Path(override) if override else False)
        self.crds_dir: Path | None = Path(crds_dir) if crds_dir is not False else None
        self.extra_apiserver_args = list(extra_apiserver_args)
        self.start_timeout = start_timeout
        self.keep = bool(os.environ.get("AIROUTE_KEEP_TEST_CLUSTER")) if keep is None else keep
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="airoute-test-cluster-"))
        self.kubeconfig = self.workdir / "admin.kubeconfig"
        self.ca_file = self.workdir / "pki" / "serving-ca.crt"
        self.server = ""
        self.etcd_url = ""
        self._etcd: _Process | None = None
        self._apiserver: _Process | None = None
        self._pki: dict[str, Path] = {}
        self.audit_policy = audit_policy
        self.audit_log = self.workdir / "audit.log"
        """What the API server was asked to do, one JSON event a line (with ``audit_policy``)."""

    def pids(self) -> dict[str, int]:
        """The process ids of ``kube-apiserver`` and ``etcd`` (for measuring them)."""
        return {p.name: p.popen.pid for p in (self._apiserver, self._etcd) if p is not None}

    # ---------------------------------------------------------------- lifecycle

    def __enter__(self) -> TestCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> TestCluster:
        try:
            self._pki = _certificates(self.workdir / "pki")
            self._start_etcd()
            self._start_apiserver()
            self._write_admin_kubeconfig()
            if self.crds_dir is not None:
                self.install_crds(self.crds_dir)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stops kube-apiserver, then etcd, and removes their data. Safe to call twice."""
        for attr in ("_apiserver", "_etcd"):
            process = getattr(self, attr)
            if process is not None:
                process.stop()
                setattr(self, attr, None)
        if self._own_workdir and not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ETCD_", "KUBECONFIG"))}
        return env

    def _start_etcd(self, attempts: int = 3) -> None:
        for attempt in range(attempts):
            client, peer = free_port(), free_port()
            self.etcd_url = f"http://127.0.0.1:{client}"
            data = self.workdir / "etcd"
            shutil.rmtree(data, ignore_errors=True)
            self._etcd = _Process(
                "etcd",
                [
                    str(self.bin_dir / "etcd"),
                    "--name=airoute-test",
                    f"--data-dir={data}",
                    f"--listen-client-urls={self.etcd_url}",
                    f"--advertise-client-urls={self.etcd_url}",
                    f"--listen-peer-urls=http://127.0.0.1:{peer}",
                    f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                    f"--initial-cluster=airoute-test=http://127.0.0.1:{peer}",
                    "--initial-cluster-state=new",
                    "--unsafe-no-fsync",  # test data: speed over durability
                    "--log-level=warn",
                ],
                self.workdir / "etcd.log",
                self._env(),
            )
            if self._wait(self._etcd, lambda: self._http_ok(f"{self.etcd_url}/health"), 30):
                return
            if attempt + 1 < attempts and not self._etcd.running():
                self._etcd.stop()  # most likely a port taken in between: try others
                continue
            break
        raise TestClusterError(f"etcd did not become healthy:\n{self._etcd.tail() if self._etcd else ''}")

    def _start_apiserver(self, attempts: int = 3) -> None:
        pki = self._pki
        for attempt in range(attempts):
            port = free_port()
            self.server = f"https://127.0.0.1:{port}"
            argv = [
                str(self.bin_dir / "kube-apiserver"),
                "--advertise-address=127.0.0.1",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
                f"--cert-dir={self.workdir / 'apiserver-certs'}",
                f"--tls-cert-file={pki['apiserver.crt']}",
                f"--tls-private-key-file={pki['apiserver.key']}",
                f"--client-ca-file={pki['client-ca.crt']}",
                f"--etcd-servers={self.etcd_url}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--service-account-key-file={pki['sa.pub']}",
                f"--service-account-signing-key-file={pki['sa.key']}",
                "--authorization-mode=Node,RBAC",
                # No controller-manager here: nothing creates each namespace's `default`
                # ServiceAccount, which this plugin would require of every pod (as envtest).
                # ValidatingAdmissionPolicy and the other default plugins stay on.
                "--disable-admission-plugins=ServiceAccount",
                "--allow-privileged=true",
                "--profiling=false",
                "--v=1",
                *self._audit_args(),
                *self.extra_apiserver_args,
            ]
            self._apiserver = _Process("kube-apiserver", argv, self.workdir / "kube-apiserver.log", self._env())
            if self._wait(self._apiserver, lambda: self._http_ok(f"{self.server}/readyz"), self.start_timeout):
                return
            if (
                attempt + 1 < attempts
                and not self._apiserver.running()
                and "address already in use" in self._apiserver.tail()
            ):
                self._apiserver.stop()
                continue
            break
        tail = self._apiserver.tail(40) if self._apiserver else ""
        raise TestClusterError(f"kube-apiserver did not become ready within {self.start_timeout:.0f} s:\n{tail}")

    def _audit_args(self) -> list[str]:
        if self.audit_policy is None:
            return []
        policy = self.workdir / "audit-policy.json"
        policy.write_text(json.dumps(self.audit_policy))
        return [f"--audit-policy-file={policy}", f"--audit-log-path={self.audit_log}", "--audit-log-format=json"]

    def _wait(self, process: _Process, ready: Any, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not process.running():
                return False
            if ready():
                return True
            time.sleep(0.2)
        return False

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self._pki["serving-ca.crt"]))
        context.load_cert_chain(str(self._pki["admin.crt"]), str(self._pki["admin.key"]))
        return context

    def _http_ok(self, url: str) -> bool:
        context = self._ssl_context() if url.startswith("https:") else None
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError, ValueError):
            return False

    # ---------------------------------------------------------------- kubeconfigs

    def _write_kubeconfig(self, path: Path, user_name: str, user: dict[str, str], namespace: str = "default") -> Path:
        ca_data = base64.b64encode(self._pki["serving-ca.crt"].read_bytes()).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": "airoute-test", "cluster": {"server": self.server, "certificate-authority-data": ca_data}}
            ],
            "users": [{"name": user_name, "user": user}],
            "contexts": [
                {"name": user_name, "context": {"cluster": "airoute-test", "user": user_name, "namespace": namespace}}
            ],
            "current-context": user_name,
            "preferences": {},
        }
        # JSON is YAML: kubectl, helm, client-go and the Python clients all read it.
        path.write_text(json.dumps(config, indent=2) + "\n")
        path.chmod(0o600)
        return path

    def _write_admin_kubeconfig(self) -> None:
        def b64(name: str) -> str:
            return base64.b64encode(self._pki[name].read_bytes()).decode()

        self._write_kubeconfig(
            self.kubeconfig,
            "airoute-test-admin",
            {"client-certificate-data": b64("admin.crt"), "client-key-data": b64("admin.key")},
        )

    def service_account_kubeconfig(self, namespace: str, name: str, duration: str = "24h") -> Path:
        """Creates the namespace and ServiceAccount if needed, gets a token for it through the
        TokenRequest API and writes a kubeconfig that uses it. Returns the kubeconfig's path."""
        self.ensure_namespace(namespace)
        self.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}})
        token = self.kubectl("create", "token", name, "-n", namespace, f"--duration={duration}").stdout.strip()
        if not token:
            raise TestClusterError(f"no token returned for ServiceAccount {namespace}/{name}")
        path = self.workdir / "kubeconfigs" / f"{namespace}.{name}.kubeconfig"
        path.parent.mkdir(exist_ok=True)
        return self._write_kubeconfig(path, f"system:serviceaccount:{namespace}:{name}", {"token": token}, namespace)

    # ---------------------------------------------------------------- kubectl helpers

    def env(self, kubeconfig: Path | None = None) -> dict[str, str]:
        """os.environ with KUBECONFIG pointing at this cluster (for helm, the operator, …)."""
        env = dict(os.environ)
        env["KUBECONFIG"] = str(kubeconfig or self.kubeconfig)
        env["KUBECACHEDIR"] = str(self.workdir / "kube-cache")
        return env

    def kubectl(
        self,
        *args: str,
        check: bool = True,
        input: str | None = None,
        kubeconfig: Path | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        """Runs kubectl against this cluster (admin unless ``kubeconfig`` is given).

        Output is captured as text; with check=True a failure raises
        subprocess.CalledProcessError whose message includes kubectl's stderr."""
        argv = [KUBECTL, f"--kubeconfig={kubeconfig or self.kubeconfig}", *args]
        done = subprocess.run(
            argv,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(kubeconfig),
            check=False,
        )
        if check and done.returncode != 0:
            raise _KubectlError(done.returncode, argv, done.stdout, done.stderr)
        return done

    def apply(self, *objects: Mapping[str, Any]) -> subprocess.CompletedProcess[str]:
        """Server-side applies the given objects (dicts) as the admin."""
        items = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
        return self.kubectl(
            "apply",
            "--server-side",
            f"--field-manager={FIELD_MANAGER}",
            "--force-conflicts",
            "-f",
            "-",
            input=json.dumps(items),
        )

    def ensure_namespace(self, namespace: str) -> None:
        if self.kubectl("get", "namespace", namespace, "-o", "name", check=False).returncode != 0:
            self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})

    def install_crds(self, directory: Path, timeout: str = "60s") -> list[str]:
        """Applies every YAML/JSON file in ``directory`` (server-side) and waits for each CRD to be
        Established. A missing or empty folder is skipped. Returns the applied object names."""
        directory = Path(directory)
        files = (
            sorted(p for p in directory.glob("*") if p.is_file() and p.suffix in (".yaml", ".yml", ".json"))
            if directory.is_dir()
            else []
        )
        if not files:
            return []
        args = ["apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "--force-conflicts", "-o", "name"]
        for path in files:
            args += ["-f", str(path)]
        names = self.kubectl(*args).stdout.split()
        crds = [n for n in names if n.startswith("customresourcedefinition")]
        if crds:
            self.kubectl("wait", "--for=condition=Established", f"--timeout={timeout}", *crds)
        return names


class _KubectlError(subprocess.CalledProcessError):
    def __str__(self) -> str:
        command = " ".join(str(a) for a in self.cmd[2:])
        return f"kubectl {command} failed (exit {self.returncode}): {(self.stderr or '').strip()}"
