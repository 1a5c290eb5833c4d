"""The built-in ClusterRoles ``admin``, ``edit`` and ``view`` as every Kubernetes API server creates them.

Transcribed from Kubernetes' bootstrap RBAC policy: ``plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go``
(``ClusterRoles()``: ``admin``/``edit``/``view`` are empty roles with an ``aggregationRule``; their rules come from
``system:aggregate-to-admin``/``-edit``/``-view``, and ``view`` aggregates into ``edit``, ``edit`` into ``admin``),
as rendered by upstream in ``plugin/pkg/auth/authorizer/rbac/bootstrappolicy/testdata/cluster-roles.yaml``
(kubernetes/kubernetes, commit 025f2834a128798cef30018a5e6a6ae82b5ad885, read for this module; Apache-2.0).
Only the six roles that take part in the aggregation are copied; labels and rules are unchanged, ordering kept.
"""

from __future__ import annotations

import yaml

_CRUD = ["create", "delete", "deletecollection", "patch", "update"]
_READ = ["get", "list", "watch"]

BOOTSTRAP_CLUSTER_ROLES: list[dict] = yaml.safe_load(f"""
- kind: ClusterRole
  metadata: {{name: admin}}
  aggregationRule: {{clusterRoleSelectors: [{{matchLabels: {{rbac.authorization.k8s.io/aggregate-to-admin: "true"}}}}]}}
- kind: ClusterRole
  metadata: {{name: edit, labels: {{rbac.authorization.k8s.io/aggregate-to-admin: "true"}}}}
  aggregationRule: {{clusterRoleSelectors: [{{matchLabels: {{rbac.authorization.k8s.io/aggregate-to-edit: "true"}}}}]}}
- kind: ClusterRole
  metadata: {{name: view, labels: {{rbac.authorization.k8s.io/aggregate-to-edit: "true"}}}}
  aggregationRule: {{clusterRoleSelectors: [{{matchLabels: {{rbac.authorization.k8s.io/aggregate-to-view: "true"}}}}]}}
- kind: ClusterRole
  metadata: {{name: "system:aggregate-to-admin", labels: {{rbac.authorization.k8s.io/aggregate-to-admin: "true"}}}}
  rules:
  - {{apiGroups: [authorization.k8s.io], resources: [localsubjectaccessreviews], verbs: [create]}}
  - {{apiGroups: [rbac.authorization.k8s.io], resources: [rolebindings, roles], verbs: {_CRUD + _READ}}}
- kind: ClusterRole
  metadata: {{name: "system:aggregate-to-edit", labels: {{rbac.authorization.k8s.io/aggregate-to-edit: "true"}}}}
  rules:
  - {{apiGroups: [""], resources: [pods/attach, pods/exec, pods/portforward, pods/proxy, secrets, services/proxy],
     verbs: {_READ}}}
  - {{apiGroups: [""], resources: [serviceaccounts], verbs: [impersonate]}}
  - {{apiGroups: [""], resources: [pods, pods/attach, pods/exec, pods/portforward, pods/proxy], verbs: {_CRUD}}}
  - {{apiGroups: [""], resources: [pods/eviction], verbs: [create]}}
  - {{apiGroups: [""], resources: [configmaps, events, persistentvolumeclaims, replicationcontrollers,
     replicationcontrollers/scale, secrets, serviceaccounts, services, services/proxy], verbs: {_CRUD}}}
  - {{apiGroups: [""], resources: [serviceaccounts/token], verbs: [create]}}
  - {{apiGroups: [apps], resources: [daemonsets, deployments, deployments/rollback, deployments/scale, replicasets,
     replicasets/scale, statefulsets, statefulsets/scale], verbs: {_CRUD}}}
  - {{apiGroups: [autoscaling], resources: [horizontalpodautoscalers], verbs: {_CRUD}}}
  - {{apiGroups: [batch], resources: [cronjobs, jobs], verbs: {_CRUD}}}
  - {{apiGroups: [extensions], resources: [daemonsets, deployments, deployments/rollback, deployments/scale, ingresses,
     networkpolicies, replicasets, replicasets/scale, replicationcontrollers/scale], verbs: {_CRUD}}}
  - {{apiGroups: [policy], resources: [poddisruptionbudgets], verbs: {_CRUD}}}
  - {{apiGroups: [networking.k8s.io], resources: [ingresses, networkpolicies], verbs: {_CRUD}}}
  - {{apiGroups: [coordination.k8s.io], resources: [leases], verbs: {_CRUD + _READ}}}
- kind: ClusterRole
  metadata: {{name: "system:aggregate-to-view", labels: {{rbac.authorization.k8s.io/aggregate-to-view: "true"}}}}
  rules:
  - {{apiGroups: [""], resources: [configmaps, endpoints, persistentvolumeclaims, persistentvolumeclaims/status, pods,
     replicationcontrollers, replicationcontrollers/scale, serviceaccounts, services, services/status], verbs: {_READ}}}
  - {{apiGroups: [""], resources: [bindings, events, limitranges, namespaces/status, pods/log, pods/status,
     replicationcontrollers/status, resourcequotas, resourcequotas/status], verbs: {_READ}}}
  - {{apiGroups: [""], resources: [namespaces], verbs: {_READ}}}
  - {{apiGroups: [discovery.k8s.io], resources: [endpointslices], verbs: {_READ}}}
  - {{apiGroups: [apps], resources: [controllerrevisions, daemonsets, daemonsets/status, deployments, deployments/scale,
     deployments/status, replicasets, replicasets/scale, replicasets/status, statefulsets, statefulsets/scale,
     statefulsets/status], verbs: {_READ}}}
  - {{apiGroups: [autoscaling], resources: [horizontalpodautoscalers, horizontalpodautoscalers/status], verbs: {_READ}}}
  - {{apiGroups: [batch], resources: [cronjobs, cronjobs/status, jobs, jobs/status], verbs: {_READ}}}
  - {{apiGroups: [extensions], resources: [daemonsets, daemonsets/status, deployments, deployments/scale,
     deployments/status, ingresses, ingresses/status, networkpolicies, replicasets, replicasets/scale,
     replicasets/status, replicationcontrollers/scale], verbs: {_READ}}}
  - {{apiGroups: [policy], resources: [poddisruptionbudgets, poddisruptionbudgets/status], verbs: {_READ}}}
  - {{apiGroups: [networking.k8s.io], resources: [ingresses, ingresses/status, networkpolicies], verbs: {_READ}}}
""")
