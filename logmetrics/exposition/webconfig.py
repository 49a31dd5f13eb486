"""The web configuration file of Prometheus exporters (``--web.config.file``), read here.

The same YAML format as node_exporter's, so one file serves every exporter:

    tls_server_config:
      cert_file: server.crt
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert   # optional
      client_ca_file: ca.crt
      min_version: TLS12
    basic_auth_users:
      prometheus: $2y$10$...                         # bcrypt (htpasswd -nBC 10 "")
    http_server_config:
      headers:
        X-Frame-Options: deny

Keys are checked strictly (a misspelt key is an error naming it); relative
paths are read from the file's folder. What Python's ssl cannot do
faithfully (``RequireAnyClientCert``, ``RequestClientCert``: asking for a
certificate without verifying it; ``cipher_suites``, ``curve_preferences``)
is an error, not a silent downgrade.

Two rules go beyond exporter-toolkit's (see docs/security.md): a file that
enables nothing (empty, comments only, ``basic_auth_users:`` with no users)
is refused, since it is more likely a mistake or a write in progress than
an intent; and :func:`weakened` names what a re-read would switch off, so
that the server keeps the stronger configuration it has.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from logmetrics.errors import LogmetricsError

if TYPE_CHECKING:
    import ssl  # imported when a config asks for TLS: 15 ms that a plain HTTP start does not pay

_TOP = {"tls_server_config", "basic_auth_users", "http_server_config"}
_TLS = {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version",
        "client_allowed_sans", "prefer_server_cipher_suites"}
_HTTP = {"headers", "http2"}
_HEADERS = {"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "X-XSS-Protection",
            "Strict-Transport-Security"}
#: TLS versions and client certificate checks, as the names of ssl's constants.
_VERSIONS = {"TLS10": "TLSv1", "TLS11": "TLSv1_1", "TLS12": "TLSv1_2", "TLS13": "TLSv1_3"}
_AUTH = {"NoClientCert": "CERT_NONE", "VerifyClientCertIfGiven": "CERT_OPTIONAL",
         "RequireAndVerifyClientCert": "CERT_REQUIRED"}
_BCRYPT = re.compile(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}")
# Checked for unknown users, so that a wrong user name costs as much time as a wrong password:
# a hash at cost 10 (of "logmetrics-dummy"), written out rather than made at import, which took
# every start some 60 ms of CPU.
_DUMMY_HASH = b"$2b$10$3Jzg2YPIEqUk/i1LBOVL2OTqmmCYfgyJ0gsO/2QqAWgBOwjATLtX6"
#: bcrypt checks running at once, in the whole process: each takes a core for ~50 ms
#: (cost 10), so a flood of wrong passwords must not take every core from ingestion.
HASH_CONCURRENCY = max(1, (os.cpu_count() or 2) // 2)
_hash_slots = threading.BoundedSemaphore(HASH_CONCURRENCY)
#: Successful logins remembered (by a digest of user, hash and password), per process.
_OK_CACHE_SIZE = 256


class WebConfigError(LogmetricsError):
    """The web configuration file is missing, malformed, or asks for what cannot be done."""


def basic_credentials(header: str) -> tuple[str, str] | None:
    """User and password of an ``Authorization: Basic ...`` header, or None if it is not one."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    import base64  # asked only with basic auth configured: not imported at every start

    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


@dataclass
class WebConfig:
    """What the HTTP server needs from the file."""

    path: Path
    tls: ssl.SSLContext | None = None
    allowed_sans: list[str] = field(default_factory=list)
    users: dict[str, bytes] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    #: Digests of user/hash/password triples that passed; shared with the configs that
    #: replace this one (a changed hash changes the digest, so nothing stale is trusted).
    ok_cache: dict[str, bool] = field(default_factory=dict)

    def _digest(self, user: str, password: str) -> str:
        hashed = self.users.get(user) or b""
        return hashlib.sha256(user.encode() + b"\0" + hashed + b"\0" + password.encode()).hexdigest()

    def known_good(self, user: str, password: str) -> bool:
        """True if this user and password passed before: no bcrypt needed (cheap, no lock)."""
        return user in self.users and self._digest(user, password) in self.ok_cache

    def check_password(self, user: str, password: str) -> bool:
        """bcrypt check, constant-time for unknown users; successes are cached (bcrypt is slow).

        No lock is held while hashing; a process-wide semaphore bounds how many
        checks run at once (:data:`HASH_CONCURRENCY`), and the cache is a plain
        dict, read and written under the GIL.
        """
        secret = password.encode()
        if len(secret) > 72:  # bcrypt refuses longer passwords: a failed login, not an error
            return False
        if self.known_good(user, password):
            return True
        hashed = self.users.get(user)
        import bcrypt  # here, as yaml: a daemon without basic auth never needs it

        with _hash_slots:
            ok = bcrypt.checkpw(secret, hashed or _DUMMY_HASH) and hashed is not None
        if ok:
            cache = self.ok_cache
            if len(cache) >= _OK_CACHE_SIZE:
                cache.clear()  # rare (many distinct passwords passing): start over
            cache[self._digest(user, password)] = True
        return ok

    def strength(self) -> dict[str, int]:
        """What this config enforces, each as a level where higher is stricter."""
        tls = self.tls
        return {
            "TLS": int(tls is not None),
            "client certificate verification": int(tls.verify_mode) if tls is not None else 0,
            "client_allowed_sans": int(bool(self.allowed_sans)),
            "minimum TLS version": int(tls.minimum_version) if tls is not None else 0,
            "basic auth": int(bool(self.users)),
        }


