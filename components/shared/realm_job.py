"""Declarative Keycloak realms: keycloak-config-cli run as a Job against the shared Keycloak.

keycloak-config-cli (adorsys) creates *and* updates a realm from a JSON document; the Keycloak operator's
``KeycloakRealmImport`` only creates one (``docs/decisions/0002-realm-job-keycloak-config-cli.md``).
The shared stack uses it for the master realm, the tenant stacks for every municipality's realm:

    secret, job = realm_job(parent, "realm-verl", realm_json)

* the realm document goes into a Secret ``<name>`` (it may contain client secrets);
* the Job's name carries a hash of the document (``<name>-<hash>``): a changed document is a new
  Job name, so Pulumi replaces the Job and the configuration is applied again; an unchanged document
  leaves the finished Job alone;
* the Job logs in to the master realm with the client-credentials grant of a service-account client
  (:class:`Login`): the master realm job and each municipality's bootstrap job with the platform's bootstrap
  service account (``names.KEYCLOAK_BOOTSTRAP_SERVICE_SECRET``), a municipality's realm job with its own client
  ``realm-job-<slug>`` whose service account holds admin roles of that one realm only (its bootstrap job makes
  it: ``components/tenant/identity.py``); no job ever sees the master admin's password. It talks to Keycloak
  inside the cluster (``KEYCLOAK_INTERNAL_URL``), waiting until it is available; NetworkPolicies let realm
  job pods reach Keycloak's HTTP port and DNS, nothing else (``components/shared/platform.py``);
* further documents (``before``) are applied first, in order (``IMPORT_FILES_LOCATIONS`` lists them:
  keycloak-config-cli 6.4.0 ``KeycloakImportProvider.readFromLocations`` keeps the order of the locations);
* each job keeps keycloak-config-cli's remote state under its own cache key (:func:`state_args`), so that jobs
  importing into the same realm (the master realm job and the municipalities' bootstrap jobs) never delete what
  another one made;
* Pulumi waits for the Job to complete, so a realm that cannot be applied fails the deployment.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from catalogue import names
from catalogue.sizing import Size
from components.k8s import Container, child, meta, pod_spec

KEYCLOAK_INTERNAL_URL = (
    f"http://{names.KEYCLOAK_SERVICE}.{names.NS_IDENTITY}.svc:{names.KEYCLOAK_HTTP_PORT}"
)
"""Keycloak as seen from inside the cluster (TLS ends at the Gateway; NetworkPolicies guard this path)."""
CONFIG_KEY = "realm.json"
CONFIG_DIR = "/config"
JOB_SIZE = Size(200, 512)
AVAILABILITY_TIMEOUT = "300s"
HASH_LENGTH = 10


@dataclass(frozen=True)
class Login:
    """How a realm job logs in: a service-account client of the master realm, its id and secret in keys
    ``client-id``/``client-secret`` of Secret ``secret`` in ``urban-identity``.

    keycloak-config-cli 6.4.0 (README "Keycloak options"): ``KEYCLOAK_GRANTTYPE`` (default ``password``),
    ``KEYCLOAK_CLIENTID`` (default ``admin-cli``), ``KEYCLOAK_CLIENTSECRET``, ``KEYCLOAK_LOGINREALM``
    (default ``master``)."""

    secret: str

    def env(self) -> dict[str, str]:
        return {"KEYCLOAK_GRANTTYPE": "client_credentials", "KEYCLOAK_LOGINREALM": "master"}

    def secret_env(self) -> dict[str, tuple[str, str]]:
        return {"KEYCLOAK_CLIENTID": (self.secret, "client-id"), "KEYCLOAK_CLIENTSECRET": (self.secret, "client-secret")}


def config_hash(realm_json: str) -> str:
    """Short, stable hash of a realm document (part of the Job name)."""
    return hashlib.sha256(realm_json.encode("utf-8")).hexdigest()[:HASH_LENGTH]


def job_name(name: str, realm_json: str) -> str:
    """``<name>-<hash>``: a new name (and so a new run) whenever the document changes."""
    return f"{name}-{config_hash(realm_json)}"


DEFAULT_CACHE_KEY = "default"
"""keycloak-config-cli's own ``import.cache.key`` (6.5.0 ``src/main/resources/application.properties``); the
municipalities' realm jobs keep it (their realms' state has always been recorded under it)."""
MANAGED_ENTITIES = ("client", "role", "group", "component", "required-action", "authentication-flow",
                    "identity-provider")
"""``import.managed.<entity>`` settings a job may turn to ``no-delete`` (keycloak-config-cli 6.5.0
``ImportConfigProperties.ImportManagedProperties``; default ``full`` for these)."""


def state_args(cache_key: str = DEFAULT_CACHE_KEY, no_delete: Sequence[str] = (),
               always_apply: bool = False) -> list[str]:
    """keycloak-config-cli settings of where a job keeps its state and what it never deletes, as command-line
    options (README "Import options", column "CLI Option").

    keycloak-config-cli 6.5.0 records, per imported realm and per ``import.cache.key``, what it created
    (``StateRepository``: realm attributes ``de.adorsys.keycloak.config.state-<cache key>-<entity>-<n>``) and the
    document's checksum (``ChecksumService``: ``de.adorsys.keycloak.config.import-checksum-<cache key>``, with
    ``import.behaviors.checksum-with-cache-key`` true, the default). With remote state on (default) a ``full``
    managed entity deletes only what is missing from the document *and* listed under the job's own key
    (``ClientImportService.deleteClientsMissingInImport``); ``no-delete`` deletes nothing of that entity
    (``ClientImportService.doImport``: only for ``FULL``; its own test ``ImportManagedNoDeleteIT`` sets
    ``import.managed.client=no-delete``). ``always_apply``: ``import.cache.enabled=false``, which only turns off
    the skip of a realm whose stored checksum equals the document's (``RealmImportService.updateRealmIfNecessary``,
    its one use), so every run applies the documents, also after something was deleted by hand.

    Options, not environment variables: the image's entrypoint passes its arguments to the application
    (``Dockerfile`` at v6.5.0: ``ENTRYPOINT exec java $JAVA_OPTS -jar /app/keycloak-config-cli.jar $0 $@``), and
    an env name ending in ``KEY`` would read as a secret to the platform's policy ``no-plaintext-secrets``. The
    default key adds nothing."""
    unknown = sorted(set(no_delete) - set(MANAGED_ENTITIES))
    if unknown:
        raise ValueError(f"no_delete: {unknown} are not keycloak-config-cli managed entities {MANAGED_ENTITIES}")
    if not cache_key or not all(c.isalnum() or c in "-_" for c in cache_key):
        raise ValueError(f"cache key {cache_key!r}: letters, digits, '-' and '_' only")
    args = [] if cache_key == DEFAULT_CACHE_KEY else [f"--import.cache.key={cache_key}"]
    args += [f"--import.managed.{entity}=no-delete" for entity in sorted(no_delete)]
    if always_apply:
        args.append("--import.cache.enabled=false")
    return args


def realm_container(login: Login, files: Sequence[str] = (CONFIG_KEY,),
                    state: Sequence[str] = ()) -> Container:
    """keycloak-config-cli, non-root, read-only root filesystem (it only writes to /tmp)."""
    return Container(
        name="keycloak-config-cli",
        image="keycloak-config-cli",
        size=JOB_SIZE,
        env={
            "KEYCLOAK_URL": KEYCLOAK_INTERNAL_URL,
            "KEYCLOAK_AVAILABILITYCHECK_ENABLED": "true",
            "KEYCLOAK_AVAILABILITYCHECK_TIMEOUT": AVAILABILITY_TIMEOUT,
            "IMPORT_FILES_LOCATIONS": ",".join(f"{CONFIG_DIR}/{f}" for f in files),
            "IMPORT_VARSUBSTITUTION_ENABLED": "false",
            **login.env(),
        },
        secret_env=login.secret_env(),
        args=list(state) or None,
        writable=("/tmp",),
        mounts={"realm-config": (CONFIG_DIR, True, None)},
    )


def realm_job(parent: pulumi.Resource, name: str, realm_json: pulumi.Input[str], login: Login,
              namespace: str = names.NS_IDENTITY,
              opts: pulumi.ResourceOptions | None = None,
              secret_opts: pulumi.ResourceOptions | None = None,
              before: Sequence[tuple[str, pulumi.Input[str]]] = (),
              reapply: str = "", cache_key: str = DEFAULT_CACHE_KEY, no_delete: Sequence[str] = (),
              always_apply: bool = False,
              job_after: Sequence[pulumi.Resource] = ()) -> tuple[k8s.core.v1.Secret, k8s.batch.v1.Job]:
    """A Secret with the realm document and the Job that applies it (see the module docstring).

    ``name`` is DNS-safe, at most 52 characters and unique in ``namespace`` (``realm-<slug>``,
    ``realm-master``); it names the Secret and, with the hash, the Job. ``realm_json`` is the
    keycloak-config-cli document (it may be a secret Output); ``before`` are ``(file name, document)`` pairs
    applied first, in order; ``login`` is the job's credential. ``opts`` adds e.g. ``depends_on``;
    ``secret_opts`` apply to the Secret only (e.g. ``protect``: the Secret is the realm's record in the
    stack; the Job must stay replaceable, so it is never protected). ``reapply`` (stack config
    ``urban-stack:realmReapply``): when not empty it is part of the hash, so changing it runs the Job again with
    the same documents (after a Keycloak restore); empty leaves the name as the documents alone make it.
    ``cache_key``, ``no_delete`` and ``always_apply``: where keycloak-config-cli keeps this job's state, which
    entities it never deletes, and whether it skips a document it applied before (:func:`state_args`).
    ``job_after``: what the Job (not the document's Secret) waits for, e.g. a municipality's bootstrap job.
    """
    state = state_args(cache_key, no_delete, always_apply)
    files = [*(file for file, _ in before), CONFIG_KEY]
    if len(set(files)) != len(files):
        raise ValueError(f"realm job {name!r}: document names must be unique and other than {CONFIG_KEY!r}")
    documents = pulumi.Output.all(*(doc for _, doc in before), realm_json)
    if len(name) > 63 - HASH_LENGTH - 1:
        raise ValueError(f"realm job name {name!r} is too long for a Kubernetes name with its hash")
    secret_name = name
    secret = k8s.core.v1.Secret(
        secret_name,
        metadata=meta(secret_name, namespace, names.REALM_JOB_LABELS),
        type="Opaque",
        string_data={**dict(before), CONFIG_KEY: realm_json},
        opts=pulumi.ResourceOptions.merge(child(parent, opts), secret_opts),
    )
    # The hash of a secret document reveals nothing about it; keeping the name non-secret keeps it readable.
    # With one document the hash is the document's; with more, it covers every file name and document.
    name_out = pulumi.Output.unsecret(documents.apply(lambda docs: job_name(name, "\n".join(
        [*(f"{f}\n{d}" for f, d in zip(files[:-1], docs[:-1], strict=True)), docs[-1],
         *([f"reapply\n{reapply}"] if reapply else [])]))))
    spec = pod_spec(
        [realm_container(login, files, state)],
        volumes=[{"name": "realm-config", "secret": {"secretName": secret_name, "defaultMode": 0o440}}],
        priority_class=names.PRIORITY_PLATFORM,
    )
    spec["restartPolicy"] = "Never"
    job = k8s.batch.v1.Job(
        name,
        metadata={"name": name_out, "namespace": namespace, "labels": dict(names.REALM_JOB_LABELS)},
        spec={
            "backoffLimit": 4,
            "activeDeadlineSeconds": 900,
            "template": {"metadata": {"labels": dict(names.REALM_JOB_LABELS)}, "spec": spec},
        },
        opts=pulumi.ResourceOptions.merge(child(parent, opts),
                                          pulumi.ResourceOptions(depends_on=[secret, *job_after])),
    )
    return secret, job
