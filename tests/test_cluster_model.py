"""What the operators make from our custom resources (``urbanstack/cluster_model/``), read from the real plan
and from small CRs, against what the operators' code at our pinned versions does."""

from __future__ import annotations

import yaml

from catalogue import names
from catalogue.tenants import load_all
from catalogue.versions import CHARTS
from tests.plan_files import objects_of, read
from urbanstack import cluster_model as cm
from urbanstack.engine.render import chart_folder


def app_version(key: str) -> str:
    """``appVersion`` of the vendored copy of the pinned chart ``key`` (the release its images carry)."""
    return str(yaml.safe_load((chart_folder(CHARTS[key]) / "Chart.yaml").read_text(encoding="utf-8"))["appVersion"])


def test_a_municipality_database_gets_instance_pods_with_the_barman_sidecar_and_its_inherited_cost_labels(
        real_plan_dir):
    objs = objects_of(real_plan_dir, "verl", "operator-cluster")
    pod = objs["pod-verl-postgis-1.yaml"]
    assert pod["metadata"]["labels"]["cnpg.io/instanceRole"] == "primary"
    assert pod["metadata"]["labels"]["urban-stack/tenant"] == "verl"
    init = {c["name"]: c for c in pod["spec"]["initContainers"]}
    sidecar = init["plugin-barman-cloud"]
    assert sidecar["restartPolicy"] == "Always"
    # the image the plugin chart's ConfigMap gives the plugin (SIDECAR_IMAGE), not a guess
    assert sidecar["image"] == f"ghcr.io/cloudnative-pg/plugin-barman-cloud-sidecar:{app_version('plugin-barman-cloud')}"
    assert init["bootstrap-controller"]["image"] == f"ghcr.io/cloudnative-pg/cloudnative-pg:{app_version('cloudnative-pg')}"
    assert pod["spec"]["securityContext"]["runAsUser"] == 26
    assert objs["pod-verl-postgis-2.yaml"]["metadata"]["labels"]["cnpg.io/instanceRole"] == "replica"
    assert {n for n in objs if n.startswith("service-")} == {"service-verl-postgis-rw.yaml",
                                                            "service-verl-postgis-ro.yaml",
                                                            "service-verl-postgis-r.yaml"}
    assert objs["service-verl-postgis-rw.yaml"]["spec"]["selector"] == {"cnpg.io/cluster": "postgis",
                                                                        "cnpg.io/instanceRole": "primary"}


def test_instance_pods_and_services_carry_the_app_labels_of_cloudnative_pg_1_30_and_inherited_labels_win():
    cluster = {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
               "metadata": {"name": "db", "namespace": "x", "labels": {"app.kubernetes.io/managed-by": "pulumi"}},
               "spec": {"instances": 1, "imageName": "ghcr.io/cloudnative-pg/postgis:18.4-3.6.4-202608031108-system-trixie"}}
    [pod] = cm.cnpg_instance_pods(cluster, "op:1", ["app.kubernetes.io/managed-by"], None)
    rw = cm.cnpg_services(cluster, ["app.kubernetes.io/managed-by"])[0]
    for labels in (pod["metadata"]["labels"], rw["metadata"]["labels"]):
        assert labels["app.kubernetes.io/name"] == "postgresql"
        assert labels["app.kubernetes.io/instance"] == "db"
        assert labels["app.kubernetes.io/version"] == "18"
        assert labels["app.kubernetes.io/component"] == "database"
        assert labels["app.kubernetes.io/managed-by"] == "pulumi"  # utils.InheritLabels runs after buildInstance
    assert rw["metadata"]["labels"]["cnpg.io/cluster"] == "db"
    catalog = {**cluster, "spec": {"instances": 1, "imageCatalogRef": {"kind": "ImageCatalog", "name": "c", "major": 17}}}
    assert cm.cnpg_app_labels(catalog)["app.kubernetes.io/version"] == "17"


