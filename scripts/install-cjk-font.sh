#!/usr/bin/env bash
# Install Debian's fonts-wqy-microhei so Chinese labels in plots render as glyphs, not boxes.
# Where it cannot (no apt, not root, no network), say so in one line and go on: the plots
# then fall back to English labels with one warning.
set -u
font=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc
[ -f "$font" ] && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  if (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fonts-wqy-microhei) >/dev/null 2>&1; then
    echo "setup: installed fonts-wqy-microhei for Chinese labels in plots"
    exit 0
  fi
fi
echo "setup: could not install fonts-wqy-microhei (needs apt-get as root); plots will use English labels"
exit 0
