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
"""

from __future__ import annotations

import hashlib
import hmac
import os
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import yaml

from logmetrics.errors import LogmetricsError

_TOP = {"tls_server_config", "basic_auth_users", "http_server_config"}
_TLS = {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version",
        "client_allowed_sans", "prefer_server_cipher_suites"}
_HTTP = {"headers", "http2"}
_HEADERS = {"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "X-XSS-Protection",
            "Strict-Transport-Security"}
_VERSIONS = {"TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1,
             "TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
_AUTH = {"NoClientCert": ssl.CERT_NONE, "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
         "RequireAndVerifyClientCert": ssl.CERT_REQUIRED}
# Checked for unknown users, so that a wrong user name costs as much time as a wrong password.
_DUMMY_HASH = bcrypt.hashpw(b"logmetrics-dummy", bcrypt.gensalt(rounds=10))


class WebConfigError(LogmetricsError):
    """The web configuration file is missing, malformed, or asks for what cannot be done."""


@dataclass
class WebConfig:
    """What the HTTP server needs from the file."""

    path: Path
    tls: ssl.SSLContext | None = None
    allowed_sans: list[str] = field(default_factory=list)
    users: dict[str, bytes] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    _ok_cache: dict[str, bool] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check_password(self, user: str, password: str) -> bool:
        """bcrypt check, constant-time for unknown users; successes are cached (bcrypt is slow)."""
        hashed = self.users.get(user)
        secret = password.encode()
        if len(secret) > 72:  # bcrypt refuses longer passwords: a failed login, not an error
            return False
        key = hashlib.sha256(user.encode() + b"\0" + (hashed or b"") + b"\0" + secret).hexdigest()
        with self._lock:
            if self._ok_cache.get(key):
                return True
            ok = bcrypt.checkpw(secret, hashed or _DUMMY_HASH) and hashed is not None
            if ok:
                if len(self._ok_cache) > 100:
                    self._ok_cache.clear()
                self._ok_cache[key] = True
            return ok


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
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise WebConfigError(f"{path}: cannot read the web config: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise WebConfigError(f"{path}: not valid YAML: {exc}") from None
    top = _strict(data, _TOP, "the web config", path)
    config = WebConfig(path)
    base = path.parent
    tls = _strict(top.get("tls_server_config"), _TLS, "tls_server_config", path)
    if tls:
        config.tls, config.allowed_sans = _tls_context(tls, base, path)
    users = _strict(top.get("basic_auth_users"), set(top.get("basic_auth_users") or {}),
                    "basic_auth_users", path)
    for user, hashed in users.items():
        if not isinstance(hashed, str) or not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            raise WebConfigError(f"{path}: the password of {user!r} must be a bcrypt hash ($2y$...)")
        config.users[str(user)] = hashed.encode()
    http = _strict(top.get("http_server_config"), _HTTP, "http_server_config", path)
    headers = _strict(http.get("headers"), _HEADERS, "http_server_config.headers", path)
    config.headers = {str(k): str(v) for k, v in headers.items()}
    return config


def _tls_context(tls: dict[str, Any], base: Path, path: Path) -> tuple[ssl.SSLContext, list[str]]:
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
    context.verify_mode = _AUTH[auth]
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
    try:
        return _VERSIONS[name]
    except KeyError:
        raise WebConfigError(f"{path}: unknown TLS version {name!r}; use {', '.join(_VERSIONS)}") from None


def peer_allowed(cert: dict[str, Any] | None, allowed: list[str]) -> bool:
    """True if the client certificate names one of ``allowed`` (DNS, IP, e-mail or URI SAN)."""
    if not allowed:
        return True
    names = {value for _kind, value in (cert or {}).get("subjectAltName", ())}
    return any(hmac.compare_digest(a, n) for a in allowed for n in names)
