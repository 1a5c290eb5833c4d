"""The municipality stack: isolation baseline, own database, own realm, own bucket, backups, protection.

Everything here is stated as behaviour of the offline plan of the example municipalities
(tenants/*.yaml), produced by the real program under Pulumi's mocks.
"""

from __future__ import annotations

import json

import pytest

from catalogue import labels, names
from catalogue.paths import ROOT
from catalogue.sizing import TENANT_PLANS
from catalogue.tenants import load_all
from urbanstack.engine.offline import run_stack
from urbanstack.engine.program import UnknownStack, build

TENANTS = load_all()
SLUGS = sorted(TENANTS)
PLATFORM_NAMESPACES = set(names.PLATFORM_NAMESPACES) | {"kube-system"}
DATA_KINDS = {"Namespace", "Cluster", "Database", "ObjectBucketClaim", "PersistentVolumeClaim"}


def objects(plan, kind=None):
    return [r for r in plan.kube_objects() if kind is None or r.inputs.get("kind") == kind]


def ns_of(r):
    return (r.inputs.get("metadata") or {}).get("namespace")


def name_of(r):
    return (r.inputs.get("metadata") or {}).get("name")


def identity_job(plan, prefix):
    """The one Job in urban-identity whose name starts with ``prefix`` (``realm-<slug>-``, ``bootstrap-<slug>-``)."""
    (job,) = [r for r in objects(plan, "Job") if ns_of(r) == names.NS_IDENTITY and name_of(r).startswith(prefix)]
    return job


def cpu_m(value: str) -> float:
    return float(value[:-1]) if value.endswith("m") else float(value) * 1000


def mem_mi(value: str) -> float:
    units = {"Mi": 1, "Gi": 1024, "Ki": 1 / 1024}
    for suffix, factor in units.items():
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * factor
    return float(value) / (1024 * 1024)


@pytest.fixture(scope="module")
def plans(plan_stack):
    return {slug: plan_stack(slug) for slug in SLUGS}


# -- tenancy baseline ---------------------------------------------------------------------------------

