"""Monitoring and metering: kube-prometheus-stack and OpenCost in ``urban-monitoring``.

* Prometheus picks up every ServiceMonitor/PodMonitor/PrometheusRule of the cluster (tenant stacks and
  operators bring their own); in ``production`` two Prometheus and three Alertmanager replicas, spread over
  nodes, with PodDisruptionBudgets.
* OpenCost reads Prometheus and prices usage with the platform's own price list
  (:func:`platform_prices`, OpenCost custom pricing from ``finance/prices.yaml``); its ``/allocation`` API aggregates by namespace or by
  the cost labels (``aggregate=label:urban-stack/tenant``). One replica: OpenCost is not clustered.
  Its UI is off (the API is what finance reads); the exporter runs non-root with a read-only root filesystem.
* Grafana's admin password is generated (pulumi-random) into Secret ``grafana-admin``; the chart's own Secret
  (a password from ``randAlphaNum`` at every render) is not created.
* Only Prometheus leaves the namespace to scrape, and only to the ports of what it scrapes
  (:data:`SCRAPE_PORTS`); platform namespaces admit Prometheus on exactly those ports
  (``components/shared/platform.py``).
* The namespace enforces Pod Security ``privileged``: node-exporter needs the host's network and PID
  namespaces to report node metrics; every other pod here still runs restricted settings.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_random as random

from catalogue import names
from catalogue.labels import shared_scope
from catalogue.shared_config import SharedConfig
from components.k8s import DEFAULT_UID, child, secret
from components.shared.operators import RESTRICTED_CONTAINER, helm_chart, pod_labels
from components.shared.profile import Profile

MODULE = "monitoring"
KPS_FULLNAME = "kps"
PROMETHEUS_SERVICE = f"{KPS_FULLNAME}-prometheus"
PROMETHEUS_PORT = 9090

PROMETHEUS_POD_LABELS = {"app.kubernetes.io/name": "prometheus", "operator.prometheus.io/name": PROMETHEUS_SERVICE}
"""Labels the Prometheus operator puts on the pods of Prometheus ``kps-prometheus`` (CRD ``Prometheus``
``spec.podMetadata``, vendored kube-prometheus-stack 88.5.3 charts/crds/crds/crd-prometheuses.yaml: "app.kubernetes.io/name"
set to "prometheus", "operator.prometheus.io/name" set to the name of the Prometheus object; the object's name is
``<fullname>-prometheus``, templates/_helpers.tpl ``kube-prometheus-stack.prometheus.crname``)."""
SCRAPE_PORTS: dict[str, tuple[int, ...]] = {
    # CloudNativePG operator: PodMonitor on container port "metrics" 8080 (vendored chart cloudnative-pg 0.29.0,
    # templates/podmonitor.yaml, deployment.yaml).
    names.NS_OPERATORS: (8080,),
    # cert-manager controller, webhook, cainjector: ServiceMonitor on 9402 (vendored chart cert-manager v1.21.1,
    # templates/servicemonitor.yaml, service.yaml, *-deployment.yaml containerPort 9402).
    names.NS_CERT_MANAGER: (9402,),
    # Keycloak: the operator's ServiceMonitor (Keycloak CR spec.serviceMonitor, enabled by default) on the
    # management interface 9000; Keycloak's database: CloudNativePG PodMonitor on the instance exporter 9187
    # (CloudNativePG documentation "Monitoring": port 9187, named "metrics").
    names.NS_IDENTITY: (names.KEYCLOAK_MANAGEMENT_PORT, 9187),
    # Rook-Ceph (CephCluster monitoring.enabled): ceph-mgr's exporter 9283 (rook pkg/operator/ceph/cluster/mgr
    # DefaultMetricsPort) and ceph-exporter 9926 (rook pkg/operator/ceph/cluster/nodedaemon/exporter.go).
    names.NS_STORAGE: (9283, 9926),
    # CoreDNS: the chart's coreDns ServiceMonitor, port 9153 (values.yaml coreDns.service.port).
    "kube-system": (9153,),
}
"""Namespace -> ports Prometheus scrapes there. ``urban-gateway`` has nothing scraped; ``urban-monitoring``
itself is reached inside the namespace."""
NODE_SCRAPE_PORTS = (9100, 10250)
"""On the nodes' addresses: node-exporter (host network, 9100) and the kubelets (10250)."""
GRAFANA_ADMIN_SECRET = "grafana-admin"
GRAFANA_ADMIN_USER = "admin"
def pdb_one_at_a_time(replicas: int) -> dict[str, Any]:
    """Chart values of a PodDisruptionBudget that lets one of ``replicas`` pods go at a time (none for one replica).

    kube-prometheus-stack 88.5.3 writes every key of ``podDisruptionBudget`` but ``enabled`` into the budget's spec
    (templates/prometheus/podDisruptionBudget.yaml, templates/alertmanager/podDisruptionBudget.yaml:
    ``toYaml (omit .Values.<section>.podDisruptionBudget "enabled")``) over the defaults ``minAvailable: 1`` and
    ``unhealthyPodEvictionPolicy: AlwaysAllow`` (values.yaml). A ``maxUnavailable`` of ours would give a budget with
    both, which the API server rejects, and the default cannot be dropped: Helm's way is ``null``, but the Python SDK
    strips ``None`` from maps before they reach the provider (pulumi/pulumi#12178), and an empty string would be
    written as it is. So the budget says ``minAvailable: replicas - 1``: with the profile's fixed replica count,
    the same as ``maxUnavailable: 1``."""
    return {"enabled": replicas > 1, "minAvailable": max(replicas - 1, 0)}


