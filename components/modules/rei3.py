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

    * **Image**: REI3 publishes no production image (upstream's r3-team/r3_docker is a dev/test Dockerfile
      that downloads the release archive). ``images/rei3/Dockerfile`` builds the same from the pinned
      release archive, non-root (UID 10001), without any configuration inside; the platform's image
      pipeline must build and push it (``catalogue/versions.py``). It runs ``r3 -run -http -config
      /opt/r3/data/config.json``: plain HTTP on 8080, TLS ends at the Gateway.
    * **Writable config**: REI3 rewrites its JSON config file (it stores its cluster node ID there), so
      config.json lives on the persistent volume. The ConfigMap holds the template (upstream's
      config_template.json keys: database, paths, web); an init container renders it into the volume on
      every start with the database password from ``db-rei3`` and keeps the node ID REI3 wrote. Everything
      else stays owned by the tenant file and this module.
    * **Database**: ``rei3`` in the municipality's CloudNativePG cluster, owner role ``rei3``; TLS to the
      cluster is on but unverified (``sslSkipVerify``: REI3 cannot be given the cluster's CA; the flow stays
      inside the namespace and is limited by NetworkPolicy).
    * **Files**: the file store, certificates, temp and transfer folders are on the same volume
      (``storage_gi`` by plan; protected, retained on delete). REI3 cannot share them between replicas on a
      ReadWriteOnce volume, so it runs one replica in every plan.
    * **Login (OIDC)**: REI3 keeps its OpenID Connect clients in its own database, configured in its admin
      UI; there is no config-file or environment setting for them. The realm client and its credentials
      are delivered as Secret ``rei3-oidc`` (``client-id``, ``client-secret``, ``issuer-url``) and exposed
      to the container as ``OIDC_CLIENT_ID``/``OIDC_CLIENT_SECRET``/``OIDC_ISSUER_URL`` so an administrator
      can read them (``kubectl exec``) for the **one-time step**: Admin → OAuth clients → new client (flow
      authorization code, provider = the issuer URL, these credentials, redirect
      ``https://rei3.<domain>/``, role claim ``groups`` mapping ``admins`` to REI3's admin role). REI3's
      first login is the built-in ``admin``/``admin`` account: the municipality's administrator must change
      it on first access, before the OIDC step.
    * **Egress**: the database, Keycloak (token exchange at login) through the public issuer URL, the only
      provider setting REI3 has (``netpol.to_keycloak_public``: the Envoy pods and HTTPS outside the private
      ranges), which also covers REI3's online application repository and mail relays over HTTPS.
    * REI3's default language lives in its database too (admin UI → configuration), set in the same step.
    * The root filesystem is read-only; ``/tmp`` (ImageMagick, Ghostscript) is an ``emptyDir``.
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
            egress=[netpol.to_database(), *netpol.to_keycloak_public()],
        )