def test_a_cluster_without_the_plugin_has_no_sidecar_and_disabled_default_services_are_not_made():
    cluster = {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
               "metadata": {"name": "db", "namespace": "x", "labels": {"team": "a", "other": "b"}},
               "spec": {"instances": 1, "imageName": "img:1", "inheritedMetadata": {"labels": {"fixed": "1"}},
                        "managed": {"services": {"disabledDefaultServices": ["ro", "r"]}}}}
    [pod] = cm.cnpg_instance_pods(cluster, "op:1", ["team"], "sidecar:1")
    assert [c["name"] for c in pod["spec"]["initContainers"]] == ["bootstrap-controller"]
    assert {"fixed": "1", "team": "a"}.items() <= pod["metadata"]["labels"].items()
    assert "other" not in pod["metadata"]["labels"]
    assert [s["metadata"]["name"] for s in cm.cnpg_services(cluster, ["team"])] == ["db-rw"]


def test_keycloak_pods_come_from_the_pod_template_and_the_operator_adds_no_security_context(real_plan_dir):
    objs = objects_of(real_plan_dir, "shared", "operator-keycloak")
    sts = objs["statefulset-urban-identity-keycloak.yaml"]
    template = sts["spec"]["template"]
    assert template["metadata"]["labels"]["urban-stack/module"] == "identity"
    assert template["metadata"]["labels"]["app.kubernetes.io/component"] == "server"
    assert sts["spec"]["serviceName"] == "keycloak-discovery"
    [container] = template["spec"]["containers"]
    assert [p["containerPort"] for p in container["ports"]] == [8443, 8080, 9000]
    cr = yaml.safe_load((real_plan_dir / "shared" / "keycloak-urban-identity-keycloak.yaml").read_text())
    template_sc = (cr["spec"]["unsupported"]["podTemplate"].get("spec") or {}).get("securityContext")
    assert template["spec"].get("securityContext") == template_sc
    discovery = objs["service-urban-identity-keycloak-discovery.yaml"]
    assert discovery["spec"]["clusterIP"] == "None" and discovery["spec"]["ports"][0]["port"] == 7800


def test_keycloak_service_ports_follow_http_and_tls_settings():
    cr = {"metadata": {"name": "kc", "namespace": "id"},
          "spec": {"http": {"tlsSecret": "tls", "labels": {"a": "b"}}}}
    service, _ = cm.keycloak_services(cr)
    assert [p["name"] for p in service["spec"]["ports"]] == ["https", "management"]
    assert service["metadata"]["labels"]["a"] == "b"


