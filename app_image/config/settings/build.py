"""Build-time settings for `collectstatic` in the Dockerfile; never used by a running process.

The image build has no real environment, so this fills the contract's example values.
"""

import os

from config.env import example_environment

for _name, _value in example_environment().items():
    os.environ.setdefault(_name, _value)

from config.settings.production import *  # noqa: E402, F403
