#ifndef LR_FUZZ_DRIVER_H
#define LR_FUZZ_DRIVER_H

#include <stddef.h>
#include <stdint.h>

/// One fuzz input: the bytes and their count; returns 0 (libFuzzer's convention).
typedef int (*lr_fuzz_callback)(const uint8_t *data, size_t size);

/// Runs libFuzzer's driver (command-line options, corpus handling, mutation loop) over `callback`.
///
/// Why a shim: SwiftPM links every executable target with its own entry point (`<Target>_main`), so the
/// `main` that `-sanitize=fuzzer` would bring from libFuzzer is never used; each target's `main.swift` calls this
/// instead, and libFuzzer's documented `LLVMFuzzerRunDriver` does the rest.
int lr_fuzz_run(int argc, char **argv, lr_fuzz_callback callback);

#endif
