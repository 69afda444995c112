"""Offline stand-in for the get-pip.py that ansible-test downloads into ~/.ansible/test/cache.

ansible-test's --venv mode bootstraps pip in each new virtual environment by running a get-pip
script fetched from ci-files.testing.ansible.com, which this machine cannot reach. This script
takes its place: ensurepip installs the pip bundled with Python, then that pip installs what
ansible-test asked for (the pinned pip version among them) from the package index.
"""

import ensurepip
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *sys.argv[1:]]))
