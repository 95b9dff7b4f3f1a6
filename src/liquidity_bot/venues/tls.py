"""TLS for every connection to the exchange: always verified, with an optional extra CA.

Real Bitrue is HTTPS and WSS only. Certificates and host names are always checked (Python's
default context); ``ca_file`` (``[bitrue] ca_file`` in the config, or the standard
``SSL_CERT_FILE``) adds a CA to trust on top of the system's, for the simulator or a private
endpoint. A certificate that is not accepted is a configuration problem, never a transient one:
callers raise ``CertificateRejected`` and do not retry.

``throwaway_ca`` makes a private CA and a server certificate signed by it (the ``demo --tls``
and the tests' simulator); it uses ``cryptography``, the project's crypto library already.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import os
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

TLS_REJECTED_HELP = (
    "Check the host name in the URL; for the simulator or a private endpoint, trust its CA with "
    "ca_file in the [bitrue] table of the config (or SSL_CERT_FILE)."
)


class TlsConfigError(ValueError):
    """A ``ca_file`` that cannot be used; the message says which file and why."""


def client_context(ca_file: str | None = None) -> ssl.SSLContext:
    """A verifying client context: the system's CAs (or ``SSL_CERT_FILE``) plus ``ca_file``
    (one per file and environment: contexts are shared, building one reads the CA bundle)."""
    return _context(ca_file, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=16)
def _context(ca_file: str | None, _env_file: str | None, _env_dir: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if ca_file:
        path = Path(ca_file)
        if not path.is_file():
            raise TlsConfigError(f"ca_file {ca_file}: no such file (a PEM CA certificate)")
        try:
            ctx.load_verify_locations(cafile=str(path))
        except (ssl.SSLError, OSError) as exc:
            raise TlsConfigError(
                f"ca_file {ca_file}: not a usable PEM CA certificate ({exc})"
            ) from None
    return ctx


def is_certificate_error(exc: BaseException) -> bool:
    """True for a certificate or host-name verification failure, however wrapped."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ssl.SSLCertVerificationError):
            return True
        if type(cur).__name__ == "ClientConnectorCertificateError":  # aiohttp's wrapper
            return True
        cur = cur.__cause__ or cur.__context__
    return False


@dataclass(frozen=True)
class TlsFiles:
    """A throw-away CA and a server certificate it signed (PEM files)."""

    ca_cert: Path
    cert: Path
    key: Path


def throwaway_ca(directory: Path, hosts: Iterable[str] = ("127.0.0.1", "localhost"),
                 *, days: int = 2) -> TlsFiles:
    """Write ``ca.pem``, ``server.pem`` and ``server-key.pem`` (0600) under ``directory``: a
    fresh CA whose private key is discarded, and a certificate for ``hosts`` signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "liquidity-bot throw-away CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    hosts = list(hosts)
    names: list[x509.GeneralName] = []
    for h in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            names.append(x509.DNSName(h))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    files.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(files.key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM,
                                   serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    return files