def weakened(old: WebConfig, new: WebConfig) -> list[str]:
    """What ``new`` would enforce less strictly than ``old`` (empty if nothing)."""
    before, after = old.strength(), new.strength()
    return [name for name in before if after[name] < before[name]]


def _strict(section: Any, allowed: set[str], where: str, path: Path) -> dict[str, Any]:
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise WebConfigError(f"{path}: {where} must be a mapping")
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise WebConfigError(f"{path}: unknown key {unknown[0]!r} in {where}; known keys: "
                             f"{', '.join(sorted(allowed))}")
    return section


def load_web_config(path: Path) -> WebConfig:
    """Read and check a web configuration file."""
    import yaml  # here, as bcrypt: only a daemon given a web config pays for the import

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WebConfigError(f"{path}: cannot read the web config: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise WebConfigError(f"{path}: the web config is not UTF-8 text") from None
    except yaml.YAMLError as exc:
        raise WebConfigError(f"{path}: not valid YAML: {exc}") from None
    if not data:
        raise WebConfigError(f"{path}: the web config is empty: it enables neither TLS nor basic auth "
                             "(without --web-config, logmetrics serves plain HTTP)")
    top = _strict(data, _TOP, "the web config", path)
    for key in ("tls_server_config", "basic_auth_users"):
        if key in top and not top[key]:
            raise WebConfigError(f"{path}: {key} is empty; configure it or remove the key")
    config = WebConfig(path)
    base = path.parent
    tls = _strict(top.get("tls_server_config"), _TLS, "tls_server_config", path)
    if tls:
        config.tls, config.allowed_sans = _tls_context(tls, base, path)
    users = _strict(top.get("basic_auth_users"), set(top.get("basic_auth_users") or {}),
                    "basic_auth_users", path)
    for user, hashed in users.items():
        if not isinstance(hashed, str) or not _BCRYPT.fullmatch(hashed):
            raise WebConfigError(f"{path}: the password of {user!r} must be a bcrypt hash "
                                 "($2y$10$ and 53 more characters, as htpasswd -nBC 10 writes it)")
        config.users[str(user)] = hashed.encode()
    http = _strict(top.get("http_server_config"), _HTTP, "http_server_config", path)
    headers = _strict(http.get("headers"), _HEADERS, "http_server_config.headers", path)
    config.headers = {str(k): str(v) for k, v in headers.items()}
    return config


def _tls_context(tls: dict[str, Any], base: Path, path: Path) -> tuple[ssl.SSLContext, list[str]]:
    import ssl

    for required in ("cert_file", "key_file"):
        if not tls.get(required):
            raise WebConfigError(f"{path}: tls_server_config needs {required}")
    auth = tls.get("client_auth_type") or "NoClientCert"
    if auth not in _AUTH:
        hint = (" (Python's ssl cannot ask for a client certificate without verifying it)"
                if auth in ("RequireAnyClientCert", "RequestClientCert") else "")
        raise WebConfigError(f"{path}: client_auth_type {auth!r} is not supported{hint}; use one of "
                             f"{', '.join(_AUTH)}")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = _version(tls.get("min_version") or "TLS12", path)
    context.maximum_version = _version(tls.get("max_version") or "TLS13", path)
    try:
        context.load_cert_chain(base / tls["cert_file"], base / tls["key_file"])
    except (OSError, ssl.SSLError) as exc:
        raise WebConfigError(f"{path}: cannot load the certificate and key: {exc}") from None
    context.verify_mode = ssl.VerifyMode[_AUTH[auth]]
    ca = tls.get("client_ca_file")
    if context.verify_mode != ssl.CERT_NONE:
        if not ca:
            raise WebConfigError(f"{path}: client_auth_type {auth} needs client_ca_file (without it, "
                                 "any certificate from a public CA would be accepted)")
        try:
            context.load_verify_locations(cafile=os.fspath(base / ca))
        except (OSError, ssl.SSLError) as exc:
            raise WebConfigError(f"{path}: cannot load client_ca_file: {exc}") from None
    elif ca:
        raise WebConfigError(f"{path}: client_ca_file is set but client_auth_type does not verify "
                             "client certificates")
    sans = [str(s) for s in tls.get("client_allowed_sans") or []]
    return context, sans


def _version(name: str, path: Path) -> ssl.TLSVersion:
    import ssl

    try:
        return ssl.TLSVersion[_VERSIONS[name]]
    except KeyError:
        raise WebConfigError(f"{path}: unknown TLS version {name!r}; use {', '.join(_VERSIONS)}") from None


def peer_allowed(cert: dict[str, Any] | None, allowed: list[str]) -> bool:
    """True if the client certificate names one of ``allowed`` (DNS, IP, e-mail or URI SAN)."""
    if not allowed:
        return True
    names = {value for _kind, value in (cert or {}).get("subjectAltName", ())}
    return any(hmac.compare_digest(a, n) for a in allowed for n in names)
