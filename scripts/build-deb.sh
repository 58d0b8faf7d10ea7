#!/bin/bash
# `make deb`: the Debian packages of debian/ (libsvmgpu0, libsvmgpu-dev,
# svmgpu-tools, svmgpu-dkms), then lintian on them.
#
#   build-deb.sh OUTDIR
#
# dpkg-buildpackage writes into the source tree (debian/tmp, the meson build
# directory) and puts its results in the tree's parent, so it runs on a copy
# of the tree's files (tracked and untracked, not ignored) in
# OUTDIR/src/svmgpu-<version>; the .debs, .changes and .buildinfo are moved to
# OUTDIR and lintian's report is OUTDIR/lintian.txt.  When the files are those
# of the last successful build, nothing is rebuilt.  Exits non-zero on a
# build failure or on any lintian error or warning.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT=$1
cd "$TOP"

version=$(dpkg-parsechangelog -l debian/changelog -S Version)
src=$OUT/src/svmgpu-$version
mkdir -p "$OUT"

files() {
	if git -C "$TOP" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$TOP" ls-files -z --cached --others --exclude-standard |
			while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done
	else
		find . -path ./build -prune -o \( -type f -o -type l \) -printf '%P\0'
	fi
}

# The inputs' fingerprint: every file's name and content.
stamp=$(files | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
debs=$(ls "$OUT"/*_"$version"_*.deb 2>/dev/null || true)
if [ -n "$debs" ] && [ "$(cat "$OUT/.stamp" 2>/dev/null)" = "$stamp" ]; then
	echo "deb: packages are up to date in $OUT"
	cat "$OUT/lintian.txt"
	exit 0
fi

rm -rf "$OUT/src" "$OUT"/*.deb "$OUT"/*.changes "$OUT"/*.buildinfo "$OUT/.stamp"
mkdir -p "$src"
files | rsync -a --from0 --files-from=- "$TOP"/ "$src"/

echo "deb: dpkg-buildpackage in $src (log: $OUT/build.log)"
if ! (cd "$src" && dpkg-buildpackage -us -uc -b) > "$OUT/build.log" 2>&1; then
	tail -n 40 "$OUT/build.log" >&2
	echo "deb: dpkg-buildpackage failed; see $OUT/build.log" >&2
	exit 1
fi
mv "$OUT"/src/*.deb "$OUT"/src/*.changes "$OUT"/src/*.buildinfo "$OUT"/
changes=$(ls "$OUT"/svmgpu_"$version"_*.changes)

# Every tag lintian knows at info level and above is shown; errors and
# warnings fail the build.  debian/*.lintian-overrides say why each
# overridden tag does not apply.
echo "deb: lintian $(basename "$changes")"
rc=0
lintian --display-info --fail-on error,warning "$changes" > "$OUT/lintian.txt" 2>&1 || rc=$?
cat "$OUT/lintian.txt"
if [ "$rc" -ne 0 ]; then
	echo "deb: lintian failed (exit $rc); see $OUT/lintian.txt" >&2
	exit 1
fi
for d in "$OUT"/*_"$version"_*.deb; do
	dpkg-deb -W --showformat='deb: ${Package} ${Version} ${Architecture}\n' "$d"
done
echo "$stamp" > "$OUT/.stamp"
