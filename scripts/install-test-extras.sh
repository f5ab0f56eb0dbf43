#!/usr/bin/env bash
# Install what `make test` needs beyond `make report`, in one place:
#   - Python packages: the optional-dependency group `test` in pyproject.toml, installed from
#     requirements-test.lock (its exact versions on top of requirements.lock; `make lock`
#     writes both);
#   - system packages: APT_PACKAGES below, with apt-get where it is usable as root.
# A new test dependency goes into one of those two lists. Where something cannot be installed
# (no network, no apt, not root), say so in one line and go on: the tests that need it skip
# with the reason. Exit status 0 only when everything is installed, so make retries next time.
# Java is for Spark's local mode (tests/test_engine.py); the report never needs it.
# Never `playwright install`: it downloads its own browsers; Debian's chromium is used.
set -u
python=${1:?usage: install-test-extras.sh VENV_PYTHON}
# command on PATH once installed -> Debian package that provides it
APT_PACKAGES=(
  "chromium:chromium"
  "java:openjdk-17-jre-headless"
)
complete=0

if ! "$python" -m pip install --quiet --disable-pip-version-check -c requirements.lock -r requirements-test.lock; then
  echo "setup: could not install the Python test extras (pyproject [test]); the browser and Spark tests will skip"
  complete=1
fi

missing=()
for entry in "${APT_PACKAGES[@]}"; do
  command -v "${entry%%:*}" >/dev/null 2>&1 || missing+=("${entry#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ] &&
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") >/dev/null 2>&1; then
    echo "setup: installed ${missing[*]} for the tests"
  else
    echo "setup: could not install ${missing[*]} (needs apt-get as root and the Debian archive); the tests that need it will skip"
    complete=1
  fi
fi
exit $complete
