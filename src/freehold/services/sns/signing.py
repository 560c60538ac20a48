"""The key SNS signs its messages with, and the certificate freehold serves for it.

https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html
SNS signs a canonical string built from some of the message's fields (their names and values
on alternate lines, in a fixed order), SignatureVersion 1 with SHA1withRSA, version 2 with
SHA256withRSA, and puts the base64 signature in `Signature` and the certificate's address in
`SigningCertURL`. freehold generates one RSA key and a self-signed certificate the first time
it is needed, keeps both in SQL (so every node and every restart signs with the same key) and
serves the certificate at /_freehold/sns/SimpleNotificationService-freehold.pem.
"""

from __future__ import annotations

import base64
import datetime
import threading
from dataclasses import dataclass
from typing import Any

# `cryptography` is imported where it is used: a node that never signs a message (most
# start-ups) does not pay for loading it.

CERT_FILE = "SimpleNotificationService-freehold.pem"
CERT_PATH = f"/_freehold/sns/{CERT_FILE}"
RECENT_SIGNATURES = 256

# The fields each message type signs, in the order AWS concatenates them.
NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")


def string_to_sign(message: dict[str, Any]) -> str:
    """The canonical text SNS signs for a message envelope (Subject only when present)."""
    fields = NOTIFICATION_FIELDS if message.get("Type") == "Notification" else CONFIRMATION_FIELDS
    parts: list[str] = []
    for name in fields:
        value = message.get(name)
        if value is None:
            continue
        parts.append(f"{name}\n{value}\n")
    return "".join(parts)


@dataclass(frozen=True)
class KeyMaterial:
    key_pem: str
    cert_pem: str


def generate() -> KeyMaterial:
    """A new 2048-bit RSA key and a ten-year self-signed certificate for it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "freehold"),
        x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com"),
    ])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("sns.amazonaws.com")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return KeyMaterial(key_pem, cert.public_bytes(serialization.Encoding.PEM).decode())


class Signer:
    """Signs envelopes with the stored key."""

    def __init__(self, material: KeyMaterial) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.material = material
        loaded = serialization.load_pem_private_key(material.key_pem.encode(), password=None)
        assert isinstance(loaded, rsa.RSAPrivateKey)
        self._key = loaded
        self._lock = threading.Lock()
        self._recent: dict[tuple[str, str], str] = {}  # (version, signed text) -> signature, oldest first

    def sign(self, message: dict[str, Any], version: str) -> str:
        """The base64 signature of an envelope. The signed fields do not name the subscription,
        so a message fanned out to many subscriptions is signed once (an RSA signature costs
        about a millisecond); the last few signatures are kept for that."""
        text = string_to_sign(message)
        key = (version, text)
        with self._lock:
            cached = self._recent.get(key)
        if cached is not None:
            return cached
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        algorithm: hashes.HashAlgorithm = hashes.SHA256() if version == "2" else hashes.SHA1()
        signature = base64.b64encode(self._key.sign(text.encode(), padding.PKCS1v15(), algorithm)).decode()
        with self._lock:
            self._recent[key] = signature
            while len(self._recent) > RECENT_SIGNATURES:
                del self._recent[next(iter(self._recent))]
        return signature