OPENCOST_CONFIG_PATH = "/tmp/custom-config"
"""``CONFIG_PATH`` of the OpenCost exporter: the chart's ``opencost.customPricing.configPath`` default (opencost
chart 2.5.17 values.yaml), set explicitly so that tests and docs name it. OpenCost writes into this directory (its
pricing file, other config files and downloads). Since chart 2.5.5 (opencost-helm-chart#316, commit e05653a) the
chart itself mounts an emptyDir ``custom-configs`` at this path when custom pricing is on (templates/deployment.yaml)
and no longer mounts the pricing ConfigMap into it: OpenCost reads the ConfigMap named by ``PRICING_CONFIGMAP_NAME``
through the API and writes the pricing file here, so the read-only root filesystem needs no volume of ours (a
second volume at the same path would be refused: mount paths of a container must be unique)."""

HOURS_PER_MONTH = 730
"""8760 hours a year / 12: converts the catalogue's monthly prices to OpenCost's hourly ones."""


def platform_prices(provider: str | None = None) -> tuple[str, dict[str, float], str]:
    """``(currency, prices, where from)`` from the one price source: the unit prices of ``finance/prices.yaml``,
    replaced by those of the provider file ``urban-stack:pricesProvider`` names
    (``finance/prices/providers/<name>.yaml``, via :func:`catalogue.prices.with_provider`, the same function
    ``urbanstack costs --provider`` uses). The prices OpenCost meters usage with are the prices the statements
    charge: CPU = one vCPU, RAM = one GiB, storage = one GiB of persistent volume, each for one hour; internet
    egress per GiB (the provider's price; 0 without a provider file)."""
    from catalogue.prices import load_prices, load_provider, with_provider

    catalogue = with_provider(load_prices(), load_provider(provider) if provider else None)
    unit = catalogue.unitPrices
    egress = catalogue.provider.services.egressGib.amount if catalogue.provider else 0
    where = f"finance/prices/providers/{provider}.yaml" if provider else "finance/prices.yaml"
    return catalogue.currency, {
        "CPU": float(unit.vcpuMonth) / HOURS_PER_MONTH,
        "RAM": float(unit.ramGibMonth) / HOURS_PER_MONTH,
        "storage": float(unit.blockStorageGibMonth) / HOURS_PER_MONTH,
        "internetNetworkEgress": float(egress),
    }, where


def opencost_cost_model(provider: str | None = None) -> dict[str, Any]:
    """OpenCost ``customPricing.costModel``: the platform prices, no GPU or spot surcharges.

    The keys are those of OpenCost's ``CustomPricing`` (opencost pkg/cloud/models/models.go: ``CPU`` per
    core-hour, ``RAM`` per GiB-hour, ``storage`` per GB-hour, ``internetNetworkEgress`` per GB, ``currencyCode``);
    the opencost chart 2.5.17 writes every key of ``costModel`` as one key of the ConfigMap
    ``customPricing.configmapName`` (templates/configmap-custom-pricing.yaml: flat keys, values quoted, plus
    ``provider``), which OpenCost reads by ``PRICING_CONFIGMAP_NAME`` (templates/deployment.yaml). Without
    ``currencyCode`` OpenCost reports in USD."""
    currency, prices, where = platform_prices(provider)
    return {
        "description": f"Urban Stack platform price list ({currency} per hour, from {where})",
        "currencyCode": currency,
        "CPU": prices["CPU"],
        "spotCPU": prices["CPU"],
        "RAM": prices["RAM"],
        "spotRAM": prices["RAM"],
        "GPU": 0.0,
        "storage": prices["storage"],
        "zoneNetworkEgress": 0.0,
        "regionNetworkEgress": 0.0,
        "internetNetworkEgress": prices["internetNetworkEgress"],
    }


