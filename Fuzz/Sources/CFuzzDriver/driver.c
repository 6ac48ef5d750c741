#include "CFuzzDriver.h"

// Provided by libFuzzer (linked by -sanitize=fuzzer).
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

int lr_fuzz_run(int argc, char **argv, lr_fuzz_callback callback) {
    return LLVMFuzzerRunDriver(&argc, &argv, callback);
}
