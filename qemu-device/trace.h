#include "trace/trace-hw_svmgpu.h"