def prometheus_values(profile: Profile, cfg: SharedConfig) -> dict[str, Any]:
    labels = pod_labels(shared_scope(cfg.operatorCostCenter), MODULE)
    prom = profile.prometheus_replicas
    alert = profile.alertmanager_replicas
    return {
        "fullnameOverride": KPS_FULLNAME,
        "commonLabels": labels,
        "crds": {"enabled": True},
        "prometheusOperator": {
            "podLabels": labels,
            "priorityClassName": names.PRIORITY_PLATFORM,
            "containerSecurityContext": RESTRICTED_CONTAINER,
            # No admission webhooks, no operator TLS: the chart (kube-prometheus-stack 88.5.3) makes their
            # certificate, Secret kps-admission, only in Helm hook Jobs (templates/prometheus-operator/
            # admission-webhooks/job-patch/, helm.sh/hook pre-install/pre-upgrade/post-install), which helm.v4.Chart never
            # runs; with tls.enabled the operator mounts that Secret (templates/prometheus-operator/deployment.yaml
            # volume tls-secret) and never starts. admissionWebhooks.certManager would need cert-manager's CRDs
            # before this chart, but cert-manager is installed after it (it needs this chart's ServiceMonitor CRD).
            # Consequence: PrometheusRules are not validated when applied; the operator still checks every rule
            # when it loads them and leaves out invalid ones (reported in its logs and in the operator's metrics),
            # and its web endpoint (metrics, /healthz) serves HTTP on 8080 (deployment.yaml, service.yaml).
            "admissionWebhooks": {"enabled": False},
            "tls": {"enabled": False},
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}},
            # The config-reloader containers the operator adds to Prometheus and Alertmanager pods: the chart passes
            # these as --config-reloader-{cpu,memory}-{request,limit} (templates/prometheus-operator/
            # deployment.yaml, `| default 0`), and the operator leaves out a quantity of 0 (prometheus-operator
            # v0.93.0 pkg/operator/config.go ResourceRequirements, unchanged since v0.86.2): with the chart's `resources: {}` they would run
            # unbounded. enableProbe gives them liveness/readiness/startup probes on /healthz
            # (--enable-config-reloader-probes, pkg/operator/config_reloader.go addProbes).
            "prometheusConfigReloader": {
                "enableProbe": True,
                "resources": {"requests": {"cpu": "20m", "memory": "32Mi"}, "limits": {"cpu": "100m", "memory": "32Mi"}},
            },
        },
        "prometheus": {
            "podDisruptionBudget": pdb_one_at_a_time(prom),
            "prometheusSpec": {
                "replicas": prom,
                "podAntiAffinity": "soft" if prom > 1 else "",
                "podMetadata": {"labels": labels},
                "priorityClassName": names.PRIORITY_PLATFORM,
                "retention": profile.prometheus_retention,
                "resources": profile.prometheus_size.resources(),
                # Select every monitor and rule in the cluster, not only the chart's own.
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "ruleSelectorNilUsesHelmValues": False,
                # The operator copies the claim template's metadata to the StatefulSet's claim template
                # (prometheus-operator v0.93.0 pkg/operator/types.go MakeVolumeClaimTemplate; CRD field
                # storage.volumeClaimTemplate.metadata "May contain labels and annotations that will be copied
                # into the PVC", vendored kube-prometheus-stack 88.5.3 crd-prometheuses.yaml): cost labels on the volume.
                "storageSpec": {"volumeClaimTemplate": {"metadata": {"labels": labels}, "spec": {
                    "storageClassName": cfg.storage.blockStorageClass,
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": f"{profile.prometheus_storage_gi}Gi"}},
                }}},
            },
        },
        "alertmanager": {
            "podDisruptionBudget": pdb_one_at_a_time(alert),
            "alertmanagerSpec": {
                "replicas": alert,
                "podAntiAffinity": "soft" if alert > 1 else "",
                "podMetadata": {"labels": labels},
                "priorityClassName": names.PRIORITY_PLATFORM,
                # The chart's default is `resources: {}` (values.yaml), rendered into the Alertmanager CR only when
                # set (templates/alertmanager/alertmanager.yaml): without it the operator's pods run unbounded.
                "resources": {"requests": {"cpu": "50m", "memory": "128Mi"},
                              "limits": {"cpu": "200m", "memory": "128Mi"}},
            },
        },
        # Grafana chart 12.11.1 (grafana-community, vendored under kube-prometheus-stack 88.5.3 charts/grafana): with
        # admin.existingSecret set, templates/secret.yaml renders no Secret of its own and the pod reads
        # GF_SECURITY_ADMIN_USER/PASSWORD from admin.userKey/admin.passwordKey of that Secret (_pod.tpl).
        "grafana": {"podLabels": labels, "priorityClassName": names.PRIORITY_PLATFORM,
                    "admin": {"existingSecret": GRAFANA_ADMIN_SECRET, "userKey": "admin-user",
                              "passwordKey": "admin-password"},
                    "resources": {"requests": {"cpu": "100m", "memory": "256Mi"},
                                  "limits": {"cpu": "1", "memory": "512Mi"}},
                    # Grafana writes only to its volumes (storage emptyDir at /var/lib/grafana incl. plugins, the
                    # sidecars' provisioning/dashboard emptyDirs; the chart's grafana.ini logs to the console).
                    "containerSecurityContext": {"readOnlyRootFilesystem": True},
                    "sidecar": {"resources": {"requests": {"cpu": "10m", "memory": "64Mi"},
                                              "limits": {"cpu": "200m", "memory": "256Mi"}},
                                "securityContext": {"readOnlyRootFilesystem": True}}},
        "kube-state-metrics": {"customLabels": labels, "priorityClassName": names.PRIORITY_PLATFORM,
                               "resources": {"requests": {"cpu": "10m", "memory": "64Mi"},
                                             "limits": {"cpu": "500m", "memory": "256Mi"}}},
        "prometheus-node-exporter": {
            "podLabels": labels, "priorityClassName": names.PRIORITY_PLATFORM,
            "resources": {"requests": {"cpu": "20m", "memory": "32Mi"}, "limits": {"cpu": "250m", "memory": "128Mi"}},
            # Host network and PID stay (node-exporter reads the node's interfaces and processes); as UID 65534
            # (the chart's securityContext) it needs no capability and no escalation: only hostPath reads.
            "containerSecurityContext": {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                                         "capabilities": {"drop": ["ALL"]}},
            "securityContext": {"fsGroup": 65534, "runAsGroup": 65534, "runAsNonRoot": True, "runAsUser": 65534,
                                "seccompProfile": {"type": "RuntimeDefault"}},
        },
    }


