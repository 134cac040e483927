"""heraldd's gRPC listener over TLS and mutual TLS, with certificates made
by the openssl CLI and the real grpcurl as the client."""

import subprocess

import pytest

from conftest import Heraldd, grpcurl_path


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def pki(tmp_path):
    """A CA, a server certificate for 127.0.0.1 and a client certificate."""
    d = tmp_path
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=herald test CA", "-keyout", "ca.key", "-out", "ca.pem",
            cwd=d)
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
                      ("client", "extendedKeyUsage=clientAuth")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)
        (d / f"{name}.ext").write_text(ext + "\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey",
                "ca.key", "-CAcreateserial", "-days", "1", "-extfile",
                f"{name}.ext", "-out", f"{name}.pem", cwd=d)
    return d


def grpcurl(*args):
    return subprocess.run([grpcurl_path(), "-connect-timeout", "3", *args],
                          capture_output=True,
                          text=True, timeout=30)


def test_tls_listener(pki):
    server = Heraldd(extra_args=[f"--tls_cert_file={pki}/server.pem",
                                 f"--tls_key_file={pki}/server.key"])
    try:
        ok = grpcurl("-cacert", str(pki / "ca.pem"), server.address, "list")
        assert ok.returncode == 0, ok.stderr
        assert "herald.v1.PolicyService" in ok.stdout
        token = server.admin_token
        info = grpcurl("-cacert", str(pki / "ca.pem"), "-H",
                       f"authorization: Bearer {token}", "-d", "{}",
                       server.address, "herald.v1.AdminService/GetServerInfo")
        assert info.returncode == 0, info.stderr
        assert "bootstrap-admin" in info.stdout
        plain = grpcurl("-plaintext", server.address, "list")
        assert plain.returncode != 0
        untrusted = grpcurl(server.address, "list")  # system roots only
        assert untrusted.returncode != 0
    finally:
        assert server.stop() == 0


def test_mutual_tls_requires_a_client_certificate(pki):
    server = Heraldd(extra_args=[f"--tls_cert_file={pki}/server.pem",
                                 f"--tls_key_file={pki}/server.key",
                                 f"--tls_client_ca_file={pki}/ca.pem"])
    try:
        with_cert = grpcurl("-cacert", str(pki / "ca.pem"), "-cert",
                            str(pki / "client.pem"), "-key",
                            str(pki / "client.key"), server.address, "list")
        assert with_cert.returncode == 0, with_cert.stderr
        without = grpcurl("-cacert", str(pki / "ca.pem"), server.address, "list")
        assert without.returncode != 0
    finally:
        assert server.stop() == 0
