"""Store connections over TLS with AUTH, as in AWS (ElastiCache in-transit encryption, an AUTH
token), against a real TLS server: Debian's redis-server is built with TLS (the embedded Valkey
is not). The test makes its own CA and a server certificate for `localhost`: a good connection
works, a wrong password fails at once with a clear error, and a certificate that does not name
the host (127.0.0.1) or does not chain to the trusted CA is refused. The same holds for a
cluster-mode client against a one-node TLS cluster that announces a host name, as ElastiCache
Serverless does (TLS only, cluster mode only)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from moto import mock_aws

from boltq_core import Queue, Settings
from boltq_core.errors import ConfigError
from boltq_core.secrets import forget_secrets
from boltq_core.store.connect import connect, connect_async, is_store_trouble
from boltq_core.store.failover import CertificateRefused

REDIS_SERVER = shutil.which("redis-server")
# the cluster announces a host name other than "localhost" (redis-py's cluster client swaps
# that one for 127.0.0.1, which the certificate does not name): this machine's own name
HOST = socket.gethostname()
PASSWORD = "tls-test-auth-token-0123456789"

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server (built with TLS)")


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert(subject: str, key: Any, issuer: x509.Name | None, issuer_key: Any,
          san: list[x509.GeneralName] | None, ca: bool) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer or name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            encipher_only=False, decipher_only=False), critical=True)
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName(san or []), critical=False)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer_key.public_key()), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass
class TlsServer:
    port: int
    ca_file: Path  # the CA that signed the server's certificate
    other_ca_file: Path  # a CA that did not
    host: str = "localhost"  # a name its certificate covers

    def url(self, host: str | None = None) -> str:
        return f"rediss://{host or self.host}:{self.port}/0"

    def settings(self, host: str | None = None, **kw: Any) -> Settings:
        values: dict[str, Any] = {"redis_url": self.url(host), "redis_password": PASSWORD,
                                  "redis_tls_ca_file": str(self.ca_file),
                                  "store_retry_seconds": 0.5, "key_prefix": "tls-test"}
        values.update(kw)
        return Settings(**values)


def _free_port() -> int:
    """A free port whose cluster bus port (+10000) is free too."""
    for _ in range(100):
        port = random.randint(20000, 45000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
            return port
        except OSError:
            continue
    raise AssertionError("no free port pair")


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    d = tmp_path_factory.mktemp("tls")
    ca_key, other_key, server_key = _key(), _key(), _key()
    ca = _cert("BoltQ test CA", ca_key, None, ca_key, None, ca=True)
    other = _cert("Someone else's CA", other_key, None, other_key, None, ca=True)
    # the server's certificate names localhost (and this host) only: connecting to 127.0.0.1
    # must be refused
    names = [x509.DNSName(n) for n in dict.fromkeys(["localhost", HOST])]
    server = _cert("localhost", server_key, ca.subject, ca_key, names, ca=False)
    files = {"ca.pem": ca.public_bytes(serialization.Encoding.PEM),
             "other-ca.pem": other.public_bytes(serialization.Encoding.PEM),
             "server.pem": server.public_bytes(serialization.Encoding.PEM),
             "server.key": _pem(server_key)}
    for name, data in files.items():
        (d / name).write_bytes(data)
    with _redis_server(d, []) as port:
        yield TlsServer(port, d / "ca.pem", d / "other-ca.pem")


@contextlib.contextmanager
def _redis_server(d: Path, extra: list[str]) -> Iterator[int]:
    """redis-server on a TLS port only (certificates in `d`), with AUTH; yields its port."""
    port = _free_port()
    proc = subprocess.Popen(
        [str(REDIS_SERVER), "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(d / "server.pem"), "--tls-key-file", str(d / "server.key"),
         "--tls-ca-cert-file", str(d / "ca.pem"), "--tls-auth-clients", "no",
         "--requirepass", PASSWORD, "--save", "", "--appendonly", "no", "--dir", str(d),
         *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        end = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > end:
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    pytest.fail(f"redis-server did not start with TLS: {out[-2000:]}")
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()


def test_a_tls_connection_with_auth_works(tls_server: TlsServer) -> None:
    client = connect(tls_server.settings())
    try:
        assert client.ping() is True
        assert issubclass(client.connection_pool.connection_class, redis.SSLConnection)
        # the whole queue works over it
        q = Queue(tls_server.settings(key_prefix="tls-queue"))
        job = q.submit({"type": "echo", "data": {"over": "tls"}})
        assert q.get(job.job_id).status == "pending"
        q.redis.close()
    finally:
        client.close()


def test_the_asyncio_client_uses_tls_too(tls_server: TlsServer) -> None:
    async def main() -> None:
        client = connect_async(tls_server.settings())
        try:
            assert await client.ping() is True
        finally:
            await client.aclose()

    asyncio.run(main())


def test_a_plain_connection_to_the_tls_port_fails(tls_server: TlsServer) -> None:
    client = connect(tls_server.settings(redis_url=f"redis://localhost:{tls_server.port}/0"))
    try:
        with pytest.raises(redis.ConnectionError):
            client.ping()
    finally:
        client.close()


def test_a_wrong_password_fails_at_once_with_a_clear_error(tls_server: TlsServer) -> None:
    for password in ("wrong-token", None):
        client = connect(tls_server.settings(redis_password=password, store_retry_seconds=5))
        try:
            start = time.monotonic()
            with pytest.raises((redis.AuthenticationError, redis.ResponseError)) as err:
                client.ping()
            # not mistaken for an outage: no 5 s of retries
            assert time.monotonic() - start < 2
            text = str(err.value).lower()
            assert "password" in text or "auth" in text, text
        finally:
            client.close()


def _refused_at_once(settings: Settings) -> str:
    """The error a sync and an asyncio client meet: refused, and not retried as an outage."""
    client = connect(settings)
    try:
        start = time.monotonic()
        with pytest.raises(CertificateRefused) as err:
            client.ping()
        assert time.monotonic() - start < 2  # store_retry_seconds is 5
        assert not is_store_trouble(err.value)
    finally:
        client.close()

    async def main() -> None:
        client = connect_async(settings)
        try:
            with pytest.raises(CertificateRefused):
                await client.ping()
        finally:
            await client.aclose()

    asyncio.run(main())
    return str(err.value)


def test_a_certificate_for_another_host_is_refused(tls_server: TlsServer) -> None:
    text = _refused_at_once(tls_server.settings(host="127.0.0.1", store_retry_seconds=5))
    assert "certificate" in text and "127.0.0.1" in text, text


def test_a_certificate_of_an_untrusted_ca_is_refused(tls_server: TlsServer) -> None:
    for ca in (str(tls_server.other_ca_file), None):  # another CA; the system's CAs
        text = _refused_at_once(tls_server.settings(redis_tls_ca_file=ca, store_retry_seconds=5))
        assert "certificate verify failed" in text.lower(), text


def test_the_auth_token_comes_from_secrets_manager(tls_server: TlsServer,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """As deployed: the environment names the secret's ARN, the token is read at start."""
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    forget_secrets()
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name="us-east-1")
        arn = sm.create_secret(Name="boltq-redis-auth", SecretString=PASSWORD)["ARN"]
        env = {"REDIS_URL": tls_server.url(), "REDIS_AUTH_TOKEN_SECRET_ARN": arn,
               "REDIS_TLS_CA_FILE": str(tls_server.ca_file), "REDIS_CLUSTER": "false"}
        settings = Settings.from_env(env)
        assert settings.redis_password == PASSWORD
        client = connect(settings)
        try:
            assert client.ping() is True
        finally:
            client.close()
        # a secret that cannot be read stops the start with a message naming the variable
        with pytest.raises(ConfigError, match=r"REDIS_AUTH_TOKEN_SECRET_ARN.*ResourceNotFound"):
            Settings.from_env({**env, "REDIS_AUTH_TOKEN_SECRET_ARN": arn[:-6] + "XXXXXX"})
    forget_secrets()


