"""The offline tooling around the program: plan, mocks, snapshots, diff, diagram, render, docs."""
