"""The monthly cost a plan change adds or removes, per component: the cost lines of a plan diff."""

from __future__ import annotations

from offline.cost.estimate import estimate, plan_region
from offline.cost.prices import PriceTable, PriceTableError, load_price_table
from offline.cost.report import signed_usd, usd
from offline.cost.usage import Usage, UsageError, load_usage


def cost_delta_lines(
    old: dict, new: dict, stack: str, prices: PriceTable | None = None,
    usage: Usage | None = None,
) -> list[str]:
    """Lines ``component: +$X/month`` for each component whose cost moves, and the total.

    Both plans are priced with the same table and assumptions (those of ``new``'s region and the
    stack's file), so the delta is what the change itself adds. Figures are at minimum scale;
    a node pool's maximum is named when it moves too.
    """
    try:
        region = plan_region(new) or plan_region(old) or ""
        prices = prices or load_price_table(region)
        usage = usage or load_usage(stack)
    except (PriceTableError, UsageError) as bad:
        first = str(bad).splitlines()[0]
        return [f"cost: not estimated: {first}"]
    before = estimate(old, prices, usage) if old.get("resources") else None
    after = estimate(new, prices, usage)
    old_totals = before.by_component() if before else {}
    new_totals = after.by_component()
    lines = []
    for component in sorted(set(old_totals) | set(new_totals)):
        low_old, high_old = old_totals.get(component, (0.0, 0.0))
        low_new, high_new = new_totals.get(component, (0.0, 0.0))
        if round(low_new - low_old, 2) == 0 and round(high_new - high_old, 2) == 0:
            continue
        text = f"  {component}: {signed_usd(low_new - low_old)}"
        if round(high_new - high_old, 2) != round(low_new - low_old, 2):
            text += f" (at maximum scale {signed_usd(high_new - high_old)})"
        lines.append(text)
    total_old = before.monthly_min if before else 0.0
    header = (f"cost: {signed_usd(after.monthly_min - total_old)} "
              f"({usd(total_old)} -> {usd(after.monthly_min)} per month at minimum scale)")
    unpriced = len(after.unpriced)
    tail = [f"  {unpriced} resources unpriced in the new plan (not counted)"] if unpriced else []
    return [header, *lines, *tail]
