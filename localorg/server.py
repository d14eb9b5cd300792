"""Serve an org over HTTPS with werkzeug's threaded server."""

from __future__ import annotations

import logging
import signal
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from werkzeug.serving import make_server

from localorg.app import create_app
from localorg.org import LocalOrg, OrgSettings
from localorg.tls import ensure_certificates

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerInfo:
    """What a client is told: the base URL (login and instance), the CA to trust, who to log in as; never a
    password or a secret (whoever starts localorg sets those)."""

    url: str
    ca_path: str
    username: str
    client_id: str


def serve(
    settings: OrgSettings, host: str, port: int, cert_dir: str, on_ready: Callable[[ServerInfo], None]
) -> None:
    """Run until SIGTERM/SIGINT; `on_ready` is called once the socket listens."""
    paths = ensure_certificates(cert_dir)
    local = LocalOrg(settings)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(paths.server_cert), str(paths.server_key))
    server = make_server(host, port, create_app(local), threaded=True, ssl_context=context)
    display_host = f"[{host}]" if ":" in host else host
    credentials = local.credentials
    on_ready(
        ServerInfo(
            url=f"https://{display_host}:{server.server_port}",
            ca_path=str(paths.ca_cert.resolve()),
            username=credentials.username,
            client_id=credentials.client_id,
        )
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        log.info("localorg stopping")
    finally:
        server.server_close()
        local.close()
