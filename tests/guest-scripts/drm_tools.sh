#!/bin/sh
# drm_tools: stock DRM tools see svmgpu.  drmdevice (Debian's libdrm-tests)
# walks /dev/dri and sysfs through libdrm; it must list our PCI device and
# its render node.  TAP output.
echo "TAP version 13"
echo "1..3"
out=$(drmdevice 2>&1)
rc=$?
n=1
check() {
	if eval "$2"; then echo "ok $n $1"; else echo "not ok $n $1"; fail=1; fi
	n=$((n + 1))
}
fail=0
check "drmdevice runs" '[ $rc -eq 0 ]'
check "drmdevice lists vendor 0x1af4 device 0x10f5" \
	'echo "$out" | grep -q "vendor_id.*1af4" && echo "$out" | grep -q "device_id.*10f5"'
check "drmdevice lists the render node" 'echo "$out" | grep -q "/dev/dri/renderD128"'
[ $fail -eq 0 ] || echo "$out" | sed 's/^/# /'
exit $fail