@pytest.mark.parametrize("slug", SLUGS)
def test_a_municipality_gets_a_namespace_named_after_its_slug_with_restricted_pod_security(plans, slug):
    (ns,) = objects(plans[slug], "Namespace")
    assert name_of(ns) == slug
    lbl = ns.inputs["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert lbl[f"pod-security.kubernetes.io/{mode}"] == "restricted"


@pytest.mark.parametrize("slug", SLUGS)
def test_every_namespaced_object_of_a_municipality_lives_in_its_namespace_or_is_its_realm_job(plans, slug):
    for r in objects(plans[slug]):
        ns = ns_of(r)
        if r.inputs["kind"] == "Namespace":
            continue
        if r.inputs["metadata"]["labels"][labels.MODULE] == "gateway" and ns != slug:
            # The back channel (docs/decisions/0012): its route next to Keycloak, its Service and policy on Envoy.
            assert (r.inputs["kind"], ns, name_of(r)) in {
                ("HTTPRoute", names.NS_IDENTITY, names.backchannel_route(slug)),
                ("Service", names.NS_GATEWAY, names.backchannel_service(slug)),
                ("NetworkPolicy", names.NS_GATEWAY, names.backchannel_service(slug))}, (r.type, name_of(r), ns)
        elif ns == names.NS_IDENTITY:
            assert r.inputs["metadata"]["labels"][labels.MODULE] == "identity", name_of(r)
            # Its realm job, its bootstrap job (docs/decisions/0013), their documents and the realm job's login.
            assert name_of(r).startswith((f"realm-{slug}", f"bootstrap-{slug}", names.realm_job_client(slug))), \
                name_of(r)
        else:
            assert ns == slug, (r.type, name_of(r), ns)


@pytest.mark.parametrize("slug", SLUGS)
def test_quota_and_limits_are_sized_by_plan_and_the_planned_requests_fit_the_quota(plans, slug):
    plan, sizing = plans[slug], TENANT_PLANS[TENANTS[slug].plan]
    (quota,) = objects(plan, "ResourceQuota")
    hard = quota.inputs["spec"]["hard"]
    assert hard["requests.cpu"] == f"{sizing.quota_cpu_m}m"
    assert hard["requests.memory"] == f"{sizing.quota_memory_mi}Mi"
    assert hard["services.loadbalancers"] == "0" and hard["services.nodeports"] == "0"
    assert len(objects(plan, "LimitRange")) == 1
    cpu = mem = 0.0
    for r in objects(plan):
        spec = r.inputs.get("spec") or {}
        if r.inputs["kind"] in ("Deployment", "StatefulSet") and ns_of(r) == slug:
            for c in spec["template"]["spec"]["containers"]:
                cpu += cpu_m(c["resources"]["requests"]["cpu"]) * spec["replicas"]
                mem += mem_mi(c["resources"]["requests"]["memory"]) * spec["replicas"]
        if r.inputs["kind"] == "Cluster":
            cpu += cpu_m(spec["resources"]["requests"]["cpu"]) * spec["instances"]
            mem += mem_mi(spec["resources"]["requests"]["memory"]) * spec["instances"]
    assert 0 < cpu <= sizing.quota_cpu_m, (cpu, sizing.quota_cpu_m)
    assert 0 < mem <= sizing.quota_memory_mi, (mem, sizing.quota_memory_mi)


@pytest.mark.parametrize("slug", SLUGS)
def test_the_namespace_denies_all_traffic_by_default_and_allows_dns(plans, slug):
    pols = {name_of(r): r.inputs["spec"] for r in objects(plans[slug], "NetworkPolicy")}
    deny = pols["default-deny"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert deny.get("ingress", []) == [] and deny.get("egress", []) == []
    dns = pols["allow-dns"]["egress"][0]
    assert {p["port"] for p in dns["ports"]} == {53}


def test_no_network_policy_admits_traffic_from_or_to_another_municipality(plans):
    for slug, plan in plans.items():
        for pol in objects(plan, "NetworkPolicy"):
            spec = pol.inputs["spec"]
            peers = [p for rule in spec.get("ingress", []) for p in rule.get("from", [])]
            peers += [p for rule in spec.get("egress", []) for p in rule.get("to", [])]
            for p in peers:
                if "namespaceSelector" in p:
                    sel = p["namespaceSelector"]
                    assert sel.get("matchLabels"), f"{slug}/{name_of(pol)}: namespaceSelector selects every namespace"
                    target = sel["matchLabels"].get("kubernetes.io/metadata.name")
                    if ns_of(pol) == names.NS_GATEWAY:
                        # Its policy on the Envoy pods admits its own pods to its back-channel port.
                        assert target == slug, f"{slug}/{name_of(pol)} names namespace {target}"
                        continue
                    assert target in PLATFORM_NAMESPACES, f"{slug}/{name_of(pol)} names namespace {target}"
                    assert target not in SLUGS


def group_roles(plan, slug) -> dict[str, list[dict]]:
    """Realm group -> rules it is granted, read from the plan's RoleBindings and the Roles they name."""
    roles = {(ns_of(r), name_of(r)): r.inputs.get("rules", []) for r in objects(plan, "Role")}
    out: dict[str, list[dict]] = {}
    for b in objects(plan, "RoleBinding"):
        for subject in b.inputs.get("subjects", []):
            prefix = f"urban-stack:{slug}:"
            if subject.get("kind") == "Group" and subject["name"].startswith(prefix):
                ref = b.inputs["roleRef"]
                assert ref["kind"] == "Role", f"{slug}: group {subject['name']} is bound to {ref['kind']} {ref['name']}"
                assert (ns_of(b), ref["name"]) in roles, f"{slug}: Role {ref['name']} is not part of the plan"
                out[subject["name"].removeprefix(prefix)] = roles[(ns_of(b), ref["name"])]
    return out


def grants(rules: list[dict], group: str, resource: str, verb: str) -> bool:
    return any((group in r["apiGroups"] or "*" in r["apiGroups"])
               and (resource in r["resources"] or "*" in r["resources"])
               and (verb in r["verbs"] or "*" in r["verbs"]) for r in rules)


def test_realm_groups_get_rights_only_inside_their_own_namespace(plans, plan_stack):
    everything = [r for p in [*plans.values(), plan_stack("shared")] for r in p.kube_objects()]
    assert not [r for p in plans.values() for r in objects(p, "ClusterRoleBinding")]
    for slug in SLUGS:
        binds = [r for r in everything if r.inputs["kind"] == "RoleBinding"
                 and any(s.get("name", "").startswith(f"urban-stack:{slug}:") for s in r.inputs.get("subjects", []))]
        assert {ns_of(r) for r in binds} == {slug}


@pytest.mark.parametrize("slug", SLUGS)
def test_realm_groups_are_bound_to_roles_of_our_own_not_to_kubernetes_admin_edit_or_view(plans, slug):
    # admin/edit/view are ClusterRoles that controllers aggregate their rights into (cert-manager's
    # cert-manager-edit, CloudNativePG's): what they allow is not under this project's control.
    assert set(group_roles(plans[slug], slug)) == {"admins", "editors", "viewers"}


@pytest.mark.parametrize("slug", SLUGS)
def test_no_municipality_group_reads_secrets_enters_pods_or_changes_policies_volumes_or_certificates(plans, slug):
    forbidden = [
        ("", "secrets", verb) for verb in ("get", "list", "watch")
    ] + [
        ("", sub, verb) for sub in ("pods/exec", "pods/attach", "pods/portforward") for verb in ("get", "create")
    ] + [
        ("networking.k8s.io", "networkpolicies", verb) for verb in ("create", "update", "patch", "delete")
    ] + [
        ("", "persistentvolumeclaims", verb) for verb in ("delete", "deletecollection")
    ] + [
        (api, res, verb) for api, res in (("cert-manager.io", "certificates"), ("cert-manager.io", "certificaterequests"),
                                          ("cert-manager.io", "issuers"), ("acme.cert-manager.io", "challenges"))
        for verb in ("create", "update", "patch")
    ] + [
        ("rbac.authorization.k8s.io", res, verb) for res in ("roles", "rolebindings") for verb in ("create", "bind", "escalate")
    ] + [
        # Whoever writes a pod template can mount every Secret of the namespace.
        (api, res, verb) for api, res in (("", "pods"), ("apps", "deployments"), ("apps", "statefulsets"),
                                          ("batch", "jobs"), ("batch", "cronjobs"))
        for verb in ("create", "update", "patch")
    ]
    for group, rules in group_roles(plans[slug], slug).items():
        allowed = [f"{api or 'core'}/{res} {verb}" for api, res, verb in forbidden if grants(rules, api, res, verb)]
        assert not allowed, f"{slug}: group {group} may {allowed}"


def test_viewers_see_workloads_editors_also_read_logs_and_restart_pods_admins_also_scale(plans):
    roles = group_roles(plans["verl"], "verl")
    assert grants(roles["viewers"], "apps", "deployments", "list") and grants(roles["viewers"], "", "pods", "watch")
    assert not grants(roles["viewers"], "", "pods/log", "get")
    assert grants(roles["editors"], "", "pods/log", "get") and grants(roles["editors"], "", "pods", "delete")
    assert not grants(roles["editors"], "apps", "deployments/scale", "patch")
    assert grants(roles["admins"], "apps", "deployments/scale", "patch")
    assert grants(roles["admins"], "postgresql.cnpg.io", "backups", "create")


# -- database -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("slug", SLUGS)
def test_a_municipality_has_one_postgis_cluster_sized_by_its_plan(plans, slug):
    (cluster,) = objects(plans[slug], "Cluster")
    spec, sizing = cluster.inputs["spec"], TENANT_PLANS[TENANTS[slug].plan]
    assert ns_of(cluster) == slug
    assert "postgis" in spec["imageName"] and ":" in spec["imageName"]
    assert spec["instances"] == sizing.db_instances
    assert spec["storage"]["size"] == f"{sizing.db_storage_gi}Gi"
    assert "CREATE EXTENSION IF NOT EXISTS postgis" in spec["bootstrap"]["initdb"]["postInitApplicationSQL"]


@pytest.mark.parametrize("slug", SLUGS)
def test_each_booked_module_database_gets_a_database_and_an_owner_role_with_a_generated_password(plans, slug):
    from catalogue.modules import CATALOGUE

    plan = plans[slug]
    wanted = {db for key in TENANTS[slug].booked() for db in CATALOGUE[key].databases}
    dbs = {r.inputs["spec"]["name"]: r.inputs["spec"] for r in objects(plan, "Database")}
    assert set(dbs) == wanted
    (cluster,) = objects(plan, "Cluster")
    roles = {r["name"]: r for r in cluster.inputs["spec"]["managed"]["roles"]}
    secrets = {name_of(r): r for r in objects(plan, "Secret")}
    passwords = {r.name for r in plan.of_type("random:index/randomPassword:RandomPassword")}
    for db, spec in dbs.items():
        assert spec["owner"] == db and spec["cluster"]["name"] == "postgis"
        secret = secrets[roles[db]["passwordSecret"]["name"]]
        assert secret.inputs["type"] == "kubernetes.io/basic-auth"
        assert f"{db}-password" in passwords


@pytest.mark.parametrize("slug", SLUGS)
def test_the_database_is_backed_up_continuously_to_its_own_target_or_the_offsite_target(plans, slug):
    plan, tenant = plans[slug], TENANTS[slug]
    (store,) = objects(plan, "ObjectStore")
    (cluster,) = objects(plan, "Cluster")
    (scheduled,) = objects(plan, "ScheduledBackup")
    conf = store.inputs["spec"]["configuration"]
    assert store.inputs["spec"]["retentionPolicy"] == f"{tenant.backup.retentionDays}d"
    if tenant.backup.target:
        assert conf["destinationPath"].startswith(f"s3://{tenant.backup.target.bucket}/")
        assert conf["s3Credentials"]["accessKeyId"]["name"] == tenant.backup.target.credentialsSecret
    else:  # the example shared config is production on rook-ceph: the off-site target of the municipality's cell
        from catalogue import cells
        from catalogue.shared_config import load_file

        cfg = load_file()
        bucket = cfg.in_cell(cells.cell_of(cfg, tenant)).backup.offsite.bucket
        assert bucket == ("urbanstack-offsite-stadt-guetersloh" if slug == "guetersloh" else "urbanstack-offsite-backups")
        assert conf["destinationPath"] == f"s3://{bucket}/{slug}/cnpg"
        assert conf["s3Credentials"]["accessKeyId"]["name"] == "backup-offsite"
    plugin = cluster.inputs["spec"]["plugins"][0]
    assert plugin["isWALArchiver"] and plugin["parameters"]["barmanObjectName"] == name_of(store)
    assert scheduled.inputs["spec"]["method"] == "plugin"
    assert scheduled.inputs["spec"]["cluster"]["name"] == name_of(cluster)


# -- identity -----------------------------------------------------------------------------------------

def realm_of(plan, slug) -> dict:
    (secret,) = [r for r in objects(plan, "Secret") if name_of(r) == f"realm-{slug}"]
    return json.loads(secret.inputs["stringData"]["realm.json"])


@pytest.mark.parametrize("slug", SLUGS)
def test_a_municipality_gets_its_own_realm_with_groups_admins_and_one_client_per_booked_module(plans, slug):
    from catalogue.modules import CATALOGUE

    plan, tenant = plans[slug], TENANTS[slug]
    realm = realm_of(plan, slug)
    assert realm["realm"] == slug and realm["displayName"] == tenant.name
    assert {g["name"] for g in realm["groups"]} == {"admins", "editors", "viewers"}
    assert {u["email"] for u in realm["users"]} == {str(a).lower() for a in tenant.identity.admins}
    assert all(u["groups"] == ["admins"] for u in realm["users"])
    with_oidc = {CATALOGUE[k].name for k in tenant.booked() if CATALOGUE[k].oidc}
    assert {c["clientId"] for c in realm["clients"]} == with_oidc
    for c in realm["clients"]:
        spec = next(m for m in CATALOGUE.values() if m.name == c["clientId"])
        assert c["redirectUris"] == [f"https://{c['clientId']}.{tenant.domain}{p}" for p in spec.oidc_callbacks]
        assert c["attributes"]["pkce.code.challenge.method"] == "S256" and not c["publicClient"]
    delivered = {name_of(r) for r in objects(plan, "Secret") if ns_of(r) == slug}
    assert {f"{m}-oidc" for m in with_oidc} <= delivered
    # Two jobs in urban-identity: the bootstrap (realm and realm-job client) and the realm job.
    jobs = sorted(name_of(r) for r in objects(plan, "Job") if ns_of(r) == names.NS_IDENTITY)
    assert len(jobs) == 2 and jobs[0].startswith(f"bootstrap-{slug}-") and jobs[1].startswith(f"realm-{slug}-")


@pytest.mark.parametrize("slug", SLUGS)
def test_realms_carry_the_platform_security_policy(plans, slug):
    realm = realm_of(plans[slug], slug)
    # "external": HTTPS for every client outside the pod network; the modules' back channel to Keycloak's
    # in-cluster Service is plain HTTP from pod addresses (components/tenant/identity.py REALM_SSL_REQUIRED).
    assert realm["bruteForceProtected"] is True and realm["sslRequired"] == "external"
    assert "length(12)" in realm["passwordPolicy"] and "passwordHistory" in realm["passwordPolicy"]
    assert realm["accessTokenLifespan"] <= 300 and realm["registrationAllowed"] is False


@pytest.mark.parametrize("slug", SLUGS)
def test_no_client_of_a_realm_accepts_a_wildcard_redirect(plans, slug):
    for c in realm_of(plans[slug], slug)["clients"]:
        uris = [*c["redirectUris"], c["attributes"]["post.logout.redirect.uris"]]
        assert not [u for u in uris if "*" in u or u == "+"], (c["clientId"], uris)
        assert c["standardFlowEnabled"] == bool(c["redirectUris"])


@pytest.mark.parametrize("slug", SLUGS)
def test_the_admins_of_a_realm_are_asked_for_a_second_factor_at_every_login(plans, slug):
    from catalogue.realm_policy import BROWSER_FLOW, POST_BROKER_FLOW, SECOND_FACTOR_ROLE

    realm = realm_of(plans[slug], slug)
    (admins,) = [g for g in realm["groups"] if g["name"] == "admins"]
    assert admins["realmRoles"] == [SECOND_FACTOR_ROLE]
    assert all(SECOND_FACTOR_ROLE not in g.get("realmRoles", []) for g in realm["groups"] if g["name"] != "admins")
    assert realm["browserFlow"] == BROWSER_FLOW
    flows = {f["alias"]: f for f in realm["authenticationFlows"]}
    configs = {c["alias"]: c["config"] for c in realm["authenticatorConfig"]}

    def otp_steps(alias: str) -> list[tuple[str, str]]:
        """(condition role, OTP requirement) of every CONDITIONAL sub-flow reached from flow ``alias``."""
        found = []
        for step in flows[alias]["authenticationExecutions"]:
            if step.get("authenticatorFlow"):
                sub = flows[step["flowAlias"]]["authenticationExecutions"]
                if step["requirement"] == "CONDITIONAL":
                    cond = next(x for x in sub if x["authenticator"] == "conditional-user-role")
                    otp = next(x for x in sub if x.get("authenticator") == "auth-otp-form")
                    found.append((configs[cond["authenticatorConfig"]]["condUserRole"], otp["requirement"]))
                found += otp_steps(step["flowAlias"])
        return found

    assert otp_steps(BROWSER_FLOW) == [(SECOND_FACTOR_ROLE, "REQUIRED")]
    assert otp_steps(POST_BROKER_FLOW) == [(SECOND_FACTOR_ROLE, "REQUIRED")]
    for idp in realm.get("identityProviders", []):
        assert idp["postBrokerLoginFlowAlias"] == POST_BROKER_FLOW


@pytest.mark.parametrize("slug", SLUGS)
def test_offline_sessions_end_within_a_week(plans, slug):
    realm = realm_of(plans[slug], slug)
    assert realm["offlineSessionMaxLifespanEnabled"] is True
    assert realm["offlineSessionMaxLifespan"] <= 7 * 86400
    assert realm["offlineSessionIdleTimeout"] <= realm["offlineSessionMaxLifespan"]


@pytest.mark.parametrize("slug", SLUGS)
def test_the_realm_job_logs_in_with_its_own_client_never_with_the_master_admin(plans, slug):
    job = identity_job(plans[slug], f"realm-{slug}-")
    container = job.inputs["spec"]["template"]["spec"]["containers"][0]
    refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e}
    assert refs == {names.realm_job_client(slug)}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["KEYCLOAK_GRANTTYPE"] == "client_credentials"
    assert names.KEYCLOAK_ADMIN_SECRET not in json.dumps(job.inputs)


def selects(policy: dict, pod_labels: dict) -> bool:
    sel = policy["spec"]["podSelector"]
    assert not sel.get("matchExpressions"), "helper handles matchLabels only"
    return all(pod_labels.get(k) == v for k, v in (sel.get("matchLabels") or {}).items())


@pytest.mark.parametrize("job_prefix", ["realm", "bootstrap"])
@pytest.mark.parametrize("slug", SLUGS)
def test_the_realm_job_reaches_only_keycloaks_http_port_and_dns(plans, plan_stack, slug, job_prefix):
    job = identity_job(plans[slug], f"{job_prefix}-{slug}-")
    pod_labels = job.inputs["spec"]["template"]["metadata"]["labels"]
    policies = [r.inputs for r in plan_stack("shared").kube_objects() if r.inputs.get("kind") == "NetworkPolicy"
                and ns_of(r) == names.NS_IDENTITY and selects(r.inputs, pod_labels)]
    egress = [rule for p in policies if "Egress" in p["spec"]["policyTypes"] for rule in p["spec"].get("egress", [])]
    assert egress, "no policy restricts the realm job's egress"
    for rule in egress:
        ports = {(p.get("protocol", "TCP"), p["port"]) for p in rule.get("ports", [])}
        assert ports, f"egress on every port: {rule}"
        peers = rule.get("to", [])
        assert peers and not [p for p in peers if "ipBlock" in p], f"egress to addresses: {rule}"
        if ports <= {("UDP", 53), ("TCP", 53)}:
            continue
        assert ports == {("TCP", names.KEYCLOAK_HTTP_PORT)}
        assert all(p.get("podSelector", {}).get("matchLabels") == names.KEYCLOAK_POD_LABELS
                   and "namespaceSelector" not in p for p in peers)


def test_federation_links_a_realm_to_the_municipalitys_own_directory(plans):
    oidc = realm_of(plans["rheda-wiedenbrueck"], "rheda-wiedenbrueck")["identityProviders"][0]
    assert oidc["providerId"] == "oidc"
    assert oidc["config"]["issuer"] == "https://login.rheda-wiedenbrueck.example/realms/verwaltung"
    ldap = realm_of(plans["rietberg"], "rietberg")["components"]["org.keycloak.storage.UserStorageProvider"][0]
    assert ldap["providerId"] == "ldap" and ldap["config"]["connectionUrl"] == ["ldaps://dc01.rietberg.example:636"]
    assert ldap["config"]["editMode"] == ["READ_ONLY"]
    assert "identityProviders" not in realm_of(plans["verl"], "verl")


def test_a_directorys_e_mail_addresses_are_trusted_only_when_the_tenant_file_says_it_verifies_them(tmp_path):
    from catalogue.tenants import load_tenant
    from components.tenant.identity import federation

    for name in ("rheda-wiedenbrueck", "rietberg"):
        text = (ROOT / "tenants" / f"{name}.yaml").read_text(encoding="utf-8")
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
        fed = load_tenant(tmp_path / f"{name}.yaml").identity.federation
        assert fed.verifiesEmail is False
        trusted = federation(fed, "s")
        verified = federation(fed.model_copy(update={"verifiesEmail": True}), "s")
        if fed.type == "ldap":
            (untrusting,) = trusted["components"]["org.keycloak.storage.UserStorageProvider"]
            (trusting,) = verified["components"]["org.keycloak.storage.UserStorageProvider"]
            assert untrusting["config"]["trustEmail"] == ["false"] and trusting["config"]["trustEmail"] == ["true"]
        else:
            assert trusted["identityProviders"][0]["trustEmail"] is False
            assert verified["identityProviders"][0]["trustEmail"] is True


def test_a_changed_tenant_file_changes_the_realm_job_so_it_runs_again(tenants_copy, plan_stack):
    before_plan = plan_stack("verl")
    before = name_of(identity_job(before_plan, "realm-verl-"))
    path = tenants_copy / "verl.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("    - it@verl.example",
                                                             "    - it@verl.example\n    - cio@verl.example"),
                    encoding="utf-8")
    after_plan = plan_stack("verl", tenants_dir=tenants_copy)
    after = name_of(identity_job(after_plan, "realm-verl-"))
    assert before != after
    # The bootstrap (empty realm, realm-job client) does not depend on the tenant file's content: it stays.
    assert name_of(identity_job(after_plan, "bootstrap-verl-")) == name_of(identity_job(before_plan, "bootstrap-verl-"))
    assert "cio@verl.example" in {u["email"] for u in realm_of(after_plan, "verl")["users"]}


