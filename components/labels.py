"""The stack-wide resource transform that puts the cost labels (``catalogue/labels.py``) on every object.

Each stack registers it once, inside its program, with the stack's :class:`~catalogue.labels.LabelScope`; the
module of each object comes from the catalogue (``catalogue.modules.cost_modules``), by the object's parent
chain. Helm values get the same labels explicitly from the scope the stack hands its components.
"""

from __future__ import annotations

import pulumi

from catalogue.labels import LabelScope, apply_labels, cost_labels, is_labelled_type, module_of_parent
from catalogue.modules import cost_modules


def make_transform(scope: LabelScope):
    """The stack-wide resource transform that labels every Kubernetes object of the stack."""
    modules = cost_modules()

    async def label_transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        if not is_labelled_type(args.type_) or not args.custom:
            return None
        parent_urn = None
        if args.opts is not None and args.opts.parent is not None:
            parent_urn = await args.opts.parent.urn.future()
        labels = cost_labels(scope, module_of_parent(parent_urn, modules))
        return pulumi.ResourceTransformResult(props=apply_labels(args.type_, args.props, labels), opts=args.opts)

    return label_transform


def register(scope: LabelScope) -> None:
    """Register the label transform for the running stack (call once, inside the program)."""
    pulumi.runtime.register_resource_transform(make_transform(scope))
