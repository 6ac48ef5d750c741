import ImageFuzzing

/// One fuzz input: the input is a WebP file, decoded through ImageProcessing's decode entry under a pixel cap.
func imageWebPFuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    fuzzImageDecoder(start, count, as: .webp)
    return 0
}