# -- storage, isolation between municipalities, protection ---------------------------------------------

def test_no_two_municipalities_share_a_database_cluster_realm_bucket_or_secret(plans):
    seen: dict[str, set] = {"cluster": set(), "realm": set(), "bucket": set(), "secret": set()}
    for slug, plan in plans.items():
        clusters = {(ns_of(r), name_of(r)) for r in objects(plan, "Cluster")}
        buckets = {r.inputs["spec"]["bucketName"] for r in objects(plan, "ObjectBucketClaim")}
        secrets = {(ns_of(r), name_of(r)) for r in objects(plan, "Secret")}
        realm = {realm_of(plan, slug)["realm"]}
        for key, values in (("cluster", clusters), ("realm", realm), ("bucket", buckets), ("secret", secrets)):
            assert values, (slug, key)
            assert not (seen[key] & values), (slug, key, seen[key] & values)
            seen[key] |= values


@pytest.mark.parametrize("slug", SLUGS)
def test_every_data_bearing_resource_is_protected_and_retained(plans, slug):
    plan = plans[slug]
    data = [r for r in plan.kube_objects() if r.inputs["kind"] in DATA_KINDS]
    data += [r for r in objects(plan, "StatefulSet") if r.inputs["spec"].get("volumeClaimTemplates")]
    assert {r.inputs["kind"] for r in data} >= {"Namespace", "Cluster", "ObjectBucketClaim"}
    for r in data:
        assert r.protect and r.retain_on_delete, (r.type, r.name)
    (realm_secret,) = [r for r in objects(plan, "Secret") if name_of(r) == f"realm-{slug}"]
    assert realm_secret.protect, "the realm's record in the stack is protected"


