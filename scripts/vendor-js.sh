#!/bin/sh
# vendor-js.sh: refresh the workbench's JavaScript libraries from npm, at
# the pinned versions below, into workbench/web/vendor (with their
# licences), where go:embed puts them in the binary: building fundtrace
# needs no npm, and the page loads nothing from outside the server.
# cytoscape-dagre's dist bundles @dagrejs/dagre and @dagrejs/graphlib;
# their licences are copied from their own packages.
set -eu
cd "$(dirname "$0")/.."
out=workbench/web/vendor
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pkgs="cytoscape@3.35.0 cytoscape-dagre@4.0.1 @dagrejs/dagre@3.0.0 @dagrejs/graphlib@4.0.1"
(cd "$tmp" && npm pack --silent $pkgs >/dev/null)
for p in $pkgs; do
	name=${p%@*}
	dir="$tmp/$(echo "$name" | tr / _)"
	mkdir -p "$dir"
	tar xzf "$tmp/$(echo "$name" | sed 's|^@||; s|/|-|')-${p##*@}.tgz" -C "$dir"
done
cp "$tmp/cytoscape/package/dist/cytoscape.min.js" "$out/cytoscape.min.js"
cp "$tmp/cytoscape-dagre/package/dist/cytoscape-dagre.min.js" "$out/cytoscape-dagre.min.js"
cp "$tmp/cytoscape/package/LICENSE" "$out/LICENSE.cytoscape"
cp "$tmp/cytoscape-dagre/package/LICENSE" "$out/LICENSE.cytoscape-dagre"
cp "$tmp/@dagrejs_dagre/package/LICENSE" "$out/LICENSE.dagre"
cp "$tmp/@dagrejs_graphlib/package/LICENSE" "$out/LICENSE.graphlib"
{
	echo "# The workbench's vendored JavaScript (scripts/vendor-js.sh, make vendor-js): package, version, SHA-256 of the file kept"
	echo "cytoscape 3.35.0 cytoscape.min.js $(sha256sum "$out/cytoscape.min.js" | cut -d' ' -f1)"
	echo "cytoscape-dagre 4.0.1 cytoscape-dagre.min.js $(sha256sum "$out/cytoscape-dagre.min.js" | cut -d' ' -f1) (bundles @dagrejs/dagre 3.0.0 and @dagrejs/graphlib 4.0.1)"
} >"$out/VERSIONS"
echo "vendor-js: $(wc -c <"$out/cytoscape.min.js") + $(wc -c <"$out/cytoscape-dagre.min.js") bytes in $out"
