"""The database's certificate chain is one PgBouncer can verify: every RDS instance names its CA
and the bundle the sidecars mount holds that CA's root for the stack's region."""

from __future__ import annotations

import ssl

import pytest

from components.database import CA_IDENTIFIER
from k8s.pgbouncer import ca_bundle
from offline.stack_files import read_stack_config
from tests.infra.conftest import SHIPPED_STACKS

# RDS CA identifiers and the common name of their root per region, from the RDS user guide's
# "Certificate authorities" table.
ROOT_NAMES = {
    "rds-ca-rsa2048-g1": "Amazon RDS {region} Root CA RSA2048 G1",
    "rds-ca-rsa4096-g1": "Amazon RDS {region} Root CA RSA4096 G1",
    "rds-ca-ecc384-g1": "Amazon RDS {region} Root CA ECC384 G1",
}


def _bundle_roots() -> set[str]:
    certs = ssl.create_default_context(cadata=ca_bundle()).get_ca_certs()
    return {dict(part[0] for part in cert["subject"])["commonName"] for cert in certs}


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_instance_uses_a_ca_whose_root_is_in_the_mounted_bundle(stack_run, stack):
    region = read_stack_config(stack).values["aws:region"]
    instances = stack_run(stack).of_type("aws:rds/instance:Instance")
    assert instances
    roots = _bundle_roots()
    for instance in instances:
        identifier = instance.inputs.get("caCertIdentifier")
        assert identifier == CA_IDENTIFIER, f"{instance.name}: CA left to the account default"
        assert ROOT_NAMES[identifier].format(region=region) in roots, instance.name
