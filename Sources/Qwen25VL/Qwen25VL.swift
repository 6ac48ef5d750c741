// The Qwen25VL module.
