// COpenBLAS: Debian's OpenBLAS (package libopenblas-dev) seen from Swift.
// Exists so the CPU backend can call cblas_sgemm and set OpenBLAS's thread count; nothing else.
#ifndef COPENBLAS_H
#define COPENBLAS_H
#include <cblas.h>
#endif
