"""A SASL_SSL listener for the test broker: the shape of Azure Event Hubs, Confluent Cloud and
MSK (TLS, SASL PLAIN users, ACLs), so the tool is tried against a secured cluster, not only
configured for one.

The CA and the broker's certificate are made here with `openssl` (a throwaway CA per broker,
valid for a few days); the broker reads a PKCS12 keystore and trusts the CA from PEM. Users
are PLAIN users in the listener's JAAS config; the admin user is a super user, everyone else
may do only what ACLs grant (Kafka's StandardAuthorizer, nothing allowed without an ACL).
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ADMIN_USER = "admin"
LISTENER = "SASL_SSL"
_CERT_DAYS = "7"


class CertificateError(Exception):
    """openssl could not make the CA or the broker's certificate; the message says why."""


@dataclass(frozen=True)
class SecuredListener:
    """What the broker needs for its SASL_SSL listener, and what a client needs to use it."""

    ca_file: Path  # PEM: the CA that signed the broker's certificate
    keystore: Path  # PKCS12: the broker's key and certificate chain
    keystore_password: str = field(repr=False)
    users: Mapping[str, str] = field(repr=False)  # PLAIN user -> password, the admin included

    def client_config(self, user: str, password: str | None = None) -> dict[str, Any]:
        """librdkafka properties for `user` (with `password`, else the user's own)."""
        return {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "PLAIN",
            "sasl.username": user,
            "sasl.password": self.users[user] if password is None else password,
            "ssl.ca.location": str(self.ca_file),
        }

    def admin_config(self) -> dict[str, Any]:
        return self.client_config(ADMIN_USER)

    def server_properties(self, port: int, controller_port: int) -> str:
        """The listener lines of server.properties (replacing the plain listener's)."""
        admin_password = self.users[ADMIN_USER]
        jaas_users = " ".join(f'user_{name}="{_quoted(pw)}"' for name, pw in self.users.items())
        jaas = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{ADMIN_USER}" password="{_quoted(admin_password)}" {jaas_users};'
        )
        return f"""listeners={LISTENER}://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners={LISTENER}://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name={LISTENER}
listener.security.protocol.map=CONTROLLER:PLAINTEXT,{LISTENER}:{LISTENER}
sasl.enabled.mechanisms=PLAIN
sasl.mechanism.inter.broker.protocol=PLAIN
listener.name.{LISTENER.lower()}.plain.sasl.jaas.config={jaas}
ssl.keystore.type=PKCS12
ssl.keystore.location={self.keystore}
ssl.keystore.password={self.keystore_password}
ssl.key.password={self.keystore_password}
ssl.truststore.type=PEM
ssl.truststore.location={self.ca_file}
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
# The broker registers with its own controller over the controller listener (PLAINTEXT on
# 127.0.0.1, never given to clients), where it is the anonymous principal.
super.users=User:{ADMIN_USER};User:ANONYMOUS
"""


def make_secured_listener(directory: Path, users: Mapping[str, str]) -> SecuredListener:
    """A CA, a broker certificate for 127.0.0.1 signed by it, and a PKCS12 keystore, all in
    `directory`; `users` (name -> password) become PLAIN users beside a generated admin."""
    if ADMIN_USER in users:
        raise ValueError(f"{ADMIN_USER!r} is the broker's own super user")
    openssl = shutil.which("openssl")
    if openssl is None:
        raise CertificateError("openssl is not on PATH: it makes the test CA and certificate")
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_file = directory / "ca.key", directory / "ca.pem"
    key, csr, cert = directory / "broker.key", directory / "broker.csr", directory / "broker.pem"
    extensions = directory / "broker.ext"
    extensions.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    keystore, password = directory / "broker.p12", secrets.token_urlsafe(18)
    ca = ["-CA", str(ca_file), "-CAkey", str(ca_key), "-CAcreateserial"]
    steps = [
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out",
         str(ca_file), "-days", _CERT_DAYS, "-subj", "/CN=dlq-dashboard test CA"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
         "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", str(csr), *ca, "-out", str(cert), "-days", _CERT_DAYS,
         "-extfile", str(extensions)],
        ["pkcs12", "-export", "-in", str(cert), "-inkey", str(key), "-certfile", str(ca_file),
         "-name", "broker", "-out", str(keystore), "-passout", "env:DLQ_KEYSTORE_PASSWORD"],
    ]  # fmt: skip
    for step in steps:
        done = subprocess.run(
            [openssl, *step],
            capture_output=True,
            text=True,
            check=False,
            env={"DLQ_KEYSTORE_PASSWORD": password},  # never on a command line
        )
        if done.returncode != 0:
            raise CertificateError(f"openssl {step[0]} failed: {done.stderr.strip()[-400:]}")
    return SecuredListener(
        ca_file, keystore, password, {ADMIN_USER: secrets.token_urlsafe(18), **users}
    )


def _quoted(value: str) -> str:
    """`value` inside a JAAS double-quoted string."""
    return value.replace("\\", "\\\\").replace('"', '\\"')
