import ImageFuzzing

/// One fuzz input: the input is a PNG file, decoded through ImageProcessing's decode entry under a pixel cap.
func imagePNGFuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    fuzzImageDecoder(start, count, as: .png)
    return 0
}
