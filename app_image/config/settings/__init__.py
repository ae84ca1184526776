"""Settings modules: base (everything from the environment), production, test, build."""
