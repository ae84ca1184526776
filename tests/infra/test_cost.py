"""``make cost``: the monthly cost of a stack from its offline plan, on a fixed price table."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from offline.cost.delta import cost_delta_lines
from offline.cost.estimate import estimate
from offline.cost.prices import PRICE_DIR, PriceTableError, load_price_table
from offline.cost.report import render
from offline.cost.usage import UsageError, load_usage
from offline.mocks import run_program
from offline.new_stack import new_stack
from offline.plan import plan_document
from offline.stack_files import read_stack_config
from stacks.program import offline_main as main
from tests.infra.conftest import SHIPPED_STACKS

ROOT = Path(__file__).resolve().parents[2]
TODAY = dt.date(2026, 12, 1)
HOURS = 730


FIXED_PRICES = Path(__file__).resolve().parent / "fixtures" / "prices"


@pytest.fixture(scope="module")
def prices(tmp_path_factory):
    """A fixed table kept with the tests (not the shipped one, which is refreshed over time)."""
    folder = tmp_path_factory.mktemp("prices")
    doc = json.loads((FIXED_PRICES / "eu-west-2.json").read_text())
    doc["read"] = "2026-11-01"
    (folder / "eu-west-2.json").write_text(json.dumps(doc))
    return load_price_table("eu-west-2", folder)


def test_the_shipped_table_prices_every_shipped_stack(plans):
    for stack, plan in plans.items():
        shipped = load_price_table("eu-west-2", PRICE_DIR)
        assert estimate(plan, shipped, load_usage(stack)).unpriced == [], stack


def test_spot_pools_claims_and_load_balancer_services_are_unpriced(plans, prices):
    plan = copy.deepcopy(plans["dev"])
    pool = _resource(plan, "aws:eks/nodeGroup:NodeGroup", "cluster-pool-web")
    pool["inputs"]["capacityType"] = "SPOT"
    plan["resources"] += [
        {"urn": "urn:pvc", "type": "kubernetes:core/v1:PersistentVolumeClaim", "name": "data",
         "parent": None, "inputs": {}},
        {"urn": "urn:svc", "type": "kubernetes:core/v1:Service", "name": "public",
         "parent": None, "inputs": {"spec": {"type": "LoadBalancer"}}},
    ]
    reasons = {u.resource: u.reason for u in estimate(plan, prices, load_usage("dev")).unpriced}
    assert "only on-demand is priced" in reasons["NodeGroup cluster-pool-web"]
    assert "PersistentVolumeClaim data" in reasons
    assert "load balancer" in reasons["Service public"]


@pytest.fixture(scope="module")
def plans(stack_run):
    return {stack: plan_document(stack_run(stack)) for stack in SHIPPED_STACKS}


def _resource(plan: dict, rtype: str, name: str) -> dict:
    return next(r for r in plan["resources"] if r["type"] == rtype and r["name"] == name)


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_shipped_stack_is_priced_whole(plans, prices, stack):
    est = estimate(plans[stack], prices, load_usage(stack))
    assert est.unpriced == [], est.unpriced
    assert est.monthly_min > 0
    assert est.monthly_max >= est.monthly_min
    components = est.by_component()
    for part in ("cluster", "database", "redis", "load-balancer", "network", "registry",
                 "uploads"):
        assert any(c.endswith(f" {part}") for c in components), (part, sorted(components))
    assert render(est, load_usage(stack), prices, TODAY).splitlines()[-1] == (
        "every resource is priced")


def test_one_more_web_node_moves_the_minimum_by_one_node(plans, prices):
    usage = load_usage("prod")
    before = estimate(plans["prod"], prices, usage)
    bigger = copy.deepcopy(plans["prod"])
    pool = _resource(bigger, "aws:eks/nodeGroup:NodeGroup", "cluster-pool-web")
    pool["inputs"]["scalingConfig"]["minSize"] += 1
    after = estimate(bigger, prices, usage)
    instance = pool["inputs"]["instanceTypes"][0]
    one_node = HOURS * prices.get(f"ec2.{instance}.hour").usd + 50 * prices.get(
        "ebs.gp3.gb_month").usd
    assert after.monthly_min - before.monthly_min == pytest.approx(one_node)
    assert after.monthly_max == pytest.approx(before.monthly_max)


def test_the_uploads_bucket_is_priced_from_its_storage_assumption(plans, prices):
    usage = load_usage("prod")
    per_gb = prices.get("s3.standard.gb_month").usd
    est = estimate(plans["prod"], prices, usage)
    (bucket,) = [i for i in est.items if i.resource == "Bucket uploads-bucket"]
    assert bucket.monthly_min == pytest.approx(usage.uploads_storage_gb * per_gb)
    assert "uploads_storage_gb" in bucket.basis
    more = estimate(plans["prod"], prices, dataclasses.replace(
        usage, uploads_storage_gb=usage.uploads_storage_gb + 100))
    assert more.monthly_min - est.monthly_min == pytest.approx(100 * per_gb)


def test_multi_az_bills_the_database_twice(plans, prices):
    usage = load_usage("dev")
    single = estimate(plans["dev"], prices, usage)
    multi_plan = copy.deepcopy(plans["dev"])
    primary = _resource(multi_plan, "aws:rds/instance:Instance", "database-primary")
    primary["inputs"]["multiAz"] = True
    multi = estimate(multi_plan, prices, usage)
    klass = primary["inputs"]["instanceClass"]
    gb = primary["inputs"]["allocatedStorage"]
    expected = HOURS * prices.get(f"rds.postgres.{klass}.hour").usd + gb * prices.get(
        "rds.gp3.gb_month").usd
    assert multi.monthly_min - single.monthly_min == pytest.approx(expected)


def test_an_unknown_type_and_an_unknown_class_are_unpriced_never_zero(plans, prices):
    plan = copy.deepcopy(plans["dev"])
    plan["resources"].append({"urn": "urn:x::y", "type": "aws:foo/bar:Bar", "name": "mystery",
                              "parent": None, "inputs": {}})
    primary = _resource(plan, "aws:rds/instance:Instance", "database-primary")
    primary["inputs"]["instanceClass"] = "db.z99.huge"
    usage = load_usage("dev")
    est = estimate(plan, prices, usage)
    reasons = {u.resource: u.reason for u in est.unpriced}
    assert reasons["Bar mystery"] == "type aws:foo/bar:Bar has no pricing rule"
    assert "rds.postgres.db.z99.huge.hour" in reasons["Instance database-primary"]
    assert not any(i.resource == "Instance database-primary" for i in est.items)
    last = render(est, usage, prices, TODAY).splitlines()[-1]
    assert last == "2 resources unpriced: the total is incomplete"


def test_a_missing_assumption_is_one_line_naming_it(tmp_path):
    text = (ROOT / "cost" / "dev.yaml").read_text().replace("nat_gb_per_month: 50\n", "")
    (tmp_path / "dev.yaml").write_text(text)
    with pytest.raises(UsageError) as bad:
        load_usage("dev", tmp_path)
    assert str(bad.value) == "dev.yaml: missing assumption nat_gb_per_month (see docs/cost.md)"


def test_bad_assumptions_name_the_key_and_what_is_allowed(tmp_path):
    text = (ROOT / "cost" / "dev.yaml").read_text().replace(
        "edge_hit_ratio: 0.8", "edge_hit_ratio: 1.5") + "nat_gb: 3\n"
    (tmp_path / "dev.yaml").write_text(text)
    with pytest.raises(UsageError) as bad:
        load_usage("dev", tmp_path)
    lines = str(bad.value).splitlines()
    assert "dev.yaml: edge_hit_ratio = 1.5 is not allowed; use between 0 and 1" in lines
    assert any(line.startswith("dev.yaml: unknown assumption nat_gb; known: ") for line in lines)


def test_no_assumption_file_names_the_file_to_create(tmp_path):
    with pytest.raises(UsageError, match=r"create cost/team-z.yaml with the keys requests_per"):
        load_usage("team-z", tmp_path / "cost")


def test_a_stale_price_table_is_a_warning_naming_its_date(plans, prices):
    usage = load_usage("dev")
    est = estimate(plans["dev"], prices, usage)
    fresh = render(est, usage, prices, TODAY)
    assert "warning" not in fresh
    stale = render(est, usage, prices, dt.date(2027, 6, 1))
    assert ("warning: the eu-west-2 price table was read on 2026-11-01, 212 days ago "
            "(more than 180)") in stale


def test_a_region_without_a_table_names_the_ones_that_exist():
    with pytest.raises(PriceTableError, match=r"no price table for region 'us-east-9'; tables "
                                              r"exist for: eu-west-2"):
        load_price_table("us-east-9")


def test_cost_per_million_is_set_beside_the_article(plans, prices):
    usage = load_usage("prod")
    est = estimate(plans["prod"], prices, usage)
    text = render(est, usage, prices, TODAY)
    line = next(x for x in text.splitlines() if x.startswith("cost per million requests"))
    expected = est.monthly_min / (usage.requests_per_month / 1e6)
    assert f"${expected:,.2f}" in line
    assert f"at {prices.usd_per_gbp} USD/GBP" in line
    assert "The article: under GBP 3 per million" in line


def test_plan_diff_shows_the_monthly_delta_per_component(plans, prices):
    usage = load_usage("prod")
    new = copy.deepcopy(plans["prod"])
    cache = _resource(new, "aws:elasticache/replicationGroup:ReplicationGroup", "redis-cache")
    cache["inputs"]["numCacheClusters"] += 1
    lines = cost_delta_lines(plans["prod"], new, "prod", prices, usage)
    node = HOURS * prices.get(f"elasticache.{cache['inputs']['nodeType']}.hour").usd
    assert lines[0].startswith(f"cost: +${node:,.2f}/month")
    assert lines[1:] == [f"  quintet:cache:Cache redis: +${node:,.2f}/month"]
    assert cost_delta_lines(plans["prod"], plans["prod"], "prod", prices, usage)[1:] == []


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for path in ROOT.glob("Pulumi*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    shutil.copytree(ROOT / "cost", tmp_path / "cost")
    return tmp_path


def test_a_forked_stack_is_priced_at_once(project, prices):
    new_stack("team-a", "staging", root=project)
    assert "TODO" in (project / "cost" / "team-a.yaml").read_text()
    config = read_stack_config("team-a", root=project)
    run = run_program(main, stack="team-a", config=config.values,
                      secret_keys=config.secret_keys)
    est = estimate(plan_document(run), prices, load_usage("team-a", project / "cost"))
    assert est.unpriced == []
    assert est.monthly_min > 0