def opencost_values(cfg: SharedConfig) -> dict[str, Any]:
    return {
        "podLabels": pod_labels(shared_scope(cfg.operatorCostCenter), MODULE),
        "priorityClassName": names.PRIORITY_PLATFORM,
        "podSecurityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "opencost": {
            "exporter": {
                "replicas": 1,
                "defaultClusterId": cfg.baseDomain,
                # The image runs a static binary as USER 1001 and reads only world-readable files (opencost
                # Dockerfile: ADD --chmod=644 ./configs/*.json /models/); it writes only to CONFIG_PATH, the
                # chart's emptyDir (see OPENCOST_CONFIG_PATH).
                "securityContext": {**RESTRICTED_CONTAINER, "runAsUser": DEFAULT_UID, "runAsGroup": DEFAULT_UID},
                "resources": {"requests": {"cpu": "50m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
            },
            "customPricing": {"enabled": True, "provider": "custom", "createConfigmap": True,
                              "configPath": OPENCOST_CONFIG_PATH,
                              "costModel": opencost_cost_model(cfg.pricesProvider)},
            "prometheus": {"internal": {"enabled": True, "serviceName": PROMETHEUS_SERVICE,
                                        "namespaceName": names.NS_MONITORING, "port": PROMETHEUS_PORT}},
            "metrics": {"serviceMonitor": {"enabled": True}},
            "ui": {"enabled": False},
        },
    }


class Monitoring(pulumi.ComponentResource):
    """kube-prometheus-stack and OpenCost."""

    def __init__(self, name: str, cfg: SharedConfig, profile: Profile, namespace: pulumi.Resource,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("urbanstack:shared:monitoring", name, None, opts)
        self.grafana_password = random.RandomPassword("grafana-admin-password", length=32, special=False,
                                                      opts=child(self))
        self.grafana_secret = secret(self, GRAFANA_ADMIN_SECRET, names.NS_MONITORING,
                                     {"admin-user": GRAFANA_ADMIN_USER, "admin-password": self.grafana_password.result},
                                     opts=pulumi.ResourceOptions(depends_on=[namespace],
                                                                 additional_secret_outputs=["stringData"]))
        self.prometheus = helm_chart(self, "kube-prometheus-stack", names.NS_MONITORING,
                                     prometheus_values(profile, cfg),
                                     pulumi.ResourceOptions(depends_on=[namespace, self.grafana_secret]))
        self.opencost = helm_chart(self, "opencost", names.NS_MONITORING, opencost_values(cfg),
                                   pulumi.ResourceOptions(depends_on=[namespace, self.prometheus]))
        self.register_outputs({})
