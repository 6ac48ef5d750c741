// CCUDA has no code of its own: its header declares the CUDA types and function-pointer signatures
// that CUDABackend resolves with dlopen/dlsym at run time. This file exists so SwiftPM builds the target.
#include "CCUDA.h"