def test_removing_a_tenant_file_never_deletes_its_data(tenants_copy, plan_stack):
    (tenants_copy / "verl.yaml").unlink()
    # The municipality's stack no longer has a program: `pulumi up -s verl` stops before the engine computes
    # a single step, so nothing is deleted; `pulumi destroy` refuses because the data resources are protected.
    with pytest.raises(UnknownStack):
        run_stack("verl", lambda: build("verl", tenants_copy))
    protected = {(r.type, r.name) for r in plan_stack("verl").resources if r.protect}
    assert {("kubernetes:core/v1:Namespace", "verl"), ("kubernetes:postgresql.cnpg.io/v1:Cluster", "postgis")} <= protected
    # The shared stack never owned the municipality's data: without the file it only drops its listener.
    shared = plan_stack("shared", tenants_dir=tenants_copy)
    assert not [r for r in shared.kube_objects() if ns_of(r) == "verl"]


@pytest.mark.parametrize("slug", SLUGS)
def test_every_object_in_the_namespace_is_created_after_the_namespace(plans, slug):
    ns_dep = f"kubernetes:core/v1:Namespace::{slug}"
    for r in objects(plans[slug]):
        if ns_of(r) == slug:
            assert ns_dep in r.depends_on, (r.type, r.name, r.depends_on)