def test_the_gateway_gets_an_envoy_deployment_and_service_in_envoy_gateways_namespace(real_plan_dir):
    objs = objects_of(real_plan_dir, "shared", "operator-gateway")
    name = cm.envoy_resource_name("urban-gateway", "urban-gateway")
    deploy = objs[f"deployment-urban-gateway-{name}.yaml"]
    service = objs[f"service-urban-gateway-{name}.yaml"]
    assert service["spec"]["type"] == "LoadBalancer"
    # The shared stack's plan holds the Gateway's own listeners only: the municipalities' ListenerSets add their
    # ports at run time, without a change to the shared stack (test below).
    assert [(p["name"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [
        ("http-80", 80, 10080), ("https-443", 443, 10443)]
    pod_labels = deploy["spec"]["template"]["metadata"]["labels"]
    assert pod_labels["urban-stack/module"] == "gateway"  # from the EnvoyProxy's pod labels
    assert pod_labels["gateway.envoyproxy.io/owning-gateway-name"] == "urban-gateway"
    envoy, shutdown = deploy["spec"]["template"]["spec"]["containers"]
    assert envoy["securityContext"] == shutdown["securityContext"]  # the EnvoyProxy's container context, both


def test_admitted_listenersets_add_their_listener_ports_to_the_envoy_service(real_plan_dir):
    """Envoy Gateway v1.9.0 merges the listeners of admitted ListenerSets into the Gateway's (listenerset.go
    processListenerSet), so every municipality's back-channel port becomes a port of the same proxy Service; a
    ListenerSet from a namespace the Gateway does not admit adds nothing."""
    def own(stack: str) -> list[dict]:
        return [read(f) for f in sorted((real_plan_dir / stack).glob("*.yaml"))]

    from catalogue import cells
    from catalogue.shared_config import load_file

    default_cell = cells.layout(load_file(), load_all())[0]  # the default cell's Gateway and its members
    gateway = next(o for o in own(default_cell.platform) if o["kind"] == "Gateway")
    namespaces, listener_sets = [], []
    for slug in sorted(default_cell.members):
        objs = own(default_cell.members[slug])
        namespaces += [o for o in objs if o["kind"] == "Namespace"]
        listener_sets += [o for o in objs if o["kind"] == "ListenerSet"]
    attached = cm.attached_listener_sets(gateway, [*namespaces, *listener_sets])
    assert len(attached) == len(default_cell.members)
    service = cm.envoy_infra(gateway, None, "urban-gateway", "eg", attached)[1]
    back = [names.backchannel_port(slug) for slug in sorted(default_cell.members)]  # ListenerSets by namespace/name
    assert [(p["name"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [
        ("http-80", 80, 10080), ("https-443", 443, 10443), *((f"http-{port}", port, port) for port in back)]
    stranger = {**listener_sets[0], "metadata": {**listener_sets[0]["metadata"], "namespace": "somewhere"}}
    assert cm.attached_listener_sets(gateway, [*namespaces, stranger]) == []
    assert cm.attached_listener_sets(gateway, listener_sets) == [], "an unlabelled namespace is no municipality"


def test_envoy_resource_names_are_hashed_like_envoy_gateway():
    # internal/utils/misc.go GetHashedName: name, '-', first 8 hex of sha256("<ns>/<name>")
    assert cm.envoy_resource_name("ns", "gw").startswith("envoy-ns-gw-")
    long = cm.envoy_resource_name("n" * 30, "g" * 30)
    assert len(long) == len("envoy-") + 48 + 9


def test_an_acme_certificate_gets_a_solver_pod_service_and_route_per_name_in_its_namespace(real_plan_dir):
    cert = yaml.safe_load((real_plan_dir / "verl" / "certificate-verl-verl-tls.yaml").read_text())
    objs = list(objects_of(real_plan_dir, "verl", "operator-certificate").values())
    names = cert["spec"]["dnsNames"]
    pods = [o for o in objs if o["kind"] == "Pod"]
    assert len(pods) == len(names) == len([o for o in objs if o["kind"] == "HTTPRoute"])
    assert all(o["metadata"]["namespace"] == "verl" for o in objs)
    pod = pods[0]
    assert pod["metadata"]["labels"]["acme.cert-manager.io/http01-solver"] == "true"
    assert pod["spec"]["containers"][0]["ports"] == [{"name": "http", "containerPort": 8089}]
    assert pod["spec"]["containers"][0]["image"] == f"quay.io/jetstack/cert-manager-acmesolver:{app_version('cert-manager')}"
    # verl's own Issuer answers on the HTTP listener of verl's own ListenerSet only (issue 15 item 1, issue 21).
    assert [o["spec"]["parentRefs"] for o in objs if o["kind"] == "HTTPRoute"] == [[{
        "group": "gateway.networking.k8s.io", "kind": "ListenerSet", "name": "urban-listeners", "namespace": "verl",
        "sectionName": "http"}]] * len(names)
    assert pod["spec"]["securityContext"]["runAsUser"] >= 10000  # the solver's podTemplate


def test_the_solver_is_picked_per_name_by_dns_names_then_the_longest_zone_then_no_selector():
    def solver(section, selector=None):
        s = {"http01": {"gatewayHTTPRoute": {"parentRefs": [{"name": "gw", "sectionName": section}]}}}
        return {**s, "selector": selector} if selector is not None else s

    issuer = {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "acme"},
              "spec": {"acme": {"solvers": [
                  solver("fallback"),
                  solver("zone", {"dnsZones": ["example.org"]}),
                  solver("subzone", {"dnsZones": ["verl.example.org"]}),
                  solver("exact", {"dnsNames": ["id.example.org"]}),
                  solver("labelled", {"dnsZones": ["verl.example.org"], "matchLabels": {"team": "x"}})]}}}
    cert = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "c", "namespace": "n"},
            "spec": {"dnsNames": ["id.example.org", "a.verl.example.org", "b.example.org", "other.test"],
                     "issuerRef": {"kind": "ClusterIssuer", "name": "acme"}}}
    routes = [o for o in cm.expand([cert], [issuer, cert])["operator-certificate"] if o["kind"] == "HTTPRoute"]
    picked = {r["spec"]["hostnames"][0]: r["spec"]["parentRefs"][0]["sectionName"] for r in routes}
    assert picked == {"id.example.org": "exact", "a.verl.example.org": "subzone", "b.example.org": "zone",
                      "other.test": "fallback"}


def test_a_certificate_from_a_ca_issuer_makes_no_solver():
    issuer = {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "ca"},
              "spec": {"ca": {"secretName": "root"}}}
    cert = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "c", "namespace": "x"},
            "spec": {"dnsNames": ["a.example"], "issuerRef": {"kind": "ClusterIssuer", "name": "ca"}}}
    assert cm.expand([cert], [issuer, cert]) == {}


