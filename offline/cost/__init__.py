"""Monthly cost of a stack from its offline plan: ``make cost STACK=<s>`` (docs/cost.md)."""