@pytest.mark.parametrize("slug", SLUGS)
def test_stack_outputs_name_urls_realm_database_service_and_bucket(plans, slug):
    from catalogue.modules import CATALOGUE

    out, tenant = plans[slug].outputs, TENANTS[slug]
    assert out["realm"] == slug and out["namespace"] == slug
    assert out["databaseService"] == f"postgis-rw.{slug}.svc"
    assert out["bucket"] == f"urbanstack-{slug}"
    assert out["urls"] == {k: f"https://{CATALOGUE[k].name}.{tenant.domain}" for k in tenant.booked()}
    assert out["issuerUrl"].endswith(f"/realms/{slug}")


def test_modules_that_check_client_roles_get_them_in_the_realm_granted_to_groups(plans):
    from catalogue.modules.urbandata import SPEC

    realm = realm_of(plans["guetersloh"], "guetersloh")
    assert {r["name"] for r in realm["roles"]["client"]["urbandata"]} == set(SPEC.client_roles)
    groups = {g["name"]: g.get("clientRoles", {}) for g in realm["groups"]}
    assert set(groups["viewers"]["urbandata"]) == {"read"}
    assert set(groups["admins"]["urbandata"]) == set(SPEC.client_roles)
    assert "client" not in realm_of(plans["rietberg"], "rietberg")["roles"], "no module with client roles booked"


