"""Offline stand-in for the get-pip.py that ansible-test downloads into ~/.ansible/test/cache.

ansible-test's --venv mode bootstraps pip in each new virtual environment by running a get-pip
script fetched from ci-files.testing.ansible.com, which this machine cannot reach. This script
takes its place: ensurepip installs the pip bundled with Python, then that pip installs what
ansible-test asked for (the pinned pip version among them) from the package index.
"""

import ensurepip
import os
import subprocess
import sys

# get-pip.py's own switches; pip install does not know them.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

# ensurepip points PIP_CONFIG_FILE at /dev/null in this process; the real install must see the
# machine's pip configuration (index, CA bundle) again.
environment = dict(os.environ)
ensurepip.bootstrap(upgrade=True)
args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *args], env=environment))
