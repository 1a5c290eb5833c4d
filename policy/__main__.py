"""The Urban Stack policy pack, run by the Pulumi CLI: ``pulumi preview --policy-pack policy``.

The rules themselves are plain functions in ``urbanstack_policies.py`` (tested on the recorded offline plan,
see ``tests/test_policy_*.py``); this file only wraps them. Constructing the ``PolicyPack`` starts the gRPC
server the CLI talks to and never returns, so nothing but the CLI runs this file.
"""

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from urbanstack_policies import POLICIES, PolicyRule


def _validator(rule: PolicyRule):
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in rule.check(args.resource_type, args.props, args.urn):
            report_violation(message, args.urn)

    return validate


PolicyPack(
    name="urban-stack",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        ResourceValidationPolicy(name=rule.name, description=rule.description, validate=_validator(rule))
        for rule in POLICIES
    ],
)
