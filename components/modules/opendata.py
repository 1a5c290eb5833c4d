"""openData: CKAN with DCAT-AP.de (open data portal)."""

from __future__ import annotations

import json
import re
from typing import Literal

import pulumi
from pydantic import Field, field_validator

from components import k8s as kb
from components import valkey
from components.base import DataStore, ModuleOptions, ModuleSpec
from components.module import ModuleComponent
from components.sizing import Size, Workload
from components.tenant import netpol

WEB_PORT = 5000
SOLR_PORT = 8983
CONFIG_DIR = "/srv/app/config"
STORAGE_PATH = "/var/lib/ckan"
INIT_SIZE = Size(250, 768)
DATASTORE_READER = "datastore_readonly"
"""Login role that reads the datastore (requested from the database component, see datastore_reader())."""
CONTRIBUTORS = "https://www.dcat-ap.de/def/contributors/"
CONTRIBUTOR_URI = re.compile(r"https?://(www\.)?dcat-ap\.de/def/contributors/[A-Za-z0-9]+")
HARAKIRI_S = 60
"""uwsgi kills a worker whose request takes longer than this (seconds)."""
BASE_IMAGE_ENV = {
    "CKAN_INI": "/srv/app/ckan.ini",
    "CKAN_STORAGE_PATH": "/var/lib/ckan",
    "CKAN_SITE_URL": "http://localhost:5000",
    "CKAN__PLUGINS": "image_view text_view datatables_view datastore envvars",
    "UWSGI_HARAKIRI": "50",
}
"""``ENV`` of the base image that CKAN or uwsgi read (ckan/ckan-docker-base, ckan-2.11/Dockerfile at release
v20251029 / commit cc0887e, the file every ``ckan/ckan-base:2.11.x`` tag is built from). They beat ckan.ini:
CKAN core copies ``CKAN_SITE_URL`` and ``CKAN_STORAGE_PATH`` over ``ckan.site_url`` / ``ckan.storage_path``
(ckan 2.11 ckan/config/environment.py ``CONFIG_FROM_ENV_VARS``, applied in ``update_config``), and
ckanext-envvars copies every ``CKAN*`` variable over the ini, ``CKAN__PLUGINS`` → ``ckan.plugins`` (lower case,
``__`` → ``.``, a ``CKAN___`` prefix dropped; ckanext/envvars/plugin.py ``_envvar_to_ini``/``update_config``).
uwsgi reads ``UWSGI_<OPTION>`` variables as options. The pods therefore set each of them to our value
(:func:`image_env_overrides`); ``CKAN_REF``, ``APP_DIR`` and the rest of the image's ENV are not read as settings."""
PLUGINS = ("activity", "dcat", "dcatde", "structured_data", "datastore", "oidc_pkce",
           "image_view", "text_view", "datatables_view", "envvars")
"""CKAN plugins in load order; ``envvars`` must come last (ckanext-envvars)."""


class Options(ModuleOptions):
    """Options of the `openData` module (CKAN with ckanext-dcat and ckanext-dcatde)."""

    siteTitle: str | None = Field(None, max_length=100, description="Portal title; default: 'Open Data <name>'.")
    locale: Literal["de", "en"] = Field("de", description="Default language of the portal.")
    contributorId: str | None = Field(
        None,
        description="DCAT-AP.de contributor ID (URI from dcat-ap.de/def/contributors) that GovData harvests by; "
                    "stored on the municipality's CKAN organization.",
        json_schema_extra={"pattern": f"^{CONTRIBUTOR_URI.pattern}$"},
    )

    @field_validator("contributorId")
    @classmethod
    def _contributor_uri(cls, value: str | None) -> str | None:
        if value is not None and not CONTRIBUTOR_URI.fullmatch(value):
            raise ValueError(f"must be a contributor URI from {CONTRIBUTORS}, e.g. "
                             f"http://dcat-ap.de/def/contributors/stadtGuetersloh (got {value!r})")
        return value


