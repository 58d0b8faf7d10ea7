# QEMU device configuration for svmgpu's x86_64 guests, used with
# --without-default-devices: the boards, the vIOMMU and the devices our
# images boot with, plus svmgpu itself.
CONFIG_Q35=y
CONFIG_I440FX=y
CONFIG_VTD=y
CONFIG_PCIE_PORT=y
CONFIG_SERIAL=y
CONFIG_SERIAL_ISA=y
CONFIG_ISA_DEBUG=y
CONFIG_SVMGPU=y
