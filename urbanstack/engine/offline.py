"""Run a stack's Pulumi program offline under Pulumi's own unit-test mocks and record what it registers.

No Pulumi CLI, no engine and no cluster are involved: ``pulumi.runtime.set_mocks`` replaces the engine's
resource monitor. Two things the engine would do are done here so that the recorded plan is what a
real ``pulumi up`` would send to the provider:

* **resource transforms** registered by the program (``register_resource_transform``, e.g. the cost
  labels) are not run by the mock monitor; :class:`RecordingMocks` records them and applies them to every
  resource's inputs, in registration order, with the parent URN the engine would pass;
* **resource options** (protect, retainOnDelete, dependsOn) are not part of ``MockResourceArgs``; a legacy
  stack transformation (which the SDK runs itself) captures them.

Logical names must be unique per type within a stack (the engine rejects duplicates, the mocks do not):
:func:`run_stack` raises on duplicates.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as pmocks
from pulumi.runtime import rpc
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import SETTINGS, set_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await


@dataclass
class RecordedResource:
    """One registered resource as the engine would have seen it."""

    type: str
    name: str
    urn: str
    parent: str | None
    inputs: dict[str, Any]
    custom: bool
    provider: str | None = None
    secret_paths: list[tuple] = field(default_factory=list)
    protect: bool = False
    retain_on_delete: bool = False
    depends_on: list[str] = field(default_factory=list)
    ignore_changes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON form for ``resources.json`` (the plan writer redacts ``secret_paths`` in ``inputs``)."""
        return {
            "type": self.type,
            "name": self.name,
            "urn": self.urn,
            "parent": self.parent,
            "custom": self.custom,
            "inputs": self.inputs,
            "options": {
                "protect": self.protect,
                "retainOnDelete": self.retain_on_delete,
                "dependsOn": self.depends_on,
                "ignoreChanges": self.ignore_changes,
                "provider": self.provider,
            },
        }


@dataclass
class StackPlan:
    """Everything one stack registered, plus its resolved outputs."""

    stack: str
    resources: list[RecordedResource]
    outputs: dict[str, Any]
    secret_outputs: set[str]
    transforms: list[Callable] = field(default_factory=list)
    """The stack's resource transforms, in registration order (the engine applies them to chart children too)."""
    platform: str | None = None
    """The platform stack of the stack's cell (``shared``, ``shared.<cell>``; itself for a platform stack)."""
    cell: str | None = None
    """The cell the stack belongs to, when planned by cell (``urbanstack/engine/plan.py`` ``plan_all``)."""

    def of_type(self, type_: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_]

    def kube_objects(self) -> list[RecordedResource]:
        """Kubernetes objects (everything the provider would apply), charts and providers excluded."""
        from catalogue.labels import is_labelled_type

        return [r for r in self.resources if r.custom and is_labelled_type(r.type)]

    def find(self, kind: str, name: str | None = None, namespace: str | None = None) -> list[RecordedResource]:
        out = []
        for r in self.kube_objects():
            if r.inputs.get("kind") != kind:
                continue
            md = r.inputs.get("metadata") or {}
            if name is not None and md.get("name") != name:
                continue
            if namespace is not None and md.get("namespace") != namespace:
                continue
            out.append(r)
        return out


_SIG = rpc._special_sig_key
_SECRET_SIG = rpc._special_secret_sig


def unwrap_secrets(value: Any, path: tuple = (), found: list | None = None) -> Any:
    """Replace the wire form of secret values (``{sig: secret, value: v}``) by ``v``; collect their paths."""
    if isinstance(value, dict):
        if value.get(_SIG) == _SECRET_SIG and "value" in value:
            if found is not None:
                found.append(path)
            return unwrap_secrets(value["value"], path, found)
        return {k: unwrap_secrets(v, (*path, k), found) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v, (*path, i), found) for i, v in enumerate(value)]
    return value


def _fake_value(type_: str, name: str, inputs: dict) -> dict:
    """Deterministic outputs for resources whose results a program reads."""
    if type_.startswith("random:index/randomPassword:RandomPassword"):
        length = int(inputs.get("length", 32))
        return {"result": ("mock-" + name.replace(":", "-") + "-" + "x" * length)[:length]}
    if type_.startswith("random:index/randomString:RandomString"):
        return {"result": ("m" + name)[: int(inputs.get("length", 8))]}
    if type_.startswith("random:index/randomId:RandomId"):
        return {"hex": "00" * int(inputs.get("byteLength", 4)), "b64Url": "AAAA"}
    return {}


def apply_transforms(transforms: list[Callable], type_: str, name: str, props: dict[str, Any],
                     parent_urn: str | None, custom: bool = True) -> dict[str, Any]:
    """Run resource transforms on one resource's props, in order, as the engine does.

    The engine hands each transform the resource's type, name, props and options with the parent; the label
    transform reads the parent's URN from there. Also used for the children of Helm charts and ConfigGroups
    (``urbanstack/engine/render.py``), which the engine registers with the chart as their parent.
    """
    for transform in transforms:
        opts = pulumi.ResourceOptions(parent=pulumi.resource.DependencyResource(parent_urn) if parent_urn else None)
        targs = pulumi.ResourceTransformArgs(custom=custom, type_=type_, name=name, props=props, opts=opts)
        result = transform(targs)
        if hasattr(result, "__await__"):
            result = _sync_await(result)
        if result is not None:
            props = dict(result.props)
    return props


