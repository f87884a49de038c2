#!/bin/sh
# ensure-render.sh: install what the report tests render with when
# missing: Debian's chromium (the HTML report, headless), poppler-utils
# (pdftoppm and pdftotext for the PDFs) and fonts-nanum (the Korean
# report's font).
set -eu
need=""
command -v chromium >/dev/null 2>&1 || need="$need chromium"
command -v pdftoppm >/dev/null 2>&1 || need="$need poppler-utils"
[ -f /usr/share/fonts/truetype/nanum/NanumGothic.ttf ] || need="$need fonts-nanum"
if [ -n "$need" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "ensure-render: need$need; run as root or install them" >&2
		exit 1
	fi
	echo "ensure-render: installing$need" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq $need >/dev/null
fi