def test_a_bucket_claim_gets_an_unlabelled_secret_and_config_map_of_its_name(real_plan_dir):
    objs = objects_of(real_plan_dir, "verl", "operator-objectbucketclaim")
    assert set(objs) == {"secret-verl-verl-bucket.yaml", "configmap-verl-verl-bucket.yaml"}
    assert all("labels" not in o["metadata"] for o in objs.values())
    assert all(o["metadata"]["finalizers"] == ["objectbucket.io/finalizer"] for o in objs.values())


def test_kube_prometheus_stacks_prometheus_gets_the_operators_statefulset_with_its_pod_labels(real_plan_dir):
    """prometheus-operator v0.93.1 makes StatefulSet prometheus-<name> from the chart's Prometheus CR; its pods carry
    the labels our NetworkPolicies select Prometheus by (components/shared/monitoring.py PROMETHEUS_POD_LABELS)."""
    from components.shared.monitoring import PROMETHEUS_POD_LABELS

    [sts] = objects_of(real_plan_dir, "shared", "operator-prometheus").values()
    assert sts["metadata"]["name"] == "prometheus-kps-prometheus"
    template = sts["spec"]["template"]
    assert PROMETHEUS_POD_LABELS.items() <= template["metadata"]["labels"].items()
    assert template["metadata"]["labels"]["urban-stack/module"] == "monitoring", "spec.podMetadata is copied"
    assert sts["spec"]["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
    ports = {c["name"]: [p["containerPort"] for p in c["ports"]] for c in template["spec"]["containers"]}
    assert ports == {"prometheus": [9090], "config-reloader": [8080]}
    # the reloader image the chart passes to the operator (--prometheus-config-reloader), not a guess
    assert {c["image"] for c in template["spec"]["initContainers"]} == {
        "quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1"}
    assert sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "prometheus-kps-prometheus-db"
    assert sts["spec"]["volumeClaimTemplates"][0]["metadata"]["labels"]["urban-stack/module"] == "monitoring"


def test_the_operator_made_prometheus_has_the_operators_probes_and_the_reloaders_the_flags_resources(real_plan_dir):
    [sts] = objects_of(real_plan_dir, "shared", "operator-prometheus").values()
    pod = sts["spec"]["template"]["spec"]
    prometheus = next(c for c in pod["containers"] if c["name"] == "prometheus")
    # promcfg.go BuildProbes (v0.93.0, unchanged since v0.86.2): startup 15 s x 60 on /-/ready, readiness 5 s x 3, liveness 5 s x 6
    assert prometheus["startupProbe"] == {"httpGet": {"path": "/-/ready", "port": "http-web"}, "timeoutSeconds": 3,
                                          "periodSeconds": 15, "failureThreshold": 60}
    assert prometheus["livenessProbe"]["httpGet"]["path"] == "/-/healthy"
    reloaders = {c["name"]: c for c in [*pod["initContainers"], *pod["containers"]] if "reloader" in c["name"]}
    assert set(reloaders) == {"init-config-reloader", "config-reloader"}
    for c in reloaders.values():
        assert c["resources"] == {"limits": {"cpu": "100m", "memory": "32Mi"},
                                  "requests": {"cpu": "20m", "memory": "32Mi"}}, c["name"]
    assert reloaders["config-reloader"]["readinessProbe"] == {"httpGet": {"path": "/healthz", "port": 8080}}
    assert "readinessProbe" not in reloaders["init-config-reloader"]


def test_the_operator_made_prometheus_mounts_its_rule_config_maps_read_only_from_optional_volumes(real_plan_dir):
    # prometheus-operator v0.93.0 pkg/prometheus/server/statefulset.go appendServerVolumes: each rule ConfigMap is an
    # optional volume, mounted read-only into the prometheus container; the reloaders mount it to watch it.
    [sts] = objects_of(real_plan_dir, "shared", "operator-prometheus").values()
    pod = sts["spec"]["template"]["spec"]
    rules = {v["name"]: v for v in pod["volumes"] if "-rulefiles-" in v["name"]}
    assert rules and all(v["configMap"]["optional"] is True for v in rules.values())
    prometheus = next(c for c in pod["containers"] if c["name"] == "prometheus")
    mounts = [m for m in prometheus["volumeMounts"] if m["name"] in rules]
    assert mounts and all(m["readOnly"] is True for m in mounts)


def test_reloaders_of_an_operator_given_zero_quantities_run_without_resources_and_probes():
    cr = {"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus", "metadata": {"name": "p", "namespace": "m"},
          "spec": {"version": "v3.7.3", "routePrefix": "/prom/", "maximumStartupDurationSeconds": 600}}
    args = ["--prometheus-config-reloader=r:1", "--config-reloader-cpu-request=0", "--config-reloader-cpu-limit=0",
            "--config-reloader-memory-request=0", "--config-reloader-memory-limit=0"]
    [sts] = cm.prometheus_statefulsets(cr, cm.ReloaderConfig.from_args(args))
    pod = sts["spec"]["template"]["spec"]
    reloader = next(c for c in pod["containers"] if c["name"] == "config-reloader")
    assert reloader["image"] == "r:1" and reloader["resources"] == {} and "livenessProbe" not in reloader
    prometheus = next(c for c in pod["containers"] if c["name"] == "prometheus")
    # getStatupProbePeriodSecondsAndFailureThreshold(600) = (60, 10); path.Clean(routePrefix + "/-/ready")
    assert prometheus["startupProbe"]["httpGet"]["path"] == "/prom/-/ready"
    assert (prometheus["startupProbe"]["periodSeconds"], prometheus["startupProbe"]["failureThreshold"]) == (60, 10)


def test_a_sharded_prometheus_gets_a_statefulset_per_shard():
    cr = {"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus",
          "metadata": {"name": "p", "namespace": "m", "labels": {"team": "a"}},
          "spec": {"shards": 2, "version": "v3.7.3", "replicas": 1}}
    first, second = cm.prometheus_statefulsets(cr, cm.ReloaderConfig(image="reloader:1"))
    assert [first["metadata"]["name"], second["metadata"]["name"]] == ["prometheus-p", "prometheus-p-shard-1"]
    assert second["spec"]["template"]["metadata"]["labels"]["operator.prometheus.io/shard"] == "1"
    assert first["metadata"]["labels"]["team"] == "a" and "volumeClaimTemplates" not in first["spec"]
    assert {"name": "prometheus-p-db", "emptyDir": {}} in first["spec"]["template"]["spec"]["volumes"]
def test_gateway_infrastructure_labels_reach_the_envoy_deployment_its_pods_and_service_over_the_app_labels():
    gateway = {"metadata": {"name": "gw", "namespace": "ns"},
               "spec": {"infrastructure": {"labels": {"urban-stack/tenant": "shared"}},
                        "listeners": [{"name": "http", "protocol": "HTTP", "port": 80}]}}
    proxy = {"spec": {"provider": {"kubernetes": {"envoyDeployment": {
        "pod": {"labels": {"app.kubernetes.io/managed-by": "someone-else"}}}}}}}
    deploy, service = cm.envoy_infra(gateway, proxy, "eg", "img")
    for labels in (deploy["metadata"]["labels"], deploy["spec"]["template"]["metadata"]["labels"],
                   service["metadata"]["labels"]):
        assert labels["urban-stack/tenant"] == "shared"
    # resource_provider.go getPodLabels/envoyLabels: pod labels are copied over the app labels, while the selector
    # keeps managed-by=envoy-gateway: such a pod template no longer matches its Deployment's selector.
    assert deploy["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "someone-else"
    assert deploy["spec"]["selector"]["matchLabels"]["app.kubernetes.io/managed-by"] == "envoy-gateway"


def test_the_envoy_deployment_takes_the_envoyproxys_priority_class_service_account_and_leaves_replicas_to_an_hpa():
    """Envoy Gateway v1.9.0 internal/infrastructure/kubernetes/proxy/resource_provider.go: ``PriorityClassName``
    from ``envoyDeployment.pod`` (a field since v1.8), ``serviceAccountName()`` from ``envoyServiceAccount.name``,
    and no ``replicas`` when ``envoyHpa`` is set."""
    gateway = {"metadata": {"name": "gw", "namespace": "ns"},
               "spec": {"listeners": [{"name": "http", "protocol": "HTTP", "port": 80}]}}
    plain, _ = cm.envoy_infra(gateway, {"spec": {"provider": {"kubernetes": {"envoyDeployment": {"replicas": 2}}}}},
                              "eg", "img")
    assert "priorityClassName" not in plain["spec"]["template"]["spec"] and plain["spec"]["replicas"] == 2
    assert plain["spec"]["template"]["spec"]["serviceAccountName"] == cm.envoy_resource_name("ns", "gw")
    proxy = {"spec": {"provider": {"kubernetes": {
        "envoyDeployment": {"replicas": 2, "pod": {"priorityClassName": "urban-platform-critical"}},
        "envoyServiceAccount": {"name": "envoy-sa"}, "envoyHpa": {"maxReplicas": 4}}}}}
    deploy, _ = cm.envoy_infra(gateway, proxy, "eg", "img")
    pod = deploy["spec"]["template"]["spec"]
    assert pod["priorityClassName"] == "urban-platform-critical" and pod["serviceAccountName"] == "envoy-sa"
    assert "replicas" not in deploy["spec"]


def test_a_nodeport_envoy_service_keeps_the_external_traffic_policy():
    gateway = {"metadata": {"name": "gw", "namespace": "ns"},
               "spec": {"listeners": [{"name": "http", "protocol": "HTTP", "port": 80}]}}
    proxy = {"spec": {"provider": {"kubernetes": {"envoyService": {"type": "NodePort"}}}}}
    _, service = cm.envoy_infra(gateway, proxy, "eg", "img")
    assert service["spec"]["externalTrafficPolicy"] == "Local"  # resource.go ExpectedServiceSpec, v1.9.0
    _, cluster_ip = cm.envoy_infra(gateway, {"spec": {"provider": {"kubernetes": {
        "envoyService": {"type": "ClusterIP"}}}}}, "eg", "img")
    assert "externalTrafficPolicy" not in cluster_ip["spec"]


def test_an_envoy_deployment_patch_merges_into_the_named_container_like_a_strategic_merge_patch():
    gateway = {"metadata": {"name": "gw", "namespace": "ns"},
               "spec": {"listeners": [{"name": "http", "protocol": "HTTP", "port": 80}]}}
    limits = {"cpu": "100m", "memory": "64Mi"}
    proxy = {"spec": {"provider": {"kubernetes": {"envoyDeployment": {"patch": {"type": "StrategicMerge", "value": {
        "spec": {"template": {"spec": {"containers": [{"name": "shutdown-manager", "resources": {"limits": limits}}]}}}}}}}}}}
    deploy, _ = cm.envoy_infra(gateway, proxy, "eg", "img")
    by_name = {c["name"]: c for c in deploy["spec"]["template"]["spec"]["containers"]}
    assert list(by_name) == ["envoy", "shutdown-manager"]
    # internal/utils/merge.go MergeWithPatch: containers merge by name, the requests stay
    assert by_name["shutdown-manager"]["resources"] == {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": limits}
    assert by_name["shutdown-manager"]["command"] == ["envoy-gateway"]


def test_the_real_envoy_data_plane_has_limits_on_both_containers(real_plan_dir):
    name = cm.envoy_resource_name("urban-gateway", "urban-gateway")
    deploy = yaml.safe_load((real_plan_dir / "shared" / "operator-gateway" /
                             f"deployment-urban-gateway-{name}.yaml").read_text())
    for c in deploy["spec"]["template"]["spec"]["containers"]:
        assert {"cpu", "memory"} <= set(c["resources"]["limits"]), c["name"]


def test_tenant_database_pods_run_the_barman_sidecar_with_limits(real_plan_dir):
    pod = yaml.safe_load((real_plan_dir / "verl" / "operator-cluster" / "pod-verl-postgis-1.yaml").read_text())
    sidecar = next(c for c in pod["spec"]["initContainers"] if c["name"] == "plugin-barman-cloud")
    assert {"cpu", "memory"} <= set(sidecar["resources"]["limits"])


def test_the_keycloak_statefulset_carries_the_environment_the_operator_injects(real_plan_dir):
    # KeycloakDeploymentDependentResource.addEnvVars / KeycloakDistConfigurator (operator 26.x, see cluster_model)
    sts = objects_of(real_plan_dir, "shared", "operator-keycloak")["statefulset-urban-identity-keycloak.yaml"]
    [kc] = sts["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in kc["env"]}
    # the pinned 26.8.0 operator sets no truststore path (keycloak/keycloak#44506: the server reads the SA ca.crt)
    assert "KC_TRUSTSTORE_PATHS" not in env
    assert env["KC_DB"]["value"] == "postgres" and env["KC_DB_URL_HOST"]["value"] == "keycloak-db-rw"
    assert env["KC_DB_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "keycloak-db-app", "key": "password"}
    assert env["KC_BOOTSTRAP_ADMIN_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"]["key"] == "client-secret"
    assert env["KC_HEALTH_ENABLED"]["value"] == "true" and env["KC_CACHE"]["value"] == "ispn"
    # an additional option that is not a default also names itself in KCKEY_<NAME>
    assert env["KCKEY_METRICS_ENABLED"]["value"] == "metrics-enabled" and "KCKEY_HEALTH_ENABLED" not in env
    assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert env["KC_TRACING_SERVICE_NAME"]["value"] == "keycloak"
    assert kc["args"][0] == "-Djgroups.bind.address=$(POD_IP)" and "--optimized" not in kc["args"]
    # our CR and pod template: no token, the cluster CA mounted at the service-account path
    spec = sts["spec"]["template"]["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert {"name": "kube-root-ca", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
            "readOnly": True} in kc["volumeMounts"]
    assert kc["imagePullPolicy"] == "IfNotPresent"


def _env_and_automount(cr, operator):
    pod = cm.keycloak_statefulset(cr, operator=operator)["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    return env.get("KC_TRUSTSTORE_PATHS"), pod.get("automountServiceAccountToken", "unset")


SA_CA = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"


def test_before_26_5_the_operator_points_keycloak_at_the_service_account_ca_and_ignores_the_token_field():
    # KeycloakDeploymentDependentResource at 0064e060 (before keycloak/keycloak#40605)
    cr = {"metadata": {"name": "kc", "namespace": "id"}, "spec": {"automountServiceAccountToken": False}}
    assert _env_and_automount(cr, "26.4.5") == (SA_CA, "unset")


def test_in_26_5_the_token_field_sets_the_pod_and_switches_the_truststore_path_off():
    # KeycloakDeploymentDependentResource at ee99112b (the 26.5 line): automount always set from the CR (true
    # unless false), KC_TRUSTSTORE_PATHS only while the token is mounted
    off = {"metadata": {"name": "kc", "namespace": "id"}, "spec": {"automountServiceAccountToken": False}}
    unset = {"metadata": {"name": "kc", "namespace": "id"}, "spec": {}}
    assert _env_and_automount(off, "26.5.7") == (None, False)
    assert _env_and_automount(unset, "26.5.7") == (SA_CA, True)


def test_from_26_6_the_server_reads_the_ca_itself_and_the_operator_sets_no_truststore_path():
    # changes-26_6_0.adoc "Truststore initialization moved to the server" (keycloak/keycloak#44506)
    off = {"metadata": {"name": "kc", "namespace": "id"}, "spec": {"automountServiceAccountToken": False}}
    unset = {"metadata": {"name": "kc", "namespace": "id"}, "spec": {}}
    assert _env_and_automount(off, "26.8.0") == (None, False)
    assert _env_and_automount(unset, "26.8.0") == (None, True)


def test_the_operator_overrides_the_templates_token_setting_with_the_crs():
    # createBaseDeployment: specBuilder.withAutomountServiceAccountToken(automount) after the template is copied
    template = {"unsupported": {"podTemplate": {"spec": {"automountServiceAccountToken": False}}}}
    cr = {"metadata": {"name": "kc", "namespace": "id"}, "spec": template}
    assert _env_and_automount(cr, "26.8.0") == (None, True)
    assert _env_and_automount(cr, "26.4.5") == (SA_CA, False)


def test_keycloak_tls_and_truststores_get_the_operators_mounts_and_the_template_env_wins():
    cr = {"metadata": {"name": "kc", "namespace": "id"},
          "spec": {"http": {"tlsSecret": "kc-tls"}, "truststores": {"corp": {"secret": {"name": "corp-ca"}}},
                   "unsupported": {"podTemplate": {"spec": {"containers": [{"env": [
                       {"name": "KC_TRUSTSTORE_PATHS", "value": "/opt/keycloak/conf/truststores"}]}]}}}}}
    sts = cm.keycloak_statefulset(cr)
    [kc] = sts["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in kc["env"]}
    assert env["KC_HTTPS_CERTIFICATE_FILE"] == "/mnt/certificates/tls.crt"
    assert env["KC_TRUSTSTORE_PATHS"] == "/opt/keycloak/conf/truststores"
    assert [m["mountPath"] for m in kc["volumeMounts"]] == ["/mnt/certificates",
                                                            "/opt/keycloak/conf/truststores/secret-corp-ca"]
    assert kc["imagePullPolicy"] == "Always"  # the operator's default when the template names none