SPEC = ModuleSpec(
    key="openData",
    name="opendata",
    title="Open data portal (CKAN, DCAT-AP.de)",
    description="A CKAN portal whose catalogue GovData can harvest (DCAT-AP.de), with datastore.",
    options=Options,
    workloads={
        "web": Workload(Size(500, 1024), replicas={"small": 1, "medium": 1, "large": 1},
                        storage_gi={"small": 5, "medium": 10, "large": 25}),
        "solr": Workload(Size(250, 1024), replicas={"small": 1, "medium": 1, "large": 1},
                         storage_gi={"small": 5, "medium": 10, "large": 20}),
        "cache": Workload(Size(100, 256), replicas={"small": 1, "medium": 1, "large": 1}),
    },
    databases=("ckan", "datastore"),
    readonly_roles=("datastore",),
    data_stores=(
        DataStore("database", "ckan", "the catalogue: datasets, resources, organisations, users"),
        DataStore("database", "datastore", "tabular resources loaded into the DataStore"),
        DataStore("volume", "storage", "uploaded resource files (CKAN's storage_path)",
                  workload="web", container="ckan", path=STORAGE_PATH),
        DataStore("volume", "data", "the Solr search index (rebuildable from the catalogue)",
                  workload="solr", container="solr", path="/var/solr"),
    ),
    public=True,
)


def datastore_reader(db) -> str:
    """Secret (basic-auth) of the role CKAN reads the datastore with (``ckan.datastore.read_url``).

    CKAN needs a second login role that may only SELECT from the datastore: ``SPEC.readonly_roles`` asks the
    database component for ``datastore_readonly`` (a login role without privileges), and the init Job grants
    it SELECT on the datastore only. Without it (a database component that offers no such role) the
    datastore is read with ``geodata_readonly``, which owns nothing and can write nowhere.
    """
    return db.credentials.get(DATASTORE_READER, db.readonly_secret)


def ckan_ini(site_url: str, site_id: str, title: str, locale: str) -> str:
    """ckan.ini without secrets: URLs and keys come from the environment (env.sh, ckanext-envvars)."""
    return "\n".join([
        "# Generated by Urban Stack (components/modules/opendata.py): CKAN configuration.",
        "# Secrets and connection URLs come from the environment (env.sh); nothing secret is in this file.",
        "[DEFAULT]",
        "debug = false",
        "",
        "[app:main]",
        "use = egg:ckan",
        f"ckan.site_url = {site_url}",
        f"ckan.site_id = {site_id}",
        f"ckan.site_title = {title}",
        f"ckan.locale_default = {locale}",
        "ckan.locales_offered = de en",
        f"ckan.plugins = {' '.join(PLUGINS)}",
        f"ckan.storage_path = {STORAGE_PATH}",
        "ckan.max_resource_size = 100",
        "",
        "## Anonymous users read public datasets; accounts only come from the realm; sysadmins create organizations",
        "ckan.auth.anon_create_dataset = false",
        "ckan.auth.create_user_via_web = false",
        "ckan.auth.create_user_via_api = false",
        "ckan.auth.user_create_organizations = false",
        "ckan.auth.user_create_groups = false",
        "ckan.auth.public_user_details = false",
        "ckan.datastore.sqlsearch.enabled = false",
        "",
        "## DCAT-AP.de (ckanext-dcat, ckanext-dcatde): public RDF endpoints /catalog.{rdf,ttl,jsonld,xml}",
        "ckanext.dcat.rdf.profiles = euro_dcat_ap_2 dcatap_de",
        f"ckanext.dcat.base_uri = {site_url}",
        "ckanext.dcat.enable_rdf_endpoints = true",
        "ckanext.dcat.enable_content_negotiation = true",
        "",
        "## Login through the municipality's realm (ckanext-oidc-pkce): Keycloak's endpoints below the issuer",
        "ckanext.oidc_pkce.auth_path = /protocol/openid-connect/auth",
        "ckanext.oidc_pkce.token_path = /protocol/openid-connect/token",
        "ckanext.oidc_pkce.userinfo_path = /protocol/openid-connect/userinfo",
        "ckanext.oidc_pkce.scope = openid email profile",
        "ckanext.oidc_pkce.munge_password = true",
        "",
        "[loggers]",
        "keys = root, ckan, ckanext",
        "",
        "[handlers]",
        "keys = console",
        "",
        "[formatters]",
        "keys = generic",
        "",
        "[logger_root]",
        "level = WARNING",
        "handlers = console",
        "",
        "[logger_ckan]",
        "level = INFO",
        "handlers = console",
        "qualname = ckan",
        "propagate = 0",
        "",
        "[logger_ckanext]",
        "level = INFO",
        "handlers = console",
        "qualname = ckanext",
        "propagate = 0",
        "",
        "[handler_console]",
        "class = StreamHandler",
        "args = (sys.stderr,)",
        "level = NOTSET",
        "formatter = generic",
        "",
        "[formatter_generic]",
        "format = %(asctime)s %(levelname)-5.5s [%(name)s] %(message)s",
        "",
    ])