class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that apply registered transforms and record every resource (thread-safe)."""

    def __init__(self, stack_outputs: Mapping[str, Mapping[str, Any]] | None = None):
        self.transforms: list[Callable] = []
        self.resources: list[RecordedResource] = []
        self.options: dict[tuple[str, str], dict[str, Any]] = {}
        self.stack_outputs = dict(stack_outputs or {})
        self._lock = threading.Lock()

    # -- Mocks interface -------------------------------------------------------------------------
    def register_transform(self, transform) -> None:
        self.transforms.append(transform)

    def call(self, args: pulumi.runtime.MockCallArgs):
        if args.token == "kubernetes:helm:template":
            return {"result": []}, None
        return {}, None

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        parent = getattr(args, "parent", None) or None
        inputs = apply_transforms(self.transforms, args.typ, args.name, dict(args.inputs), parent, bool(args.custom))
        if args.typ == "pulumi:pulumi:StackReference":
            ref = inputs.get("name") or args.name
            outputs = self.stack_outputs.get(ref)
            if outputs is None:
                raise RuntimeError(f"offline plan: no outputs known for stack reference {ref!r}")
            state = {"name": ref, "outputs": dict(outputs), "secretOutputNames": []}
        else:
            state = dict(inputs)
            state.update(_fake_value(args.typ, args.name, inputs))
            md = state.get("metadata")
            if isinstance(md, dict) and not md.get("name"):
                state["metadata"] = {**md, "name": args.name}
        secret_paths: list[tuple] = []
        recorded = unwrap_secrets(inputs, (), secret_paths)
        with self._lock:
            opts = self.options.get((args.typ, args.name), {})
            self.resources.append(
                RecordedResource(
                    type=args.typ,
                    name=args.name,
                    urn=getattr(args, "urn", ""),
                    parent=parent,
                    inputs=recorded,
                    secret_paths=secret_paths,
                    custom=bool(args.custom),
                    provider=args.provider or None,
                    protect=bool(opts.get("protect")),
                    retain_on_delete=bool(opts.get("retain_on_delete")),
                    depends_on=list(opts.get("depends_on", [])),
                    ignore_changes=list(opts.get("ignore_changes") or []),
                )
            )
        return f"{args.name}-id", state

    # -- legacy stack transformation: sees the real resource options -------------------------------
    def capture_options(self, args: pulumi.ResourceTransformationArgs):
        o = args.opts
        deps = []
        for d in o.depends_on or [] if isinstance(o.depends_on, list | tuple) else [o.depends_on]:
            if d is not None:
                deps.append(f"{getattr(d, '_type', '?')}::{getattr(d, '_name', '?')}")
        with self._lock:
            key = (args.type_, args.name)
            self.options[key] = {
                "protect": o.protect,
                "retain_on_delete": o.retain_on_delete,
                "depends_on": deps,
                "ignore_changes": list(o.ignore_changes or []),
            }
        return None


class RecordingMonitor(pmocks.MockMonitor):
    """The SDK's mock monitor, additionally passing the parent URN and the URN to ``new_resource``."""

    def RegisterResource(self, request):
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            return resource_pb2.RegisterResourceResponse(urn=urn)
        pmocks._ensure_event_loop()
        inputs = rpc.deserialize_properties(request.object)
        args = pulumi.runtime.MockResourceArgs(
            typ=request.type, name=request.name, inputs=inputs, provider=request.provider,
            resource_id=request.importId, custom=request.custom or False,
        )
        args.parent = request.parent or None
        args.urn = urn
        id_, state = self.mocks.new_resource(args)
        obj_proto = _sync_await(rpc.serialize_properties(state, {}))
        self.resources[urn] = pmocks.MockMonitor.ResourceRegistration(urn, id_, state)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=obj_proto)


_QUIET = logging.getLogger("urbanstack.engine.offline.engine")
_QUIET.setLevel(logging.ERROR)


def run_stack(
    stack: str,
    program: Callable[[], Mapping[str, Any] | None],
    *,
    project: str = "urban-stack",
    config: Mapping[str, Any] | None = None,
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
) -> StackPlan:
    """Run ``program`` as stack ``stack`` under mocks; return what it registered and its outputs.

    ``config`` are Pulumi config values (``{"urban-stack:profile": "dev"}``); ``stack_outputs`` the outputs
    of other stacks by fully qualified name, for ``StackReference``.
    """
    mocks = RecordingMocks(stack_outputs)
    set_root_resource(None)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False,
                             monitor=RecordingMonitor(mocks), logger=_QUIET)
    pulumi.runtime.set_all_config({k: v if isinstance(v, str) else json.dumps(v)
                                   for k, v in (config or {}).items()})
    pulumi.runtime.register_stack_transformation(mocks.capture_options)
    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()
    result: dict[str, Any] = {}

    def body():
        outs = program() or {}
        async def resolve():
            for key, value in outs.items():
                out = pulumi.Output.from_input(value)
                result[key] = (await out.future(), await out.is_secret())
        return resolve()

    _sync_await(run_pulumi_func(body))
    seen: dict[tuple[str, str], int] = {}
    for r in mocks.resources:
        seen[(r.type, r.name)] = seen.get((r.type, r.name), 0) + 1
    dups = [f"{t}::{n}" for (t, n), c in seen.items() if c > 1]
    if dups:
        raise RuntimeError(f"stack {stack}: duplicate logical names (the engine would reject them): {dups}")
    return StackPlan(
        stack=stack,
        resources=mocks.resources,
        outputs={k: v for k, (v, _) in result.items()},
        secret_outputs={k for k, (_, s) in result.items() if s},
        transforms=list(mocks.transforms),
    )


def integral_numbers(value: Any) -> Any:
    """Mocks deliver every number as float: integral floats become ints again (plan files, Helm values)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: integral_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [integral_numbers(v) for v in value]
    return value