@pytest.mark.parametrize("slug", SLUGS)
def test_the_database_admits_the_municipalitys_own_apps_and_the_operator_only(plans, slug):
    (pol,) = [r for r in objects(plans[slug], "NetworkPolicy") if name_of(r) == "database"]
    peers = [p for rule in pol.inputs["spec"]["ingress"] for p in rule["from"]]
    assert {"podSelector": {"matchLabels": {}}} in peers, "apps of the municipality's own namespace reach 5432"
    for p in peers:
        if "namespaceSelector" in p:
            assert p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] == names.NS_OPERATORS


def test_a_module_that_asks_for_a_read_only_role_gets_one_without_privileges(plans):
    for slug in ("guetersloh", "rheda-wiedenbrueck"):
        (cluster,) = objects(plans[slug], "Cluster")
        roles = {r["name"]: r for r in cluster.inputs["spec"]["managed"]["roles"]}
        reader = roles["datastore_readonly"]
        assert reader["login"] and not reader.get("superuser") and not reader.get("createdb")
        assert reader["passwordSecret"]["name"] == "db-datastore-readonly"
    (cluster,) = objects(plans["verl"], "Cluster")
    assert "datastore_readonly" not in {r["name"] for r in cluster.inputs["spec"]["managed"]["roles"]}
