"""The tls= option: a CA bundle, and a client certificate for mutual TLS,
against heraldd serving TLS with openssl-made certificates."""

from __future__ import annotations

import pathlib
import shutil
import subprocess

import pytest

import herald
from herald import errors

from conftest import Heraldd

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI missing")


def openssl(*args: str, cwd: pathlib.Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate."""
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=herald sdk test CA", "-keyout", "ca.key", "-out", "ca.pem", cwd=d)
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
                      ("client", "extendedKeyUsage=clientAuth")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)
        (d / f"{name}.ext").write_text(ext + "\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "1", "-extfile", f"{name}.ext",
                "-out", f"{name}.pem", cwd=d)
    return d


def test_tls_with_a_ca_bundle(pki: pathlib.Path) -> None:
    server = Heraldd(extra_args=[f"--tls_cert_file={pki}/server.pem",
                                 f"--tls_key_file={pki}/server.key"])
    try:
        tls = herald.TLS.from_files(ca_file=str(pki / "ca.pem"))
        with herald.Client(server.address, token=server.admin_token, tls=tls) as client:
            assert client.get_server_info().caller.name == "bootstrap-admin"
        # The name checked can be overridden (the certificate also names localhost).
        port = server.address.rsplit(":", 1)[1]
        with herald.Client(f"127.0.0.1:{port}", token=server.admin_token,
                           tls=herald.TLS(root_certificates=(pki / "ca.pem").read_bytes(),
                                          server_name="localhost")) as client:
            assert client.list_event_types().event_types
        for tls_option in (None, True):  # plaintext; the system's roots only
            with herald.Client(server.address, token=server.admin_token, tls=tls_option,
                               timeout=3, retry=herald.NO_RETRY) as client:
                with pytest.raises(errors.Unavailable):
                    client.get_server_info()
    finally:
        assert server.stop() == 0


def test_mutual_tls(pki: pathlib.Path) -> None:
    server = Heraldd(extra_args=[f"--tls_cert_file={pki}/server.pem",
                                 f"--tls_key_file={pki}/server.key",
                                 f"--tls_client_ca_file={pki}/ca.pem"])
    try:
        tls = herald.TLS.from_files(ca_file=str(pki / "ca.pem"),
                                    cert_file=str(pki / "client.pem"),
                                    key_file=str(pki / "client.key"))
        with herald.Client(server.address, token=server.admin_token, tls=tls) as client:
            assert client.get_server_info().caller.name == "bootstrap-admin"
        without = herald.TLS.from_files(ca_file=str(pki / "ca.pem"))
        with herald.Client(server.address, token=server.admin_token, tls=without,
                           timeout=3, retry=herald.NO_RETRY) as client:
            with pytest.raises(errors.Unavailable):
                client.get_server_info()
        with pytest.raises(ValueError):
            herald.TLS.from_files(cert_file=str(pki / "client.pem"))
    finally:
        assert server.stop() == 0
