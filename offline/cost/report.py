"""The text of ``make cost``: per component and resource, the assumptions, cost per million."""

from __future__ import annotations

import datetime as dt
from dataclasses import fields

from offline.cost.estimate import Estimate
from offline.cost.prices import PriceTable
from offline.cost.usage import Usage

ARTICLE_GBP_PER_MILLION = 3.0
"""The reference article's figure: under £3 per million requests at typical UK cloud prices."""


def usd(value: float) -> str:
    """Dollars with cents and thousands separators."""
    return f"${value:,.2f}"


def number(value: float) -> str:
    """A plain number: thousands separators, no exponent, no trailing zeros."""
    return f"{value:,.0f}" if value == int(value) else f"{value:,.4g}"


def break_even_requests(est: Estimate, prices: PriceTable) -> float:
    """Edge requests per month above which the stack (at minimum scale) meets the article."""
    gbp = est.monthly_min / prices.usd_per_gbp
    return gbp / ARTICLE_GBP_PER_MILLION * 1e6


def signed_usd(value: float) -> str:
    """A monthly delta with its sign: ``+$12.00/month``."""
    sign = "-" if value < 0 else "+"
    return f"{sign}{usd(abs(value))}/month"


def per_million(est: Estimate, usage: Usage) -> tuple[float, float]:
    """Monthly cost (at minimum scale) per million edge requests, and per million origin ones."""
    edge = usage.requests_per_month / 1e6
    origin = edge * (1 - usage.edge_hit_ratio)
    return (est.monthly_min / edge if edge else float("inf"),
            est.monthly_min / origin if origin else float("inf"))


def render(est: Estimate, usage: Usage, prices: PriceTable, today: dt.date) -> str:
    """The whole report; its last line says whether anything was left unpriced."""
    lines = [f"stack {est.stack}: monthly cost, {prices.region}, on-demand, USD "
             f"(prices read {prices.read.isoformat()}, {prices.hours_per_month:.0f} h/month)"]
    warning = prices.age_warning(today)
    if warning:
        lines.append(warning)
    lines.append("")
    totals = est.by_component()
    for component in sorted(totals):
        low, high = totals[component]
        span = usd(low) if low == high else f"{usd(low)} .. {usd(high)}"
        lines.append(f"{component}: {span}")
        for item in (i for i in est.items if i.component == component):
            fig = usd(item.monthly_min) if item.monthly_min == item.monthly_max else (
                f"{usd(item.monthly_min)} .. {usd(item.monthly_max)}")
            lines.append(f"    {item.resource}: {item.item}: {fig}   [{item.basis}]")
    lines.append("")
    lines.append(f"total: {usd(est.monthly_min)} per month at minimum scale, "
                 f"{usd(est.monthly_max)} at maximum scale")
    lines.append("")
    lines.append("assumptions (cost/" + est.stack + ".yaml):")
    for f in fields(Usage):
        lines.append(f"    {f.name} = {number(getattr(usage, f.name))}")
    edge, origin = per_million(est, usage)
    gbp_edge = edge / prices.usd_per_gbp
    lines.append("")
    lines.append(
        f"cost per million requests: {usd(edge)} (GBP {gbp_edge:,.2f} at {prices.usd_per_gbp} "
        f"USD/GBP) at {number(usage.requests_per_month / 1e6)} M requests/month with "
        f"{usage.edge_hit_ratio:.0%} answered by the edge; {usd(origin)} per million origin "
        f"requests. The article: under GBP {ARTICLE_GBP_PER_MILLION:g} per million "
        f"({'met' if gbp_edge < ARTICLE_GBP_PER_MILLION else 'not met'} at this traffic; the "
        f"minimum-scale cost alone would need {break_even_requests(est, prices) / 1e6:,.0f} M "
        "requests/month, and nodes, LCUs and NAT data grow with traffic, so the real threshold "
        "is higher)."
    )
    if est.unpriced:
        lines.append("")
        lines.append("unpriced (not counted; the totals above are too low by their cost):")
        lines += [f"    {u.component}: {u.resource}: {u.reason}" for u in est.unpriced]
        lines.append(f"{len(est.unpriced)} resources unpriced: the total is incomplete")
    else:
        lines.append("every resource is priced")
    return "\n".join(lines) + "\n"
