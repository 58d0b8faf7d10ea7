#!/bin/bash
# The guest image built from the Debian packages (make deb-test):
# svmgpu.ko built by DKMS from svmgpu-dkms's installed source for the guest
# kernel, libsvmgpu and the tools from libsvmgpu0 and svmgpu-tools; only the
# in-guest test programs and examples come from the tree's build.
#
#   deb-image.sh OUT.cpio.gz DEBDIR KDIR KMODDIR TREE_DESTDIR
#
# DEBDIR holds the .debs of `make deb`; KDIR is the guest kernel's build tree
# (its linux-headers) and KMODDIR its /lib/modules/<version>.  DKMS runs with
# its own trees under DEBDIR (--dkmstree, --sourcetree, --installtree): the
# host's /var/lib/dkms and /lib/modules are left alone.  Prints TAP lines.
set -euo pipefail

OUT=$(realpath -m "$1")
DEBDIR=$(realpath "$2")
KDIR=$(realpath "$3")
KMODDIR=$(realpath "$4")
TREE_DESTDIR=$(realpath "$5")
HERE=$(cd "$(dirname "$0")" && pwd)
kver=$(basename "$KMODDIR")
n=0

ok() { n=$((n + 1)); echo "ok $n - $*"; }
fail() { n=$((n + 1)); echo "not ok $n - $*"; exit 1; }

deb() {
	local f
	f=$(ls "$DEBDIR"/"$1"_*.deb 2>/dev/null | tail -n 1)
	[ -n "$f" ] || fail "$1: no .deb in $DEBDIR (make deb)"
	echo "$f"
}

# The packages' files, as dpkg would install them.
pkgroot=$DEBDIR/root
rm -rf "$pkgroot"
mkdir -p "$pkgroot"
for p in libsvmgpu0 svmgpu-tools svmgpu-dkms; do
	dpkg-deb -x "$(deb "$p")" "$pkgroot"
done
version=$(dpkg-deb -f "$(deb svmgpu-dkms)" Version)
[ -f "$pkgroot/usr/src/svmgpu-$version/dkms.conf" ] ||
	fail "svmgpu-dkms: no /usr/src/svmgpu-$version/dkms.conf"
ok "svmgpu-dkms, libsvmgpu0 and svmgpu-tools $version unpacked"

# DKMS: add the installed source, build it for the guest kernel.  The build
# is kept while the svmgpu-dkms package and the kernel are the same.
dkmstree=$DEBDIR/dkms
key="$(sha256sum < "$(deb svmgpu-dkms)" | cut -d' ' -f1) $kver $KDIR"
ko=$(find "$dkmstree/tree/svmgpu/$version/$kver" -name 'svmgpu.ko*' 2>/dev/null | head -n 1 || true)
if [ -n "$ko" ] && [ "$(cat "$dkmstree/key" 2>/dev/null)" = "$key" ]; then
	cached=" (kept: same package and kernel)"
else
	cached=""
	rm -rf "$dkmstree"
	mkdir -p "$dkmstree/tree" "$dkmstree/install"
	# DKMS signs what it builds, as on a real install, but with a key of
	# its own here, not the host's /var/lib/dkms/mok.key (the guest kernel
	# trusts neither: it loads the module and notes the unknown signature).
	export mok_signing_key=$dkmstree/mok.key mok_certificate=$dkmstree/mok.pub
	dkms_() {
		dkms "$@" -m svmgpu -v "$version" --dkmstree "$dkmstree/tree" \
			--sourcetree "$pkgroot/usr/src" --installtree "$dkmstree/install"
	}
	if ! dkms_ add > "$dkmstree/add.log" 2>&1; then
		sed 's/^/# /' "$dkmstree/add.log"
		fail "dkms add svmgpu/$version"
	fi
	if ! dkms_ build -k "$kver" --kernelsourcedir "$KDIR" > "$dkmstree/build.log" 2>&1; then
		sed 's/^/# /' "$dkmstree/build.log"
		find "$dkmstree/tree" -name make.log -exec sed 's/^/# /' {} \;
		fail "dkms build svmgpu/$version for $kver"
	fi
	ko=$(find "$dkmstree/tree/svmgpu/$version/$kver" -name 'svmgpu.ko*' | head -n 1)
	[ -n "$ko" ] || fail "dkms build left no svmgpu.ko"
	echo "$key" > "$dkmstree/key"
fi
case "$ko" in
*.ko) ;;
*.ko.xz) xz -dkf "$ko"; ko=${ko%.xz} ;;
*) fail "dkms built $(basename "$ko"), not a module the image can load" ;;
esac
vermagic=$(modinfo -F vermagic "$ko")
[ "${vermagic%% *}" = "$kver" ] || fail "svmgpu.ko's vermagic is '$vermagic', not $kver"
# (grep reads whole outputs: with pipefail, an early grep -q exit is a failure)
sections=$(readelf -S "$ko")
if grep -q '^CONFIG_MODVERSIONS=y' "$KDIR/.config" && ! grep -q __versions <<< "$sections"; then
	fail "svmgpu.ko from DKMS has no symbol versions"
fi
ok "dkms build of /usr/src/svmgpu-$version for $kver: $(basename "$ko"), vermagic $kver$cached"

# The image's userspace: the packages' library and tools, the tree's test
# programs and examples (they link libsvmgpu.so.0, which is the package's).
stage=$DEBDIR/image-root
rm -rf "$stage"
mkdir -p "$stage/usr/libexec"
cp -a "$pkgroot/usr/bin" "$pkgroot/usr/lib" "$stage/usr/"
cp -a "$TREE_DESTDIR/usr/libexec/svmgpu" "$stage/usr/libexec/"
lib=$(ls "$stage"/usr/lib/*/libsvmgpu.so.0 2>/dev/null | head -n 1)
[ -n "$lib" ] || fail "libsvmgpu0 has no libsvmgpu.so.0"
tools=$(ls "$stage/usr/bin" | paste -sd' ')
ok "image userspace: $(basename "$(readlink -f "$lib")") and $tools from the packages"

bash "$HERE/mkinitramfs.sh" "$OUT" "$KMODDIR" "$ko" "$stage" || fail "mkinitramfs.sh $OUT"
ok "initramfs $(basename "$OUT") with the DKMS-built svmgpu.ko"