ENV_SH = """\
# Generated by Urban Stack (components/modules/opendata.py): CKAN's connection URLs from the credentials
# in the environment (each comes from its own Secret; the generated passwords are alphanumeric), then the command.
set -eu
export CKAN_SQLALCHEMY_URL="postgresql://${CKAN_DB_USER}:${CKAN_DB_PASSWORD}@${DB_HOST}:${DB_PORT}/ckan"
export CKAN_DATASTORE_WRITE_URL="postgresql://${DATASTORE_DB_USER}:${DATASTORE_DB_PASSWORD}@${DB_HOST}:${DB_PORT}/datastore"
export CKAN_DATASTORE_READ_URL="postgresql://${DATASTORE_READER_USER}:${DATASTORE_READER_PASSWORD}@${DB_HOST}:${DB_PORT}/datastore"
export CKAN_REDIS_URL="redis://:${VALKEY_PASSWORD}@${VALKEY_HOST}:${VALKEY_PORT}/0"
exec "$@"
"""

DATASTORE_PERMISSIONS = '''\
"""Generated by Urban Stack (components/modules/opendata.py): the datastore's permissions, as its owner.

Runs the SQL that `ckan datastore set-permissions` prints, connected as the datastore database's owner
(the write user), and then takes CONNECT on both CKAN databases away from PUBLIC, so that the read-only
user reaches the datastore only.
"""
import os
import re
import subprocess

import psycopg2

sql = subprocess.run(["ckan", "-c", os.environ["CKAN_INI"], "datastore", "set-permissions"],
                     check=True, capture_output=True, text=True).stdout
sql = re.sub(r"^\\\\connect\\b.*$", "", sql, flags=re.MULTILINE)  # psql meta-command; we are connected already
with psycopg2.connect(os.environ["CKAN_DATASTORE_WRITE_URL"]) as conn, conn.cursor() as cur:
    cur.execute(sql)
    cur.execute("REVOKE CONNECT, TEMPORARY ON DATABASE datastore FROM PUBLIC")
with psycopg2.connect(os.environ["CKAN_SQLALCHEMY_URL"]) as conn, conn.cursor() as cur:
    cur.execute("REVOKE CONNECT, TEMPORARY ON DATABASE ckan FROM PUBLIC")
print("datastore permissions set")
'''

INIT_SCRIPT = """\
set -eu
ckan -c "$CKAN_INI" db init
ckan -c "$CKAN_INI" db pending-migrations --apply
python3 "$CONFIG_DIR/datastore_permissions.py"
if ckanapi action organization_show -c "$CKAN_INI" id="$ORG_NAME" >/dev/null 2>&1; then
  ckanapi action organization_patch -c "$CKAN_INI" id="$ORG_NAME" title="$ORG_TITLE" extras:"$ORG_EXTRAS"
else
  ckanapi action organization_create -c "$CKAN_INI" name="$ORG_NAME" title="$ORG_TITLE" extras:"$ORG_EXTRAS"
fi
"""

