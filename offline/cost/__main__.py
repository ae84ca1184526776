"""``make cost STACK=<s>``: the monthly cost of a stack from its offline plan (docs/cost.md)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

import pulumi

from offline.cost.estimate import Estimate, estimate, plan_region
from offline.cost.prices import PriceTableError, load_price_table
from offline.cost.report import render
from offline.cost.usage import UsageError, load_usage


class CostError(ValueError):
    """A cost that cannot be computed; the text says what is missing."""


def cost_of_plan(plan: dict, stack: str) -> Estimate:
    """Prices a plan document of ``stack`` with its region's table and its assumptions."""
    region = plan_region(plan)
    if region is None:
        raise CostError(f"stack {stack}: the plan declares no AWS provider region")
    return estimate(plan, load_price_table(region), load_usage(stack))


def main(argv: list[str] | None = None) -> int:
    """Prints the report of one stack; exit 2 with one line per problem on bad input."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", required=True)
    args = parser.parse_args(argv)
    from offline.plan import plan_document, plan_stack  # late: provider imports are slow

    try:
        usage = load_usage(args.stack)
        plan = plan_document(plan_stack(args.stack, steady_state=True))
        est = cost_of_plan(plan, args.stack)
        prices = load_price_table(est.region)
    except (UsageError, PriceTableError, CostError) as bad:
        print(f"quintet: {bad}", file=sys.stderr)
        return 2
    except pulumi.RunError as bad:
        print(f"quintet: invalid configuration: {bad}", file=sys.stderr)
        return 2
    sys.stdout.write(render(est, usage, prices, dt.date.today()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
