"""The policy pack `pulumi preview --policy-pack policies` runs: quintet's rules, mandatory."""

import sys
from datetime import date
from pathlib import Path

# The pack runs with policies/ as its working directory; the EKS calendar lives in the kit.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)
from rules import RULES, Resource, Rule


def _as_policy(rule: Rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [
            Resource(r.resource_type, r.name, r.urn, r.props) for r in args.resources
        ]
        for violation in rule.run(resources, date.today()):
            report_violation(violation.message, violation.urn)

    return StackValidationPolicy(name=rule.name, description=rule.description, validate=validate)


PolicyPack(
    name="quintet-guardrails",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[_as_policy(rule) for rule in RULES],
)