@pytest.fixture(scope="module")
def tls_cluster(tls_server: TlsServer) -> Iterator[TlsServer]:
    """A one-node cluster on TLS only that announces a host name, as ElastiCache Serverless
    does (TLS only, cluster mode only): the client's slot map names HOST, which the
    certificate covers."""
    try:
        local = socket.gethostbyname(HOST).startswith("127.")
    except OSError:
        local = False
    if not local:
        pytest.skip(f"this host's name {HOST!r} does not resolve to a loopback address")
    d = tls_server.ca_file.parent / "cluster"
    d.mkdir()
    for name in ("ca.pem", "server.pem", "server.key"):
        (d / name).write_bytes((tls_server.ca_file.parent / name).read_bytes())
    flags = ["--cluster-enabled", "yes", "--cluster-config-file", str(d / "nodes.conf"),
             "--tls-cluster", "yes", "--cluster-announce-hostname", HOST,
             "--cluster-preferred-endpoint-type", "hostname"]
    with _redis_server(d, flags) as port:
        node = redis.Redis(host=HOST, port=port, password=PASSWORD, ssl=True,
                           ssl_ca_certs=str(tls_server.ca_file))
        node.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
        end = time.monotonic() + 10
        while node.cluster("info").get("cluster_state") != "ok":
            assert time.monotonic() < end, "the one-node cluster did not come up"
            time.sleep(0.05)
        node.close()
        yield TlsServer(port, tls_server.ca_file, tls_server.other_ca_file, HOST)


def test_a_cluster_mode_store_over_tls_with_auth(tls_cluster: TlsServer) -> None:
    settings = tls_cluster.settings(redis_cluster=True, key_prefix="tls-cluster")
    q = Queue(settings)
    try:
        job = q.submit({"type": "echo", "data": {"over": "tls+cluster"}})
        assert q.get(job.job_id).status == "pending"
        for node in q.redis.get_nodes():
            assert node.host == HOST
            assert issubclass(node.redis_connection.connection_pool.connection_class,
                              redis.SSLConnection)
    finally:
        q.redis.close()

    async def main() -> None:
        client = connect_async(settings)
        try:
            assert await client.ping() is True
        finally:
            await client.aclose()

    asyncio.run(main())


def test_a_cluster_client_refuses_a_wrong_host_and_a_wrong_password(
        tls_cluster: TlsServer) -> None:
    refused = (redis.RedisError, redis.exceptions.RedisClusterException)
    with pytest.raises(refused) as err:
        connect(tls_cluster.settings(host="127.0.0.1", redis_cluster=True)).ping()
    assert "certificate" in str(err.value).lower() or "mismatch" in str(err.value).lower(), err
    with pytest.raises(refused) as err:
        connect(tls_cluster.settings(redis_cluster=True, redis_password="wrong")).ping()
    assert "password" in str(err.value).lower() or "auth" in str(err.value).lower(), err
