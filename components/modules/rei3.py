"""rei3: REI3 low-code business applications."""

from __future__ import annotations

import json

from catalogue.modules.rei3 import DATA, SPEC
from catalogue.sizing import Size
from components import k8s as kb
from components.module import ModuleComponent
from components.tenant import netpol

PORT = 8080
"""REI3's web server port, set in its config.json (``web.port``); ``-http`` serves plain HTTP behind the Gateway."""
CONFIG = f"{DATA}/config.json"
PASSWORD_PLACEHOLDER = "__DB_PASSWORD__"
NODE_PLACEHOLDER = "__NODE_ID__"

RENDER_CONFIG = f"""\
set -eu
# REI3 writes its cluster node ID into config.json on first start; keep that one value, render the rest.
node=""
if [ -f {CONFIG} ]; then
  node="$(sed -n 's/.*"nodeId": *"\\([0-9a-fA-F-]*\\)".*/\\1/p' {CONFIG} | head -n 1)"
fi
mkdir -p {DATA}/certificates {DATA}/files {DATA}/temp {DATA}/transfer
sed -e "s|{PASSWORD_PLACEHOLDER}|$DB_PASSWORD|" -e "s|{NODE_PLACEHOLDER}|$node|" /config/config.json > {CONFIG}.new
mv {CONFIG}.new {CONFIG}
"""


def config_template(db_host: str, db_port: int) -> dict:
    """REI3's config.json (keys of upstream's config_template.json) without secrets: the init container
    fills in the database password and REI3's own node ID."""
    return {
        "cluster": {"nodeId": NODE_PLACEHOLDER},
        "db": {
            "embedded": False, "host": db_host, "port": db_port, "name": "rei3", "user": "rei3",
            "pass": PASSWORD_PLACEHOLDER, "ssl": True, "sslSkipVerify": True, "connsMax": 0, "connsMin": 0,
        },
        "paths": {
            "certificates": f"{DATA}/certificates/", "embeddedDbBin": "", "embeddedDbData": "",
            "files": f"{DATA}/files/", "temp": f"{DATA}/temp/", "transfer": f"{DATA}/transfer/",
        },
        "portable": False,
        "web": {"cert": "", "key": "", "listen": "0.0.0.0", "port": PORT, "tlsMinVersion": "1.2"},
    }


class Component(ModuleComponent):
    """REI3 (one instance per municipality), a StatefulSet with a persistent ``/opt/r3/data``.

    REI3 runs from this project's image (``images/rei3/Dockerfile``: ``r3 -run -http -config
    /opt/r3/data/config.json``, plain HTTP on 8080 behind the Gateway, UID 10001, read-only root filesystem with
    ``/tmp`` an ``emptyDir``) with one replica in every plan. Its config file is rendered into the volume by an init
    container on every start (ConfigMap template, password of ``db-rei3``, the node ID REI3 wrote kept); its files
    live on the same volume (``storage_gi`` by plan, protected). The realm client is delivered as Secret
    ``rei3-oidc`` (and as ``OIDC_*`` variables) for the one-time step in REI3's admin UI, in which the built-in
    ``admin`` account's password is changed too (``docs/operations.md``, "Module first steps"). Egress: the database,
    and Keycloak through the public issuer URL (``netpol.to_keycloak_public``). Why: ``docs/decisions/0007-rei3.md``.
    """

    SPEC = SPEC

    def build(self) -> None:
        db_secret = self.ctx.db.credentials["rei3"]
        template = config_template(self.ctx.db.host, self.ctx.db.port)
        self.config_map("config", {"config.json": json.dumps(template, indent=2) + "\n"})
        render = kb.Container(
            name="render-config", image="rei3", size=Size(50, 64),
            command=["/bin/sh", "-c", RENDER_CONFIG],
            secret_env={"DB_PASSWORD": (db_secret, "password")},
            mounts={"data": (DATA, False, None), "config": ("/config", True, None)},
        )
        app = kb.Container(
            name="rei3", image="rei3", size=self.size("app"), ports={"http": PORT},
            args=["-run", "-http", "-config", CONFIG],
            env={"TZ": "Europe/Berlin"},
            secret_env={
                "OIDC_ISSUER_URL": (self.oidc_secret, "issuer-url"),
                "OIDC_CLIENT_ID": (self.oidc_secret, "client-id"),
                "OIDC_CLIENT_SECRET": (self.oidc_secret, "client-secret"),
            },
            mounts={"data": (DATA, False, None)},
            writable=["/tmp"],
            liveness=kb.Probe(port="http", initial_delay=60),
            readiness=kb.Probe(port="http", path="/", initial_delay=20),
        )
        self.workload(
            "app", [app], kind="StatefulSet", init=[render], claims=[("data", DATA)],
            volumes=[{"name": "config", "configMap": {"name": self.name("config")}}],
        )
        self.service("app", {"http": PORT})
        self.route("app", PORT)
        self.policy(
            "app",
            ingress=[netpol.from_gateway(PORT)],
            egress=[netpol.to_database(), *self.to_keycloak("app")],
        )
