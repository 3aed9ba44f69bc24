"""A nats-server with decentralised authentication (operator mode), for the credentials-file
tests: an operator, one account with JetStream, and users whose ``.creds`` files are minted
here with nkeys, the way ``nsc`` would make them (JWTs signed with ed25519 nkeys)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import nkeys
import pytest

from .stack import free_port


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _keypair(prefix: int) -> Any:
    seed = nkeys.encode_seed(os.urandom(32), prefix)  # type: ignore[no-untyped-call]  # nkeys has no types
    return nkeys.from_seed(seed)  # type: ignore[no-untyped-call]


def _jwt(issuer: Any, subject: str, name: str, nats_claims: dict[str, Any]) -> str:
    claims: dict[str, Any] = {
        "iat": int(time.time()),
        "iss": issuer.public_key.decode(),
        "name": name,
        "sub": subject,
        "nats": {**nats_claims, "version": 2},
    }
    claims["jti"] = base64.b32encode(hashlib.sha256(json.dumps(claims, sort_keys=True).encode()).digest()).decode().rstrip("=")
    signing_input = _b64(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode()) + "." + _b64(json.dumps(claims).encode())
    return signing_input + "." + _b64(issuer.sign(signing_input.encode()))


UNLIMITED = {"subs": -1, "data": -1, "payload": -1}


class AuthNats:
    """A private nats-server in operator mode; :meth:`creds` mints a user of its one account."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.operator = _keypair(nkeys.PREFIX_BYTE_OPERATOR)
        self.account = _keypair(nkeys.PREFIX_BYTE_ACCOUNT)
        # JetStream needs a system account for its internal subscriptions.
        self.system = _keypair(nkeys.PREFIX_BYTE_ACCOUNT)
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def creds(self, name: str) -> str:
        """A credentials file for a new user called ``name``; returns its path."""
        user = _keypair(nkeys.PREFIX_BYTE_USER)
        token = _jwt(self.account, user.public_key.decode(), name, {"type": "user", "pub": {}, "sub": {}, **UNLIMITED})
        path = self.folder / f"{name}.creds"
        path.write_text(
            "-----BEGIN NATS USER JWT-----\n" + token + "\n------END NATS USER JWT------\n\n"
            "-----BEGIN USER NKEY SEED-----\n" + user.seed.decode() + "\n------END USER NKEY SEED------\n"
        )
        return str(path)

    async def start(self) -> AuthNats:
        server = shutil.which("nats-server")
        if server is None:
            pytest.fail("nats-server is not on PATH (apt install nats-server)", pytrace=False)
        operator_jwt = _jwt(self.operator, self.operator.public_key.decode(), "planexec-test", {"type": "operator"})
        limits = {**UNLIMITED, "imports": -1, "exports": -1, "wildcards": True, "conn": -1, "leaf": -1,
                  "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1}
        account = self.account.public_key.decode()
        account_jwt = _jwt(self.operator, account, "agents", {"type": "account", "limits": limits})
        system = self.system.public_key.decode()
        system_jwt = _jwt(self.operator, system, "SYS", {"type": "account", "limits": {**UNLIMITED, "conn": -1}})
        (self.folder / "js").mkdir(exist_ok=True)
        config = self.folder / "nats.conf"
        config.write_text(
            f"listen: 127.0.0.1:{self.port}\noperator: {operator_jwt}\nresolver: MEMORY\n"
            f"system_account: {system}\n"
            f"resolver_preload: {{ {account}: {account_jwt}, {system}: {system_jwt} }}\n"
            f"jetstream: {{ store_dir: {json.dumps(str(self.folder / 'js'))} }}\n"
        )
        log = open(self.folder / "nats.log", "ab")
        self.process = subprocess.Popen([server, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT)
        for _ in range(100):
            if self.process.poll() is not None:
                pytest.fail(f"nats-server exited: {(self.folder / 'nats.log').read_text()[-800:]}", pytrace=False)
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return self
            except OSError:
                await asyncio.sleep(0.05)
        pytest.fail("nats-server in operator mode did not open its port within 5 s", pytrace=False)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