UWSGI = ["uwsgi", "--socket", "/tmp/uwsgi.sock", "--wsgi-file", "/srv/app/wsgi.py", "--module", "wsgi:application",
         "--http", f"0.0.0.0:{WEB_PORT}", "--master", "--enable-threads", "--lazy-apps", "-p", "2", "-L",
         "-b", "32768", "--vacuum", "--harakiri", str(HARAKIRI_S)]
"""The CKAN base image's uwsgi options (``start_ckan.sh``), on IPv4."""


def image_env_overrides(site_url: str) -> dict[str, str]:
    """Environment that replaces every base-image ``ENV`` CKAN or uwsgi would read (:data:`BASE_IMAGE_ENV`)
    with the value of our configuration, so that ckan.ini and the command line are what takes effect."""
    return {
        "CKAN_INI": f"{CONFIG_DIR}/ckan.ini",
        "CKAN_STORAGE_PATH": STORAGE_PATH,
        "CKAN_SITE_URL": site_url,
        "CKAN__PLUGINS": " ".join(PLUGINS),
        "UWSGI_HARAKIRI": str(HARAKIRI_S),
    }


class Component(ModuleComponent):
    """CKAN with DCAT-AP.de, Solr, a Valkey cache and an init Job.

    The municipality's open data portal: anonymous users read public datasets and the DCAT endpoints (``/catalog.rdf``,
    ``.ttl``, ``.jsonld``, ``/dataset/<id>.rdf``; profiles ``euro_dcat_ap_2 dcatap_de``, which GovData harvests), staff
    log in through the municipality's realm (ckanext-oidc-pkce, client in Secret ``opendata-oidc``; accounts are only
    created by that login). Metadata and datastore live in databases ``ckan`` and ``datastore`` of the municipality's
    cluster, the datastore read by a SELECT-only role (:func:`datastore_reader`); uploads on a volume
    (``/var/lib/ckan``), Solr's core ``ckan`` on its own (``/var/solr``). The init Job (``ckan db init``, plugin
    migrations, datastore permissions, the organization named like the slug, with ``contributorId`` its DCAT-AP.de
    contributor ID as extra ``contributorID``) runs after Solr and Valkey are up and before the web server; its name
    carries a hash of what it runs. Why the image, the login, the volume, the grants and no worker:
    ``docs/decisions/0005-opendata-ckan.md``; first steps: ``docs/operations.md``, "Module first steps".
    """

    SPEC = SPEC

    def build(self) -> None:
        ctx, opts, tenant = self.ctx, self.options, self.ctx.tenant
        secrets = self.name("secrets")
        title = opts.siteTitle or f"Open Data {tenant.name}"
        ini = ckan_ini(self.url, ctx.slug, title, opts.locale)
        files = {"ckan.ini": ini, "env.sh": ENV_SH, "datastore_permissions.py": DATASTORE_PERMISSIONS}
        self.config_map("config", files)
        self.secret("secrets", {
            "secret-key": self.password("secret-key", length=64),
            "valkey-password": self.password("valkey-password"),
        })
        reader = datastore_reader(ctx.db)
        env = {
            **image_env_overrides(self.url),
            "CONFIG_DIR": CONFIG_DIR,
            "CKAN_SOLR_URL": f"http://{self.name('solr')}.{self.ns}.svc:{SOLR_PORT}/solr/ckan",
            "DB_HOST": ctx.db.host,
            "DB_PORT": ctx.db.port,
            "VALKEY_HOST": f"{self.name('cache')}.{self.ns}.svc",
            "VALKEY_PORT": valkey.PORT,
            "HOME": "/tmp",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        secret_env = {
            "CKAN___SECRET_KEY": (secrets, "secret-key"),
            "CKAN_DB_USER": (ctx.db.credentials["ckan"], "username"),
            "CKAN_DB_PASSWORD": (ctx.db.credentials["ckan"], "password"),
            "DATASTORE_DB_USER": (ctx.db.credentials["datastore"], "username"),
            "DATASTORE_DB_PASSWORD": (ctx.db.credentials["datastore"], "password"),
            "DATASTORE_READER_USER": (reader, "username"),
            "DATASTORE_READER_PASSWORD": (reader, "password"),
            "VALKEY_PASSWORD": (secrets, "valkey-password"),
            "CKANEXT__OIDC_PKCE__BASE_URL": (self.oidc_secret, "issuer-url"),
            "CKANEXT__OIDC_PKCE__CLIENT_ID": (self.oidc_secret, "client-id"),
            "CKANEXT__OIDC_PKCE__CLIENT_SECRET": (self.oidc_secret, "client-secret"),
        }
        volumes = [{"name": "config", "configMap": {"name": self.name("config")}}]
        config_mount = {"config": (CONFIG_DIR, True, None)}

        # Valkey and Solr first: CKAN checks both when it starts.
        cache = self.workload("cache", [valkey.container(self.size("cache"), (secrets, "valkey-password"))])
        self.service("cache", {"valkey": valkey.PORT})
        solr_size = self.size("solr")
        solr = self.workload("solr", [kb.Container(
            name="solr", image="ckan-solr", size=solr_size, ports={"solr": SOLR_PORT},
            env={"SOLR_HEAP": f"{solr_size.memory_mi // 2}m"},
            mounts={"data": ("/var/solr", False, None)}, writable=["/tmp"],
            liveness=kb.Probe(port="solr", path="/solr/ckan/admin/ping", initial_delay=60, period=20),
            readiness=kb.Probe(port="solr", path="/solr/ckan/admin/ping", initial_delay=20),
        )], kind="StatefulSet", claims=[("data", "/var/solr")])
        self.service("solr", {"solr": SOLR_PORT})

        extras = ([{"key": "contributorID", "value": json.dumps([opts.contributorId])}]
                  if opts.contributorId else [])
        init = self.job("init", [kb.Container(
            name="ckan-init", image="ckan", size=INIT_SIZE,
            command=["/bin/sh", f"{CONFIG_DIR}/env.sh", "/bin/sh", "-c", INIT_SCRIPT],
            env={**env, "ORG_NAME": ctx.slug, "ORG_TITLE": tenant.name, "ORG_EXTRAS": json.dumps(extras)},
            secret_env=secret_env, mounts=config_mount, writable=["/tmp", STORAGE_PATH],
        )], volumes=volumes, revision="".join(files.values()),
            extra_opts=pulumi.ResourceOptions(depends_on=[solr, cache]))

        web = kb.Container(
            name="ckan", image="ckan", size=self.size("web"), ports={"http": WEB_PORT},
            command=["/bin/sh", f"{CONFIG_DIR}/env.sh", *UWSGI],
            env=env, secret_env=secret_env,
            mounts={**config_mount, "storage": (STORAGE_PATH, False, None)}, writable=["/tmp"],
            liveness=kb.Probe(port="http", path="/api/3/action/status_show", initial_delay=90, period=20),
            readiness=kb.Probe(port="http", path="/api/3/action/status_show", initial_delay=30),
        )
        self.workload("web", [web], kind="StatefulSet", claims=[("storage", STORAGE_PATH)], volumes=volumes,
                      extra_opts=pulumi.ResourceOptions(depends_on=[init]))
        self.service("web", {"http": WEB_PORT})
        self.route("web", WEB_PORT)

        # Network: exactly these flows (DNS comes from the namespace baseline).
        to_solr = netpol.to_pods(self.selector("solr"), SOLR_PORT)
        to_cache = netpol.to_pods(self.selector("cache"), valkey.PORT)
        self.policy("web", ingress=[netpol.from_gateway(WEB_PORT)],
                    egress=[netpol.to_database(), *netpol.to_keycloak_public(), to_solr, to_cache])
        self.policy("init", ingress=[], egress=[netpol.to_database(), to_solr, to_cache])
        clients = [self.selector("web"), self.selector("init")]
        self.policy("solr", ingress=[netpol.from_pods(c, SOLR_PORT) for c in clients], egress=[])
        self.policy("cache", ingress=[netpol.from_pods(c, valkey.PORT) for c in clients], egress=[])
