#!/bin/sh
# SPDX-License-Identifier: MIT
# The dynamic symbols libsvmgpu exports are exactly the public list, each
# with the version node of the symbol map, and libsvmgpu(3) names each of
# them.  TAP output.
# usage: test_symbols.sh LIBRARY SYMBOL_LIST MAN_PAGE
lib=$1
list=$2
man=$3
echo "TAP version 13"
echo "1..3"
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ { print $3 }' | sed 's/@.*//' |
	grep -v '^SVMGPU_' | sort -u)
wanted=$(grep -v '^#' "$list" | sed '/^$/d' | sort -u)
if [ "$exported" = "$wanted" ]; then
	echo "ok 1 exported symbols match $(basename "$list")"
else
	echo "not ok 1 exported symbols match $(basename "$list")"
	diff -u /dev/fd/3 /dev/fd/4 3<<E1 4<<E2 | sed 's/^/# /'
$wanted
E1
$exported
E2
fi
unversioned=$(objdump -T "$lib" | awk '/ DF .text/ && $0 !~ /SVMGPU_0\.1/ { print $NF }')
if [ -z "$unversioned" ]; then
	echo "ok 2 every exported function has version SVMGPU_0.1"
else
	echo "not ok 2 every exported function has version SVMGPU_0.1"
	echo "$unversioned" | sed 's/^/# unversioned: /'
fi
listed=$(tr -s ' ,.\n' '\n' <"$man" | grep '^svmgpu_' | sort -u)
missing=$(printf '%s\n' "$wanted" | grep -vxF "$listed")
if [ -z "$missing" ]; then
	echo "ok 3 $(basename "$man") names every exported function"
else
	echo "not ok 3 $(basename "$man") names every exported function"
	echo "$missing" | sed 's/^/# not in the man page: /'
fi
